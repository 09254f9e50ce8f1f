/**
 * The staged CA rollover. A CA cannot be swapped in one step: clients trust one root, and every leaf
 * chains to it. So the rollover goes in four stages, each a command that can be run, checked and resumed:
 *
 *   1. new-ca      a new CA is made in <ca-dir>/next/ (same layout as the CA dir); nothing else changes.
 *   2. trust-both  the trust bundle (old + new CA certificates) is written to <ca-dir>/trust-bundle.pem for
 *                  clients, and over the server's ssl_ca file, then the server reloads online.
 *   3. reissue     the new CA becomes the active one (the old one moves to <ca-dir>/previous/), the
 *                  server's certificate is re-issued from it and reloaded, and every other valid leaf of the
 *                  old CA is re-issued into <out>/<cn>/ and marked superseded in the old index.
 *   4. retire-old  only when nothing valid the old CA signed is left in its index: the bundle and the
 *                  server's ssl_ca hold the new CA alone; <ca-dir>/previous/ moves to <ca-dir>/retired/.
 *
 * Progress lives in <ca-dir>/rollover.json, written atomically after each step, so an interrupted stage
 * is resumed by running it again (docs/rotation.md).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { caPath } from '../../ca/store.js';
import { DbtlsError } from '../../errors.js';
import { MODE_PUBLIC, writeFileAtomic } from '../../util/files.js';
import { readStateFile } from '../../util/state-file.js';

export const ROLLOVER_STAGES = Object.freeze(['new-ca', 'trust-both', 'reissue', 'retire-old'] as const);
export type RolloverStage = (typeof ROLLOVER_STAGES)[number];

export const ROLLOVER_FILE = 'rollover.json';
export const NEXT_DIR = 'next';
export const PREVIOUS_DIR = 'previous';
export const RETIRED_DIR = 'retired';
export const TRUST_BUNDLE_FILE = 'trust-bundle.pem';
export const REISSUED_DIR = 'reissued';
/** Entries of the CA dir that belong to the rollover itself, never moved when the CAs change places. */
const ROLLOVER_ENTRIES: ReadonlySet<string> = new Set([
  ROLLOVER_FILE,
  NEXT_DIR,
  PREVIOUS_DIR,
  RETIRED_DIR,
  TRUST_BUNDLE_FILE,
  REISSUED_DIR,
  'secure.json',
  'secure-backup',
]);

export interface RootFacts {
  readonly subject: string;
  readonly fingerprint: string;
  readonly notAfter: string;
}

export interface StageRecord {
  readonly stage: RolloverStage;
  readonly at: string;
  readonly summary: string;
}

/** The promotion of the new CA (stage 3) moves files in two phases, each resumable. */
export type Promotion = 'moving-old' | 'moving-new' | 'done';

export interface RolloverState {
  readonly version: 1;
  readonly startedAt: string;
  readonly completed: readonly RolloverStage[];
  readonly oldRoot: RootFacts;
  readonly newRoot?: RootFacts | undefined;
  readonly promotion?: Promotion | undefined;
  /** Where the old CA went at the end (retired/<name>). */
  readonly retiredTo?: string | undefined;
  readonly history: readonly StageRecord[];
}

/** The next stage to run, or undefined when the rollover is complete. Pure. */
export function nextStage(state: RolloverState | undefined): RolloverStage | undefined {
  if (!state) return 'new-ca';
  return ROLLOVER_STAGES.find((s) => !state.completed.includes(s));
}

export function rolloverComplete(state: RolloverState | undefined): boolean {
  return state !== undefined && nextStage(state) === undefined;
}

/**
 * The command that runs a stage, for hints: stages after new-ca change the server, so they name
 * ADMIN_TARGET, which the CLI fills in with the target and flags the user gave (src/cli/server-admin.ts).
 */
export function stageCommand(stage: RolloverStage): string {
  const target = stage === 'new-ca' ? '' : ' ADMIN_TARGET';
  return `dbtls rotate${target} --ca-rollover --stage ${stage}`;
}

export const STAGE_DESCRIPTIONS: Readonly<Record<RolloverStage, string>> = Object.freeze({
  'new-ca': 'make the new CA next to the old one (nothing is served yet)',
  'trust-both': 'server and clients trust old + new CA (the bundle); reload online',
  reissue: 'the new CA becomes active; re-issue the server and every other leaf from it; reload online',
  'retire-old': 'drop the old CA from the bundle once nothing valid it signed is left',
});

/**
 * Whether `requested` runs now: 'run' when it is the next stage, 'done' when it already completed (running
 * it again changes nothing); any other stage is out of order. A complete rollover restarts at new-ca.
 */
export function stageDecision(
  state: RolloverState | undefined,
  requested: RolloverStage,
): 'run' | 'done' | 'restart' {
  if (requested === 'new-ca' && rolloverComplete(state)) return 'restart';
  if (state?.completed.includes(requested)) return 'done';
  const next = nextStage(state);
  if (next === requested) return 'run';
  throw new DbtlsError(
    'ROLLOVER_OUT_OF_ORDER',
    `could not run the rollover stage ${requested}: the next stage is ${next ?? 'none (the rollover is complete)'}`,
    {
      hint: next
        ? `run \`${stageCommand(next)}\` first; \`dbtls rotate --ca-rollover --status\` shows where the rollover is`
        : 'start a new rollover with `dbtls rotate --ca-rollover --stage new-ca`',
    },
  );
}

/** The state after `stage` completed. Pure. */
export function completeStage(
  state: RolloverState,
  stage: RolloverStage,
  summary: string,
  now: Date,
): RolloverState {
  if (state.completed.includes(stage)) return state;
  return {
    ...state,
    completed: [...state.completed, stage],
    history: [...state.history, { stage, at: now.toISOString(), summary }],
  };
}

export function readRolloverState(caDir: string): RolloverState | undefined {
  return readStateFile<RolloverState>(path.join(caDir, ROLLOVER_FILE), {
    code: 'ROLLOVER_STATE_MALFORMED',
    hint: 'restore it from a backup, or remove it to start the rollover again (the CA files are untouched)',
    valid: (state) => state.version === 1 && Array.isArray(state.completed),
  });
}

export function writeRolloverState(caDir: string, state: RolloverState): void {
  writeFileAtomic(path.join(caDir, ROLLOVER_FILE), `${JSON.stringify(state, null, 2)}\n`, {
    mode: MODE_PUBLIC,
  });
}

/** The CA dir's own files (what moves when the CAs change places): everything but the rollover's entries. */
export function caEntries(dir: string, lockName?: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => !ROLLOVER_ENTRIES.has(name) && name !== lockName && !name.endsWith('.tmp'))
    .sort();
}

/**
 * Makes the CA in <caDir>/next the active one and moves the old one to <caDir>/previous, in two phases
 * recorded in the state so that a crash in between is resumed, not repeated. Each move is a rename.
 */
export function promoteNextCa(
  caDir: string,
  state: RolloverState,
  save: (s: RolloverState) => void,
  lockName?: string,
): RolloverState {
  const next = path.join(caDir, NEXT_DIR);
  const previous = path.join(caDir, PREVIOUS_DIR);
  let current = state;
  if (current.promotion === undefined || current.promotion === 'moving-old') {
    if (current.promotion === undefined) {
      current = { ...current, promotion: 'moving-old' };
      save(current);
    }
    fs.mkdirSync(previous, { recursive: true });
    for (const name of caEntries(caDir, lockName))
      fs.renameSync(path.join(caDir, name), path.join(previous, name));
    current = { ...current, promotion: 'moving-new' };
    save(current);
  }
  if (current.promotion === 'moving-new') {
    for (const name of caEntries(next, lockName))
      fs.renameSync(path.join(next, name), path.join(caDir, name));
    fs.rmSync(next, { recursive: true, force: true });
    current = { ...current, promotion: 'done' };
    save(current);
  }
  return current;
}

/**
 * The other CA directories of a rollover in progress under `caDir` (next/ from new-ca until reissue
 * promotes it, previous/ from reissue until retire-old moves it away): during it the server trusts both
 * CAs, so its CRL file needs the CRLs of both (`crl --install`).
 */
export function rolloverPartnerDirs(caDir: string): string[] {
  return [NEXT_DIR, PREVIOUS_DIR]
    .map((d) => path.join(caDir, d))
    .filter((d) => fs.existsSync(caPath(d, 'meta')));
}
