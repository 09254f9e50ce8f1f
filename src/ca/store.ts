/**
 * The CA on disk (DESIGN.md "The CA on disk"): a directory a person can read. Every write is made under
 * the CA lock and is atomic: files by write + rename (src/util/files.ts); index.jsonl by fsynced appends
 * of whole lines (src/ca/cert-index.ts). Concurrent `dbtls issue` processes never lose an index line and
 * a crash never leaves a half-written CA.
 */
import { type KeyObject, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { causeText, DbtlsError } from '../errors.js';
import { type CertificateInfo, parseCertificate } from '../pki/certificate.js';
import type { KeyAlgorithm } from '../pki/keys.js';
import { readPrivateKey } from '../pki/keys.js';
import { MODE_PUBLIC, writeFileAtomic } from '../util/files.js';
import { withLock, withLockAsync } from '../util/lock.js';
import { commandLine } from '../util/shell.js';

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

/**
 * --ca-dir, then DBTLS_CA_DIR, then ./dbtls-ca (DESIGN.md). A file there is refused at once (DIR_INVALID),
 * so that every command says the same thing about `--ca-dir a-file` instead of whichever errno it met first.
 */
export function resolveCaDir(
  flag?: string,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): string {
  return checkCaDir(path.resolve(cwd, flag || env[CA_DIR_ENV] || DEFAULT_CA_DIR));
}

/** `dir`, unless it or a parent of it is a file (DIR_INVALID). */
export function checkCaDir(dir: string): string {
  const file = fileInTheWay(dir);
  if (file !== undefined) throw caDirInvalid(dir, file);
  return dir;
}

/** The file that is `dir` or one of its parents, if any (absent paths are fine: `ca init` creates them). */
function fileInTheWay(dir: string): string | undefined {
  for (let p = dir; ; p = path.dirname(p)) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(p, { throwIfNoEntry: false });
    } catch (err) {
      // ENOTDIR: a parent is a file, found on the way up; anything else (EACCES) is for the reader to say.
      if ((err as NodeJS.ErrnoException).code !== 'ENOTDIR') return undefined;
    }
    if (stat) return stat.isDirectory() ? undefined : p;
    if (path.dirname(p) === p) return undefined;
  }
}

/** `--ca-dir a-file`: the same code, exit status and hint from every command that takes a CA directory. */
function caDirInvalid(dir: string, file = dir, cause?: unknown): DbtlsError {
  const where = file === dir ? 'it is a file' : `${file}, a part of it, is a file`;
  return new DbtlsError('DIR_INVALID', `could not use ${dir} as the CA directory: ${where}`, {
    hint: `pass the CA directory (not ${path.basename(file)}) with --ca-dir DIR or ${CA_DIR_ENV}; \`dbtls ca init --ca-dir DIR\` makes one`,
    ...(cause === undefined ? {} : { cause }),
  });
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

export function caPath(caDir: string, file: keyof typeof CA_FILES): string {
  return path.join(caDir, CA_FILES[file]);
}

export function certPath(caDir: string, serial: string): string {
  return path.join(caDir, CA_FILES.certs, `${serial}.pem`);
}

/**
 * Present while `ca init` writes (src/ca/init.ts): a directory holding it is a half CA, never used, and
 * the next `ca init` repairs it (issue 10 item 4).
 */
export const INIT_MARKER = '.dbtls-init-incomplete';

export function initInterrupted(caDir: string): boolean {
  return fs.existsSync(path.join(caDir, INIT_MARKER));
}

/** A complete CA is there (a half one left by an interrupted `ca init` is not). */
export function caExists(caDir: string): boolean {
  if (initInterrupted(caDir)) return false;
  return fs.existsSync(caPath(caDir, 'meta')) || fs.existsSync(caPath(caDir, 'root'));
}

export function incomplete(caDir: string): DbtlsError {
  return new DbtlsError(
    'CA_NOT_FOUND',
    `could not open the CA in ${caDir}: its \`dbtls ca init\` was interrupted, so it holds no usable CA`,
    { hint: `run \`${caInitLine(caDir)}\` again: it replaces the half-written files` },
  );
}

export function notFound(caDir: string): DbtlsError {
  return new DbtlsError('CA_NOT_FOUND', `could not open the CA in ${caDir}: there is no ca.json`, {
    hint: `run \`${caInitLine(caDir)}\` first, or point --ca-dir / DBTLS_CA_DIR at your CA directory`,
  });
}

/** `dbtls ca init` for the directory named: pasted bare, it would make ./dbtls-ca instead. */
function caInitLine(caDir: string): string {
  return commandLine(['dbtls', 'ca', 'init', '--ca-dir', caDir]);
}

function readCaFile(caDir: string, file: keyof typeof CA_FILES): string {
  try {
    return fs.readFileSync(caPath(caDir, file), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw caDirInvalid(caDir, fileInTheWay(caDir) ?? caDir, err);
    if (code === 'ENOENT') {
      if (file === 'meta') throw notFound(caDir);
      throw new DbtlsError('CA_CORRUPT', `could not open the CA in ${caDir}: ${CA_FILES[file]} is missing`, {
        hint: 'restore the CA directory from its backup',
        cause: err,
      });
    }
    throw new DbtlsError('CA_UNREADABLE', `could not read ${caPath(caDir, file)}: ${causeText(err)}`, {
      hint: 'check the permissions of the CA directory',
      cause: err,
    });
  }
}

export function readCaMeta(caDir: string): CaMeta {
  if (initInterrupted(caDir)) throw incomplete(caDir);
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

/**
 * Holds the CA lock (a file in the CA directory) while `fn` runs, waiting up to `timeoutMs` (default 60 s)
 * for another dbtls that holds it: LOCKED after that. Not re-entrant.
 */
export function withCaLock<T>(caDir: string, fn: () => T, timeoutMs?: number): T {
  if (!fs.existsSync(caDir)) throw notFound(caDir);
  return withLock(caPath(caDir, 'lock'), fn, timeoutMs);
}

/** The CA lock around asynchronous work (batch issuance with worker threads). Not re-entrant. */
export function withCaLockAsync<T>(caDir: string, fn: () => Promise<T>, timeoutMs?: number): Promise<T> {
  if (!fs.existsSync(caDir)) throw notFound(caDir);
  return withLockAsync(caPath(caDir, 'lock'), fn, timeoutMs);
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
