/**
 * `dbtls COMMAND --help`, generated from the command's option table (the one the parser reads), so help
 * and parser cannot drift (issue 14, item 1): what it does, every option with its description, default
 * and environment variables, what a TARGET looks like, and examples that work when pasted.
 */
import type { Command, OptionDef } from './command.js';

/** What a TARGET / ADMIN_TARGET is, shown by every command whose usage names one. */
const TARGET_TEXT = [
  'TARGET is host[:port] (port 3306 by default), [v6addr]:port, or a DSN:',
  '  mysql://user@host:port/db?ssl-mode=verify-full&ssl-ca=ca.pem&ssl-cert=F&ssl-key=F  (mariadb:// too)',
];
const ADMIN_TARGET_TEXT = [
  'ADMIN_TARGET is the server to administer, written as TARGET (with --socket PATH to reach it over its',
  'unix socket); the admin user is root unless --user or the DSN says otherwise. Its password comes',
  'from --password-file, MYSQL_PWD or a prompt on a terminal, never the command line.',
  'A profile (--profile-file FILE, DBTLS_PROFILE, ~/.config/dbtls/profile) may give ADMIN_TARGET, --ca-dir,',
  '--passphrase-file, --socket, --password-file and --dir: `dbtls config show` prints what it gives.',
];

/** `DIR` for `--ca-dir`, `FILE` for `--password-file`, `N` for `--days`: the placeholder in help. */
export function valueName(name: string, def: OptionDef): string {
  if (def.value) return def.value;
  if (/(^|-)(file|out)$/.test(name) || ['cert', 'key', 'ca', 'chain'].includes(name)) return 'FILE';
  if (/(^|-)dir$/.test(name)) return 'DIR';
  if (/days|within|concurrency|port|timeout/.test(name)) return 'N';
  return name.toUpperCase().replaceAll('-', '_');
}

/** `--dns NAME`, `-e, --execute SQL`, `--json`: the left column of an option line. */
export function optionLabel(name: string, def: OptionDef): string {
  const short = def.short ? `-${def.short}, ` : '';
  return `${short}--${name}${def.type === 'string' ? ` ${valueName(name, def)}` : ''}`;
}

/** The right column: description, then the accepted values, the default and the environment. */
function optionText(def: OptionDef): string {
  const parts = [def.description ?? '(undocumented)'];
  if (def.choices) parts.push(`one of ${def.choices.join(', ')}`);
  if (def.multiple) parts.push('repeatable');
  if (def.default) parts.push(`default: ${def.default}`);
  if (def.env?.length) parts.push(`env: ${def.env.join(', ')}`);
  return parts.join('; ');
}

/** The environment variables a command reads, from its option table. */
export function environmentOf(command: Command): string[] {
  return [...new Set(Object.values(command.options ?? {}).flatMap((o) => o.env ?? []))];
}

export function commandHelp(command: Command): string[] {
  const options = Object.entries(command.options ?? {});
  const labels = options.map(([name, def]) => optionLabel(name, def));
  const width = Math.min(30, Math.max(0, ...labels.map((l) => l.length)));
  const lines = [`usage: ${command.usage}`, '', `${command.summary}.`];
  if (command.details?.length) lines.push('', ...command.details);
  if (/\bADMIN_TARGET\b/.test(command.usage)) lines.push('', ...TARGET_TEXT, ...ADMIN_TARGET_TEXT);
  else if (/\bTARGET\b/.test(command.usage)) lines.push('', ...TARGET_TEXT);
  lines.push('', 'Options:');
  options.forEach(([, def], i) => {
    const label = labels[i]!;
    const text = optionText(def);
    lines.push(
      label.length > width
        ? `  ${label}\n  ${' '.repeat(width)}  ${text}`
        : `  ${label.padEnd(width)}  ${text}`,
    );
  });
  lines.push(`  ${'-h, --help'.padEnd(width)}  print this help`);
  const env = environmentOf(command);
  if (env.length) lines.push('', `Environment: ${env.join(', ')} (a flag wins over its variable)`);
  if (command.examples?.length) lines.push('', 'Examples:', ...command.examples.map((e) => `  ${e}`));
  return lines;
}
