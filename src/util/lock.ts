/**
 * A lock file guarding a directory against concurrent writers (two `dbtls issue` at once must never lose
 * an index line). The lock is born whole: the owner's pid is written to a private file first, which is
 * then hard-linked to the lock's name (link(2) fails when the name exists, like O_EXCL), so no live owner's
 * lock is ever seen without its pid. A lock whose owner is no longer alive is stale and taken over, and so
 * is one without a pid (left by an older dbtls killed between creating it and writing the pid: every later
 * command waited for it, then failed LOCKED; issue 10 item 17) once this process has seen it so for a
 * grace period. A stale file is removed only if it is still the one judged stale (same inode), and a
 * release removes the lock only while it still holds this process's pid.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbtlsError, type ErrorCode } from '../errors.js';

const RETRY_MS = 5;
/** How long this process must see a lock without a pid before it takes it over (a legacy leftover). */
const NO_PID_GRACE_MS = 5_000;
/** Long enough for a batch issuance of thousands of certificates by another process. */
const DEFAULT_TIMEOUT_MS = 60_000;

/** The lock file as read through one descriptor: its inode and the pid it holds (NaN when none). */
function readLock(lockFile: string): { ino: number; pid: number } | undefined {
  let fd: number;
  try {
    fd = fs.openSync(lockFile, 'r');
  } catch {
    return undefined; // removed meanwhile: try again
  }
  try {
    const buf = Buffer.alloc(32);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return { ino: fs.fstatSync(fd).ino, pid: Number.parseInt(buf.subarray(0, n).toString('utf8'), 10) };
  } finally {
    fs.closeSync(fd);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** When this process first saw each pid-less lock (by inode): the grace is measured on our own clock. */
const pidlessSince = new Map<number, number>();

/** The inode of a stale lock (its owner is gone), or undefined while it is held (or gone). */
function staleLock(lockFile: string): number | undefined {
  const lock = readLock(lockFile);
  if (!lock) return undefined;
  if (Number.isInteger(lock.pid) && lock.pid > 0) return processAlive(lock.pid) ? undefined : lock.ino;
  const since = pidlessSince.get(lock.ino) ?? Date.now();
  pidlessSince.set(lock.ino, since);
  return Date.now() - since >= NO_PID_GRACE_MS ? lock.ino : undefined;
}

/** This process's private file holding its pid, linked to the lock's name to take it. */
const pidFileOf = (lockFile: string) => `${lockFile}.${process.pid}.tmp`;

/** Takes the lock when it is free or stale; false while a live owner holds it. */
function tryAcquire(lockFile: string): boolean {
  const mine = pidFileOf(lockFile);
  try {
    fs.writeFileSync(mine, String(process.pid), { mode: 0o600 });
  } catch (err) {
    throw lockPathError(lockFile, (err as NodeJS.ErrnoException).code, err);
  }
  try {
    for (;;) {
      try {
        linkOrCreate(mine, lockFile);
        removeDeadPidFiles(lockFile);
        return true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') throw lockPathError(lockFile, code, err);
        const stale = staleLock(lockFile);
        if (stale === undefined) return false;
        // Still the file judged stale? Another waiter may have taken it over and made a new one meanwhile.
        if (fs.statSync(lockFile, { throwIfNoEntry: false })?.ino === stale)
          fs.rmSync(lockFile, { force: true });
      }
    }
  } finally {
    fs.rmSync(mine, { force: true });
  }
}

/**
 * The lock's name given to the pid file; on a file system without hard links (EPERM, ENOTSUP), created
 * with O_EXCL and the pid written at once, the older way (then a kill in between leaves it pid-less).
 */
function linkOrCreate(pidFile: string, lockFile: string): void {
  try {
    fs.linkSync(pidFile, lockFile);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    const fd = fs.openSync(lockFile, 'wx', 0o600);
    try {
      fs.writeSync(fd, String(process.pid));
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** Under the lock: the pid files processes killed while taking it left beside it. */
function removeDeadPidFiles(lockFile: string): void {
  const dir = path.dirname(lockFile);
  const pattern = new RegExp(
    `^${path.basename(lockFile).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)\\.tmp$`,
  );
  for (const name of fs.readdirSync(dir)) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (pid > 0 && pid !== process.pid && !processAlive(pid))
      fs.rmSync(path.join(dir, name), { force: true });
  }
}

/** Releases the lock if it is still this process's (a lock taken over from us is not ours to remove). */
function release(lockFile: string): void {
  if (readLock(lockFile)?.pid === process.pid) fs.rmSync(lockFile, { force: true });
}

/** The lock's directory is missing, a file (`--ca-dir /dev/null`) or not writable: bad input, not a crash. */
function lockPathError(lockFile: string, code: string | undefined, cause: unknown): unknown {
  const dir = path.dirname(lockFile);
  const why: Record<string, [ErrorCode, string]> = {
    ENOTDIR: ['DIR_INVALID', `${dir} is not a directory`],
    ENOENT: ['DIR_INVALID', `${dir} does not exist`],
    EACCES: ['PERMISSION_DENIED', `${dir} is not writable by this user`],
    EROFS: ['PERMISSION_DENIED', `${dir} is on a read-only file system`],
  };
  const known = code === undefined ? undefined : why[code];
  if (!known) return cause;
  return new DbtlsError(known[0], `could not lock ${lockFile}: ${known[1]}`, {
    hint: 'point --ca-dir (or DBTLS_CA_DIR) at the CA directory, one this user can write',
    cause,
  });
}

function lockedError(lockFile: string): DbtlsError {
  return new DbtlsError('LOCKED', `could not lock ${lockFile}: another dbtls process holds it`, {
    hint: 'wait for the other dbtls command to finish, or remove the lock file if no dbtls is running',
  });
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Runs `fn` while holding `lockFile`; releases it whatever happens. */
export function withLock<T>(lockFile: string, fn: () => T, timeoutMs = DEFAULT_TIMEOUT_MS): T {
  const deadline = Date.now() + timeoutMs;
  while (!tryAcquire(lockFile)) {
    if (Date.now() > deadline) throw lockedError(lockFile);
    Atomics.wait(sleeper, 0, 0, RETRY_MS);
  }
  try {
    return fn();
  } finally {
    release(lockFile);
  }
}

/** The same lock for asynchronous work (batch issuance awaits worker threads while holding it). */
export async function withLockAsync<T>(
  lockFile: string,
  fn: () => Promise<T>,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (!tryAcquire(lockFile)) {
    if (Date.now() > deadline) throw lockedError(lockFile);
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
  try {
    return await fn();
  } finally {
    release(lockFile);
  }
}
