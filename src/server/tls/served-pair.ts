/**
 * The server's key and certificate on disk, switched as one (issue 10 item 7). Renaming the key and then
 * the certificate left, between the two renames or after an I/O error on the second, a key that did not
 * match its certificate: the next restart aborted ("Failed to setup SSL"). Two renames can never be one,
 * so the pair lives in a generation directory and the server's paths are symlinks through one `live` link:
 *
 *   ssl/server-cert.pem -> dbtls-server-cert/live/cert.pem
 *   ssl/server-key.pem  -> dbtls-server-cert/live/key.pem
 *   ssl/dbtls-server-cert/live -> gen-<serial>      (switched with one rename(2): atomic, POSIX)
 *   ssl/dbtls-server-cert/gen-<serial>/{cert,key}.pem
 *
 * A generation is written in `incoming/`, fsynced, and renamed into place whole, so a `gen-*` directory is
 * always complete. The first rotation converts plain files: it copies the pair into a generation, points
 * `live` at it, then replaces each path by its symlink, so the content behind the paths never changes
 * during the conversion. At every instant (every kill point) the paths name a matching pair.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { causeText, DbtlsError } from '../../errors.js';
import { ensureDir, MODE_PUBLIC, MODE_SECRET } from '../../util/files.js';
import { withLockAsync } from '../../util/lock.js';

/** The paths the server reads (@@ssl_cert, @@ssl_key). */
export interface PairPaths {
  readonly cert: string;
  readonly key: string;
}

/** Where the generations of one served pair live, next to its certificate. */
export interface PairLayout {
  readonly paths: PairPaths;
  /** `<dir of cert>/dbtls-<cert name>`. */
  readonly root: string;
  /** `root/live`: the one link that is switched. */
  readonly live: string;
  /** `root/incoming`: where the next generation is written before it is renamed into place. */
  readonly incoming: string;
}

const GEN_CERT = 'cert.pem';
const GEN_KEY = 'key.pem';

export function pairLayout(paths: PairPaths): PairLayout {
  const base = path.basename(paths.cert).replace(/\.(pem|crt)$/i, '');
  const root = path.join(path.dirname(paths.cert), `dbtls-${base}`);
  return { paths, root, live: path.join(root, 'live'), incoming: path.join(root, 'incoming') };
}

export interface Owner {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** The content and ownership of the pair the paths name now (through the links). */
export interface PairOnDisk {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly certOwner: Owner;
  readonly keyOwner: Owner;
}

function ownerOf(file: string): Owner {
  const st = fs.statSync(file);
  return { mode: st.mode & 0o777, uid: st.uid, gid: st.gid };
}

export function readPair(paths: PairPaths): PairOnDisk {
  try {
    return {
      cert: fs.readFileSync(paths.cert),
      key: fs.readFileSync(paths.key),
      certOwner: ownerOf(paths.cert),
      keyOwner: ownerOf(paths.key),
    };
  } catch (err) {
    throw new DbtlsError(
      'FILE_UNREADABLE',
      `could not read the server key and certificate ${paths.key}, ${paths.cert}: ${causeText(err)}`,
      {
        hint: 'run the command as a user who may read the server files (the mysql user, or root)',
        cause: err,
      },
    );
  }
}

/**
 * The generation directory must be traversable by the server's user (mysqld reads the pair through it):
 * 0755 set explicitly every time, since mkdir's mode is narrowed by the umask (under `umask 077` a plain
 * mkdir made it 0700 and mysqld could load neither pair) and a run under such a umask may have made it.
 */
export function ensureLayoutRoot(layout: PairLayout): void {
  ensureDir(layout.root, 0o755);
  try {
    fs.chmodSync(layout.root, 0o755);
  } catch (err) {
    throw writeFailed(`the directory ${layout.root}`, err);
  }
}

/** The key's mode in a generation: owner read/write, and group read when the key had it (root:mysql 0640). */
export function keyMode(owner: Owner): number {
  return MODE_SECRET | (owner.mode & 0o040);
}

const asRoot = () => process.getuid?.() === 0;

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A new file, written and fsynced; owned like `owner` when we are root (the server's user must read it). */
function writeSynced(file: string, data: Buffer | string, mode: number, owner: Owner): void {
  const fd = fs.openSync(file, 'wx', mode);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(file, mode);
  if (asRoot()) fs.chownSync(file, owner.uid, owner.gid);
}

/** Where a symlink points, resolved; undefined when `p` is not a symlink. */
function linkTarget(p: string): string | undefined {
  try {
    if (!fs.lstatSync(p).isSymbolicLink()) return undefined;
    return path.resolve(path.dirname(p), fs.readlinkSync(p));
  } catch {
    return undefined;
  }
}

/** Points `link` at `target` with one rename over it (a temporary symlink first). */
function switchLink(link: string, target: string): void {
  const tmp = `${link}.switch-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(target, tmp);
  fs.renameSync(tmp, link);
  fsyncDir(path.dirname(link));
}

/** The generation `live` points at (its directory name), if any. */
export function liveGeneration(layout: PairLayout): string | undefined {
  const target = linkTarget(layout.live);
  return target ? path.basename(target) : undefined;
}

/** True when both paths are links through `live` (the layout above is in place). */
export function converted(layout: PairLayout): boolean {
  return (
    liveGeneration(layout) !== undefined &&
    linkTarget(layout.paths.cert) === path.join(layout.live, GEN_CERT) &&
    linkTarget(layout.paths.key) === path.join(layout.live, GEN_KEY)
  );
}

function writeFailed(what: string, err: unknown): DbtlsError {
  if (err instanceof DbtlsError) return err;
  return new DbtlsError('WRITE_FAILED', `could not write ${what}: ${causeText(err)}`, {
    hint: 'free space or fix the file system, then run the command again; the server keeps its files',
    cause: err,
  });
}

/**
 * Writes a complete generation `gen-<name>` (incoming/, fsync, one rename). On any error the partial
 * `incoming/` is removed and nothing else was touched. Returns the generation's directory name.
 */
export function writeGeneration(
  layout: PairLayout,
  name: string,
  pair: { cert: string | Buffer; key: string | Buffer },
  owners: Pick<PairOnDisk, 'certOwner' | 'keyOwner'>,
): string {
  // Never reuse a directory: after a crash the name may be the live generation's.
  let gen = `gen-${name}`;
  for (let n = 2; fs.existsSync(path.join(layout.root, gen)); n++) gen = `gen-${name}-${n}`;
  const dir = path.join(layout.root, gen);
  try {
    fs.rmSync(layout.incoming, { recursive: true, force: true });
    // 0755 like the directory the files were in: anyone may read the certificate, never the key (0600/0640).
    fs.mkdirSync(layout.incoming, { mode: 0o755 });
    fs.chmodSync(layout.incoming, 0o755);
    if (asRoot()) fs.chownSync(layout.incoming, owners.keyOwner.uid, owners.keyOwner.gid);
    writeSynced(path.join(layout.incoming, GEN_KEY), pair.key, keyMode(owners.keyOwner), owners.keyOwner);
    writeSynced(
      path.join(layout.incoming, GEN_CERT),
      pair.cert,
      owners.certOwner.mode | MODE_PUBLIC,
      owners.certOwner,
    );
    fsyncDir(layout.incoming);
    fs.renameSync(layout.incoming, dir);
    fsyncDir(layout.root);
  } catch (err) {
    fs.rmSync(layout.incoming, { recursive: true, force: true });
    throw writeFailed(`the new server key and certificate in ${layout.root}`, err);
  }
  return gen;
}

/**
 * Puts the layout in place when the paths are plain files (or half-converted after a crash): a copy of
 * the current pair becomes a generation, `live` points at it, then each path becomes a link, each step
 * leaving the same matching pair behind the paths. Returns the live generation.
 */
export function convert(layout: PairLayout, current: PairOnDisk, name: string): string {
  try {
    removeSwitchLeftovers(layout);
  } catch (err) {
    throw writeFailed(`the leftovers of an interrupted switch beside ${layout.paths.cert}`, err);
  }
  const live = liveGeneration(layout);
  if (live && converted(layout)) return live;
  const gen = writeGeneration(layout, name, current, current);
  try {
    switchLink(layout.live, gen);
    for (const [p, file] of [
      [layout.paths.key, GEN_KEY],
      [layout.paths.cert, GEN_CERT],
    ] as const) {
      const target = path.join(layout.live, file);
      if (linkTarget(p) !== target) switchLink(p, path.relative(path.dirname(p), target));
    }
  } catch (err) {
    throw writeFailed(`the links ${layout.live}, ${layout.paths.cert} and ${layout.paths.key}`, err);
  }
  return gen;
}

/**
 * The temporary links a crash left between symlink(2) and rename(2) in switchLink, beside the paths
 * (`server-key.pem.switch-<pid>`); the caller holds the pair's lock, so none is another run's.
 */
function removeSwitchLeftovers(layout: PairLayout): void {
  for (const p of [layout.paths.cert, layout.paths.key]) {
    const prefix = `${path.basename(p)}.switch-`;
    let names: string[];
    try {
      names = fs.readdirSync(path.dirname(p));
    } catch {
      continue;
    }
    for (const n of names) {
      if (n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)))
        fs.rmSync(path.join(path.dirname(p), n), { force: true });
    }
  }
}

/** Switches `live` to another generation: both paths change at once. */
export function switchTo(layout: PairLayout, gen: string): void {
  try {
    switchLink(layout.live, gen);
  } catch (err) {
    throw writeFailed(`the link ${layout.live}`, err);
  }
}

/** Removes generations other than `keep` (and leftovers of interrupted runs). */
export function prune(layout: PairLayout, keep: readonly string[]): void {
  try {
    for (const entry of fs.readdirSync(layout.root)) {
      if (entry === 'live' || entry === 'lock' || keep.includes(entry)) continue;
      if (entry.startsWith('gen-') || entry === 'incoming' || entry.startsWith('live.switch-'))
        fs.rmSync(path.join(layout.root, entry), { recursive: true, force: true });
    }
  } catch (err) {
    throw writeFailed(`the old generations in ${layout.root}`, err);
  }
}

/** Runs `fn` holding the pair's lock: two rotations of one server never interleave. */
export function withPairLock<T>(layout: PairLayout, fn: () => Promise<T>): Promise<T> {
  ensureLayoutRoot(layout);
  return withLockAsync(path.join(layout.root, 'lock'), fn);
}

/**
 * Removes the generations kept beside `cert` once no path in `paths` links through them: after
 * `secure --undo` restored or removed the files a rotation had turned into links, nothing of dbtls's
 * layout stays next to the certificate (nor keeps its directory from being removed as empty).
 * Returns the directory removed, if any.
 */
export function removeUnusedLayout(cert: string, paths: readonly string[]): string | undefined {
  const { root, live } = pairLayout({ cert, key: cert });
  if (linkTarget(live) === undefined) return undefined; // not a layout of ours
  const inside = (p: string) => linkTarget(p)?.startsWith(root + path.sep) ?? false;
  if (paths.some(inside)) return undefined;
  fs.rmSync(root, { recursive: true, force: true });
  return root;
}
