/**
 * Batch issuance for fleets of database users (`dbtls issue client --cn-from FILE`), at >= 1,000
 * certificates/s for the whole CLI process (issue 2). The work, in order:
 *
 * 1. Check every name and output directory: bad input fails here, before the lock, and changes nothing.
 * 2. Start the worker threads (one per extra core), so that their start-up overlaps 3.
 * 3. Take the CA lock once; draw every serial (unique in the index and in the batch).
 * 4. This thread and the workers (src/ca/batch-sign.ts) generate keys, sign, and write each user's
 *    files into a private staging directory, plus the CA's copy certs/<serial>.pem. No per-file
 *    fsync: 10,000 of them would take a minute (~6 ms each on this machine's ext4).
 * 5. One syncfs(2) per file system (coreutils `sync -f`) makes all of them durable. Not an fsync of the
 *    directories: with ext4's delayed allocation that persists the names but not the new files' data.
 *    A first `sync -f` starts in the background halfway through 4, so the write-back of the first half
 *    overlaps the signing of the second (measured here: the final barrier went from ~250 ms to ~1 ms).
 * 6. The commit: every index line in one fsynced append (src/ca/store.ts appendIndex).
 * 7. The users' directories move into place by rename (the whole staging directory at once when --out
 *    is new), and one fsync of the parent makes the renames durable.
 *
 * Steps 4 to 7 run under the issuance journal (src/ca/journal.ts), written before the staging directory
 * exists. What a crash leaves is settled by the next command that takes the CA lock:
 * - before 6 completes: nothing was issued; the staging directory (`<out>/.dbtls-staging-*`, or
 *   `.<out>.dbtls-staging-*` beside a new --out) and the copies in certs/ are removed, and any line a
 *   torn append did record is marked void (its key is destroyed);
 * - after 6: every certificate is recorded and its files durable; the renames of 7 are completed.
 * A re-run of the same command (same names, same --out) after a crash past 6 reports the completed batch
 * instead of issuing it twice. So no certificate reaches a user-visible path before the index names it,
 * the index never names a valid certificate whose key is lost, and no staging directory holding keys
 * survives the next command.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { causeText, DbtlsError } from '../errors.js';
import type { KeyAlgorithm } from '../pki/keys.js';
import { nameValueFix, nameValueProblem } from '../pki/names.js';
import { ensureDir } from '../util/files.js';
import { quotedValue } from '../util/safe-text.js';
import { newClaimCounter, runShard, type ShardJob, type ShardResult } from './batch-sign.js';
import type { ShardMessage } from './batch-worker.js';
import { appendIndex, type IndexEntry, readIndex, readIndexSerials } from './cert-index.js';
import { resolveLeaf } from './issue.js';
import {
  beginJournal,
  deliveryMoves,
  finishJournal,
  hasJournal,
  type Journal,
  recoverJournal,
  settleJournal,
  stagingFor,
} from './journal.js';
import type { ResolvedLeaf } from './sign-leaf.js';
import { checkOutputs, startEarlySync, syncFileSystems } from './staging.js';
import { type Ca, newSerial, withCaLockAsync } from './store.js';

export interface BatchOptions {
  readonly outDir: string;
  readonly days?: number;
  readonly key?: KeyAlgorithm;
  readonly now?: Date;
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * Worker threads besides this one (0: sign here only). Default: one per extra core, for large batches.
   * Ignored (0) where WORKERS_AVAILABLE is false.
   */
  readonly threads?: number;
}

export interface BatchResult {
  /** The index entries, in input order. */
  readonly entries: readonly IndexEntry[];
  /** Output directory per CN, in input order. */
  readonly dirs: readonly string[];
  /** True when this run completed the same batch, interrupted after its commit, instead of issuing it. */
  readonly resumed?: boolean;
}

/** More threads than this only queue on the kernel's directory locks. */
const MAX_THREADS = 4;
/** A worker costs ~50 ms of CPU to start: the time to sign and write about this many leaves. */
const LEAVES_PER_THREAD_MIN = 200;
/** Below this, the files of a batch are too few for an early write-back to pay for its process. */
const EARLY_SYNC_MIN = 400;

/**
 * Workers run the compiled JS only: node 20 applies no `--import` loader (tsx, when dbtls runs from
 * source) to a worker's entry module, so from source the batch signs in this thread alone.
 */
export const WORKERS_AVAILABLE = path.extname(fileURLToPath(import.meta.url)) === '.js';
const WORKER_URL = new URL('./batch-worker.js', import.meta.url);

/** Names from a --cn-from file: one per line, blank lines and `#` comments skipped, surrounding spaces trimmed. */
export function readNameList(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/**
 * A name of the list that can be a CN and a directory under --out. A line of a binary file (U+FFFD for
 * bytes that are not UTF-8, control characters) is named as that, not as a name with a "/" in it.
 */
function checkListName(cn: string): void {
  const problem =
    nameValueProblem(cn) ??
    (cn.startsWith('.')
      ? 'it starts with ".", which makes a hidden directory under --out'
      : /[/\\]/.test(cn)
        ? 'it holds "/" or "\\", which cannot be in a directory name under --out'
        : undefined);
  if (!problem) return;
  const binary = /[\p{Cc}\uFFFD]/u.test(cn);
  throw new DbtlsError('CN_INVALID', `could not use the name ${quotedValue(cn)} of the list: ${problem}`, {
    hint: binary
      ? 'the list is one database user name per line, as UTF-8 text: check that --cn-from names the right file'
      : `${nameValueFix(cn) ?? (cn.startsWith('.') ? 'drop the leading "."' : 'remove "/" and "\\"')} in that line of the list`,
  });
}

/** Checks every name; returns one resolved leaf (the template every leaf of the batch follows). */
function resolveAll(ca: Ca, cns: readonly string[], options: BatchOptions): ResolvedLeaf {
  if (cns.length === 0) {
    throw new DbtlsError('NAMES_EMPTY', 'could not issue certificates: the name list is empty', {
      hint: 'put one database user name per line in the file',
    });
  }
  const now = options.now ?? new Date(); // one validity period for the whole batch
  const seen = new Set<string>();
  const leaves = cns.map((cn) => {
    checkListName(cn);
    if (seen.has(cn)) {
      throw new DbtlsError(
        'CN_DUPLICATE',
        `could not issue certificates: the name ${quotedValue(cn)} appears twice`,
        {
          hint: 'remove the duplicate line from the file',
        },
      );
    }
    seen.add(cn);
    return resolveLeaf(ca, {
      profile: 'client',
      cn,
      now,
      ...(options.days === undefined ? {} : { days: options.days }),
      ...(options.key ? { key: options.key } : {}),
    });
  });
  return leaves[0]!;
}

function defaultThreads(leaves: number): number {
  const cores = os.availableParallelism();
  return Math.max(0, Math.min(cores - 1, MAX_THREADS - 1, Math.floor(leaves / LEAVES_PER_THREAD_MIN) - 1));
}

export async function issueClientBatch(
  ca: Ca,
  cns: readonly string[],
  options: BatchOptions,
): Promise<BatchResult> {
  const template = resolveAll(ca, cns, options);
  const outDir = path.resolve(options.outDir);
  // A journal left by a crash may hold this very batch half-delivered: the check under the lock decides.
  if (!hasJournal(ca.dir)) checkOutputs(outDir, cns);
  const issuerKey = ca.issuerKey; // unlock (or fail) before taking the lock
  const threads = WORKERS_AVAILABLE ? (options.threads ?? defaultThreads(cns.length)) : 0;
  const workers = Array.from({ length: threads }, () => new ShardWorker());
  const request = JSON.stringify({ batch: outDir, cns });
  const dirs = cns.map((cn) => path.join(outDir, cn));
  try {
    return await withCaLockAsync(ca.dir, async () => {
      const settled = recoverJournal(ca.dir);
      if (settled?.completed && settled.journal.request === request) {
        const bySerial = new Map(readIndex(ca.dir).map((e) => [e.serial, e]));
        const entries = settled.journal.serials.map((s) => bySerial.get(s)!);
        return { entries, dirs, resumed: true };
      }
      checkOutputs(outDir, cns); // again: another batch may have made them while we waited
      const taken = readIndexSerials(ca.dir);
      const serials = cns.map(() => {
        const s = newSerial(taken).toString('hex');
        taken.add(s);
        return s;
      });
      const certsDir = path.join(ca.dir, 'certs');
      ensureDir(certsDir);
      const { stage, whole } = stagingFor(outDir);
      const journal: Journal = {
        format: 1,
        serials,
        stage,
        overwrite: false,
        request,
        moves: deliveryMoves({ stage, whole }, outDir, dirs, serials),
      };
      beginJournal(ca.dir, journal);
      const job: ShardJob = {
        template,
        cns,
        serials,
        stagingDir: stage,
        certsDir,
        issuer: {
          certPem: ca.issuer.pem,
          key: issuerKey,
          isIntermediate: ca.intermediate !== undefined,
          chainPem: ca.chainPem(),
          caPem: ca.caPem(),
        },
        next: newClaimCounter(),
      };
      let entries: IndexEntry[];
      try {
        let earlySync: Promise<void> | undefined;
        entries = await runShards(ca, job, workers, (done) => {
          if (!earlySync && done * 2 >= cns.length && cns.length >= EARLY_SYNC_MIN) {
            earlySync = startEarlySync([stage, ca.dir]);
          }
          options.onProgress?.(done, cns.length);
        });
        await earlySync;
        syncFileSystems([stage, ca.dir], [...cns.map((cn) => path.join(stage, cn)), stage], {
          certsDir,
          serials,
        });
        appendIndex(ca.dir, entries); // the commit point
      } catch (err) {
        settleJournal(ca.dir, journal); // takes back the staged files and the copies (or completes a commit)
        throw err;
      }
      finishJournal(ca.dir, journal);
      return { entries, dirs };
    });
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

/** Runs the job on this thread and every worker at once; the entries come back in input order. */
async function runShards(
  ca: Ca,
  job: ShardJob,
  workers: readonly ShardWorker[],
  onProgress: (done: number) => void,
): Promise<IndexEntry[]> {
  let done = 0;
  const progress = (n: number) => {
    done += n;
    onProgress(done);
  };
  const others = workers.map((w) => w.run(job, progress));
  let mine: ShardResult[] = [];
  let failure: unknown;
  try {
    mine = runShard(job, ca, progress);
  } catch (err) {
    failure = err;
    Atomics.store(job.next, 0, job.cns.length); // the workers stop at their next claim
  }
  // Settle every thread before failing: the caller then removes what they wrote, and none still writes.
  const settled = await Promise.allSettled(others);
  const rejected = settled.find((s) => s.status === 'rejected');
  if (failure !== undefined) throw failure;
  if (rejected) throw rejected.reason;
  const entries: IndexEntry[] = new Array(job.cns.length);
  for (const part of [mine, ...settled.map((s) => (s.status === 'fulfilled' ? s.value : []))]) {
    for (const [n, entry] of part) entries[n] = entry;
  }
  return entries;
}

/** A worker thread for runShard (src/ca/batch-worker.ts), started before it has work to do. */
class ShardWorker {
  private readonly worker = new Worker(WORKER_URL);
  private stopped: string | undefined;
  private onStopped: ((cause: string) => void) | undefined;

  constructor() {
    // Listening from the start: a worker that fails to load before run() must not crash the process.
    const stop = (cause: string) => {
      this.stopped ??= cause;
      this.onStopped?.(this.stopped);
    };
    this.worker.on('error', (err) => stop(causeText(err)));
    this.worker.on('exit', (code) => stop(`a worker thread stopped (exit code ${code})`));
  }

  run(job: ShardJob, onProgress: (done: number) => void): Promise<ShardResult[]> {
    return new Promise((resolve, reject) => {
      const crashed = (cause: string) =>
        reject(
          new DbtlsError('BATCH_FAILED', `could not issue the batch: ${cause}`, {
            hint: 'nothing was recorded in the CA; run the command again, and report it if it persists',
          }),
        );
      if (this.stopped !== undefined) return crashed(this.stopped);
      this.onStopped = crashed; // after 'done', the rejection is a no-op
      this.worker.on('message', (m: ShardMessage) => {
        if (m.kind === 'progress') onProgress(m.done);
        else if (m.kind === 'done') resolve(m.results);
        else {
          const hint = m.hint ? { hint: m.hint } : {};
          reject(new DbtlsError(m.code ?? 'BATCH_FAILED', m.message, hint));
        }
      });
      this.worker.postMessage(job);
    });
  }

  stop(): Promise<number> {
    return this.worker.terminate();
  }
}
