/**
 * The server's certificate files at stable paths: written atomically, the key readable by the server's
 * user only, and skipped when already identical. Stable paths are what make later rotations restart-free:
 * MariaDB's ssl_* are read-only, but FLUSH SSL re-reads the same paths (FACTS.md). `server enable`
 * (src/server/enable.ts) builds on this. A pair that replaces another is switched as one generation
 * (src/server/tls/served-pair.ts): two renames, key then certificate, left a key that did not match its
 * certificate to a kill between them, and the next restart aborted (issue 10 item 17).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { causeText, DbtlsError } from '../../errors.js';
import { parseCertificates } from '../../pki/certificate.js';
import { ensureDir, MODE_PUBLIC, MODE_SECRET, writeFileAtomic } from '../../util/files.js';
import { withLock } from '../../util/lock.js';
import { checkMaterial, type ServerMaterial } from './material.js';
import {
  convert,
  ensureLayoutRoot,
  type PairLayout,
  type PairOnDisk,
  pairLayout,
  prune,
  readPair,
  switchTo,
  writeGeneration,
} from './served-pair.js';

export interface ServerFiles {
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** The stable names inside the certificate directory (the names MariaDB's own documentation uses). */
export function serverFilePaths(dir: string): ServerFiles {
  const abs = path.resolve(dir);
  return {
    dir: abs,
    cert: path.join(abs, 'server-cert.pem'),
    key: path.join(abs, 'server-key.pem'),
    ca: path.join(abs, 'ca.pem'),
  };
}

export interface FileOwner {
  readonly uid: number;
  readonly gid: number;
}

/** The `mysql` system user, when we run as root and it exists: the server must read the key, no one else. */
export function serverOwner(passwdFile = '/etc/passwd'): FileOwner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(passwdFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === 'mysql' && uid && gid) return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

/** Whether `file` holds exactly `data` (false when it does not exist). */
export function sameContent(file: string, data: string): boolean {
  try {
    return fs.readFileSync(file, 'utf8') === data;
  } catch {
    return false;
  }
}

/** The temporary siblings writeFileAtomic makes (`.NAME.<hex>.tmp`), which a crash can leave behind. */
const TEMP_SIBLING = /^\.(server-key|server-cert|ca|crl)\.pem\.[0-9a-f]+\.tmp$/;

/**
 * Removes what an interrupted write left in the server's certificate directory (issue 10, item 17): a
 * SIGKILL between the write and the rename leaves the temporary sibling, which for the key is a copy of
 * a private key (0600, but still one nobody tracks). Only our own names are touched. Returns them.
 */
export function sweepTempFiles(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed = names.filter((n) => TEMP_SIBLING.test(n)).map((n) => path.join(dir, n));
  for (const f of removed) fs.rmSync(f, { force: true });
  return removed;
}

/** A pair switched as a new generation: what takes it back (`previous`) and what stays (`next`). */
export interface SwitchedPair {
  readonly layout: PairLayout;
  readonly previous: string;
  readonly next: string;
}

export interface Installed {
  /** The paths whose content changed. */
  readonly written: string[];
  /** Set when the key and certificate replaced a pair already there. */
  readonly pair?: SwitchedPair;
}

/**
 * Writes the three files, skipping those already identical (a second run changes nothing). A new key and
 * certificate replace a pair already at the paths as one generation, switched with one rename; the first
 * ones are written in place (a kill between them leaves a key without a certificate, never a mismatch).
 */
export function installServerFiles(files: ServerFiles, m: ServerMaterial, owner?: FileOwner): Installed {
  checkMaterial(m);
  ensureDir(files.dir, 0o755);
  sweepTempFiles(files.dir);
  const written: string[] = [];
  let pair: SwitchedPair | undefined;
  const samePair = sameContent(files.key, m.keyPem) && sameContent(files.cert, m.certPem);
  if (!samePair && fs.existsSync(files.key) && fs.existsSync(files.cert)) {
    pair = switchPair(files, m, owner);
    written.push(files.key, files.cert);
  }
  const plan: [string, string, number][] = [[files.ca, m.caPem, MODE_PUBLIC]];
  // The key first: a reload between two writes must never pair a new certificate with the old key.
  if (!pair) plan.unshift([files.key, m.keyPem, MODE_SECRET], [files.cert, m.certPem, MODE_PUBLIC]);
  try {
    for (const [file, data, mode] of plan) {
      if (sameContent(file, data)) continue;
      writeFileAtomic(file, data, { mode });
      if (owner) fs.chownSync(file, owner.uid, owner.gid);
      written.push(file);
    }
  } catch (err) {
    // The caller never learns of a pair switched before the throw: it goes back here, or stays unknown.
    try {
      if (pair) switchBack(pair);
    } catch {} // enable's rollback then restores file by file
    throw err instanceof DbtlsError
      ? err
      : new DbtlsError(
          'WRITE_FAILED',
          `could not write the server files in ${files.dir}: ${causeText(err)}`,
          {
            hint: 'check the directory and its free space, then run the command again',
            cause: err,
          },
        );
  }
  return { written, ...(pair ? { pair } : {}) };
}

/** The pair behind the paths becomes a generation (converted once), the new one another; `live` switches. */
function switchPair(files: ServerFiles, m: ServerMaterial, owner: FileOwner | undefined): SwitchedPair {
  const layout = pairLayout(files);
  ensureLayoutRoot(layout);
  return withLock(path.join(layout.root, 'lock'), () => {
    const current = readPair(files);
    const previous = convert(layout, current, serialOf(current.cert) ?? 'original');
    const owners: Pick<PairOnDisk, 'certOwner' | 'keyOwner'> = {
      certOwner: { ...current.certOwner, ...owner },
      keyOwner: { ...current.keyOwner, ...owner },
    };
    const name = serialOf(m.certPem) ?? 'new';
    const next = writeGeneration(layout, name, { cert: m.certPem, key: m.keyPem }, owners);
    switchTo(layout, next);
    return { layout, previous, next };
  });
}

function serialOf(pem: string | Buffer): string | undefined {
  try {
    return parseCertificates(pem)[0]?.serial;
  } catch {
    return undefined;
  }
}

/** After the proof: only the served generation and the one before it stay (what rotate keeps). */
export function settlePair(pair: SwitchedPair): void {
  // Best effort: the new pair is served and proven; a generation left behind is pruned by the next run.
  try {
    prune(pair.layout, [pair.previous, pair.next]);
  } catch {}
}

/**
 * When the server does not take the new pair: the previous one is switched back, in one rename. Only the
 * switch can fail it; the unused generation left by a failed prune is pruned by the next run.
 */
export function switchBack(pair: SwitchedPair): void {
  switchTo(pair.layout, pair.previous);
  try {
    prune(pair.layout, [pair.previous]);
  } catch {}
}
