/**
 * A leaf's output directory (DESIGN.md): cert.pem, key.pem (0600), chain.pem (leaf + intermediates) and
 * ca.pem. dbtls never overwrites a key unless renewing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbtlsError } from '../errors.js';
import { parseCertificate } from '../pki/certificate.js';
import { commonName, decodeName } from '../pki/names.js';
import { ensureDir, MODE_PUBLIC, MODE_SECRET, writeFileAtomic } from '../util/files.js';
import { quotedValue } from '../util/safe-text.js';
import { commandLine } from '../util/shell.js';
import type { Delivery, OutputFile } from './issue.js';
import type { IssuedCertificate } from './sign-leaf.js';

/** The files of a leaf output directory (DESIGN.md). */
export const LEAF_FILES = Object.freeze(['cert.pem', 'key.pem', 'chain.pem', 'ca.pem'] as const);

/** The longest directory name dbtls derives from a CN. */
const MAX_DIR_NAME = 64;

/**
 * The output directory name dbtls derives from a CN when no --out is given (issue 10 item 5): a CN is
 * attacker-shaped text (`../../x`, `/abs`, `/CN=x/O=evil`, control characters), never a path. Only
 * letters, digits and `. _ @ + -` are kept, every other run becomes `_`, and leading or trailing
 * dots, dashes and underscores go (no hidden directory, no `..`, no option-like name).
 */
export function dirNameFor(cn: string, fallback: string): string {
  const name = cn
    .normalize('NFC')
    .replace(/[^\p{L}\p{N}._@+-]+/gu, '_')
    .replace(/^[._-]+/, '')
    .slice(0, MAX_DIR_NAME)
    .replace(/[._-]+$/, '');
  return name === '' ? fallback : name;
}

/** Refuses an output directory that already holds leaf files (OUTPUT_EXISTS): we never overwrite a key. */
export function checkLeafOutputDir(dir: string): void {
  checkNotFile(dir);
  const present = LEAF_FILES.filter((f) => fs.existsSync(path.join(dir, f)));
  if (present.length > 0) {
    throw new DbtlsError(
      'OUTPUT_EXISTS',
      `could not write to ${dir}: it already holds ${present.join(', ')}`,
      {
        hint: `choose another --out directory, or move the old files away first${renewHint(dir)}`,
      },
    );
  }
}

/**
 * The renewal that replaces the certificate `dir` holds, named by the serial of its cert.pem: only that
 * serial renews into this directory (a new --cn may name nothing the CA issued).
 */
function renewHint(dir: string): string {
  let serial: string;
  try {
    serial = parseCertificate(fs.readFileSync(path.join(dir, 'cert.pem'))).serial;
  } catch {
    return ''; // no readable cert.pem: nothing there names what to renew
  }
  return ` (to replace its certificate: \`${commandLine(['dbtls', 'renew', serial, '--out', dir])}\`)`;
}

/** An --out that names a file: refused before anything is signed (issue 10 item 3). */
export function checkNotFile(dir: string): void {
  let isDir = true;
  try {
    isDir = fs.statSync(dir).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new DbtlsError('NOT_A_DIRECTORY', `could not write to ${dir}: a part of the path is a file`, {
        hint: 'choose an --out whose every part is a directory (or absent)',
      });
    }
    return; // absent: it will be created
  }
  if (!isDir) {
    throw new DbtlsError('OUTPUT_EXISTS', `could not write to ${dir}: it is a file, not a directory`, {
      hint: '--out names the directory that will hold cert.pem, key.pem, chain.pem and ca.pem: choose a directory',
    });
  }
}

/** The files of a leaf output directory, for a Delivery. */
export function leafFiles(issued: IssuedCertificate): OutputFile[] {
  return [
    ...(issued.keyPem ? [{ name: 'key.pem', data: issued.keyPem, mode: MODE_SECRET }] : []),
    { name: 'cert.pem', data: issued.certPem, mode: MODE_PUBLIC },
    { name: 'chain.pem', data: issued.chainPem, mode: MODE_PUBLIC },
    { name: 'ca.pem', data: issued.caPem, mode: MODE_PUBLIC },
  ];
}

/**
 * Delivers a leaf into `dir` under the CA lock (src/ca/issue.ts issueCertificate): refused before signing
 * when `dir` is a file or holds leaf files (unless overwriting, for renewal). `keyPem` is the key when it
 * was made outside the issuance (an RSA key generated off the event loop).
 */
/**
 * A renewal replaces the files of the certificate it renews, never another's: a cert.pem already in `dir`
 * must be one for `cn` (renew --out naming another user's directory overwrote that user's key).
 */
function checkReplaces(dir: string, cn: string): void {
  const file = path.join(dir, 'cert.pem');
  if (!fs.existsSync(file)) return;
  let held: string | undefined;
  try {
    held = commonName(decodeName(parseCertificate(fs.readFileSync(file)).subjectDer)) ?? '';
  } catch {
    held = undefined;
  }
  if (held === cn) return;
  throw new DbtlsError(
    'OUTPUT_EXISTS',
    `could not renew into ${dir}: it holds ${held === undefined ? 'a cert.pem that is not a certificate' : `the certificate of ${quotedValue(held)}`}, not one of ${quotedValue(cn)}; nothing was written`,
    { hint: `give --out the directory of ${quotedValue(cn)}'s certificate, or a new one` },
  );
}

export function leafDelivery(
  dir: string,
  options: { overwrite?: boolean; keyPem?: string; replaces?: string } = {},
): Delivery {
  return {
    dir,
    overwrite: options.overwrite ?? false,
    check: () => {
      if (!options.overwrite) return checkLeafOutputDir(dir);
      checkNotFile(dir);
      if (options.replaces !== undefined) checkReplaces(dir, options.replaces);
    },
    files: (issued) => leafFiles(options.keyPem ? { ...issued, keyPem: options.keyPem } : issued),
  };
}

/** Delivers one file (`dbtls sign --out FILE`: the chain), refused before signing when it exists. */
export function fileDelivery(file: string, data: (issued: IssuedCertificate) => string): Delivery {
  return {
    dir: path.dirname(file),
    check: () => {
      const st = fs.statSync(file, { throwIfNoEntry: false });
      if (st && !st.isFile()) {
        throw new DbtlsError(
          'OUTPUT_NOT_A_FILE',
          `could not write ${file}: it is ${st.isDirectory() ? 'a directory' : 'a device, FIFO or socket'}, not a regular file`,
          {
            hint: 'give --out the path of a new file',
          },
        );
      }
      if (st) {
        throw new DbtlsError('OUTPUT_EXISTS', `could not write ${file}: the file already exists`, {
          hint: 'choose another --out file, or move the old one away first',
        });
      }
    },
    files: (issued) => [{ name: path.basename(file), data: data(issued), mode: MODE_PUBLIC }],
  };
}

export interface WriteLeafOptions {
  readonly noSync?: boolean;
  /** Replace existing files (renewal); otherwise OUTPUT_EXISTS. */
  readonly overwrite?: boolean;
}

/** cert.pem, key.pem (0600, when there is a key), chain.pem (leaf + intermediates), ca.pem. */
export function writeLeafFiles(dir: string, issued: IssuedCertificate, options: WriteLeafOptions = {}): void {
  if (!options.overwrite) checkLeafOutputDir(dir);
  ensureDir(dir);
  const noSync = options.noSync ?? false;
  if (issued.keyPem) writeFileAtomic(path.join(dir, 'key.pem'), issued.keyPem, { mode: MODE_SECRET, noSync });
  writeFileAtomic(path.join(dir, 'cert.pem'), issued.certPem, { mode: MODE_PUBLIC, noSync });
  writeFileAtomic(path.join(dir, 'chain.pem'), issued.chainPem, { mode: MODE_PUBLIC, noSync });
  writeFileAtomic(path.join(dir, 'ca.pem'), issued.caPem, { mode: MODE_PUBLIC, noSync });
}
