/**
 * The signing half of a batch issuance (src/ca/batch.ts): for each leaf, a new key, the signature, and
 * the files written into the staging directory plus the CA's copy certs/<serial>.pem. The same code runs
 * in the main thread and in worker threads (src/ca/batch-worker.ts); they take leaves in chunks from
 * one shared counter, so a thread that starts late or runs slower simply takes fewer chunks. Everything
 * in a job is structured-cloneable: the issuing key is a KeyObject, which worker messages carry.
 *
 * Synchronous file calls on purpose: signing is the only work of these threads, and the promise API
 * would add four thread-pool hand-offs per file (open, write, chmod, close) costing more CPU than the
 * calls themselves. No file is shared between two users, or between a user and the CA: a user's
 * directory is handed out and may be chown'ed to the user, and a hard link would hand over the CA's
 * copy of the certificate, or the ca.pem of every other user, with it. The one link is inside a user's
 * directory: without an intermediate, chain.pem is cert.pem byte for byte. Inodes are what cost here
 * (~40 us each on this machine's ext4, ten times that for a minute after mass deletions: it has no
 * journal, so it skips recently freed inodes one by one), and that link saves one in five.
 */
import type { KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { causeText, DbtlsError } from '../errors.js';
import { parseCertificate } from '../pki/certificate.js';
import { MODE_PUBLIC, MODE_SECRET } from '../util/files.js';
import type { IndexEntry } from './cert-index.js';
import { type ResolvedLeaf, type SigningCa, signLeafWithSerial } from './sign-leaf.js';

export interface ShardJob {
  /** A client leaf of the batch: the others differ only in the CN (client profiles derive no SAN from it). */
  readonly template: ResolvedLeaf;
  readonly cns: readonly string[];
  /** One pre-drawn serial per CN (hex), unique in the index and in the batch. */
  readonly serials: readonly string[];
  /** Each leaf's directory is built as <stagingDir>/<cn>, then moved into place by the batch. */
  readonly stagingDir: string;
  /** The CA's certs/ directory. */
  readonly certsDir: string;
  readonly issuer: {
    /** The certificate that signs (the intermediate when there is one). */
    readonly certPem: string;
    readonly key: KeyObject;
    readonly isIntermediate: boolean;
    /** The intermediates, PEM (empty without an intermediate). */
    readonly chainPem: string;
    /** The root, PEM. */
    readonly caPem: string;
  };
  /** The index of the next unclaimed leaf, on a SharedArrayBuffer every thread of the batch sees. */
  readonly next: Int32Array;
}

/** A signed leaf: its position in the job and its index entry. */
export type ShardResult = readonly [index: number, entry: IndexEntry];

/** Leaves claimed at a time: small enough to balance the threads, large enough to make claims rare. */
const CHUNK = 32;

/** The shared counter for ShardJob.next. */
export function newClaimCounter(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
}

/** The parts of the CA that signing needs, rebuilt from a job (in a worker, nothing else is at hand). */
export function signingCaOf(issuer: ShardJob['issuer']): SigningCa {
  const cert = parseCertificate(issuer.certPem);
  return {
    issuer: cert,
    issuerKey: issuer.key,
    ...(issuer.isIntermediate ? { intermediate: cert } : {}),
    chainPem: () => issuer.chainPem,
    caPem: () => issuer.caPem,
  };
}

/** Claims chunks of the job until none is left; signs and stages each leaf. */
export function runShard(
  job: ShardJob,
  ca: SigningCa = signingCaOf(job.issuer),
  onProgress?: (done: number) => void,
): ShardResult[] {
  const results: ShardResult[] = [];
  const total = job.cns.length;
  for (;;) {
    const start = Atomics.add(job.next, 0, CHUNK);
    if (start >= total) return results;
    const end = Math.min(start + CHUNK, total);
    for (let n = start; n < end; n++) results.push([n, stageLeaf(job, ca, n)]);
    onProgress?.(end - start);
  }
}

function stageLeaf(job: ShardJob, ca: SigningCa, n: number): IndexEntry {
  const cn = job.cns[n]!;
  const leaf: ResolvedLeaf = {
    ...job.template,
    cn,
    subject: job.template.subject.map((a) => (a.type === 'CN' ? { type: 'CN', value: cn } : a)),
  };
  const issued = signLeafWithSerial(ca, leaf, Buffer.from(job.serials[n]!, 'hex'));
  const dir = path.join(job.stagingDir, cn);
  try {
    fs.mkdirSync(dir, { mode: 0o755 });
    writeNewFile(path.join(dir, 'key.pem'), issued.keyPem ?? '', MODE_SECRET);
    writeNewFile(path.join(dir, 'cert.pem'), issued.certPem, MODE_PUBLIC);
    if (issued.chainPem === issued.certPem) linkSameBytes(dir, 'cert.pem', 'chain.pem', issued.chainPem);
    else writeNewFile(path.join(dir, 'chain.pem'), issued.chainPem, MODE_PUBLIC);
    writeNewFile(path.join(dir, 'ca.pem'), issued.caPem, MODE_PUBLIC);
    writeNewFile(path.join(job.certsDir, `${issued.entry.serial}.pem`), issued.certPem, MODE_PUBLIC);
  } catch (err) {
    throw new DbtlsError(
      'WRITE_FAILED',
      `could not write the certificate files of ${cn}: ${causeText(err)}`,
      {
        hint: 'check that --out and the CA directory are writable and have free space; nothing was recorded',
        cause: err,
      },
    );
  }
  return issued.entry;
}

/** `to` as a second name of `from` in the same directory; written out where links are not supported. */
function linkSameBytes(dir: string, from: string, to: string, bytes: string): void {
  try {
    fs.linkSync(path.join(dir, from), path.join(dir, to));
  } catch {
    writeNewFile(path.join(dir, to), bytes, MODE_PUBLIC);
  }
}

/**
 * Creates a file that must not exist yet (O_EXCL), with exactly `mode` (fchmod: the umask may have
 * narrowed it). Not fsynced: the batch makes the whole file system durable once, before its commit.
 */
export function writeNewFile(file: string, data: string, mode: number): void {
  const fd = fs.openSync(file, 'wx', mode);
  try {
    fs.writeSync(fd, data);
    fs.fchmodSync(fd, mode);
  } finally {
    fs.closeSync(fd);
  }
}
