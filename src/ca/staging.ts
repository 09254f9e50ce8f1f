/**
 * The files side of batch issuance (src/ca/batch.ts, src/ca/sign-csrs.ts): which output directories may be written and the
 * one durability barrier before the commit (the staging directory and the renames that publish it are
 * the journal's, src/ca/journal.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbtlsError } from '../errors.js';
import { checkLeafOutputDir } from './leaf-files.js';

function outputExists(target: string, cause: string): DbtlsError {
  return new DbtlsError('OUTPUT_EXISTS', `could not write to ${target}: ${cause}`, {
    hint: 'each user gets a new directory under --out: choose another --out, or move the old directories away (use `dbtls renew` to replace certificates)',
  });
}

/** The names in an output directory; undefined when it does not exist yet (OUTPUT_EXISTS when a file). */
function namesIn(outDir: string): Set<string> | undefined {
  try {
    return new Set(fs.readdirSync(outDir));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') throw outputExists(outDir, 'it is a file, not a directory');
    throw err;
  }
}

/** Every `<out>/<cn>` must be absent or an empty directory (a directory is renamed into its place). */
export function checkOutputs(outDir: string, cns: readonly string[]): void {
  const present = namesIn(outDir);
  if (!present) return;
  for (const cn of cns) {
    if (!present.has(cn)) continue;
    const dir = path.join(outDir, cn);
    if (!fs.statSync(dir).isDirectory()) throw outputExists(dir, 'it is a file');
    checkLeafOutputDir(dir);
    if (fs.readdirSync(dir).length > 0) throw outputExists(dir, 'the directory is not empty');
  }
}

/** No certificate file of a CSR run may exist yet in `outDir` (`dbtls sign CSR... --out-dir`). */
export function checkOutputFiles(outDir: string, files: readonly string[]): void {
  const present = namesIn(outDir);
  if (!present) return;
  const taken = files.find((f) => present.has(path.basename(f)));
  if (taken) {
    throw new DbtlsError('OUTPUT_EXISTS', `could not write ${taken}: the file already exists`, {
      hint: 'choose another --out-dir, or move the old certificates away first (`dbtls renew` replaces certificates)',
    });
  }
}

/** One directory per file system among `dirs`: syncfs(2) flushes a whole file system. */
function onePerFileSystem(dirs: readonly string[]): string[] {
  const byDevice = new Map<number, string>();
  for (const dir of dirs) {
    const dev = fs.statSync(dir).dev;
    if (!byDevice.has(dev)) byDevice.set(dev, dir);
  }
  return [...byDevice.values()];
}

/**
 * A head start for step 5: a background `sync -f` while the batch is still signing, so that the kernel
 * writes back the first half of the files (and whatever else was dirty) during the work rather than
 * after it. It guarantees nothing, so its outcome is ignored: syncFileSystems is the barrier.
 */
export function startEarlySync(dirs: readonly string[]): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('sync', ['-f', ...onePerFileSystem(dirs)], { stdio: 'ignore' });
    child.on('error', () => resolve());
    child.on('close', () => resolve());
  });
}

/**
 * Step 5: one syncfs(2) per file system through coreutils `sync -f` (node has no binding for it). Where
 * that cannot run, every file and directory written is fsynced one by one instead: slow, still correct.
 */
export function syncFileSystems(
  roots: readonly string[],
  dirs: readonly string[],
  copies: { certsDir: string; serials: readonly string[] },
): void {
  if (spawnSync('sync', ['-f', ...onePerFileSystem(roots)], { stdio: 'ignore' }).status === 0) return;
  for (const dir of dirs) {
    for (const entry of fs.readdirSync(dir)) fsyncPath(path.join(dir, entry));
    fsyncPath(dir);
  }
  for (const s of copies.serials) fsyncPath(path.join(copies.certsDir, `${s}.pem`));
  fsyncPath(copies.certsDir);
}

function fsyncPath(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
