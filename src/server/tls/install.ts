/**
 * The server's certificate files at stable paths: written atomically, the key readable by the server's
 * user only, and skipped when already identical. Stable paths are what make later rotations restart-free:
 * MariaDB's ssl_* are read-only, but FLUSH SSL re-reads the same paths (FACTS.md). `server enable`
 * (src/server/enable.ts) builds on this.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureDir, MODE_PUBLIC, MODE_SECRET, writeFileAtomic } from '../../util/files.js';
import { checkMaterial, type ServerMaterial } from './material.js';

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

/**
 * Writes the three files atomically, skipping those already identical (a second run changes nothing).
 * Returns the paths written.
 */
export function installServerFiles(files: ServerFiles, m: ServerMaterial, owner?: FileOwner): string[] {
  checkMaterial(m);
  ensureDir(files.dir, 0o755);
  sweepTempFiles(files.dir);
  const written: string[] = [];
  // The key first: a reload between two writes must never pair a new certificate with the old key.
  const plan: [string, string, number][] = [
    [files.key, m.keyPem, MODE_SECRET],
    [files.cert, m.certPem, MODE_PUBLIC],
    [files.ca, m.caPem, MODE_PUBLIC],
  ];
  for (const [file, data, mode] of plan) {
    if (sameContent(file, data)) continue;
    writeFileAtomic(file, data, { mode });
    if (owner) fs.chownSync(file, owner.uid, owner.gid);
    written.push(file);
  }
  return written;
}
