/**
 * `dbtls require` killed at each of its steps (issue 10 items 9, 17), against a real MariaDB: strace kills
 * the real CLI at the Nth rename(2) (the journal), connect(2) (the admin session, then the check login,
 * which comes after ALTER USER), and unlink(2) (the journal's removal once the check passed), for each N
 * until a run completes. After each kill: the account is not locked out (it logs in as before, or with the
 * client certificate it was meant for when the change is in place); the documented recovery (the next
 * dbtls command on the server, here `dbtls users`) settles any journal and leaves no temp file; the same
 * `require` again succeeds, checked by a login. Each kill point has its own account and state directory.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../../harness/cli.js';
import { dbtlsKilledAt, eachKillPoint, tempLeftovers, wasKilled } from '../../harness/kill-points.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { mariadbClient } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

/** Two kill points at a time: the machine has two cores. */
const CONCURRENCY = 2;
const PASSWORD = 'app secret';

let pki: TestPki;
let work: string;
let db: MariadbInstance;
let adminFlags: string[];
let passwordFile: string;

before(async () => {
  pki = await makeTestPki();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-require-kill-'));
  db = await startMariadb({ tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key } });
  const adminPassword = path.join(work, 'admin.pw');
  fs.writeFileSync(adminPassword, db.admin.password, { mode: 0o600 });
  passwordFile = path.join(work, 'app.pw');
  fs.writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  adminFlags = ['--user', db.admin.user, '--password-file', adminPassword, '--ca', pki.ca];
});

after(async () => {
  await db?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** The account's ssl_type as the server stores it: 0 none, 1 SSL, 2 X509, 3 SPECIFIED. */
async function sslType(user: string): Promise<number> {
  const priv = await db.sql(`SELECT Priv FROM mysql.global_priv WHERE User='${user}' AND Host='%'`);
  return JSON.parse(priv.trim()).ssl_type as number;
}

/** A login as `user` over verified TLS, with or without the client certificate. */
async function logsIn(user: string, withCertificate: boolean): Promise<boolean> {
  const r = await mariadbClient({
    port: db.port,
    user,
    password: PASSWORD,
    ssl: {
      ca: pki.ca,
      verifyServerCert: true,
      ...(withCertificate ? { cert: pki.client.cert, key: pki.client.key } : {}),
    },
    sql: 'SELECT CURRENT_USER()',
  });
  return r.ok && r.stdout.trim() === `${user}@%`;
}

/** `require` from `from` to `to` for the kill point's own account. */
interface Change {
  readonly name: string;
  readonly from: 'NONE' | 'X509';
  readonly to: 'NONE' | 'X509';
}

/** The flags of the change: the requirement, and the client the check login (and the account) uses. */
const changeFlags = (to: Change['to']) => [
  to === 'X509' ? '--x509' : '--none',
  '--verify-cert',
  pki.client.cert,
  '--verify-key',
  pki.client.key,
];

/** The account logs in: as it did before the change, or as it does after it (its own client, TLS). */
async function notLockedOut(user: string, c: Change, what: string): Promise<'before' | 'after'> {
  const state = (await sslType(user)) === 2 ? 'X509' : 'NONE';
  // X509 takes the client certificate; NONE takes the password over TLS alone (and with a certificate).
  assert.ok(await logsIn(user, state === 'X509'), `${what}: ${user} (REQUIRE ${state}) is locked out`);
  if (state === 'X509') assert.equal(await logsIn(user, false), false, `${what}: X509 is enforced`);
  assert.ok(state === c.from || state === c.to, `${what}: REQUIRE ${state}`);
  return state === c.from ? 'before' : 'after';
}

async function killPoint(c: Change, syscall: string, n: number): Promise<'killed' | 'completed'> {
  const what = `${c.name}: ${syscall} #${n}`;
  const user = `k_${c.name}_${syscall}_${n}`;
  const state = path.join(work, `state-${user}`);
  const env = { DBTLS_STATE_DIR: state };
  await db.sql(
    `CREATE OR REPLACE USER '${user}'@'%' IDENTIFIED BY '${PASSWORD}' REQUIRE ${c.from === 'X509' ? 'X509' : 'NONE'}; GRANT USAGE ON *.* TO '${user}'@'%';`,
  );
  const args = [
    'require',
    `127.0.0.1:${db.port}`,
    `'${user}'@'%'`,
    ...adminFlags,
    '--verify-password-file',
    passwordFile,
    ...changeFlags(c.to),
  ];
  const r = await dbtlsKilledAt({ syscall, n }, args, { env });
  if (r.code === 0) {
    assert.equal(await notLockedOut(user, c, what), 'after');
    return 'completed';
  }
  assert.ok(wasKilled(r), `${what}: killed, not failed (${r.code}): ${r.stderr}`);
  await notLockedOut(user, c, `${what}, after the kill`);
  // The documented recovery: the next dbtls command with an admin session on this server.
  const users = await runCli(['users', `127.0.0.1:${db.port}`, ...adminFlags], { env });
  assert.equal(users.code, 0, `${what}: ${users.stderr}`);
  await notLockedOut(user, c, `${what}, after the recovery`);
  assert.deepEqual(fs.existsSync(state) ? fs.readdirSync(state) : [], [], `${what}: every journal settled`);
  const again = await runCli(args, { env });
  assert.equal(again.code, 0, `${what}: the same require again: ${again.stderr}`);
  assert.equal(await notLockedOut(user, c, `${what}, after the next run`), 'after');
  assert.deepEqual(fs.readdirSync(state), [], `${what}: no journal left`);
  assert.deepEqual(tempLeftovers(state), []);
  return 'killed';
}

for (const c of [
  { name: 'x509', from: 'NONE', to: 'X509' },
  { name: 'none', from: 'X509', to: 'NONE' },
] as const) {
  test(`require ${c.to === 'X509' ? '--x509' : '--none'} killed at each rename, connect and unlink: nobody locked out, the recovery and the next run complete`, async (t) => {
    const counts: string[] = [];
    for (const syscall of ['rename', 'connect', 'unlink']) {
      const completedAt = await eachKillPoint((n) => killPoint(c, syscall, n), {
        concurrency: CONCURRENCY,
        max: 10,
      });
      counts.push(`${completedAt - 1} ${syscall}`);
    }
    t.diagnostic(`a require run makes ${counts.join(', ')}`);
    // The journal (one rename), the admin session and the check login (two connects), its removal (one unlink).
    assert.deepEqual(counts, ['1 rename', '2 connect', '1 unlink']);
  });
}

test('the recovery killed after its revert, before it removes the journal: the next command finds the account as before and clears it', async () => {
  const c: Change = { name: 'recovery', from: 'NONE', to: 'X509' };
  const user = 'k_recovery';
  const state = path.join(work, 'state-recovery');
  const env = { DBTLS_STATE_DIR: state };
  await db.sql(
    `CREATE OR REPLACE USER '${user}'@'%' IDENTIFIED BY '${PASSWORD}'; GRANT USAGE ON *.* TO '${user}'@'%';`,
  );
  const args = [
    'require',
    `127.0.0.1:${db.port}`,
    `'${user}'@'%'`,
    ...adminFlags,
    '--verify-password-file',
    passwordFile,
    ...changeFlags('X509'),
  ];
  assert.ok(wasKilled(await dbtlsKilledAt({ syscall: 'connect', n: 2 }, args, { env })));
  assert.equal(await notLockedOut(user, c, 'killed before the check'), 'after');
  const users = ['users', `127.0.0.1:${db.port}`, ...adminFlags];
  const recovery = await dbtlsKilledAt({ syscall: 'unlink', n: 1 }, users, { env });
  assert.ok(wasKilled(recovery), recovery.stderr);
  assert.equal(await notLockedOut(user, c, 'the recovery killed'), 'before', 'reverted before the kill');
  assert.equal(fs.readdirSync(state).length, 1, 'the journal is still there');
  const next = await runCli(users, { env });
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stderr, /which requires none as before it: nothing to revert$/m);
  assert.deepEqual(fs.readdirSync(state), []);
  assert.equal(await notLockedOut(user, c, 'settled'), 'before');
});
