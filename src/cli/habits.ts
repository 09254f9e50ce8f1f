/**
 * Answers for the mysql client's habits (issue 14, item 3). A DBA types `-pSECRET`, `--password x`,
 * `-h HOST -P PORT -u USER`; dbtls never takes a secret on the command line (it would sit in the shell
 * history and in `ps` for every local user to read) and takes the server as one TARGET. Each habit gets a
 * USAGE error that says what to write instead, never echoing the secret.
 */
import { DbtlsError } from '../errors.js';
import { address } from '../tls/dsn.js';
import type { OptionTable } from './command.js';
import { commandLine } from './shell.js';

const PASSWORD_WAYS =
  'use --password-file FILE, the MYSQL_PWD environment variable, or the prompt on a terminal';

function usageError(message: string, hint: string): never {
  throw new DbtlsError('USAGE', message, { hint });
}

/** True when the table defines `-x` itself (then the habit is no habit). */
function hasShort(options: OptionTable, letter: string, type?: 'string'): boolean {
  return Object.values(options).some((o) => o.short === letter && (type === undefined || o.type === type));
}

/** The words of `usage` that name the command (`dbtls inspect`); an option (`--for` of snippet) ends them. */
function commandWords(usage: string): string[] {
  const words: string[] = [];
  for (const w of usage.split(' ')) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(w)) break;
    words.push(w);
  }
  return words;
}

/** Throws the explaining USAGE error when argv carries a mysql-client habit; returns otherwise. */
export function explainHabit(argv: readonly string[], options: OptionTable, usage: string): void {
  const end = argv.indexOf('--');
  const args = end === -1 ? argv : argv.slice(0, end);
  for (const a of args) {
    // Bare -p asks for a prompt (as in mysql); with no terminal that would be an empty password.
    if (a === '-p' || (a === '--password' && options.password?.type === 'boolean')) {
      if (process.stdin.isTTY) continue;
      usageError(
        'could not read the password: -p asks for a prompt, and there is no terminal to ask on',
        'give it with --password-file FILE or the MYSQL_PWD environment variable',
      );
    }
    // `-pSECRET` even where `-p` is the prompt switch: node would read it as -p -S -E -C …
    if (/^-p./.test(a) && !hasShort(options, 'p', 'string')) {
      usageError(
        'could not take the password: passwords never go on the command line (shell history and `ps` show them)',
        PASSWORD_WAYS,
      );
    }
    if ((a === '--password' && !('password' in options)) || a.startsWith('--password=')) {
      usageError(
        'could not take --password: passwords never go on the command line (shell history and `ps` show them)',
        PASSWORD_WAYS,
      );
    }
    if ((a === '--passphrase' || a.startsWith('--passphrase=')) && !('passphrase' in options)) {
      usageError(
        'could not take --passphrase: the CA passphrase never goes on the command line',
        'use --passphrase-file FILE, the DBTLS_CA_PASSPHRASE environment variable, or the prompt on a terminal',
      );
    }
  }
  explainHostFlags(args, options, usage);
}

/** `-h HOST -P PORT -u USER` where dbtls wants TARGET: the same command written the dbtls way. */
function explainHostFlags(args: readonly string[], options: OptionTable, usage: string): void {
  const letters = ['h', 'P', 'u'].filter((l) => !hasShort(options, l));
  const found: Record<string, string> = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^-([hPu])(.*)$/.exec(a);
    if (m && letters.includes(m[1]!)) {
      const value = m[2] !== '' ? m[2] : args[i + 1];
      if (value !== undefined && !value.startsWith('-')) {
        found[m[1]!] = value;
        if (m[2] === '') i++;
        continue;
      }
    }
    rest.push(a);
  }
  if (Object.keys(found).length === 0) return;
  if (!/TARGET/.test(usage)) {
    usageError(
      `could not parse the arguments: ${Object.keys(found)
        .map((l) => `-${l}`)
        .join(', ')} are mysql client options; this command takes no server`,
      `usage: ${usage}`,
    );
  }
  const { named, others, option } = targetSlot(rest, options, usage, found.h !== undefined);
  const host = found.h ?? named ?? 'localhost';
  const hostPort = found.P ? address(host, found.P) : host;
  const user = found.u !== undefined && 'user' in options ? ['--user', found.u] : [];
  const target = found.u !== undefined && !('user' in options) ? `mysql://${found.u}@${hostPort}` : hostPort;
  const targetWords = option === undefined ? [target] : [`--${option}`, target];
  const suggestion = commandLine([...commandWords(usage), ...targetWords, ...user, ...others]);
  usageError(
    'could not parse the arguments: dbtls takes the server as one TARGET (host[:port] or mysql://user@host:port), not -h/-P/-u',
    `write: ${suggestion}`,
  );
}

/**
 * Where the server goes in the rewritten command, the target already named there (`named`), and the other
 * arguments. Most commands take it as their first positional: there -u adds the user and -P the port to a
 * target already given (`dbtls users -u root db1`), while -h names the server itself, so every positional
 * stays (`dbtls require -h db1 ACCOUNT` keeps the account). Where the target is an option's value
 * (`crl --install ADMIN_TARGET`), it goes there, and an --install left without its value is dropped.
 */
function targetSlot(
  rest: readonly string[],
  options: OptionTable,
  usage: string,
  hostGiven: boolean,
): { named: string | undefined; others: string[]; option?: string } {
  const option = targetOption(options, rest, usage);
  if (option !== undefined) return { ...withoutOption(rest, option), option };
  // Without -h, the first positional is the target only when the command line holds every positional
  // the usage asks for (`dbtls require -u root -P 3307 ACCOUNT` names an account, not a server).
  const first =
    hostGiven || positionals(rest, options) < usagePositionals(usage)
      ? undefined
      : firstPositional(rest, options);
  if (first === undefined) return { named: undefined, others: [...rest] };
  return { named: rest[first], others: rest.filter((_, i) => i !== first) };
}

/** The option whose value is the server (`crl --install ADMIN_TARGET`), when the target goes there. */
function targetOption(options: OptionTable, rest: readonly string[], usage: string): string | undefined {
  const name = Object.keys(options).find(
    (n) => options[n]!.type === 'string' && options[n]!.value?.endsWith('TARGET'),
  );
  if (name === undefined) return undefined;
  const given = rest.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  return given || !takesTargetPositional(usage) ? name : undefined;
}

/** `rest` without `--NAME VALUE` (or `--NAME=VALUE`, or a `--NAME` left without a value), and that VALUE. */
function withoutOption(
  rest: readonly string[],
  name: string,
): { named: string | undefined; others: string[] } {
  const others: string[] = [];
  let named: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const next = rest[i + 1];
    if (a.startsWith(`--${name}=`)) named = a.slice(name.length + 3) || undefined;
    else if (a !== `--${name}`) others.push(a);
    else if (next !== undefined && !next.startsWith('-')) {
      named = next;
      i++;
    }
  }
  return { named, others };
}

/** Whether the usage line takes a TARGET as a positional (`dbtls users ADMIN_TARGET`), not as an option's value. */
function takesTargetPositional(usage: string): boolean {
  const words = usage.split(/\s+/);
  return words.some((w, i) => /TARGET/.test(w) && !/^\[?--/.test(words[i - 1] ?? ''));
}

/** How many positionals the usage line asks for (`dbtls require ADMIN_TARGET USER@HOST …` asks for 2). */
function usagePositionals(usage: string): number {
  const words = usage.split(/\s+/).slice(commandWords(usage).length);
  const end = words.findIndex((w) => !/^[A-Z][A-Z0-9_@.]*$/.test(w));
  return end === -1 ? words.length : end;
}

/** How many positional arguments `args` holds (the values of string options skipped). */
function positionals(args: readonly string[], options: OptionTable): number {
  let count = 0;
  let from = 0;
  for (let at = firstPositional(args.slice(from), options); at !== undefined; ) {
    count++;
    from += at + 1;
    at = firstPositional(args.slice(from), options);
  }
  return count;
}

/**
 * The index of the first positional argument in `args`, if any: the values of string options are skipped,
 * given long (`--for mysql-cli`) or short (`-e 'SELECT 1'`).
 */
function firstPositional(args: readonly string[], options: OptionTable): number | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return i + 1 < args.length ? i + 1 : undefined;
    if (!a.startsWith('-') || a === '-') return i;
    const name = /^--([^=]+)$/.exec(a)?.[1];
    if (name !== undefined && options[name]?.type === 'string') i++;
    const letter = /^-([A-Za-z])$/.exec(a)?.[1];
    if (letter !== undefined && hasShort(options, letter, 'string')) i++;
  }
  return undefined;
}

/** argv without a bare `-p` the command does not define: on a terminal its prompt comes anyway. */
export function withoutPromptSwitch(argv: readonly string[], options: OptionTable): string[] {
  return hasShort(options, 'p') ? [...argv] : argv.filter((a) => a !== '-p');
}
