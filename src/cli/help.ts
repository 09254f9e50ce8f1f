/**
 * `dbtls COMMAND --help`, generated from the command's option table (the one the parser reads), so help
 * and parser cannot drift (issue 14, item 1): what it does, every option with its description, default
 * and environment variables, what a TARGET looks like, and examples that work when pasted.
 */
import { adminTargetSlots } from './args.js';
import { type Command, type OptionDef, valueName } from './command.js';
import { targetEnvOf } from './profile.js';

/** What a TARGET / ADMIN_TARGET is, shown by every command whose usage names one. */
const TARGET_TEXT = [
  'TARGET is host[:port] (port 3306 by default), [v6addr]:port, or a DSN:',
  '  mysql://user@host:port/db?ssl-mode=verify-full&ssl-ca=ca.pem&ssl-cert=F&ssl-key=F  (mariadb:// too)',
];
/** `secure` names its admin account --admin-user (its --user is the old name of --account). */
const adminTargetText = (userFlag: string) => [
  'ADMIN_TARGET is the server to administer, written as TARGET (with --socket PATH to reach it over its',
  `unix socket); the admin user is root unless ${userFlag} or the DSN says otherwise. Its password comes`,
  'from --password-file, MYSQL_PWD or a prompt on a terminal, never the command line.',
  'A profile (--profile-file FILE, DBTLS_PROFILE, ~/.config/dbtls/profile) may give ADMIN_TARGET, --ca-dir,',
  '--passphrase-file, --socket, --password-file and --dir: `dbtls config show` prints what it gives.',
];

/** `--dns NAME`, `-e, --execute SQL`, `--json`: the left column of an option line. */
export function optionLabel(name: string, def: OptionDef): string {
  const short = def.short ? `-${def.short}, ` : '';
  return `${short}--${name}${def.type === 'string' ? ` ${valueName(name, def)}` : ''}`;
}

/**
 * The right column: description, then the accepted values (unless the placeholder lists them), the
 * default and the environment.
 */
function optionText(name: string, def: OptionDef): string {
  const parts = [def.description ?? '(undocumented)'];
  if (def.choices && valueName(name, def) !== def.choices.join('|'))
    parts.push(`one of ${def.choices.join(', ')}`);
  if (def.multiple) parts.push('repeatable');
  if (def.default) parts.push(`default: ${def.default}`);
  if (def.env?.length) parts.push(`env: ${def.env.join(', ')}`);
  return parts.join('; ');
}

/**
 * The environment variables a command reads: those of its options, and DBTLS_ADMIN_TARGET where the
 * profile can give its ADMIN_TARGET (the rule parse() applies, src/cli/profile.ts withProfile).
 */
export function environmentOf(command: Command): string[] {
  const options = command.options ?? {};
  const ofOptions = Object.values(options).flatMap((o) => o.env ?? []);
  return [...new Set([...ofOptions, ...targetEnvOf(options, adminTargetSlots(command.usage))])];
}

export function commandHelp(command: Command): string[] {
  const options = Object.entries(command.options ?? {});
  const labels = options.map(([name, def]) => optionLabel(name, def));
  const width = Math.min(30, Math.max(0, ...labels.map((l) => l.length)));
  const lines = [`usage: ${command.usage}`, '', `${command.summary}.`];
  if (command.details?.length) lines.push('', ...command.details);
  if (/\bADMIN_TARGET\b/.test(command.usage)) {
    const userFlag =
      command.options && Object.hasOwn(command.options, 'admin-user') ? '--admin-user' : '--user';
    lines.push('', ...TARGET_TEXT, ...adminTargetText(userFlag));
  } else if (/\bTARGET\b/.test(command.usage)) lines.push('', ...TARGET_TEXT);
  lines.push('', 'Options:');
  options.forEach(([name, def], i) => {
    const label = labels[i]!;
    const text = optionText(name, def);
    lines.push(
      label.length > width
        ? `  ${label}\n  ${' '.repeat(width)}  ${text}`
        : `  ${label.padEnd(width)}  ${text}`,
    );
  });
  lines.push(`  ${'-h, --help'.padEnd(width)}  print this help`);
  const env = environmentOf(command);
  if (env.length) lines.push('', `Environment: ${env.join(', ')} (the command line wins over a variable)`);
  if (command.examples?.length) lines.push('', 'Examples:', ...command.examples.map((e) => `  ${e}`));
  return lines;
}
