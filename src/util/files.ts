/**
 * Files that are never half-written: every write goes to a temporary sibling, is fsynced, and renamed
 * over the target (rename is atomic within one file system, POSIX rename(2)). Key files are 0600.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { causeText, DbtlsError } from '../errors.js';

/** Private keys and keystores: owner read/write only. */
export const MODE_SECRET = 0o600;
/** Certificates, CRLs, metadata: world-readable, they hold nothing secret. */
export const MODE_PUBLIC = 0o644;

export interface WriteOptions {
  readonly mode?: number;
  /** Refuse to replace an existing file (EEXIST becomes OUTPUT_EXISTS). */
  readonly exclusive?: boolean;
  /** Skip fsync: for bulk output where the caller syncs once at the end. */
  readonly noSync?: boolean;
}

export function writeFileAtomic(file: string, data: string | Uint8Array, options: WriteOptions = {}): void {
  const mode = options.mode ?? MODE_PUBLIC;
  if (options.exclusive && fs.existsSync(file)) {
    throw new DbtlsError('OUTPUT_EXISTS', `could not write ${file}: the file already exists`, {
      hint: 'choose another output path or move the existing file away',
    });
  }
  refuseSpecialFile(file);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', mode);
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (!options.noSync) fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    // openSync's mode is filtered by the umask; set it exactly.
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, file);
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    if (err instanceof DbtlsError) throw err;
    throw new DbtlsError('WRITE_FAILED', `could not write ${file}: ${causeText(err)}`, {
      hint: 'check that the directory exists and is writable',
      cause: err,
    });
  }
}

/**
 * A rename replaces whatever has the name: `--out /dev/null` run as root would turn the device into a
 * regular file (a fuzz test did exactly that). Outputs are regular files or new names, nothing else.
 */
function refuseSpecialFile(file: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch {
    return; // a new name
  }
  if (stat.isFile() || stat.isSymbolicLink()) return;
  const what = stat.isDirectory() ? 'a directory' : 'a device, FIFO or socket';
  throw new DbtlsError('OUTPUT_NOT_A_FILE', `could not write ${file}: it is ${what}, not a regular file`, {
    hint: 'give the path of a new or regular file for the output',
  });
}

/**
 * Removes the temp files writeFileAtomic left for `file` when a crash cut it short (`.<name>.<hex>.tmp`
 * beside it). Only for callers that hold the lock guarding `file`: a live writer's temp file looks the same.
 */
export function removeStaleTemps(file: string): void {
  const dir = path.dirname(file);
  const prefix = `.${path.basename(file)}.`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith(prefix) && /^[0-9a-f]{12}\.tmp$/.test(name.slice(prefix.length))) {
      fs.rmSync(path.join(dir, name), { force: true });
    }
  }
}

/** Reads a file the user named, with a DbtlsError (FILE_NOT_FOUND / FILE_UNREADABLE) instead of an errno. */
/**
 * The largest input file read: every file dbtls takes (certificates, keys, CSRs, a names list of a few
 * million lines, a config) is far smaller, and node cannot hold a text over 512 MiB as one string.
 */
const MAX_INPUT_BYTES = 256 * 1024 * 1024;

/** What to do about a file that could not be read, by errno. */
const READ_HINTS: Readonly<Record<string, string>> = {
  EACCES: 'check the file permissions, or run as a user who may read it',
  EPERM: 'check the file permissions, or run as a user who may read it',
  ELOOP: 'the path is a loop of symbolic links: give the file itself',
  ENOTDIR: 'a part of the path is a file, not a directory: check the path',
  ENAMETOOLONG: 'the path is too long: check it',
};

export function readUserFile(file: string, what = 'file'): Buffer {
  refuseSpecialInput(file, what);
  let size: number;
  try {
    size = fs.statSync(file).size;
    if (size <= MAX_INPUT_BYTES) return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new DbtlsError('FILE_NOT_FOUND', `could not read ${what} ${file}: no such file`, {
        hint: 'check the path',
        cause: err,
      });
    }
    throw new DbtlsError('FILE_UNREADABLE', `could not read ${what} ${file}: ${causeText(err)}`, {
      hint: READ_HINTS[code ?? ''] ?? 'check the file and its permissions',
      cause: err,
    });
  }
  throw new DbtlsError(
    'FILE_UNREADABLE',
    `could not read ${what} ${file}: it is ${Math.round(size / 1024 / 1024)} MiB, and dbtls reads input files up to ${MAX_INPUT_BYTES / 1024 / 1024} MiB`,
    { hint: 'check that this is the file you meant; split a long names list into several runs' },
  );
}

/** Pipes a shell made for this process (`--password-file <(pass show db)`): they have a writer. */
const OWN_PIPE = /^\/(dev\/fd|proc\/self\/fd)\/\d+$|^\/dev\/stdin$/;

/**
 * Only regular files are read: a named FIFO with no writer would block the read forever, and a device
 * (`/dev/zero`) never ends (issue 14, item 8). The shell's own pipes for process substitution are allowed.
 */
function refuseSpecialInput(file: string, what: string): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file, { throwIfNoEntry: false });
  } catch {
    return; // readFileSync reports it
  }
  if (!st || st.isFile() || OWN_PIPE.test(file)) return;
  const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a named pipe (FIFO)' : 'not a regular file';
  throw new DbtlsError('FILE_NOT_REGULAR', `could not read ${what} ${file}: it is ${kind}`, {
    hint: 'give a regular file (for a secret: one with mode 0600)',
  });
}

/**
 * Creates a directory (and parents) that does not have to be new. The mode is explicit (the process
 * umask can only narrow it: under `umask 000` a plain mkdir would make it 0777, issue 10 item 17), and a
 * directory this call creates gets exactly `mode`.
 */
export function ensureDir(dir: string, mode = 0o755): void {
  try {
    const first = fs.mkdirSync(dir, { recursive: true, mode });
    if (first !== undefined) fs.chmodSync(dir, mode);
  } catch (err) {
    throw dirError(dir, err);
  }
}

/** A failed mkdir as the user can act on it: a file in the way is bad input, anything else a runtime failure. */
function dirError(dir: string, err: unknown): DbtlsError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EEXIST' || code === 'ENOTDIR') {
    let p = dir;
    while (path.dirname(p) !== p && !fs.existsSync(p)) p = path.dirname(p);
    return new DbtlsError('NOT_A_DIRECTORY', `could not create the directory ${dir}: ${p} is a file`, {
      hint: 'choose a path whose every part is a directory (or absent)',
      cause: err,
    });
  }
  return new DbtlsError('WRITE_FAILED', `could not create the directory ${dir}: ${causeText(err)}`, {
    hint:
      code === 'EACCES' || code === 'EPERM'
        ? 'choose a directory you can write, or run as its owner (or with sudo)'
        : 'check the path and the free space',
    cause: err,
  });
}

/** Makes the names in a directory durable (after renames into it); best effort where unsupported. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // some file systems refuse fsync on a directory: the files themselves were synced
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
