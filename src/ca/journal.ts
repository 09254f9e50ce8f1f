/**
 * The issuance journal (issue 10 item 3): an index entry means a certificate that was delivered. Every
 * issuance that writes the user's files goes through one protocol, under the CA lock:
 *
 * 1. `pending.json` in the CA directory names the serials, the private staging directory (0700) and the
 *    renames that will deliver the files; it is written (atomically) before the staging directory exists.
 * 2. The certificates are signed and their files written into the staging directory (and certs/).
 * 3. The index lines are appended: the commit point.
 * 4. The renames deliver the files; then the journal is removed.
 *
 * The next command that takes the CA lock to issue, revoke or publish first settles a journal left by a
 * crash: when every serial is in the index, it completes the renames (the certificates were issued);
 * otherwise it removes the staging directory and the CA's copies (nothing was issued), and marks `void`
 * any serial that a torn append did record, since its key is gone. So no staging directory holding keys
 * outlives the next command, and a re-run never issues a second certificate for a committed one.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { causeText, DbtlsError } from '../errors.js';
import { ensureDir, fsyncDir, MODE_SECRET, removeStaleTemps, writeFileAtomic } from '../util/files.js';
import { readIndex, writeIndex } from './cert-index.js';
import { caPath, certPath, withCaLock } from './store.js';

export const JOURNAL_FILE = 'pending.json';

/** One rename that delivers files after the commit, and the certificates whose files it carries. */
export interface Move {
  readonly from: string;
  readonly to: string;
  readonly serials: readonly string[];
}

export interface Journal {
  readonly format: 1;
  readonly serials: readonly string[];
  /** The private staging directory (0700) the new files are written into. */
  readonly stage: string;
  readonly moves: readonly Move[];
  /** Renames may replace existing files (renewal into its old directory). */
  readonly overwrite: boolean;
  /** What the command asked for, so that a re-run of the same command can recognise a batch it completed. */
  readonly request?: string;
}

export interface Settled {
  readonly journal: Journal;
  /** True when the certificates were committed and are now delivered. */
  readonly completed: boolean;
  /** Serials recorded but not deliverable, now marked void. */
  readonly voided: readonly string[];
}

function journalPath(caDir: string): string {
  return path.join(caDir, JOURNAL_FILE);
}

export function hasJournal(caDir: string): boolean {
  return fs.existsSync(journalPath(caDir));
}

/** A fresh name for a staging directory: inside `dir` when it exists, else hidden beside it. */
export function stagingFor(dir: string): { stage: string; whole: boolean } {
  const id = randomBytes(6).toString('hex');
  if (fs.existsSync(dir)) return { stage: path.join(dir, `.dbtls-staging-${id}`), whole: false };
  return { stage: path.join(path.dirname(dir), `.${path.basename(dir)}.dbtls-staging-${id}`), whole: true };
}

/**
 * The renames that deliver a run's targets (one per serial, each a file or directory named in `outDir`):
 * the whole staging directory when `outDir` is new (stagingFor's `whole`), else one rename per target.
 */
export function deliveryMoves(
  staging: { stage: string; whole: boolean },
  outDir: string,
  targets: readonly string[],
  serials: readonly string[],
): Move[] {
  if (staging.whole) return [{ from: staging.stage, to: outDir, serials }];
  return targets.map((to, n) => ({
    from: path.join(staging.stage, path.basename(to)),
    to,
    serials: [serials[n]!],
  }));
}

/** Step 1: records the issuance before anything else is written, then makes the staging directory. */
export function beginJournal(caDir: string, journal: Journal): void {
  writeFileAtomic(journalPath(caDir), `${JSON.stringify(journal)}\n`, { mode: MODE_SECRET });
  try {
    ensureDir(path.dirname(journal.stage));
    ensureDir(journal.stage, 0o700);
  } catch (err) {
    endJournal(caDir); // nothing staged yet: nothing to settle
    throw err;
  }
}

function endJournal(caDir: string): void {
  fs.rmSync(journalPath(caDir), { force: true });
}

function readJournal(caDir: string): Journal | undefined {
  let text: string;
  try {
    text = fs.readFileSync(journalPath(caDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as Journal;
  } catch (err) {
    throw new DbtlsError('CA_CORRUPT', `could not read ${journalPath(caDir)}: ${causeText(err)}`, {
      hint: 'it records an interrupted issuance; remove its staging directory and the file by hand',
      cause: err,
    });
  }
}

/** Step 4: the renames, each at most once (a rename already done is skipped, so this can be repeated). */
function deliver(journal: Journal): string[] {
  const failed: string[] = [];
  const parents = new Set<string>();
  for (const m of journal.moves) {
    if (!fs.existsSync(m.from)) continue; // delivered before a crash
    try {
      if (!journal.overwrite && fs.existsSync(m.to) && !emptyDir(m.to)) {
        throw new Error(`${m.to} appeared meanwhile`);
      }
      if (m.from === journal.stage) fs.chmodSync(m.from, 0o755); // the whole directory becomes the user's
      fs.renameSync(m.from, m.to);
      parents.add(path.dirname(m.to));
    } catch {
      failed.push(...m.serials);
    }
  }
  for (const dir of parents) fsyncDir(dir);
  return failed;
}

function emptyDir(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory() && fs.readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}

/** Marks serials void in the index: recorded, but their keys were destroyed undelivered. */
function voidSerials(caDir: string, serials: readonly string[]): void {
  if (serials.length === 0) return;
  const set = new Set(serials);
  writeIndex(
    caDir,
    readIndex(caDir).map((e) => (set.has(e.serial) && e.status === 'valid' ? { ...e, status: 'void' } : e)),
  );
}

/**
 * Settles the journal (caller holds the CA lock): completes a committed issuance, or takes back one that
 * was not. Used after a crash (recoverJournal) and by the issuing command itself when it fails.
 */
export function settleJournal(caDir: string, journal: Journal, committed?: boolean): Settled {
  let recorded: readonly string[];
  if (committed) recorded = journal.serials;
  else {
    const inIndex = new Set(readIndex(caDir).map((e) => e.serial));
    recorded = journal.serials.filter((s) => inIndex.has(s));
  }
  let voided: string[] = [];
  let completed = false;
  if (recorded.length === journal.serials.length && recorded.length > 0) {
    voided = deliver(journal);
    completed = voided.length === 0;
  } else {
    voided = [...recorded]; // a torn append: recorded, but the issuance as a whole was not committed
    const kept = new Set(recorded);
    for (const s of journal.serials) if (!kept.has(s)) fs.rmSync(certPath(caDir, s), { force: true });
    removeCopyTemps(caDir, journal.serials);
  }
  voidSerials(caDir, voided);
  fs.rmSync(journal.stage, { recursive: true, force: true });
  endJournal(caDir);
  return { journal, completed, voided };
}

/** The temp files a crash left while the CA's copies (certs/<serial>.pem) were written: one directory read. */
function removeCopyTemps(caDir: string, serials: readonly string[]): void {
  const certs = path.dirname(certPath(caDir, 'x'));
  const wanted = new Set(serials);
  let names: string[];
  try {
    names = fs.readdirSync(certs);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^\.([0-9a-f]+)\.pem\.[0-9a-f]{12}\.tmp$/.exec(name);
    if (m && wanted.has(m[1]!)) fs.rmSync(path.join(certs, name), { force: true });
  }
}

/** Settles what a crashed issuance left (caller holds the CA lock); undefined when nothing was pending. */
export function recoverJournal(caDir: string): Settled | undefined {
  removeStaleTemps(journalPath(caDir)); // a crash while the journal itself was being written
  // ... or while the index (revoke), ca.json or crl.pem (crl) was rewritten: the rename never happened.
  for (const file of ['index', 'meta', 'crl'] as const) removeStaleTemps(caPath(caDir, file));
  const journal = readJournal(caDir);
  return journal ? settleJournal(caDir, journal) : undefined;
}

/** Completes a committed issuance (step 4); a rename that fails voids its certificates (WRITE_FAILED). */
export function finishJournal(caDir: string, journal: Journal): void {
  const settled = settleJournal(caDir, journal, true);
  if (settled.voided.length > 0) {
    throw new DbtlsError(
      'WRITE_FAILED',
      `could not deliver the certificate files: a target appeared while dbtls was writing (${settled.voided.length} certificate${settled.voided.length === 1 ? '' : 's'} marked void in the CA)`,
      {
        hint: 'nothing usable was left behind; run the command again with a free --out',
      },
    );
  }
}

/**
 * For the commands that only read the CA (`list`, `ca show`): settles an issuance a crash interrupted,
 * so that what they show is what was delivered and no staging directory holding keys outlives them.
 */
export function settlePending(caDir: string): Settled | undefined {
  if (!hasJournal(caDir)) return undefined;
  return withCaLock(caDir, () => recoverJournal(caDir));
}
