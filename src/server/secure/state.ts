/**
 * What `dbtls secure` changed, kept in <ca-dir>/secure.json so that `dbtls secure --undo` can put it back.
 * Each thing is recorded the first time secure touches it (its state *before* secure), and never again:
 * a second run records nothing, and undo restores the state from before the first run.
 *
 * The file can hold a previous server key (to restore it), so it is written 0600 like a key file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MODE_SECRET, writeFileAtomic } from '../../util/files.js';
import { readStateFile } from '../../util/state-file.js';
import type { TlsRequirement } from '../accounts/users.js';

export const SECURE_STATE_FILE = 'secure.json';

export interface FileChange {
  readonly path: string;
  /** The content before secure wrote the file (base64), or null when it did not exist. */
  readonly previous: string | null;
  readonly mode?: number | undefined;
}

export interface RequirementChange {
  readonly user: string;
  readonly host: string;
  readonly before: TlsRequirement;
}

export interface SecureRecord {
  /** The CA directory did not exist before secure made it. */
  readonly createdCa: boolean;
  readonly files: readonly FileChange[];
  /** Serials secure issued (server and clients). */
  readonly issued: readonly string[];
  /** Client certificate directories secure created. */
  readonly createdDirs: readonly string[];
  /**
   * Directories that did not exist before secure put its files in them (the server's certificate
   * directory, the config fragment's, the client certificates' parent); undo removes them when empty.
   */
  readonly madeDirs?: readonly string[] | undefined;
  readonly requirements: readonly RequirementChange[];
  /** require_secure_transport before secure set it. */
  readonly requireSecureTransportBefore?: string | undefined;
}

export interface SecureStateFile {
  readonly version: 1;
  /** Keyed by `host:port` of the target. */
  readonly servers: Readonly<Record<string, SecureRecord>>;
}

export const EMPTY_RECORD: SecureRecord = Object.freeze({
  createdCa: false,
  files: [],
  issued: [],
  createdDirs: [],
  requirements: [],
});

export function stateFile(caDir: string): string {
  return path.join(caDir, SECURE_STATE_FILE);
}

export function readSecureState(caDir: string): SecureStateFile {
  const state = readStateFile<SecureStateFile>(stateFile(caDir), {
    code: 'SECURE_STATE_MALFORMED',
    hint: 'restore it from a backup; without it `dbtls secure --undo` cannot know what to put back',
    valid: (s) => s.version === 1 && typeof s.servers === 'object' && s.servers !== null,
  });
  return state ?? { version: 1, servers: {} };
}

/** Writes the state only when it changed, so that a run that changed nothing leaves every file alone. */
export function writeSecureState(caDir: string, state: SecureStateFile): boolean {
  const text = `${JSON.stringify(state, null, 2)}\n`;
  const file = stateFile(caDir);
  try {
    if (fs.readFileSync(file, 'utf8') === text) return false;
  } catch {
    // not there yet
  }
  writeFileAtomic(file, text, { mode: MODE_SECRET });
  return true;
}

/** A snapshot of a file before it is first written. */
export function fileBefore(file: string): FileChange {
  try {
    const st = fs.statSync(file);
    return { path: file, previous: fs.readFileSync(file).toString('base64'), mode: st.mode & 0o777 };
  } catch {
    return { path: file, previous: null };
  }
}

/** The record with `change` added, unless that file is already recorded (the first snapshot wins). Pure. */
export function withFile(record: SecureRecord, change: FileChange): SecureRecord {
  if (record.files.some((f) => f.path === change.path)) return record;
  return { ...record, files: [...record.files, change] };
}

export function withIssued(record: SecureRecord, serial: string): SecureRecord {
  return record.issued.includes(serial) ? record : { ...record, issued: [...record.issued, serial] };
}

export function withCreatedDir(record: SecureRecord, dir: string): SecureRecord {
  return record.createdDirs.includes(dir) ? record : { ...record, createdDirs: [...record.createdDirs, dir] };
}

export function withMadeDir(record: SecureRecord, dir: string): SecureRecord {
  const made = record.madeDirs ?? [];
  return made.includes(dir) ? record : { ...record, madeDirs: [...made, dir] };
}

export function withRequirement(record: SecureRecord, change: RequirementChange): SecureRecord {
  if (record.requirements.some((r) => r.user === change.user && r.host === change.host)) return record;
  return { ...record, requirements: [...record.requirements, change] };
}

export function withRequireSecureTransport(record: SecureRecord, before: string): SecureRecord {
  return record.requireSecureTransportBefore === undefined
    ? { ...record, requireSecureTransportBefore: before }
    : record;
}

/** Puts a recorded file back as it was (removing it when secure created it). */
export function restoreFile(change: FileChange): 'restored' | 'removed' {
  if (change.previous === null) {
    fs.rmSync(change.path, { force: true });
    return 'removed';
  }
  writeFileAtomic(change.path, Buffer.from(change.previous, 'base64'), { mode: change.mode ?? MODE_SECRET });
  return 'restored';
}
