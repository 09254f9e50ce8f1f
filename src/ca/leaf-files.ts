/**
 * A leaf's output directory (DESIGN.md): cert.pem, key.pem (0600), chain.pem (leaf + intermediates) and
 * ca.pem. dbtls never overwrites a key unless renewing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbtlsError } from '../errors.js';
import { ensureDir, MODE_PUBLIC, MODE_SECRET, writeFileAtomic } from '../util/files.js';
import type { IssuedCertificate } from './issue.js';

/** The files of a leaf output directory (DESIGN.md). */
export const LEAF_FILES = Object.freeze(['cert.pem', 'key.pem', 'chain.pem', 'ca.pem'] as const);

/** Refuses an output directory that already holds leaf files (OUTPUT_EXISTS): we never overwrite a key. */
export function checkLeafOutputDir(dir: string): void {
  const present = LEAF_FILES.filter((f) => fs.existsSync(path.join(dir, f)));
  if (present.length > 0) {
    throw new DbtlsError(
      'OUTPUT_EXISTS',
      `could not write to ${dir}: it already holds ${present.join(', ')}`,
      {
        hint: 'choose another --out directory, or move the old files away first (use `dbtls renew` to replace a certificate)',
      },
    );
  }
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
