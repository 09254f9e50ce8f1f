/**
 * What deletes or moves the files of a CA holds the CA's lock (src/ca/store.ts): `secure --undo` (which can
 * delete the CA it made) and the rollover's promotion of the new CA (which renames the CA files). While
 * another process holds the lock they fail with LOCKED and leave every file where it was. The rollover's
 * refusal to retire a CA still in use names the commands that settle it, runnable as printed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import { openCa } from '../../../src/ca/store.js';
import { DbtlsError } from '../../../src/errors.js';
import type { AdminSession } from '../../../src/server/admin/session.js';
import { capabilitiesOf } from '../../../src/server/flavor.js';
import { type RolloverState, writeRolloverState } from '../../../src/server/rotation/rollover.js';
import { runStage } from '../../../src/server/rotation/rollover-stages.js';
import { writeSecureState } from '../../../src/server/secure/state.js';
import { undoSecure } from '../../../src/server/secure/undo.js';
import { runCli } from '../../harness/cli.js';

const NOW = new Date('2026-11-23T09:00:00Z');

let tmp: string;
let holder: ChildProcess | undefined;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-ca-lock-'));
});
afterEach(() => {
  holder?.kill();
  holder = undefined;
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Another live process holds the lock of `caDir`, as a running `dbtls issue` would. */
function holdLock(caDir: string): string {
  holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
  fs.writeFileSync(path.join(caDir, '.lock'), String(holder.pid));
  return String(holder.pid);
}

/** Every file under `dir` with its content, to prove nothing moved or changed. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const file = path.join(dir, name);
    if (fs.statSync(file).isFile()) out[name] = fs.readFileSync(file, 'utf8');
  }
  return out;
}

const isLocked = (err: unknown) => err instanceof DbtlsError && err.code === 'LOCKED';

/**
 * The session of a stage that fails before it changes the server: none is opened. It answers what every
 * server stage asks first (a MariaDB that reloads TLS online, an admin with every privilege, no ssl_ca
 * or ssl_crl file to check) and refuses anything else.
 */
const UNUSED_SESSION = {
  capabilities: capabilitiesOf('10.11.6-MariaDB'),
  account: { user: 'root', host: 'localhost' },
  async query(sql: string) {
    if (sql === 'SHOW GRANTS')
      return [{ 'Grants for root@localhost': 'GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost`' }];
    if (sql.startsWith('SHOW GLOBAL VARIABLES')) return [];
    throw new Error(`the stage reached the server: ${sql}`);
  },
} as unknown as AdminSession;

function rolloverState(completed: RolloverState['completed']): RolloverState {
  const root = { subject: '/CN=old', fingerprint: 'aa', notAfter: '2036-01-01T00:00:00.000Z' };
  return { version: 1, startedAt: NOW.toISOString(), completed, oldRoot: root, history: [] };
}

describe('the CA lock', () => {
  it('secure --undo --remove-ca while another process holds the CA lock: LOCKED, nothing deleted', async () => {
    const caDir = path.join(tmp, 'undo-ca');
    initCa(caDir, { passphrase: undefined, cn: 'secure CA', now: NOW });
    const record = { createdCa: true, files: [], issued: [], createdDirs: [], requirements: [] };
    writeSecureState(caDir, { version: 1, servers: { '127.0.0.1:1': record } });
    const pid = holdLock(caDir);
    const before = snapshot(caDir);
    await assert.rejects(
      undoSecure(
        { host: '127.0.0.1', port: 1, user: 'root', tls: { mode: 'disable' } },
        { caDir, removeCa: true, lockTimeoutMs: 50 },
      ),
      isLocked,
    );
    assert.deepEqual(snapshot(caDir), before);
    assert.equal(fs.readFileSync(path.join(caDir, '.lock'), 'utf8'), pid, "the holder's lock is untouched");
  });

  it('the rollover promotes the new CA only under the CA lock: LOCKED, nothing renamed', async () => {
    const caDir = path.join(tmp, 'rollover-ca');
    initCa(caDir, { passphrase: undefined, cn: 'old CA', now: NOW });
    initCa(path.join(caDir, 'next'), { passphrase: undefined, cn: 'new CA', now: NOW });
    writeRolloverState(caDir, rolloverState(['new-ca', 'trust-both']));
    holdLock(caDir);
    const before = snapshot(caDir);
    await assert.rejects(
      runStage(caDir, 'reissue', { session: UNUSED_SESSION, now: NOW, lockTimeoutMs: 50 }),
      isLocked,
    );
    assert.deepEqual(snapshot(caDir), before);
  });

  it('retire-old refused while the old CA has a valid leaf: the hint revokes it, pasted as printed', async () => {
    const caDir = path.join(tmp, 'retire ca');
    const previous = path.join(caDir, 'previous');
    initCa(caDir, { passphrase: undefined, cn: 'new CA', now: NOW });
    initCa(previous, { passphrase: undefined, cn: 'old CA', now: NOW });
    const stray = issueCertificate(openCa(previous), { profile: 'client', cn: 'stray', now: NOW });
    writeRolloverState(caDir, rolloverState(['new-ca', 'trust-both', 'reissue']));
    const refusal = await runStage(caDir, 'retire-old', { session: UNUSED_SESSION, now: NOW }).then(
      () => assert.fail('retire-old ran'),
      (err: DbtlsError) => err,
    );
    assert.equal(refusal.code, 'ROLLOVER_OLD_CA_IN_USE');
    assert.ok(
      refusal.hint?.startsWith(
        `re-issue each from the new CA: dbtls issue client --cn stray --ca-dir '${caDir}'; then `,
      ),
      refusal.hint,
    );
    const line = /mark each old one superseded: (.*); or wait until they expire$/.exec(
      refusal.hint ?? '',
    )?.[1];
    assert.equal(
      line,
      `dbtls revoke ${stray.cert.serial} --reason superseded --ca-dir '${previous}'`,
      'the path with a space is one shell word',
    );
    // Split as a POSIX shell splits it (single quotes hold a word together).
    const words = (line ?? '').match(/'[^']*'|\S+/g)!.map((w) => w.replace(/^'(.*)'$/, '$1'));
    const revoked = await runCli(words.slice(1));
    assert.equal(revoked.code, 0, revoked.stderr);
    const entry = readIndex(previous).find((e) => e.serial === stray.cert.serial);
    assert.deepEqual([entry?.status, entry?.revocationReason], ['revoked', 'superseded']);
  });
});
