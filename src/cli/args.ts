/**
 * Argument parsing for every command: node's own util.parseArgs in strict mode, with its errors turned
 * into USAGE errors (exit 2), and the secret-reading rules of DESIGN.md (files, environment, TTY prompt;
 * never argv).
 */
import * as fs from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { DbtlsError } from '../errors.js';
import { readUserFile } from '../util/files.js';
import { type CommandContext, isPathOption, type OptionTable, type Parsed, valueName } from './command.js';
import { explainHabit, withoutPromptSwitch } from './habits.js';
import { withProfile } from './profile.js';
import type { Renderer } from './render.js';
import { closest, shown } from './suggest.js';

/** The option table of a command (command.ts); kept under its old name for the command modules. */
export type OptionSpec = OptionTable;

export type { Parsed };

/** The part of an option table that node's parser reads (it rejects keys it does not know in future versions). */
function nodeOptions(options: OptionTable): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(
    Object.entries(options).map(([name, o]) => [
      name,
      { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) },
    ]),
  );
}

/**
 * Parses argv against a command's option table. Every mistake is a USAGE error (exit 2) in dbtls's own
 * voice, with "did you mean" for a mistyped option and an answer for mysql-client habits (`-pSECRET`,
 * `-h HOST`), instead of node's parser text (issue 14, items 2 and 3).
 */
export function parse(
  argv: readonly string[],
  options: OptionTable,
  usage: string,
  ctx?: Pick<CommandContext, 'env' | 'profile'> & Partial<Pick<CommandContext, 'render'>>,
): Parsed {
  const p = renamed(parseArgv(argv, options, usage), options, usage, ctx?.render);
  // The profile stands in for the flags not given, once, here (issue 14 item 14; src/cli/profile.ts).
  return ctx?.profile ? withProfile(p, options, ctx.env, ctx.profile, adminTargetSlots(usage)) : p;
}

/**
 * A renamed option's old spelling (OptionDef.renamedTo) as its new one, with a warning: one release of
 * grace for scripts. Both spellings at once is a USAGE error.
 */
function renamed(p: Parsed, options: OptionTable, usage: string, render?: Renderer): Parsed {
  const values = { ...p.values };
  for (const [old, def] of Object.entries(options)) {
    const now = def.renamedTo;
    if (!now || values[old] === undefined) continue;
    if (values[now] !== undefined) {
      throw new DbtlsError('USAGE', `could not parse the arguments: --${old} and --${now} are one option`, {
        hint: `write --${now} only (--${old} is its old name)`,
      });
    }
    render?.warn(
      `--${old} is now --${now} in \`${commandOf(usage)}\`; the old name goes in the next release`,
    );
    values[now] = values[old];
    delete values[old];
  }
  return { values, positionals: p.positionals };
}

/**
 * How many positional arguments a command takes when its first one is ADMIN_TARGET (`dbtls require
 * ADMIN_TARGET USER@HOST` → 2), else 0: where a profile's admin-target goes when the command line has none.
 */
export function adminTargetSlots(usage: string): number {
  const words = (usage.split('\n')[0] ?? '').split(' ').slice(commandOf(usage).split(' ').length);
  const end = words.findIndex((w) => !/^[A-Z][A-Z_@]*$/.test(w));
  const slots = end === -1 ? words : words.slice(0, end);
  return slots[0] === 'ADMIN_TARGET' ? slots.length : 0;
}

function parseArgv(argv: readonly string[], options: OptionTable, usage: string): Parsed {
  const fail = (message: string, hint = `usage: ${usage}`): never => {
    throw new DbtlsError('USAGE', `could not parse the arguments: ${message}`, { hint });
  };
  explainHabit(argv, options, usage);
  const config = {
    args: withoutPromptSwitch(argv, options),
    options: nodeOptions(options),
    allowPositionals: true,
  };
  const { tokens } = parseArgs({ ...config, strict: false, tokens: true });
  const given = new Set<string>();
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const def = Object.hasOwn(options, t.name) ? options[t.name] : undefined;
    // node keeps the last of a repeated option: `--cn a --cn b` issued for b alone, silently.
    const twice = def?.type === 'string' && !def.multiple && given.has(t.name);
    given.add(t.name);
    if (twice) {
      fail(`--${t.name} is given twice`, `give --${t.name} once; usage: ${usage}`);
    } else if (!def) {
      const guess = t.rawName.startsWith('--') ? closest(t.name, Object.keys(options)) : undefined;
      fail(
        `unknown option ${shown(t.rawName)}${guess ? `; did you mean --${guess}?` : ''}`,
        `${guess ? `write --${guess}; ` : ''}the options are in \`${commandOf(usage)} --help\``,
      );
    } else if (def.type === 'string' && t.value === undefined) {
      fail(`${t.rawName} needs a value`);
    } else if (t.value === '' && isPathOption(t.name, def)) {
      fail(
        `${t.rawName} is empty`,
        valueName(t.name, def).endsWith('DIR')
          ? `give ${t.rawName} a directory (. for the current one); usage: ${usage}`
          : `give ${t.rawName} a file name; usage: ${usage}`,
      );
    } else if (def.type === 'string' && !t.inlineValue && t.value!.startsWith('-') && t.value !== '-') {
      fail(
        `${t.rawName} needs a value, and ${shown(t.value!)} looks like another option`,
        `if the value really starts with a dash, write ${t.rawName}=${shown(t.value!)}`,
      );
    } else if (def.type === 'boolean' && t.value !== undefined) {
      fail(`${t.rawName} takes no value (it is a switch)`, `write ${t.rawName} alone; usage: ${usage}`);
    }
  }
  try {
    const { values, positionals } = parseArgs({ ...config, strict: true });
    return { values: values as Parsed['values'], positionals };
  } catch {
    // The token walk above names every case node rejects; this is a last line that never shows node's text.
    return fail('they do not fit the command');
  }
}

/**
 * The parse of a command that takes no positional argument: one there (`dbtls list extra`, or an option
 * after `--` as in `dbtls list -- --json`) is a USAGE error, not silently ignored.
 */
export function noPositionals(p: Parsed, usage: string): Parsed {
  const [first] = p.positionals;
  if (first === undefined) return p;
  throw new DbtlsError('USAGE', `could not parse the arguments: unexpected argument ${shown(first)}`, {
    hint: `${first.startsWith('-') ? `options go before \`--\`; ` : ''}usage: ${usage}`,
  });
}

/** 100 years: no certificate dbtls makes should outlive its reader. */
const MAX_DAYS = 36_500;
/** setTimeout's ceiling, and far beyond any sensible count. */
const MAX_COUNT = 2_147_483_647;

/** `dbtls ca init` from a usage line `dbtls ca init [--cn NAME] …`. */
export function commandOf(usage: string): string {
  const words: string[] = [];
  for (const w of usage.split(' ')) {
    if (!/^[a-z0-9-]+$/.test(w) || w.startsWith('-')) break;
    words.push(w);
  }
  return words.join(' ');
}

/** `{ [key]: value }`, or nothing when the value was not given (optional properties stay absent). */
export function optional<T>(key: string, value: T | undefined): Record<string, T> {
  return value === undefined ? {} : { [key]: value };
}

/**
 * The flags every command that dials a server reads into parseTarget's flag layer (flag > DSN > my.cnf >
 * env > default). A command without one of these options simply never has it set.
 */
export function targetFlags(p: Parsed): Record<string, string> {
  return {
    ...optional('mode', str(p, 'ssl-mode')),
    ...optional('mutualTls', str(p, 'mutual-tls')),
    ...optional('ca', str(p, 'ca')),
    ...optional('cert', str(p, 'cert')),
    ...optional('key', str(p, 'key')),
    ...optional('servername', str(p, 'servername')),
    ...optional('minVersion', str(p, 'tls-min')),
    ...optional('user', str(p, 'user')),
    ...optional('defaultsFile', str(p, 'defaults-file')),
  };
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
    throw new DbtlsError('USAGE', `could not parse --${name} ${shown(v)}: expected a whole number`, {
      hint: `usage: ${usage}`,
    });
  }
  const n = Number.parseInt(v, 10);
  // Days past 100 years overflow dates (`--days 99999999999` was an INTERNAL); other counts and
  // milliseconds past 2^31-1 overflow node's timers.
  const max = /days|within/.test(name) ? MAX_DAYS : MAX_COUNT;
  if (n > max) {
    throw new DbtlsError('USAGE', `could not use --${name} ${shown(v)}: expected at most ${max}`, {
      hint: `usage: ${usage}`,
    });
  }
  return n;
}

/** A secret from a file: the whole content minus one trailing newline (as `echo pw > f` writes it). */
export function readSecretFile(file: string, what: string): string {
  return readUserFile(file, what)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** An environment variable's value; an empty one counts as unset (`DBTLS_CA_PASSPHRASE= dbtls …`). */
export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === '' ? undefined : value;
}

export interface SecretSource {
  readonly file?: string | undefined;
  readonly envName?: string;
  /**
   * An empty variable gives the empty secret (MYSQL_PWD= is an account without a password, as for the
   * mysql client). Otherwise an empty variable counts as unset: `DBTLS_CA_PASSPHRASE=` is no passphrase.
   */
  readonly emptyEnvIsValue?: boolean;
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
  if (source.envName) {
    const value = source.emptyEnvIsValue ? env[source.envName] : envValue(env, source.envName);
    if (value !== undefined) return value;
  }
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
          reject(new DbtlsError('CANCELLED', 'could not read the secret: cancelled'));
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
