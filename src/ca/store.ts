/**
 * The CA on disk (DESIGN.md "The CA on disk"): a directory a person can read. Every write is atomic
 * (write + rename, src/util/files.ts) and made under the CA lock, so concurrent `dbtls issue` processes
 * never lose an index line and a crash never leaves a half-written CA.
 */
import { type KeyObject, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { causeText, DbtlsError } from '../errors.js';
import { type CertificateInfo, parseCertificate } from '../pki/certificate.js';
import type { KeyAlgorithm } from '../pki/keys.js';
import { readPrivateKey } from '../pki/keys.js';
import { MODE_PUBLIC, writeFileAtomic } from '../util/files.js';
import { withLock } from '../util/lock.js';

export const CA_FILES = Object.freeze({
  meta: 'ca.json',
  root: 'root.pem',
  rootKey: 'root.key.pem',
  intermediate: 'intermediate.pem',
  intermediateKey: 'intermediate.key.pem',
  index: 'index.jsonl',
  crl: 'crl.pem',
  certs: 'certs',
  lock: '.lock',
});

export const DEFAULT_CA_DIR = 'dbtls-ca';
export const CA_DIR_ENV = 'DBTLS_CA_DIR';
export const CA_PASSPHRASE_ENV = 'DBTLS_CA_PASSPHRASE';

/** --ca-dir, then DBTLS_CA_DIR, then ./dbtls-ca (DESIGN.md). */
export function resolveCaDir(
  flag?: string,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): string {
  return path.resolve(cwd, flag || env[CA_DIR_ENV] || DEFAULT_CA_DIR);
}

export interface CaMeta {
  readonly format: 1;
  readonly createdAt: string;
  /** The O of the CA; leaves get /O=<org>/CN=<cn>. */
  readonly org: string;
  readonly keyAlgorithm: KeyAlgorithm;
  /** Whether the CA keys are encrypted with a passphrase. */
  readonly encrypted: boolean;
  readonly intermediate: boolean;
  /** Serial policy: random, positive, this many bits (CA/B Forum BR §7.1 asks for >= 64 bits of entropy). */
  readonly serialBits: number;
  /** The number of the next CRL (RFC 5280 §5.2.3), advanced by src/ca/revoke.ts. */
  readonly crlNumber: number;
}

export interface IndexEntry {
  serial: string;
  cn: string;
  subject: string;
  issuer: string;
  dnsNames: string[];
  ipAddresses: string[];
  profile: 'server' | 'client' | 'intermediate';
  notBefore: string;
  notAfter: string;
  status: 'valid' | 'revoked';
  revokedAt?: string;
  revocationReason?: string;
  fingerprint: string;
  issuedBy: 'root' | 'intermediate';
  renewedFrom?: string;
}

export function caPath(caDir: string, file: keyof typeof CA_FILES): string {
  return path.join(caDir, CA_FILES[file]);
}

export function certPath(caDir: string, serial: string): string {
  return path.join(caDir, CA_FILES.certs, `${serial}.pem`);
}

export function caExists(caDir: string): boolean {
  return fs.existsSync(caPath(caDir, 'meta')) || fs.existsSync(caPath(caDir, 'root'));
}

function notFound(caDir: string): DbtlsError {
  return new DbtlsError('CA_NOT_FOUND', `could not open the CA in ${caDir}: there is no ca.json`, {
    hint: 'run `dbtls ca init` first, or point --ca-dir / DBTLS_CA_DIR at your CA directory',
  });
}

function readCaFile(caDir: string, file: keyof typeof CA_FILES): string {
  try {
    return fs.readFileSync(caPath(caDir, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      if (file === 'meta') throw notFound(caDir);
      throw new DbtlsError('CA_CORRUPT', `could not open the CA in ${caDir}: ${CA_FILES[file]} is missing`, {
        hint: 'restore the CA directory from its backup',
        cause: err,
      });
    }
    throw new DbtlsError('CA_UNREADABLE', `could not read ${caPath(caDir, file)}: ${causeText(err)}`, {
      hint: 'check the permissions of the CA directory',
      cause: err,
      kind: 'runtime',
    });
  }
}

export function readCaMeta(caDir: string): CaMeta {
  const text = readCaFile(caDir, 'meta');
  try {
    return JSON.parse(text) as CaMeta;
  } catch (err) {
    throw new DbtlsError('CA_CORRUPT', `could not read ${caPath(caDir, 'meta')}: ${causeText(err)}`, {
      hint: 'restore ca.json from the CA backup',
      cause: err,
    });
  }
}

export function writeCaMeta(caDir: string, meta: CaMeta): void {
  writeFileAtomic(caPath(caDir, 'meta'), `${JSON.stringify(meta, null, 2)}\n`, { mode: MODE_PUBLIC });
}

export function readIndex(caDir: string): IndexEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(caPath(caDir, 'index'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      if (!fs.existsSync(caPath(caDir, 'meta'))) throw notFound(caDir);
      return [];
    }
    throw err;
  }
  const entries: IndexEntry[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    try {
      entries.push(JSON.parse(line) as IndexEntry);
    } catch (err) {
      throw new DbtlsError(
        'CA_CORRUPT',
        `could not read ${caPath(caDir, 'index')}: line ${i + 1} is not JSON`,
        {
          hint: 'repair or restore index.jsonl from the CA backup',
          cause: err,
        },
      );
    }
  }
  return entries;
}

export function writeIndex(caDir: string, entries: readonly IndexEntry[]): void {
  const text = entries.map((e) => `${JSON.stringify(e)}\n`).join('');
  writeFileAtomic(caPath(caDir, 'index'), text, { mode: MODE_PUBLIC });
}

/** Rewrites the index atomically under the CA lock. */
export function updateIndex(caDir: string, fn: (entries: IndexEntry[]) => IndexEntry[]): void {
  withCaLock(caDir, () => writeIndex(caDir, fn(readIndex(caDir))));
}

/** Holds the CA lock (a file in the CA directory) while `fn` runs. Not re-entrant. */
export function withCaLock<T>(caDir: string, fn: () => T): T {
  if (!fs.existsSync(caDir)) throw notFound(caDir);
  return withLock(caPath(caDir, 'lock'), fn);
}

/** Normalises a serial as users type it (`0A:1B…`, upper case) to the index form. */
export function normalizeSerial(text: string): string {
  const hex = text.replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex)) {
    throw new DbtlsError(
      'SERIAL_INVALID',
      `could not use the serial ${JSON.stringify(text)}: it is not hexadecimal`,
      {
        hint: 'copy the serial from `dbtls list`',
      },
    );
  }
  // Index serials are the hex of the serial's bytes (even length, no leading zero byte), as openssl prints them.
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  return even.replace(/^(00)+(?=.)/, '');
}

/** Random bytes drawn in blocks: one randomBytes call per 256 serials instead of one per serial. */
let pool = Buffer.alloc(0);
let poolOffset = 0;

/** A random positive serial of 128 bits with a non-zero first byte (so its hex form is always 32 digits). */
export function newSerial(taken: ReadonlySet<string>): Buffer {
  for (;;) {
    if (poolOffset + 16 > pool.length) {
      pool = randomBytes(4096);
      poolOffset = 0;
    }
    const bytes = Buffer.from(pool.subarray(poolOffset, poolOffset + 16));
    pool.fill(0, poolOffset, poolOffset + 16); // never hand out the same bytes twice
    poolOffset += 16;
    bytes[0]! &= 0x7f;
    if (bytes[0] === 0) continue;
    if (!taken.has(bytes.toString('hex'))) return bytes;
  }
}

export interface Ca {
  readonly dir: string;
  readonly root: CertificateInfo;
  readonly intermediate?: CertificateInfo;
  /** The certificate that signs leaves: the intermediate when there is one. */
  readonly issuer: CertificateInfo;
  /** Decrypted on first use when no passphrase was given to openCa (KEY_PASSPHRASE_REQUIRED then). */
  readonly issuerKey: KeyObject;
  rootKey(): KeyObject;
  readonly meta: CaMeta;
  /** The intermediates, PEM (empty without an intermediate). */
  chainPem(): string;
  /** The root, PEM. */
  caPem(): string;
}

function lazyKey(
  caDir: string,
  file: 'rootKey' | 'intermediateKey',
  passphrase: string | undefined,
): () => KeyObject {
  let key: KeyObject | undefined;
  return () => {
    if (!key) {
      try {
        key = readPrivateKey(readCaFile(caDir, file), passphrase);
      } catch (err) {
        if (err instanceof DbtlsError && err.code === 'KEY_PASSPHRASE_REQUIRED') {
          throw new DbtlsError(
            'PASSPHRASE_REQUIRED',
            `could not unlock the CA in ${caDir}: its key is encrypted`,
            {
              hint: 'give the CA passphrase with --passphrase-file FILE, DBTLS_CA_PASSPHRASE, or run on a terminal to be asked',
            },
          );
        }
        throw err;
      }
    }
    return key;
  };
}

/**
 * Opens the CA. With a passphrase (or an unencrypted CA) the issuing key is decrypted at once, so a wrong
 * passphrase fails here (KEY_PASSPHRASE_WRONG) before anything is written.
 */
export function openCa(caDir: string, passphrase?: string): Ca {
  const dir = path.resolve(caDir);
  const meta = readCaMeta(dir);
  const root = parseCertificate(readCaFile(dir, 'root'));
  const intermediate = meta.intermediate ? parseCertificate(readCaFile(dir, 'intermediate')) : undefined;
  const rootKey = lazyKey(dir, 'rootKey', passphrase);
  const issuerKey = intermediate ? lazyKey(dir, 'intermediateKey', passphrase) : rootKey;
  if (passphrase !== undefined || !meta.encrypted) issuerKey();
  return {
    dir,
    root,
    ...(intermediate ? { intermediate } : {}),
    issuer: intermediate ?? root,
    get issuerKey() {
      return issuerKey();
    },
    rootKey,
    meta,
    chainPem: () => intermediate?.pem ?? '',
    caPem: () => root.pem,
  };
}

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

/**
 * withCaLock for async work (batch issuance overlaps file I/O with signing). Same lock file and protocol
 * as src/util/lock.ts (O_EXCL file holding the owner's pid, stale when the owner is gone), which only
 * offers a synchronous form; a private helper until it grows an async one.
 */
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
