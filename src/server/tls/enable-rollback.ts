/**
 * Taking `server enable` back when the server does not take the new files (src/server/tls/enable.ts):
 * the reload fails, or the server, reloaded or restarted, serves another certificate. Before its first
 * write, enable keeps the bytes, mode and owner of every file it replaces and, on MySQL, the ssl_* values
 * it will SET PERSIST; on failure they go back, the server loads them again, and a certificate issued for
 * the run is voided in the CA (its key existed only in the file just put back). The next restart then
 * meets what the server ran with, never files that no reload accepted.
 */
import * as fs from 'node:fs';
import { causeText, DbtlsError } from '../../errors.js';
import { MODE_PUBLIC, writeFileAtomic } from '../../util/files.js';
import type { SqlSession } from '../admin/session.js';
import { quoteString } from '../admin/sql.js';

/** A file as it was: its bytes and stat, or nothing when it did not exist. */
interface FileState {
  readonly path: string;
  readonly bytes?: Buffer;
  readonly stat?: fs.Stats;
}

export interface EnableSnapshot {
  readonly files: readonly FileState[];
  /** Of the variables the run will SET PERSIST, those persisted before it, with their values. */
  readonly persisted: ReadonlyMap<string, string>;
}

const PERSISTED = /^SET PERSIST (\w+) = /;

/** Only ENOENT is "did not exist": a file that cannot be read must not be taken for absent and deleted. */
function fileState(file: string): FileState {
  try {
    return { path: file, bytes: fs.readFileSync(file), stat: fs.statSync(file) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { path: file };
    throw new DbtlsError(
      'PERMISSION_DENIED',
      `could not keep a copy of ${file} to put back if the server refuses the new files: ${causeText(err)}; nothing was changed`,
      {
        hint: 'run the command as a user who may read the server files (the mysql user, or root)',
        cause: err,
      },
    );
  }
}

/** Everything the rollback needs, read before the first change (the files, MySQL's persisted ssl_*). */
export async function snapshotBefore(
  session: SqlSession,
  files: readonly string[],
  statements: readonly string[],
): Promise<EnableSnapshot> {
  const states = files.map(fileState);
  const names = statements.flatMap((s) => PERSISTED.exec(s)?.[1] ?? []);
  const persisted = new Map<string, string>();
  if (names.length > 0) {
    // MySQL 8 manual, "Persisted System Variables": performance_schema.persisted_variables.
    const rows = await session.query(
      `SELECT VARIABLE_NAME, VARIABLE_VALUE FROM performance_schema.persisted_variables WHERE VARIABLE_NAME IN (${names.map(quoteString).join(', ')})`,
    );
    for (const row of rows)
      persisted.set(String(row.VARIABLE_NAME).toLowerCase(), String(row.VARIABLE_VALUE ?? ''));
  }
  return { files: states, persisted };
}

/**
 * The statements that take `statements` back: a variable persisted before gets its persisted value again;
 * one that was not loses what the run persisted (RESET PERSIST, so the option files govern the next start
 * as before) and gets its running value back. The reload statement stays, last.
 */
export function revertStatements(
  statements: readonly string[],
  running: ReadonlyMap<string, string>,
  persisted: ReadonlyMap<string, string>,
): string[] {
  return statements.flatMap((statement) => {
    const name = PERSISTED.exec(statement)?.[1];
    if (name === undefined) return [statement];
    const before = persisted.get(name);
    if (before !== undefined) return [`SET PERSIST ${name} = ${quoteString(before)}`];
    return [
      `RESET PERSIST IF EXISTS ${name}`,
      `SET GLOBAL ${name} = ${quoteString(running.get(name) ?? '')}`,
    ];
  });
}

/** The file holds the bytes, mode and owner it had (through a link, as the server reads it). */
function asBefore(f: FileState): boolean {
  try {
    const now = fs.statSync(f.path);
    const was = f.stat!;
    const sameStat = (now.mode & 0o777) === (was.mode & 0o777) && now.uid === was.uid && now.gid === was.gid;
    return sameStat && fs.readFileSync(f.path).equals(f.bytes!);
  } catch {
    return false;
  }
}

/**
 * ENABLE_FAILED: the files put back (each atomically, with its mode and, as root, its owner), `reapply`
 * run to load them, `voidIssued` run when the run issued the certificate; the message says what happened
 * to each, so that nothing is left unknown.
 */
export async function enableFailed(
  err: unknown,
  snapshot: EnableSnapshot,
  reapply: () => Promise<string>,
  voidIssued?: () => string,
): Promise<DbtlsError> {
  const restored: string[] = [];
  const failed: string[] = [];
  for (const f of snapshot.files) {
    try {
      if (f.bytes !== undefined && asBefore(f)) {
        restored.push(f.path); // a pair switched back (src/server/tls/install.ts) is as it was
        continue;
      }
      if (f.bytes === undefined) fs.rmSync(f.path, { force: true });
      else {
        writeFileAtomic(f.path, f.bytes, { mode: (f.stat?.mode ?? MODE_PUBLIC) & 0o777 });
        if (f.stat && process.getuid?.() === 0) fs.chownSync(f.path, f.stat.uid, f.stat.gid);
      }
      restored.push(f.path);
    } catch (restoreErr) {
      failed.push(`${f.path} (${causeText(restoreErr)})`);
    }
  }
  let again = '';
  if (failed.length === 0) {
    try {
      again = `; ${await reapply()}`;
    } catch (reapplyErr) {
      again = `; loading them again failed too (${causeText(reapplyErr)})`;
    }
  }
  let voided = '';
  try {
    voided = voidIssued ? `; ${voidIssued()}` : '';
  } catch (voidErr) {
    voided = `; the certificate issued for it could not be voided in the CA (${causeText(voidErr)})`;
  }
  const outcome =
    failed.length === 0
      ? `the previous server files were put back${again}`
      : `could not put back ${failed.join(', ')}: restore them from a backup before the server restarts`;
  return new DbtlsError('ENABLE_FAILED', `could not enable TLS: ${causeText(err)}; ${outcome}${voided}`, {
    hint: 'fix the cause above and run the same `dbtls server enable` again',
    cause: err,
    details: { restored },
  });
}
