/**
 * `dbtls secure --undo`: puts back what `dbtls secure` recorded in <ca-dir>/secure.json, newest change
 * first: REQUIRE clauses, require_secure_transport, client certificate files, the server's files and config
 * fragment. It removes only what that run made (issue 10, items 1 and 2):
 * - the certificates it issued are revoked through the CA (src/ca/revoke.ts), and the CA itself stays
 *   unless it was made by secure, issued nothing else, and --remove-ca asks for its deletion;
 * - a directory is removed only when it is empty and no option file of the server includes it
 *   (a missing `!includedir` stops mariadbd at start);
 * - every account that needs TLS to log in is named, with the statement that lets it in again, when the
 *   server will run without TLS.
 * MariaDB cannot turn TLS off online, so the last step is a restart (or a note that one is needed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readIndex } from '../../ca/cert-index.js';
import { LEAF_FILES } from '../../ca/leaf-files.js';
import { retireCertificates } from '../../ca/revoke.js';
import { caPath, withCaLock } from '../../ca/store.js';
import { DbtlsError } from '../../errors.js';
import { address } from '../../tls/dsn.js';
import { alterRequireStatement } from '../accounts/require.js';
import { describeRequirement, listAccounts } from '../accounts/users.js';
import { checkPrivileges, checkWritable } from '../admin/preflight.js';
import type { AdminSession, SessionOptions } from '../admin/session.js';
import {
  includerOf,
  type OptionChain,
  readOptionChain,
  serverOptionChain,
  serverSetting,
} from '../tls/option-files.js';
import { removeUnusedLayout } from '../tls/served-pair.js';
import { type SecureStep, step } from './plan.js';
import { openSecureAdmin, withSteps } from './run.js';
import type { SecureResult } from './secure.js';
import { readSecureState, restoreFile, type SecureRecord, writeSecureState } from './state.js';

export interface UndoOptions {
  readonly caDir: string;
  readonly restart?: (() => Promise<void>) | undefined;
  readonly now?: Date | undefined;
  /** Delete the CA when secure created it and it issued nothing else (never by default). */
  readonly removeCa?: boolean | undefined;
  /** The option file the server reads first; default: found from the running server. */
  readonly serverConfig?: string | undefined;
  /** Plan only: the steps say what would be done; nothing is changed. */
  readonly dryRun?: boolean | undefined;
  /** How long to wait for another dbtls that holds the CA lock before LOCKED (default 60 s). */
  readonly lockTimeoutMs?: number | undefined;
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

class Steps {
  readonly list: SecureStep[] = [];
  constructor(readonly dryRun: boolean) {}
  /** Runs `act` unless this is a dry run, and records the step as done or planned. */
  do(name: string, detail: string, planned: string, act: () => void): void {
    if (this.dryRun) this.list.push(step(name, 'planned', planned));
    else {
      act();
      this.list.push(step(name, 'done', detail));
    }
  }
  add(s: SecureStep): void {
    this.list.push(s);
  }
}

/** REQUIRE clauses and require_secure_transport back as they were. */
async function undoSql(session: AdminSession, record: SecureRecord, steps: Steps): Promise<void> {
  for (const r of [...record.requirements].reverse()) {
    const statement = alterRequireStatement({ user: r.user, host: r.host }, r.before);
    const name = `require '${r.user}'@'${r.host}'`;
    if (steps.dryRun) steps.add(step(name, 'planned', `run ${statement}`));
    else {
      await session.query(statement);
      steps.add(step(name, 'done', `back to REQUIRE ${describeRequirement(r.before)}`));
    }
  }
  if (record.requireSecureTransportBefore !== undefined && record.requireSecureTransportBefore !== 'ON') {
    // A record of an earlier dbtls on a server without the variable says OFF: there is nothing to set.
    if (!session.capabilities.requireSecureTransport)
      steps.add(
        step(
          'require-secure-transport',
          'skipped',
          `${session.version.text} has no require_secure_transport`,
        ),
      );
    else if (steps.dryRun)
      steps.add(step('require-secure-transport', 'planned', 'run SET GLOBAL require_secure_transport = OFF'));
    else {
      await session.query('SET GLOBAL require_secure_transport = OFF');
      steps.add(step('require-secure-transport', 'done', 'back to OFF'));
    }
  }
}

/** The client certificate files secure wrote (only those), then their directory when it is left empty. */
function undoClientDirs(record: SecureRecord, steps: Steps): void {
  for (const dir of [...record.createdDirs].reverse()) {
    const files = LEAF_FILES.map((f) => path.join(dir, f)).filter((f) => fs.existsSync(f));
    if (steps.dryRun) {
      steps.add(step('client-certificate', 'planned', `remove ${files.join(', ')} and then ${dir} if empty`));
      continue;
    }
    for (const f of files) fs.rmSync(f, { force: true });
    const removed = removeIfEmpty(dir);
    steps.add(
      step(
        'client-certificate',
        'done',
        removed === 'kept (not empty)'
          ? `removed ${files.map((f) => path.basename(f)).join(', ')} from ${dir}, kept the directory (other files are in it)`
          : `removed ${dir}`,
      ),
    );
  }
}

function undoFilesAndDirs(record: SecureRecord, chain: OptionChain, steps: Steps): void {
  for (const change of [...record.files].reverse()) {
    const verb = change.previous === null ? 'remove' : 'restore';
    const detail = steps.dryRun ? '' : `${verb === 'remove' ? 'removed' : 'restored'} ${change.path}`;
    steps.do('file', detail, `${verb} ${change.path}`, () => restoreFile(change));
  }
  // A rotation after secure turned the server's files into links to generations (served-pair.ts).
  const paths = record.files.map((f) => f.path);
  for (const file of paths) {
    if (steps.dryRun) continue;
    const removed = removeUnusedLayout(file, paths);
    if (removed) steps.add(step('file', 'done', `removed ${removed} (the generations rotate kept)`));
  }
  for (const dir of [...(record.madeDirs ?? [])].reverse()) {
    const includer = includerOf(chain, dir);
    if (includer) {
      // Removing it would stop the server at its next start ("Fatal error in defaults handling").
      steps.add(step('directory', 'skipped', `kept ${dir}: ${includer.from} includes it (!includedir)`));
      continue;
    }
    if (steps.dryRun) {
      if (fs.existsSync(dir)) steps.add(step('directory', 'planned', `remove ${dir} if it is empty`));
      continue;
    }
    const removed = removeIfEmpty(dir);
    if (removed !== 'gone')
      steps.add(step('directory', removed === 'removed' ? 'done' : 'skipped', `${removed} ${dir}`));
  }
}

/**
 * The CA: the certificates this run issued are revoked (through the CA's own revocation), and the CA is
 * deleted only when secure created it, nothing else was issued from it, and --remove-ca asks for it.
 */
function undoCa(caDir: string, key: string, record: SecureRecord, o: UndoOptions, steps: Steps): void {
  const ours = new Set(record.issued);
  const look = () => {
    const entries = fs.existsSync(caDir) ? readIndex(caDir) : [];
    // A void entry was never delivered (src/ca/journal.ts): it is not something the CA issued.
    const others = entries.filter((e) => !ours.has(e.serial) && e.status !== 'void');
    const state = readSecureState(caDir);
    const otherServers = Object.keys(state.servers).filter((k) => k !== key);
    const removable = !!(record.createdCa && o.removeCa) && others.length === 0 && otherServers.length === 0;
    return { entries, others, state, otherServers, removable };
  };
  let seen = look();
  if (seen.removable && steps.dryRun) {
    steps.add(step('ca', 'planned', `remove the CA in ${caDir}`));
    return;
  }
  if (seen.removable) {
    // Decided again and done under the CA lock: a certificate another dbtls issued meanwhile keeps its CA.
    const removed = withCaLock(
      caDir,
      () => {
        seen = look();
        if (seen.removable) fs.rmSync(caDir, { recursive: true, force: true });
        return seen.removable;
      },
      o.lockTimeoutMs,
    );
    if (removed) {
      steps.add(step('ca', 'done', `removed the CA secure created in ${caDir}`));
      return;
    }
  }
  const { entries, others, state, otherServers } = seen;
  const toRevoke = entries.filter((e) => ours.has(e.serial) && e.status === 'valid');
  const now = o.now ?? new Date();
  steps.do(
    'ca',
    `revoked the ${toRevoke.length} certificate(s) secure issued (cessationOfOperation)`,
    `revoke the ${toRevoke.length} certificate(s) secure issued: ${toRevoke.map((e) => e.serial).join(', ') || 'none'}`,
    () => {
      // One that was revoked in the meantime by hand is left as it is: that is the state undo wants.
      retireCertificates(
        caDir,
        toRevoke.map((e) => e.serial),
        'cessationOfOperation',
        now,
      );
      const { [key]: _dropped, ...servers } = state.servers;
      writeSecureState(caDir, { ...state, servers });
    },
  );
  const why =
    others.length > 0 || otherServers.length > 0
      ? `it issued ${others.length} other certificate(s)${otherServers.length ? ` and secures ${otherServers.join(', ')}` : ''}`
      : record.createdCa
        ? 'pass --remove-ca to delete it'
        : 'secure did not create it';
  steps.add(step('ca', 'skipped', `kept the CA in ${caDir}: ${why}`));
}

/**
 * Accounts that cannot log in once the server runs without TLS: named, with the statement that lets each
 * in again (not run: an account's REQUIRE is the DBA's decision, and it may come back with TLS).
 */
async function lockoutWarnings(
  session: AdminSession,
  chain: OptionChain,
  record: SecureRecord,
  steps: Steps,
): Promise<void> {
  // The option files as undo leaves them: on disk after a real run; in a dry run, the recorded contents of
  // the files undo would restore or remove, so that the plan names the same accounts.
  const restored = new Map(
    record.files.map((f) => [
      f.path,
      f.previous === null ? undefined : Buffer.from(f.previous, 'base64').toString('utf8'),
    ]),
  );
  const read = (file: string): string | undefined => {
    if (steps.dryRun && restored.has(file)) return restored.get(file);
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  };
  const after = readOptionChain(chain.roots, chain.source, read);
  const tlsAfter = !!serverSetting(after, 'ssl_cert') || !!serverSetting(after, 'ssl_key');
  if (tlsAfter) return;
  const reverted = new Set(record.requirements.map((r) => `${r.user}@${r.host}`));
  const accounts = await listAccounts(session, session.capabilities);
  for (const a of accounts) {
    if (a.requirement.type === 'NONE' || reverted.has(`${a.user}@${a.host}`)) continue;
    steps.add(
      step(
        `account '${a.user}'@'${a.host}'`,
        steps.dryRun ? 'planned' : 'pending',
        `${steps.dryRun ? 'warn that ' : ''}REQUIRE ${describeRequirement(a.requirement)} cannot be met once the server runs without TLS: it will be locked out; to let it in without TLS run ${alterRequireStatement(a, { type: 'NONE' })}`,
      ),
    );
  }
}

/** `dbtls secure --undo`: puts back what secure recorded, newest change first. */
export async function undoSecure(admin: SessionOptions, o: UndoOptions): Promise<SecureResult> {
  const caDir = path.resolve(o.caDir);
  // The record's key as secure writes it, unbracketed since the first state files: not a display spelling.
  const key = `${admin.host}:${admin.port}`;
  const state = fs.existsSync(caDir) ? readSecureState(caDir) : { version: 1 as const, servers: {} };
  const record = state.servers[key];
  if (!record) {
    throw new DbtlsError(
      'SECURE_NOTHING_TO_UNDO',
      `could not undo dbtls secure for ${address(admin.host, admin.port)}: ${caDir} has no record of it`,
      {
        hint: 'pass the --ca-dir that secure used; undo only reverts what secure itself recorded',
      },
    );
  }
  const dryRun = o.dryRun === true;
  const steps = new Steps(dryRun);
  // Before any change: another dbtls writing this CA (an issue, a rotate) finishes first, or undo stops
  // here with LOCKED and nothing changed. Its CA step takes the lock again for what it does.
  if (!dryRun) withCaLock(caDir, () => undefined, o.lockTimeoutMs);
  try {
    const session = await openSecureAdmin(admin, caPath(caDir, 'root'));
    let chain: OptionChain;
    try {
      // Before any change: the option files decide which directories must stay.
      chain = await serverOptionChain(session, o.serverConfig);
      // Undo sets require_secure_transport only to put back an OFF that secure changed.
      const setsGlobal =
        record.requireSecureTransportBefore !== undefined && record.requireSecureTransportBefore !== 'ON';
      await checkPrivileges(session, 'secure', { setsGlobal });
      checkWritable([
        ...record.files.map((f) => ({ path: f.path, what: 'a file secure wrote' })),
        ...record.createdDirs.map((d) => ({ path: d, what: 'a client certificate directory' })),
        { path: caDir, what: 'the CA directory' },
      ]);
      await undoSql(session, record, steps);
      undoClientDirs(record, steps);
      undoFilesAndDirs(record, chain, steps);
      await lockoutWarnings(session, chain, record, steps);
    } finally {
      await session.close();
    }
    undoCa(caDir, key, record, o, steps);
    if (dryRun) {
      steps.add(
        step(
          'restart',
          'planned',
          o.restart ? 'restart the server (--restart-command)' : 'leave the restart to you',
        ),
      );
    } else if (o.restart) {
      await o.restart();
      steps.add(step('restart', 'done', 'restarted the server with its old settings'));
    } else {
      steps.add(
        step(
          'restart',
          'pending',
          'restart the server to drop the TLS settings (ssl_* are read-only at run time)',
        ),
      );
    }
  } catch (err) {
    throw withSteps(err, steps.list);
  }
  return {
    steps: steps.list,
    caDir,
    caFile: caPath(caDir, 'root'),
    serverFingerprint: undefined,
    clients: [],
    pending: steps.list.some((s) => s.status === 'pending'),
    changed: !dryRun,
    dryRun,
  };
}
