/**
 * The files side of batch issuance (src/ca/batch.ts): which output directories may be written, the
 * private staging directory the users' directories are built in, the one durability barrier before
 * the commit, and the renames that publish them after it.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { causeText, DbtlsError } from '../errors.js';
import { ensureDir } from '../util/files.js';
import { checkLeafOutputDir } from './leaf-files.js';

function outputExists(target: string, cause: string): DbtlsError {
  return new DbtlsError('OUTPUT_EXISTS', `could not write to ${target}: ${cause}`, {
    hint: 'each user gets a new directory under --out: choose another --out, or move the old directories away (use `dbtls renew` to replace certificates)',
  });
}

/** Every `<out>/<cn>` must be absent or an empty directory (a directory is renamed into its place). */
export function checkOutputs(outDir: string, cns: readonly string[]): void {
  let present: Set<string>;
  try {
    present = new Set(fs.readdirSync(outDir));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw outputExists(outDir, 'it is a file, not a directory');
    throw err;
  }
  for (const cn of cns) {
    if (!present.has(cn)) continue;
    const dir = path.join(outDir, cn);
    if (!fs.statSync(dir).isDirectory()) throw outputExists(dir, 'it is a file');
    checkLeafOutputDir(dir);
    if (fs.readdirSync(dir).length > 0) throw outputExists(dir, 'the directory is not empty');
  }
}

/**
 * Where the users' directories are built before the commit, private (0700) until published. When --out
 * does not exist yet, the staging directory becomes --out with a single rename; otherwise each user's
 * directory is renamed out of a staging directory inside --out.
 */
export class Staging {
  private constructor(
    readonly dir: string,
    private readonly outDir: string,
    private readonly wholeDir: boolean,
  ) {}

  static create(outDir: string): Staging {
    if (fs.existsSync(outDir)) {
      return new Staging(fs.mkdtempSync(path.join(outDir, '.dbtls-staging-')), outDir, false);
    }
    const parent = path.dirname(outDir);
    ensureDir(parent);
    const prefix = path.join(parent, `.${path.basename(outDir)}.dbtls-staging-`);
    return new Staging(fs.mkdtempSync(prefix), outDir, true);
  }

  discard(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Step 7: the directories into place, then one fsync of their parent for the renames. */
  publish(cns: readonly string[]): void {
    try {
      if (this.wholeDir) {
        fs.chmodSync(this.dir, 0o755);
        fs.renameSync(this.dir, this.outDir);
        fsyncPath(path.dirname(this.outDir));
      } else {
        for (const cn of cns) fs.renameSync(path.join(this.dir, cn), path.join(this.outDir, cn));
        fs.rmdirSync(this.dir);
        fsyncPath(this.outDir);
      }
    } catch (err) {
      throw new DbtlsError(
        'WRITE_FAILED',
        `could not move the new certificates into ${this.outDir}: ${causeText(err)}`,
        {
          hint: `they are issued and recorded in the CA; move the directories left in ${this.dir} by hand`,
          cause: err,
          kind: 'runtime',
        },
      );
    }
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
