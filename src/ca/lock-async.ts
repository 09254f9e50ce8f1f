/**
 * The CA lock for asynchronous work: batch issuance awaits its worker threads while holding it. Same
 * lock file and protocol as withCaLock (src/util/lock.ts: an O_EXCL file holding the owner's pid, stale
 * once the owner is gone), which only offers a synchronous form.
 */
import * as fs from 'node:fs';
import { DbtlsError } from '../errors.js';
import { caPath, notFound } from './store.js';

const LOCK_RETRY_MS = 5;
const LOCK_TIMEOUT_MS = 60_000;

function lockOwnerAlive(lockFile: string): boolean {
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

/** Holds the CA lock while `fn` runs; waits (polling) while another process holds it. Not re-entrant. */
export async function withCaLockAsync<T>(caDir: string, fn: () => Promise<T>): Promise<T> {
  if (!fs.existsSync(caDir)) throw notFound(caDir);
  const lockFile = caPath(caDir, 'lock');
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  for (;;) {
    try {
      const fd = fs.openSync(lockFile, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!lockOwnerAlive(lockFile)) {
        fs.rmSync(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new DbtlsError('LOCKED', `could not lock ${lockFile}: another dbtls process holds it`, {
          hint: 'wait for the other dbtls command to finish, or remove the lock file if no dbtls is running',
          kind: 'runtime',
        });
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockFile, { force: true });
  }
}
