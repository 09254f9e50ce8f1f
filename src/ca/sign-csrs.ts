/**
 * Signing a fleet's CSRs in one run (`dbtls sign CSR... --out-dir DIR`, the library's signCsrs): every
 * database node makes its key and request (`dbtls csr`), and the CA signs them all at once (issue 11's
 * target: >= 5,000 CSRs/s; `npm run bench issue` prints the in-memory half and the whole run apart).
 * Single CSRs go through signCsr (src/ca/issue.ts); the checks are the same.
 *
 * 1. Every CSR is read and checked before the CA lock is taken, and each one that passed is signed in
 *    memory, with a serial drawn then. The two signature operations, the check of its self-signature
 *    (parseCsrAsync) and the CA's signature (signLeafWithSerialAsync), run on libuv's thread pool, up to
 *    WINDOW CSRs at a time: together they are half a CSR's cost, and the pool runs them on the other
 *    cores while this thread decodes the next requests (the key import, which node does on the calling
 *    thread, is most of the rest). A bad CSR fails here, named, and nothing changes; so does a CN that
 *    two CSRs ask for, or a target file that exists.
 * 2. Under the lock, through the issuance journal (src/ca/journal.ts) as batch issuance does: refuse
 *    subject collisions, draw again a serial recorded meanwhile, write each certificate into the staging
 *    directory and certs/, make them all durable with one syncfs, append every index line at once (the
 *    commit), then rename the files into place. A failure or a crash at any point leaves either nothing
 *    issued or every file delivered.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { causeText, DbtlsError, isDbtlsError } from '../errors.js';
import { parseCsrAsync } from '../pki/csr.js';
import { ensureDir, MODE_PUBLIC } from '../util/files.js';
import { quotedValue } from '../util/safe-text.js';
import { writeNewFile } from './batch-sign.js';
import { appendIndex, type IndexEntry, readIndex } from './cert-index.js';
import { requestOfCsr, resolveLeaf, type SignCsrOptions, subjectCollisionCheck } from './issue.js';
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
import { type ResolvedLeaf, signLeafWithSerial, signLeafWithSerialAsync } from './sign-leaf.js';
import { checkOutputFiles, syncFileSystems } from './staging.js';
import { type Ca, certPath, newSerial, withCaLockAsync } from './store.js';

/** A CSR to sign and the name it is known by in messages (its file, as the user gave it). */
export interface CsrInput {
  readonly name: string;
  readonly text: string | Buffer;
}

export interface SignCsrsOptions extends SignCsrOptions {
  /** Each certificate (leaf + intermediates, PEM) is written to <outDir>/<CN>.pem; without it, only certs/. */
  readonly outDir?: string;
  /** Called as CSRs are signed (done of total), and at the end. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface SignedCsr {
  readonly name: string;
  readonly entry: IndexEntry;
  readonly certPem: string;
  /** Leaf + intermediates: what was written to `file`. */
  readonly chainPem: string;
  /** Where the certificate was written (with outDir). */
  readonly file?: string;
}

export interface SignCsrsResult {
  /** In input order. */
  readonly certificates: readonly SignedCsr[];
  /** True when this run completed the same run, interrupted after its commit, instead of signing again. */
  readonly resumed?: boolean;
}

/**
 * Self-signature checks in flight at once. The pool has 4 threads (UV_THREADPOOL_SIZE); more in flight
 * keeps them fed while this thread decodes; beyond ~32 only memory grows (measured: 4 → 16 → 64 in flight,
 * 5,100 → 6,000 → 5,800 CSRs/s on 2 cores).
 */
const WINDOW = 32;

/** Progress is reported after this many certificates, and at the end. */
const PROGRESS_EVERY = 16;

/** The same failure, told with the CSR it is about. */
function aboutCsr(err: unknown, name: string): unknown {
  if (!isDbtlsError(err)) return err;
  const shown = quotedValue(name, 120);
  const message = err.message.includes('the CSR')
    ? err.message.replace('the CSR', `the CSR ${shown}`)
    : `${shown}: ${err.message}`;
  return err.reworded({ message });
}

/**
 * Reads and checks every CSR (parse, self-signature, the profile, the validity against the issuer) and
 * resolves it into the leaf it asks for, in input order. Throws the first failure in input order.
 */
export async function checkCsrs(
  ca: Ca,
  csrs: readonly CsrInput[],
  options: SignCsrOptions,
): Promise<ResolvedLeaf[]> {
  const leaves = await eachCheckedCsr(ca, csrs, options, (leaf) => leaf);
  refuseDuplicateCns(
    csrs,
    leaves.map((l) => l.cn),
  );
  return leaves;
}

/**
 * checkCsrs in this thread, handing each leaf to `then` as soon as its CSR passed, while libuv's thread
 * pool verifies the next self-signatures (up to WINDOW at once).
 */
async function eachCheckedCsr<T>(
  ca: Ca,
  csrs: readonly CsrInput[],
  options: SignCsrOptions,
  then: (leaf: ResolvedLeaf, n: number) => T | Promise<T>,
): Promise<T[]> {
  const now = options.now ?? new Date(); // one validity period for the whole run
  const results: T[] = new Array(csrs.length);
  const failures = new Map<number, unknown>();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < csrs.length && failures.size === 0) {
      const n = next++;
      try {
        const csr = await parseCsrAsync(csrs[n]!.text);
        results[n] = await then(resolveLeaf(ca, requestOfCsr(csr, { ...options, now })), n);
      } catch (err) {
        failures.set(n, aboutCsr(err, csrs[n]!.name));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(WINDOW, csrs.length) }, lane));
  if (failures.size > 0) throw failures.get(Math.min(...failures.keys()));
  return results;
}

/** CN_DUPLICATE when two CSRs of the run ask for the same CN (one of them is stale). */
function refuseDuplicateCns(csrs: readonly CsrInput[], cns: readonly string[]): void {
  const byCn = new Map<string, number>();
  cns.forEach((cn, n) => {
    const first = byCn.get(cn);
    if (first !== undefined) {
      throw new DbtlsError(
        'CN_DUPLICATE',
        `could not sign the CSRs: ${quotedValue(csrs[first]!.name, 120)} and ${quotedValue(csrs[n]!.name, 120)} both ask for the CN ${quotedValue(cn)}`,
        { hint: 'give each CN once: leave the stale request out of the command' },
      );
    }
    byCn.set(cn, n);
  });
}

/** A CSR of the run, signed in memory (with the serial drawn for it before the lock). */
export interface SignedCsrDraft {
  readonly leaf: ResolvedLeaf;
  readonly entry: IndexEntry;
  readonly certPem: string;
}

/**
 * The signing half of signCsrs: every CSR checked (as checkCsrs) and signed in memory with the serial
 * given for it, in input order. Nothing is recorded, so nothing signed here may leave the process but
 * through signCsrs's commit; exported for the benchmark, which measures the halves apart.
 */
export async function signInMemory(
  ca: Ca,
  csrs: readonly CsrInput[],
  serials: readonly Buffer[],
  options: SignCsrsOptions,
): Promise<SignedCsrDraft[]> {
  let done = 0;
  const signed = await eachCheckedCsr(ca, csrs, options, async (leaf, n): Promise<SignedCsrDraft> => {
    const { entry, certPem } = await signLeafWithSerialAsync(ca, leaf, serials[n]!);
    // Never total of total here: that is said once the run is recorded (signCsrs).
    if (++done % PROGRESS_EVERY === 0 && done < csrs.length) options.onProgress?.(done, csrs.length);
    return { leaf, entry, certPem };
  });
  refuseDuplicateCns(
    csrs,
    signed.map((s) => s.leaf.cn),
  );
  return signed;
}

/**
 * The file each certificate goes to under --out-dir, <outDir>/<CN>.pem, checked: the CN must make one
 * plain file name, and no such file may exist yet.
 */
export function targetFiles(
  outDir: string,
  cns: readonly string[],
  csrs: readonly CsrInput[],
  checkFree = true,
): string[] {
  const files = cns.map((cn, n) => {
    if (cn.startsWith('.') || /[/\\]/.test(cn)) {
      throw new DbtlsError(
        'CN_INVALID',
        `could not sign the CSR ${quotedValue(csrs[n]!.name, 120)}: its CN ${quotedValue(cn)} cannot name a file under --out-dir (it ${cn.startsWith('.') ? 'starts with "."' : 'holds "/" or "\\"'})`,
        {
          hint: 'leave it out of this command and sign it on its own with --out FILE, or make the request again with a plain CN',
        },
      );
    }
    return path.join(outDir, `${cn}.pem`);
  });
  if (checkFree) checkOutputFiles(outDir, files);
  return files;
}

/** What a run asks for, so that a re-run after a crash past the commit recognises it (journal.request). */
function requestOf(outDir: string | undefined, csrs: readonly CsrInput[], options: SignCsrOptions): string {
  const digest = createHash('sha256');
  for (const c of csrs) digest.update(createHash('sha256').update(c.text).digest());
  return JSON.stringify({ sign: outDir ?? null, profile: options.profile, csrs: digest.digest('hex') });
}

/** Signs every CSR (all or none), records them in the CA, and writes each to <outDir>/<CN>.pem when asked. */
export async function signCsrs(
  ca: Ca,
  csrs: readonly CsrInput[],
  options: SignCsrsOptions,
): Promise<SignCsrsResult> {
  if (csrs.length === 0) return { certificates: [] };
  void ca.issuerKey; // unlock (or fail) before signing
  // Each certificate is signed as soon as its CSR passed, with a random serial drawn now (unique in the
  // run): none leaves this process unless the index records it under the lock below, where a serial the
  // index already holds (odds 2^-100 per pair) is drawn again and its certificate signed again. The
  // index is read once, there.
  const now = options.now ?? new Date(); // one validity period for the whole run
  const drawn = new Set<string>();
  const draw = (): Buffer => {
    const serial = newSerial(drawn);
    drawn.add(serial.toString('hex'));
    return serial;
  };
  const serials = csrs.map(() => draw());
  const signed = await signInMemory(ca, csrs, serials, { ...options, now });
  const cns = signed.map((s) => s.leaf.cn);
  /** The rare CSR whose serial the index turned out to hold, signed again with a new one. */
  const signAgain = ({ leaf }: SignedCsrDraft): SignedCsrDraft => {
    const { entry, certPem } = signLeafWithSerial(ca, leaf, draw());
    return { leaf, entry, certPem };
  };
  const outDir = options.outDir === undefined ? undefined : path.resolve(options.outDir);
  const request = requestOf(outDir, csrs, options);
  // A journal left by a crash may hold this very run half-delivered: the check under the lock decides.
  const files = outDir === undefined ? undefined : targetFiles(outDir, cns, csrs, !hasJournal(ca.dir));
  return withCaLockAsync(ca.dir, async () => {
    const settled = recoverJournal(ca.dir);
    if (settled?.completed && settled.journal.request === request) {
      const bySerial = new Map(readIndex(ca.dir).map((e) => [e.serial, e]));
      const certificates = settled.journal.serials.map((serial, n) => {
        const certPem = fs.readFileSync(certPath(ca.dir, serial), 'utf8');
        return {
          name: csrs[n]!.name,
          entry: bySerial.get(serial)!,
          certPem,
          chainPem: certPem + ca.chainPem(),
          ...(files ? { file: files[n]! } : {}),
        };
      });
      return { certificates, resumed: true };
    }
    if (files) checkOutputFiles(outDir!, files); // again: another run may have written them meanwhile
    const index = readIndex(ca.dir);
    const refuse = subjectCollisionCheck(index);
    for (const s of signed) refuse(s.leaf.cn, s.entry.subject);
    const inIndex = new Set(index.map((e) => e.serial));
    for (const e of index) drawn.add(e.serial);
    const issued = signed.map((s) => (inIndex.has(s.entry.serial) ? signAgain(s) : s));
    const serials = issued.map((i) => i.entry.serial);
    const certsDir = path.join(ca.dir, 'certs');
    ensureDir(certsDir);
    const { stage, whole } = stagingFor(outDir ?? ca.dir);
    const chain = ca.chainPem();
    const journal: Journal = {
      format: 1,
      serials,
      stage,
      overwrite: false,
      request,
      moves: files ? deliveryMoves({ stage, whole }, outDir!, files, serials) : [],
    };
    beginJournal(ca.dir, journal);
    try {
      issued.forEach((one, n) => {
        try {
          if (files)
            writeNewFile(path.join(stage, path.basename(files[n]!)), one.certPem + chain, MODE_PUBLIC);
          writeNewFile(path.join(certsDir, `${one.entry.serial}.pem`), one.certPem, MODE_PUBLIC);
        } catch (err) {
          throw new DbtlsError(
            'WRITE_FAILED',
            `could not write the certificate for ${quotedValue(one.entry.cn)}: ${causeText(err)}`,
            {
              hint: 'check that --out-dir and the CA directory are writable and have free space; nothing was recorded',
              cause: err,
            },
          );
        }
      });
      syncFileSystems([stage, ca.dir], [stage], { certsDir, serials });
      appendIndex(
        ca.dir,
        issued.map((i): IndexEntry => i.entry),
      ); // the commit point
    } catch (err) {
      settleJournal(ca.dir, journal); // takes back the staged files and the copies (or completes a commit)
      throw err;
    }
    finishJournal(ca.dir, journal);
    options.onProgress?.(issued.length, issued.length);
    const certificates = issued.map((one, n) => ({
      name: csrs[n]!.name,
      entry: one.entry,
      certPem: one.certPem,
      chainPem: one.certPem + chain,
      ...(files ? { file: files[n]! } : {}),
    }));
    return { certificates };
  });
}
