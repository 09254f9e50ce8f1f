/**
 * A lock file guarding a directory against concurrent writers (two `dbtls issue` at once must never lose
 * an index line). The lock is a file created with O_EXCL holding the owner's pid; a lock whose owner is
 * no longer alive is stale and taken over, and so is one left without a pid past a grace period (its
 * owner was killed between creating it and writing the pid: every later command waited for it, then
 * failed LOCKED, until someone removed it by hand; issue 10 item 17).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbtlsError, type ErrorCode } from '../errors.js';

const RETRY_MS = 5;
/**
 * How long a lock file may hold no pid: its owner writes the pid right after creating it, so past this
 * the owner died in between. Far above any scheduling delay, far below DEFAULT_TIMEOUT_MS.
 */
const NO_PID_GRACE_MS = 5_000;
/** Long enough for a batch issuance of thousands of certificates by another process. */
const DEFAULT_TIMEOUT_MS = 60_000;

function ownerAlive(lockFile: string): boolean {
  let pid: number;
  let age: number;
  try {
    age = Date.now() - fs.statSync(lockFile).mtimeMs;
    pid = Number.parseInt(fs.readFileSync(lockFile, 'utf8'), 10);
  } catch {
    return true; // being written or removed right now: treat as held
  }
  if (!Number.isInteger(pid) || pid <= 0) return age < NO_PID_GRACE_MS; // being written, or never will be
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock when it is free or stale; false while a live owner holds it. */
function tryAcquire(lockFile: string): boolean {
  for (;;) {
    try {
      const fd = fs.openSync(lockFile, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw lockPathError(lockFile, code, err);
      if (ownerAlive(lockFile)) return false;
      fs.rmSync(lockFile, { force: true });
    }
  }
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
    fs.rmSync(lockFile, { force: true });
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
    fs.rmSync(lockFile, { force: true });
  }
}
