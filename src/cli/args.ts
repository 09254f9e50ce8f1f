/**
 * Argument parsing for every command: node's own util.parseArgs in strict mode, with its errors turned
 * into USAGE errors (exit 2), and the secret-reading rules of DESIGN.md (files, environment, TTY prompt;
 * never argv).
 */
import * as fs from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { DbtlsError } from '../errors.js';
import { readUserFile } from '../util/files.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  readonly values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  readonly positionals: string[];
}

export function parse(argv: readonly string[], options: OptionSpec, usage: string): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Parsed['values'], positionals };
  } catch (err) {
    throw new DbtlsError('USAGE', `could not parse the arguments: ${(err as Error).message}`, {
      hint: `usage: ${usage}`,
      cause: err,
    });
  }
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function strs(p: Parsed, name: string): string[] {
  const v = p.values[name];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return typeof v === 'string' ? [v] : [];
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

export function required(p: Parsed, name: string, usage: string): string {
  const v = str(p, name);
  if (v === undefined || v === '') {
    throw new DbtlsError('USAGE', `could not run the command: --${name} is required`, {
      hint: `usage: ${usage}`,
    });
  }
  return v;
}

export function int(p: Parsed, name: string, usage: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) {
    throw new DbtlsError('USAGE', `could not parse --${name} ${v}: expected a whole number`, {
      hint: `usage: ${usage}`,
    });
  }
  return Number.parseInt(v, 10);
}

/** A secret from a file: the whole content minus one trailing newline (as `echo pw > f` writes it). */
export function readSecretFile(file: string, what: string): string {
  return readUserFile(file, what)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export interface SecretSource {
  readonly file?: string | undefined;
  readonly envName?: string;
  readonly what: string;
  /** When nothing else gave it and stdin is a TTY, ask. */
  readonly prompt?: boolean;
  readonly confirm?: boolean;
}

/**
 * A secret from (in order) a file, an environment variable, or a prompt on a TTY. Returns undefined when
 * no source is available; callers decide whether that is an error.
 */
export async function readSecret(
  source: SecretSource,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  if (source.file) return readSecretFile(source.file, source.what);
  if (source.envName && env[source.envName] !== undefined) return env[source.envName];
  if (source.prompt && process.stdin.isTTY) {
    const first = await promptHidden(`${source.what}: `);
    if (source.confirm) {
      const second = await promptHidden(`${source.what} (again): `);
      if (first !== second) {
        throw new DbtlsError(
          'PASSPHRASE_MISMATCH',
          `could not read the ${source.what}: the two entries differ`,
          {
            hint: 'run the command again and type the same passphrase twice',
          },
        );
      }
    }
    return first;
  }
  return undefined;
}

/** Reads a line from the TTY without echoing it. */
export function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    let answer = '';
    const wasRaw = stdin.isRaw;
    stdin.setRawMode?.(true);
    stdin.resume();
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolve(answer);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new DbtlsError('CANCELLED', 'could not read the secret: cancelled', { kind: 'runtime' }));
          return;
        }
        if (ch === '\u007f') answer = answer.slice(0, -1);
        else answer += ch;
      }
    };
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode?.(wasRaw);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

export function fileExists(file: string): boolean {
  return fs.existsSync(file);
}
