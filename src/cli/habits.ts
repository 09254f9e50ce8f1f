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

/** The words of `usage` that name the command (`dbtls inspect`). */
function commandWords(usage: string): string[] {
  const words: string[] = [];
  for (const w of usage.split(' ')) {
    if (!/^[a-z0-9-]+$/.test(w)) break;
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
  // The target the command line already names (`dbtls users -u root db1`) keeps its place; -h replaces
  // it, -P gives it a port; with neither, localhost is the mysql client's own default.
  const at = firstPositional(rest, options);
  const named = at === undefined ? undefined : rest[at]!;
  const host = found.h ?? named ?? 'localhost';
  const hostPort = found.P ? address(host, found.P) : host;
  const user = found.u !== undefined && 'user' in options ? ['--user', found.u] : [];
  const target = found.u !== undefined && !('user' in options) ? `mysql://${found.u}@${hostPort}` : hostPort;
  const others = at === undefined ? rest : rest.filter((_, i) => i !== at);
  const suggestion = commandLine([...commandWords(usage), target, ...user, ...others]);
  usageError(
    'could not parse the arguments: dbtls takes the server as one TARGET (host[:port] or mysql://user@host:port), not -h/-P/-u',
    `write: ${suggestion}`,
  );
}

/** The index of the first positional argument in `args` (skipping the values of string options), if any. */
function firstPositional(args: readonly string[], options: OptionTable): number | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return i + 1 < args.length ? i + 1 : undefined;
    if (!a.startsWith('-') || a === '-') return i;
    const name = /^--([^=]+)$/.exec(a)?.[1];
    if (name !== undefined && options[name]?.type === 'string') i++;
  }
  return undefined;
}

/** argv without a bare `-p` the command does not define: on a terminal its prompt comes anyway. */
export function withoutPromptSwitch(argv: readonly string[], options: OptionTable): string[] {
  return hasShort(options, 'p') ? [...argv] : argv.filter((a) => a !== '-p');
}
