/**
 * Leaf rotation against a real MariaDB: the server certificate is replaced and reloaded while a session
 * stays open and a loop keeps opening new connections; nothing fails, nothing restarts, the new
 * certificate is what new connections get. Then the CLI does it once more.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import type { Ca } from '../../../src/ca/store.js';
import {
  type AdminSession,
  openAdminSession,
  openSession,
  type SessionOptions,
} from '../../../src/server/admin/session.js';
import { rotateServerCertificate } from '../../../src/server/rotation/rotate.js';
import { probeServedCertificate } from '../../../src/server/tls/reload.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { opensslVerify } from '../../harness/oracles.js';
import { killConnectLoops, startConnectLoop } from './connect-loop.js';

let tmp: string;
let ca: Ca;
let db: MariadbInstance;
let admin: AdminSession;
let options: SessionOptions;
const ssl = () => path.join(tmp, 'ssl');

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-rotate-'));
  ca = initCa(path.join(tmp, 'ca'), { passphrase: undefined, cn: 'rotate test CA' });
  const issued = issueCertificate(ca, {
    profile: 'server',
    cn: 'localhost',
    dns: ['localhost'],
    ip: ['127.0.0.1'],
  });
  fs.mkdirSync(ssl());
  fs.writeFileSync(path.join(ssl(), 'server-cert.pem'), issued.chainPem);
  fs.writeFileSync(path.join(ssl(), 'server-key.pem'), issued.keyPem!, { mode: 0o600 });
  fs.writeFileSync(path.join(ssl(), 'ca.pem'), ca.caPem());
  db = await startMariadb({
    users: [{ name: 'app', password: 'app-pw' }],
    tls: {
      ca: path.join(ssl(), 'ca.pem'),
      cert: path.join(ssl(), 'server-cert.pem'),
      key: path.join(ssl(), 'server-key.pem'),
    },
  });
  options = {
    host: db.host,
    port: db.port,
    user: db.admin.user,
    password: db.admin.password,
    tls: { mode: 'verify-full', ca: path.join(tmp, 'ca', 'root.pem') },
  };
  admin = await openAdminSession(options);
});

/** 'app' connecting in a loop from another process, verifying the server with the CA's root. */
const appLoop = () =>
  startConnectLoop({
    host: db.host,
    port: db.port,
    user: 'app',
    password: 'app-pw',
    ca: path.join(tmp, 'ca', 'root.pem'),
  });

after(async () => {
  killConnectLoops();
  await admin?.close();
  await db?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('rotate while a session is open and another process connects in a loop: no connection fails, the session lives on', async () => {
  const pid = db.pid;
  const before = await probeServedCertificate(db.host, db.port);
  const open = await openSession(options);
  assert.deepEqual(await open.query('SELECT 1 AS one'), [{ one: 1 }]);

  const loop = appLoop();
  // Connections before, during and after the rotation.
  await loop.attempts(10);
  const result = await rotateServerCertificate(admin, ca);
  await loop.attempts(loop.count + 10);
  const report = await loop.stop();

  assert.deepEqual(report.failures, []);
  assert.notEqual(report.pid, process.pid);
  // The loop saw the old certificate, then the new one, and nothing else.
  assert.deepEqual(report.fingerprints, [before.fingerprint, result.after.fingerprint]);
  assert.ok((report.counts.get(result.after.fingerprint) ?? 0) >= 10, `${report.attempts} attempts`);
  // The session opened before the rotation still runs queries, still over TLS.
  assert.deepEqual(await open.query('SELECT 2 AS two'), [{ two: 2 }]);
  const [tlsRow] = await open.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
  assert.match(String(tlsRow?.Value), /^TLSv1\.[23]$/);
  await open.close();
  assert.equal(db.pid, pid, 'the server was not restarted');
  assert.equal(result.statement, 'FLUSH SSL');
  assert.equal(result.before.fingerprint, before.fingerprint);
  assert.notEqual(result.after.fingerprint, before.fingerprint);
  const served = await probeServedCertificate(db.host, db.port);
  assert.equal(served.fingerprint, result.after.fingerprint);
  assert.deepEqual([...result.names.dns], ['localhost']);
  assert.deepEqual([...result.names.ip], ['127.0.0.1']);
  // Same paths, a new key, still only the owner can read it.
  assert.equal(result.files.key, path.join(ssl(), 'server-key.pem'));
  assert.equal(fs.statSync(result.files.key).mode & 0o777, 0o600);
  const verify = await opensslVerify({
    ca: path.join(tmp, 'ca', 'root.pem'),
    cert: result.files.cert,
    purpose: 'sslserver',
    ip: '127.0.0.1',
  });
  assert.ok(verify.ok, verify.stderr + verify.stdout);
  const index = readIndex(ca.dir);
  const old = index.find((e) => e.serial === result.before.serial);
  const fresh = index.find((e) => e.serial === result.after.serial);
  assert.equal(old?.status, 'revoked');
  assert.equal(old?.revocationReason, 'superseded');
  assert.equal(fresh?.status, 'valid');
  assert.equal(fresh?.renewedFrom, result.before.serial);
});

test('dbtls rotate (CLI) rotates again under the connect loop and reports the proof; a certificate from another CA is refused', async () => {
  const pwFile = path.join(tmp, 'admin.pw');
  fs.writeFileSync(pwFile, `${db.admin.password}\n`, { mode: 0o600 });
  const before = await probeServedCertificate(db.host, db.port);
  const pid = db.pid;
  const loop = appLoop();
  await loop.attempts(10);
  const res = await runCli([
    'rotate',
    `127.0.0.1:${db.port}`,
    '--ca-dir',
    path.join(tmp, 'ca'),
    '--user',
    db.admin.user,
    '--password-file',
    pwFile,
  ]);
  assert.equal(res.code, 0, res.stderr);
  await loop.attempts(loop.count + 10);
  const report = await loop.stop();
  const after = await probeServedCertificate(db.host, db.port);
  assert.notEqual(after.fingerprint, before.fingerprint);
  assert.deepEqual(report.failures, []);
  assert.deepEqual(report.fingerprints, [before.fingerprint, after.fingerprint]);
  assert.equal(db.pid, pid);
  assert.match(res.stdout, /without a restart/);
  assert.ok(res.stdout.includes(`Proved: new connections get sha256 ${after.fingerprint}`), res.stdout);

  const other = initCa(path.join(tmp, 'other-ca'), { passphrase: undefined, cn: 'other CA' });
  await assert.rejects(rotateServerCertificate(admin, other), { code: 'CERT_NOT_FROM_CA' });
  assert.equal((await probeServedCertificate(db.host, db.port)).fingerprint, after.fingerprint);
});
