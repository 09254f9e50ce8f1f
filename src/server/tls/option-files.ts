/**
 * The server's option files as mariadbd reads them: its root files (`--defaults-file`, or the default
 * list), then every `!include FILE` and `!includedir DIR` in turn. dbtls uses the chain to know, before it
 * changes anything, whether the server will read a config fragment at all (issue 10, item 11), and never
 * to remove a directory that an option file includes: mariadbd aborts at start with "Fatal error in
 * defaults handling" when an `!includedir` is missing (measured with my_print_defaults 10.11), while a
 * missing `!include` file is skipped.
 *
 * The roots come from the running server: @@pid_file gives its pid, /proc/<pid>/cmdline its arguments
 * (`--defaults-file`, `--defaults-extra-file`, `--no-defaults`). Without them (a server on another host),
 * the chain is unknown and the caller says how to name the option file instead.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbtlsError } from '../../errors.js';
import { globalVariables, type SqlSession } from '../admin/session.js';

/** mariadbd's default option files on Unix, in reading order (mysys/my_default.c), without per-user files. */
export const DEFAULT_OPTION_FILES: readonly string[] = Object.freeze(['/etc/my.cnf', '/etc/mysql/my.cnf']);
/** `!includedir` reads only these files of the directory on Unix (measured: `x.conf` is ignored). */
const INCLUDED_SUFFIX = '.cnf';
/** Include loops and absurd nesting end here, as in mysys (MAX_RECURSION_LEVEL 10). */
const MAX_DEPTH = 10;
const INCLUDE = /^\s*!include\s+(.+?)\s*$/;
const INCLUDEDIR = /^\s*!includedir\s+(.+?)\s*$/;

export interface IncludedDir {
  readonly dir: string;
  /** The option file whose `!includedir` line names it. */
  readonly from: string;
}

export interface OptionChain {
  /** What the server reads first (its --defaults-file, or the default list). */
  readonly roots: readonly string[];
  /** How the roots were found, for messages. */
  readonly source: string;
  /** Every option file read, in order. */
  readonly files: readonly string[];
  /** `!include` targets, read once they exist. */
  readonly includes: readonly string[];
  readonly includedDirs: readonly IncludedDir[];
  /** The reader the chain was read with (the same view of the files for serverSetting). */
  readonly read?: OptionFileReader | undefined;
}

/** Reads an option file; undefined when it does not exist or cannot be read. */
export type OptionFileReader = (file: string) => string | undefined;

const readFromDisk: OptionFileReader = (file) => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * Follows the includes from `roots`, as mariadbd does. Files that cannot be read are skipped. `read` lets
 * a dry run see the files as they would be (undo's restored fragment) without writing them.
 */
export function readOptionChain(
  roots: readonly string[],
  source = roots.join(', '),
  read: OptionFileReader = readFromDisk,
): OptionChain {
  const files: string[] = [];
  const includes: string[] = [];
  const includedDirs: IncludedDir[] = [];
  const readFile = (file: string, depth: number) => {
    if (depth > MAX_DEPTH || files.includes(file)) return;
    const text = read(file);
    if (text === undefined) return;
    files.push(file);
    for (const line of text.split('\n')) {
      const dir = INCLUDEDIR.exec(line)?.[1];
      if (dir !== undefined) {
        const abs = path.resolve(path.dirname(file), dir);
        includedDirs.push({ dir: abs, from: file });
        let names: string[] = [];
        try {
          names = fs.readdirSync(abs).sort();
        } catch {
          // A missing directory is fatal to the server; the caller reports it from includedDirs.
        }
        for (const name of names)
          if (name.endsWith(INCLUDED_SUFFIX)) readFile(path.join(abs, name), depth + 1);
        continue;
      }
      const inc = INCLUDE.exec(line)?.[1];
      if (inc !== undefined) {
        const abs = path.resolve(path.dirname(file), inc);
        includes.push(abs);
        readFile(abs, depth + 1);
      }
    }
  };
  for (const root of roots) readFile(path.resolve(root), 0);
  return { roots, source, files, includes, includedDirs, read };
}

/** Whether the server reads `file` at its next start (it exists in the chain, or will once written). Pure. */
export function chainReads(chain: OptionChain, file: string): boolean {
  const abs = path.resolve(file);
  if (chain.files.includes(abs) || chain.includes.includes(abs)) return true;
  return abs.endsWith(INCLUDED_SUFFIX) && chain.includedDirs.some((d) => d.dir === path.dirname(abs));
}

/** The option file of the chain that includes `dir` (directly or as an ancestor's include), if any. Pure. */
export function includerOf(chain: OptionChain, dir: string): IncludedDir | undefined {
  const abs = path.resolve(dir);
  return chain.includedDirs.find((d) => d.dir === abs || d.dir.startsWith(`${abs}${path.sep}`));
}

/** The root files a server was started with, from its command line (argv without the program). Pure. */
export function rootsFromArgs(args: readonly string[]): string[] {
  let defaultsFile: string | undefined;
  const extra: string[] = [];
  for (const arg of args) {
    if (arg === '--no-defaults') return [];
    const [name, value] = arg.split(/=(.*)/s, 2);
    if (value === undefined) continue;
    if (name === '--defaults-file') defaultsFile = value;
    else if (name === '--defaults-extra-file') extra.push(value);
  }
  return defaultsFile !== undefined ? [defaultsFile, ...extra] : [...DEFAULT_OPTION_FILES, ...extra];
}

/** The running server's command line, from its pid file and /proc; undefined when it is not readable here. */
async function serverArgs(session: SqlSession): Promise<{ pid: string; args: string[] } | undefined> {
  const pidFile = (await globalVariables(session, ['pid_file'])).get('pid_file');
  if (!pidFile) return undefined;
  try {
    const pid = fs.readFileSync(pidFile, 'utf8').trim();
    if (!/^\d+$/.test(pid)) return undefined;
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return { pid, args: args.slice(1) };
  } catch {
    return undefined;
  }
}

/**
 * The option-file chain of the server behind `session`: from `given` (--server-config) when set, else from
 * the server's own command line. SERVER_CONFIG_UNKNOWN when neither is available.
 */
export async function serverOptionChain(session: SqlSession, given?: string): Promise<OptionChain> {
  if (given !== undefined) {
    const abs = path.resolve(given);
    if (!fs.existsSync(abs)) {
      throw new DbtlsError('FILE_NOT_FOUND', `could not read the server's option file ${abs}: no such file`, {
        hint: 'pass the file the server reads first with --server-config (e.g. /etc/mysql/my.cnf)',
      });
    }
    return readOptionChain([abs], `--server-config ${abs}`);
  }
  const found = await serverArgs(session);
  if (!found) {
    throw new DbtlsError(
      'SERVER_CONFIG_UNKNOWN',
      "could not find the server's option files: its pid file or /proc entry is not readable from here",
      {
        hint: 'run dbtls on the server host, or pass --server-config FILE (the option file mariadbd reads first, e.g. /etc/mysql/my.cnf)',
      },
    );
  }
  const roots = rootsFromArgs(found.args);
  return readOptionChain(roots, `the command line of mariadbd (pid ${found.pid})`);
}

/**
 * Refuses a fragment the server would not read, naming the line to add and where (before anything is
 * changed: issue 10, item 11).
 */
export function assertChainReads(chain: OptionChain, fragment: string): void {
  if (chainReads(chain, fragment)) return;
  const abs = path.resolve(fragment);
  const where = chain.files[0] ?? chain.roots[0];
  const line = abs.endsWith(INCLUDED_SUFFIX) ? `!includedir ${path.dirname(abs)}` : `!include ${abs}`;
  throw new DbtlsError(
    'CONFIG_NOT_INCLUDED',
    `could not use the config fragment ${abs}: the server does not read it (its option files: ${chain.files.join(', ') || 'none readable'}, from ${chain.source})`,
    {
      hint: where
        ? `add the line \`${line}\` at the end of ${where}, or pass --config-file inside a directory it already includes${chain.includedDirs.length ? ` (${chain.includedDirs.map((d) => d.dir).join(', ')})` : ''}`
        : `the server reads no option file; start it with --defaults-file FILE where FILE has \`${line}\``,
      details: { line, optionFile: where ?? null },
    },
  );
}

/** The groups mariadbd reads (its own and the version-suffixed ones, "Option Groups" of the manual). */
const SERVER_GROUP = /^(mysqld|server|mariadb|mariadbd|mysqld-[\d.]+|mariadb-[\d.]+|mariadbd-[\d.]+)$/;

/**
 * The value the server takes for option `name` (`ssl_cert` and `ssl-cert` are one option) from the chain:
 * the last one read in a server group, or undefined when no file sets it. Reads the files again.
 */
export function serverSetting(
  chain: OptionChain,
  name: string,
  read: OptionFileReader = chain.read ?? readFromDisk,
): string | undefined {
  const want = name.replaceAll('-', '_').toLowerCase();
  let value: string | undefined;
  for (const file of chain.files) {
    const text = read(file);
    if (text === undefined) continue;
    let inServer = false;
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#') || line.startsWith(';') || line.startsWith('!')) continue;
      const group = /^\[\s*([^\]]+?)\s*\]$/.exec(line)?.[1];
      if (group !== undefined) {
        inServer = SERVER_GROUP.test(group.toLowerCase());
        continue;
      }
      if (!inServer) continue;
      const eq = line.indexOf('=');
      const key = (eq < 0 ? line : line.slice(0, eq)).trim().replaceAll('-', '_').toLowerCase();
      if (key !== want && key !== `loose_${want}`) continue;
      value =
        eq < 0
          ? ''
          : line
              .slice(eq + 1)
              .trim()
              .replace(/^"(.*)"$/, '$1');
    }
  }
  return value;
}
