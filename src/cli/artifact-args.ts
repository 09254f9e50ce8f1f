/**
 * Argument rules shared by the commands that write artifacts (keystores, bundles, Kubernetes objects,
 * snippets): keystore passwords from a file or DBTLS_KEYSTORE_PASSWORD only (issue 3: never argv, never a
 * prompt that a script would hang on), an empty one refused unless asked for, a value from a fixed list,
 * exactly one positional file, and output to --out or stdout.
 */
import * as path from 'node:path';
import { DbtlsError } from '../errors.js';
import type { CertificateInfo } from '../pki/certificate.js';
import { readCertificates } from '../pki/chain.js';
import { MODE_SECRET, readUserFile, writeFileAtomic } from '../util/files.js';
import { flag, type OptionSpec, type Parsed, readSecretFile, str } from './args.js';
import type { CommandContext } from './command.js';
import { checkOutputFile, isStdout } from './out.js';

/** The environment variable that may hold the keystore password (documented in docs/keystores.md). */
export const KEYSTORE_PASSWORD_ENV = 'DBTLS_KEYSTORE_PASSWORD';

/**
 * An option table from bare names: `options(['out'], ['ca'], ['json'])` (strings, repeatable, flags).
 * Superseded by written tables with descriptions (command.ts); entries made here have none, which
 * test/unit/cli/help.test.ts reports.
 */
export function options(strings: string[], repeatable: string[] = [], flags: string[] = []): OptionSpec {
  return Object.fromEntries([
    ...strings.map((n) => [n, { type: 'string' as const }]),
    ...repeatable.map((n) => [n, { type: 'string' as const, multiple: true }]),
    ...flags.map((n) => [n, { type: 'boolean' as const }]),
  ]);
}

export interface PasswordSource {
  /** The option naming the password file (`password-file`, `keystore-password-file`). */
  readonly fileOption: string;
  readonly usage: string;
  /** True when the password protects something being written: then an empty one is refused. */
  readonly forWriting: boolean;
  /** Whether DBTLS_KEYSTORE_PASSWORD may give it (not for a second, key-only password). */
  readonly fromEnv?: boolean;
  readonly what?: string;
}

/** The password from --FILE-OPTION or DBTLS_KEYSTORE_PASSWORD; undefined when neither is given. */
export function optionalPassword(p: Parsed, ctx: CommandContext, s: PasswordSource): string | undefined {
  const what = s.what ?? 'keystore password';
  const file = str(p, s.fileOption);
  const envValue = s.fromEnv === false ? undefined : ctx.env[KEYSTORE_PASSWORD_ENV];
  const password = file !== undefined ? readSecretFile(file, what) : envValue;
  if (password === '' && s.forWriting && !flag(p, 'allow-empty-password')) {
    throw new DbtlsError('PASSWORD_EMPTY', `could not use the ${what}: it is empty`, {
      hint: `put a password in ${file ?? KEYSTORE_PASSWORD_ENV}; an empty one protects nothing (use --allow-empty-password if you must)`,
    });
  }
  return password;
}

/** Like optionalPassword, but PASSWORD_REQUIRED when neither source gives one. */
export function requiredPassword(p: Parsed, ctx: CommandContext, s: PasswordSource): string {
  const password = optionalPassword(p, ctx, s);
  if (password === undefined) {
    throw new DbtlsError(
      'PASSWORD_REQUIRED',
      `could not run the command: no ${s.what ?? 'keystore password'} given`,
      {
        hint: `give --${s.fileOption} FILE or set ${KEYSTORE_PASSWORD_ENV}; usage: ${s.usage}`,
      },
    );
  }
  return password;
}

export function oneOf<T extends string>(
  value: string,
  allowed: readonly T[],
  what: string,
  usage: string,
): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new DbtlsError(
    'USAGE',
    `could not use ${what} ${JSON.stringify(value)}: expected one of ${allowed.join(', ')}`,
    { hint: `usage: ${usage}` },
  );
}

/** The one positional argument a command takes (a file to show, a target). */
export function onePositional(p: Parsed, what: string, usage: string): string {
  const [first] = p.positionals;
  if (first === undefined || p.positionals.length > 1) {
    throw new DbtlsError('USAGE', `could not run the command: give exactly one ${what}`, {
      hint: `usage: ${usage}`,
    });
  }
  return first;
}

/** Every certificate of the PEM (or DER) files, in order. */
export function certificatesFrom(files: readonly string[], what: string): CertificateInfo[] {
  return files.flatMap((f) => readCertificates(readUserFile(f, what), f));
}

/**
 * Writes to --out (0600, atomic: nothing half-written) or prints it (no --out, or `--out -`); returns 0.
 * With a `json` summary the file is written all the same and the summary, naming it, is what is printed
 * (issue 14, item 10); the caller refuses --json with `--out -` first (out.ts).
 */
export function emit(
  text: string,
  out: string | undefined,
  ctx: CommandContext,
  what: string,
  json?: Readonly<Record<string, unknown>>,
): number {
  const file = out === undefined || isStdout(out) ? undefined : path.resolve(ctx.cwd, out);
  if (file !== undefined) {
    checkOutputFile(file, 'yaml');
    writeFileAtomic(file, text, { mode: MODE_SECRET });
  }
  if (json !== undefined) ctx.render.json(file === undefined ? json : { ...json, file });
  else if (file === undefined) ctx.render.lines(text.replace(/\n$/, ''));
  else ctx.render.lines(`Wrote ${what} to ${file} (mode 0600: it may hold keys or passwords).`);
  return 0;
}
