/**
 * The CA's index (index.jsonl, DESIGN.md "The CA on disk"): one JSON line per issued certificate. Issuance
 * only grows it, by fsynced appends of whole lines (appendIndex), so that recording 2,000 certificates does
 * not rewrite every line before them; revocation rewrites it atomically under the CA lock (updateIndex).
 */
import * as fs from 'node:fs';
import { DbtlsError } from '../errors.js';
import { MODE_PUBLIC, writeFileAtomic } from '../util/files.js';
import { caPath, incomplete, initInterrupted, notFound, withCaLock } from './store.js';

export interface IndexEntry {
  readonly serial: string;
  readonly cn: string;
  readonly subject: string;
  readonly issuer: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly profile: 'server' | 'client' | 'intermediate';
  readonly notBefore: string;
  readonly notAfter: string;
  /** void: signed and recorded, but never delivered and its key destroyed (src/ca/journal.ts). */
  readonly status: 'valid' | 'revoked' | 'void';
  readonly revokedAt?: string;
  readonly revocationReason?: string;
  readonly fingerprint: string;
  readonly issuedBy: 'root' | 'intermediate';
  readonly renewedFrom?: string;
}

/**
 * The index as this process last parsed it: its bytes up to the end of the last whole line, and the
 * entries of those lines (frozen: every reader shares them). The index grows by appends, so a later read
 * parses only the lines added since; any other change to those bytes (a rewrite, a truncated torn line)
 * makes it parse the whole file again. Reading a CA of 10,000 certificates costs ~25 ms of JSON parsing,
 * once per process instead of once per read (a run of CSRs reads it under the lock; issue 11).
 */
let parsedIndex: { file: string; bytes: Buffer; lines: number; entries: readonly IndexEntry[] } | undefined;

export function readIndex(caDir: string): IndexEntry[] {
  if (initInterrupted(caDir)) throw incomplete(caDir);
  const file = caPath(caDir, 'index');
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      if (!fs.existsSync(caPath(caDir, 'meta'))) throw notFound(caDir);
      return [];
    }
    throw err;
  }
  const known =
    parsedIndex?.file === file && bytes.subarray(0, parsedIndex.bytes.length).equals(parsedIndex.bytes)
      ? parsedIndex
      : undefined;
  const entries: IndexEntry[] = known ? [...known.entries] : [];
  const from = known?.bytes.length ?? 0;
  const whole = bytes.lastIndexOf(NEWLINE) + 1; // the end of the last whole line
  const lines = bytes.subarray(from).toString('utf8').split('\n');
  const lineBase = known?.lines ?? 0;
  let wholeEntries = entries.length;
  for (const [i, line] of lines.entries()) {
    if (line.trim() !== '') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (err) {
        if (i === lines.length - 1) break; // a torn append (see appendIndex): never acknowledged, not a line
        throw new DbtlsError(
          'CA_CORRUPT',
          `could not read ${caPath(caDir, 'index')}: line ${lineBase + i + 1} is not JSON`,
          {
            hint: 'repair or restore index.jsonl from the CA backup',
            cause: err,
          },
        );
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new DbtlsError(
          'CA_CORRUPT',
          `could not read ${caPath(caDir, 'index')}: line ${lineBase + i + 1} is not an index entry`,
          { hint: 'repair or restore index.jsonl from the CA backup' },
        );
      }
      entries.push(freezeEntry(parsed as IndexEntry));
    }
    if (i < lines.length - 1) wholeEntries = entries.length;
  }
  parsedIndex = {
    file,
    bytes: bytes.subarray(0, Math.max(whole, from)),
    lines: lineBase + lines.length - 1,
    entries: entries.slice(0, wholeEntries),
  };
  return entries;
}

function freezeEntry(entry: IndexEntry): IndexEntry {
  Object.freeze(entry.dnsNames);
  Object.freeze(entry.ipAddresses);
  return Object.freeze(entry);
}

/** The serials in the index, to draw new ones that are unique in it. */
export function readIndexSerials(caDir: string): Set<string> {
  return new Set(readIndex(caDir).map((e) => e.serial));
}

/**
 * Appends lines to the index and fsyncs it: the commit point of an issuance. Every line is written
 * whole, ending in a newline, by one write(2) under the CA lock. A crash during that write can leave
 * a torn last line without its newline; its issuer never returned, so it is not a committed line:
 * readIndex skips it and the next append cuts it off before writing (a complete JSON line that merely
 * lacks its newline, say after a hand edit, is kept and terminated instead).
 */
export function appendIndex(caDir: string, entries: readonly IndexEntry[]): void {
  const file = caPath(caDir, 'index');
  const fd = fs.openSync(file, 'a+', MODE_PUBLIC);
  try {
    const prefix = endTornLine(fd);
    const lines = entries.map((e) => `${JSON.stringify(e)}\n`).join('');
    fs.writeSync(fd, prefix + lines);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const NEWLINE = 0x0a;

/** Cuts off a torn last line (or returns the newline a complete last line lacks). Usually reads one byte. */
function endTornLine(fd: number): string {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return '';
  const last = Buffer.alloc(1);
  fs.readSync(fd, last, 0, 1, size - 1);
  if (last[0] === NEWLINE) return '';
  const bytes = Buffer.alloc(size);
  fs.readSync(fd, bytes, 0, size, 0);
  const cut = bytes.lastIndexOf(NEWLINE) + 1;
  if (isJson(bytes.subarray(cut).toString('utf8'))) return '\n';
  fs.ftruncateSync(fd, cut);
  return '';
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export function writeIndex(caDir: string, entries: readonly IndexEntry[]): void {
  const text = entries.map((e) => `${JSON.stringify(e)}\n`).join('');
  writeFileAtomic(caPath(caDir, 'index'), text, { mode: MODE_PUBLIC });
}

/** Rewrites the index atomically under the CA lock. */
export function updateIndex(caDir: string, fn: (entries: IndexEntry[]) => IndexEntry[]): void {
  withCaLock(caDir, () => writeIndex(caDir, fn(readIndex(caDir))));
}
