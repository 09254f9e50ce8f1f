/**
 * A lock file guarding a directory against concurrent writers (two `dbtls issue` at once must never lose
 * an index line). The lock is a file created with O_EXCL holding the owner's pid; a lock whose owner is
 * no longer alive is stale and taken over.
 */
import * as fs from 'node:fs';
import { DbtlsError } from '../errors.js';

const RETRY_MS = 5;
/** Long enough for a batch issuance of thousands of certificates by another process. */
const DEFAULT_TIMEOUT_MS = 60_000;

function ownerAlive(lockFile: string): boolean {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(lockFile, 'utf8'), 10);
  } catch {
    return true; // being written right now: treat as held
  }
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Runs `fn` while holding `lockFile`; releases it whatever happens. */
export function withLock<T>(lockFile: string, fn: () => T, timeoutMs = DEFAULT_TIMEOUT_MS): T {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = fs.openSync(lockFile, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!ownerAlive(lockFile)) {
        fs.rmSync(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new DbtlsError('LOCKED', `could not lock ${lockFile}: another dbtls process holds it`, {
          hint: 'wait for the other dbtls command to finish, or remove the lock file if no dbtls is running',
          kind: 'runtime',
        });
      }
      Atomics.wait(sleeper, 0, 0, RETRY_MS);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lockFile, { force: true });
  }
}
