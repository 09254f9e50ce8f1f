/**
 * `dbtls secure --undo`: puts back what `dbtls secure` recorded in <ca-dir>/secure.json, newest change
 * first: REQUIRE clauses, require_secure_transport, client certificate directories, the server's files
 * and config fragment, and the CA itself when secure created it (else its leaves are marked revoked).
 * MariaDB cannot turn TLS off online, so the last step is a restart (or a note that one is needed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { updateIndex } from '../ca/store.js';
import { DbtlsError } from '../errors.js';
import type { SessionOptions } from './admin.js';
import { alterRequireStatement } from './require.js';
import type { SecureResult } from './secure.js';
import { type SecureStep, step } from './secure-plan.js';
import { openSecureAdmin } from './secure-run.js';
import { readSecureState, restoreFile, writeSecureState } from './secure-state.js';
import { describeRequirement } from './users.js';

export interface UndoOptions {
  readonly caDir: string;
  readonly restart?: (() => Promise<void>) | undefined;
  readonly now?: Date | undefined;
}

/** Removes a directory secure made, unless something else was put in it since. */
function removeIfEmpty(dir: string): 'removed' | 'kept (not empty)' | 'gone' {
  try {
    fs.rmdirSync(dir);
    return 'removed';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'gone';
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return 'kept (not empty)';
    throw err;
  }
}

/** `dbtls secure --undo`: puts back what secure recorded, newest change first. */
export async function undoSecure(admin: SessionOptions, o: UndoOptions): Promise<SecureResult> {
  const caDir = path.resolve(o.caDir);
  const key = `${admin.host}:${admin.port}`;
  const state = fs.existsSync(caDir) ? readSecureState(caDir) : { version: 1 as const, servers: {} };
  const record = state.servers[key];
  if (!record) {
    throw new DbtlsError(
      'SECURE_NOTHING_TO_UNDO',
      `could not undo dbtls secure for ${key}: ${caDir} has no record of it`,
      {
        hint: 'pass the --ca-dir that secure used; undo only reverts what secure itself recorded',
      },
    );
  }
  const steps: SecureStep[] = [];
  const session = await openSecureAdmin(admin, path.join(caDir, 'root.pem'));
  try {
    for (const r of [...record.requirements].reverse()) {
      const account = { user: r.user, host: r.host };
      await session.query(alterRequireStatement(account, r.before));
      steps.push(
        step(`require '${r.user}'@'${r.host}'`, 'done', `back to REQUIRE ${describeRequirement(r.before)}`),
      );
    }
    if (record.requireSecureTransportBefore !== undefined && record.requireSecureTransportBefore !== 'ON') {
      await session.query('SET GLOBAL require_secure_transport = OFF');
      steps.push(step('require-secure-transport', 'done', 'back to OFF'));
    }
  } finally {
    await session.close();
  }
  for (const dir of [...record.createdDirs].reverse()) {
    fs.rmSync(dir, { recursive: true, force: true });
    steps.push(step('client-certificate', 'done', `removed ${dir}`));
  }
  for (const change of [...record.files].reverse()) {
    steps.push(step('file', 'done', `${restoreFile(change)} ${change.path}`));
  }
  for (const dir of [...(record.madeDirs ?? [])].reverse()) {
    const removed = removeIfEmpty(dir);
    if (removed !== 'gone')
      steps.push(step('directory', removed === 'removed' ? 'done' : 'skipped', `${removed} ${dir}`));
  }
  const now = (o.now ?? new Date()).toISOString();
  if (record.createdCa) {
    fs.rmSync(caDir, { recursive: true, force: true });
    steps.push(step('ca', 'done', `removed the CA secure created in ${caDir}`));
  } else {
    const issued = new Set(record.issued);
    updateIndex(caDir, (entries) =>
      entries.map((e) =>
        issued.has(e.serial) && e.status === 'valid'
          ? { ...e, status: 'revoked' as const, revokedAt: now, revocationReason: 'cessationOfOperation' }
          : e,
      ),
    );
    const { [key]: _dropped, ...servers } = state.servers;
    writeSecureState(caDir, { ...state, servers });
    steps.push(
      step('ca', 'done', `marked ${issued.size} certificate(s) secure issued as revoked in the index`),
    );
  }
  if (o.restart) {
    await o.restart();
    steps.push(step('restart', 'done', 'restarted the server with its old settings'));
  } else {
    steps.push(
      step(
        'restart',
        'pending',
        'restart the server to drop the TLS settings (ssl_* are read-only at run time)',
      ),
    );
  }
  return {
    steps,
    caDir,
    caFile: path.join(caDir, 'root.pem'),
    serverFingerprint: undefined,
    clients: [],
    pending: !o.restart,
    changed: true,
  };
}
