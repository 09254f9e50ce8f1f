/**
 * The harness's own tests: a real mariadbd starts from the template, restarts with TLS on the same
 * datadir, enforces REQUIRE clauses, and the oracles (mariadb client, s_client, sslscan) see it as it is.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, test } from 'node:test';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { mariadbClient, sClientStarttls, sslscan } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

let db: MariadbInstance;
let pki: TestPki;

before(async () => {
  pki = await makeTestPki();
  db = await startMariadb({
    users: [
      { name: 'x509_user', password: 'x509-pw', require: 'X509' },
      { name: 'subject_user', password: 'subject-pw', require: { subject: '/O=dbtls test/CN=dbtls_client' } },
      { name: 'plain_user', password: 'plain-pw', grants: 'SELECT ON mysql.*' },
    ],
  });
});

after(async () => {
  await db?.stop();
});

test('an instance starts and answers SELECT 1 as root and as the admin over TCP', async () => {
  assert.equal(await db.sql('SELECT 1'), '1\n');
  assert.equal(db.host, '127.0.0.1');
  assert.ok(fs.existsSync(db.configFile));
  const viaTcp = await mariadbClient({
    port: db.port,
    user: db.admin.user,
    password: db.admin.password,
    ssl: false,
    sql: 'SELECT CURRENT_USER()',
  });
  assert.equal(viaTcp.stdout, 'dbtls_admin@%\n', viaTcp.stderr);
  assert.equal(await db.sql('SELECT @@have_ssl'), 'DISABLED\n');
});

test('restart() with TLS keeps the datadir and changes the pid', async () => {
  await db.sql('CREATE DATABASE kept');
  const before = db.pid;
  await db.restart({
    tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
    users: [{ name: 'subject_user', password: 'subject-pw', require: { subject: pki.client.subject } }],
  });
  assert.notEqual(db.pid, before);
  assert.equal(await db.sql("SHOW DATABASES LIKE 'kept'"), 'kept\n');
  assert.equal(await db.sql('SELECT @@have_ssl, @@ssl_cert'), `YES\t${pki.server.cert}\n`);
});

test('the mariadb client verifies the server certificate and the session is TLS 1.2 or 1.3', async () => {
  const result = await mariadbClient({
    port: db.port,
    user: db.admin.user,
    password: db.admin.password,
    ssl: { ca: pki.ca, verifyServerCert: true },
    sql: "SHOW STATUS LIKE 'Ssl_version'",
  });
  assert.match(result.stdout, /^Ssl_version\tTLSv1\.[23]\n$/, result.stderr);
  const wrongCa = await mariadbClient({
    port: db.port,
    user: db.admin.user,
    password: db.admin.password,
    ssl: { ca: pki.otherCa, verifyServerCert: true },
    sql: 'SELECT 1',
  });
  assert.equal(wrongCa.ok, false);
  assert.match(wrongCa.stderr, /ERROR 2026/);
});

test('a REQUIRE X509 user is refused without a client certificate and admitted with one', async () => {
  const common = { port: db.port, user: 'x509_user', password: 'x509-pw', sql: 'SELECT CURRENT_USER()' };
  const without = await mariadbClient({ ...common, ssl: { ca: pki.ca, verifyServerCert: true } });
  assert.equal(without.ok, false);
  assert.match(without.stderr, /ERROR 1045 \(28000\): Access denied for user 'x509_user'/);
  const withCert = await mariadbClient({
    ...common,
    ssl: { ca: pki.ca, cert: pki.client.cert, key: pki.client.key, verifyServerCert: true },
  });
  assert.equal(withCert.stdout, 'x509_user@%\n', withCert.stderr);
});

test('REQUIRE SUBJECT matches the one-line subject of the test PKI client certificate', async () => {
  assert.equal(pki.client.subject, '/O=dbtls test/CN=dbtls_client');
  const ok = await mariadbClient({
    port: db.port,
    user: 'subject_user',
    password: 'subject-pw',
    ssl: { ca: pki.ca, cert: pki.client.cert, key: pki.client.key, verifyServerCert: true },
    sql: 'SELECT CURRENT_USER()',
  });
  assert.equal(ok.stdout, 'subject_user@%\n', ok.stderr);
  const otherIssuer = await mariadbClient({
    port: db.port,
    user: 'subject_user',
    password: 'subject-pw',
    ssl: { ca: pki.ca, cert: pki.otherClient.cert, key: pki.otherClient.key, verifyServerCert: true },
    sql: 'SELECT 1',
  });
  assert.equal(otherIssuer.ok, false);
});

test('openssl s_client -starttls mysql shows the server certificate and verifies it', async () => {
  const result = await sClientStarttls({ port: db.port, ca: pki.ca, verifyHostname: 'localhost' });
  assert.equal(result.ok, true, result.stdout + result.stderr);
  assert.match(result.protocol ?? '', /^TLSv1\.[23]$/);
  assert.ok(result.cipher);
  assert.equal(result.peerChainPem[0]?.trim(), fs.readFileSync(pki.server.cert, 'utf8').trim());
  const old = await sClientStarttls({ port: db.port, tlsVersion: '1.1' });
  assert.equal(old.ok, false);
  assert.equal(old.protocol, undefined);
  const wrongCa = await sClientStarttls({ port: db.port, ca: pki.otherCa });
  assert.equal(wrongCa.ok, false);
});

test('sslscan sees TLS 1.2 and 1.3 accepted, 1.0 and 1.1 refused', async () => {
  const scan = await sslscan({ port: db.port });
  assert.deepEqual(scan.versions, { 'TLSv1.0': false, 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': true });
  assert.ok(scan.ciphers.some((c) => c.version === 'TLSv1.3' && c.name === 'TLS_AES_256_GCM_SHA384'));
  assert.ok(scan.ciphers.some((c) => c.version === 'TLSv1.2' && c.name === 'ECDHE-ECDSA-AES128-GCM-SHA256'));
  assert.ok(scan.ciphers.every((c) => c.bits >= 128));
});

test('sql() works on a server narrowed to TLS 1.1 with a certificate the client does not trust', async () => {
  // The root session runs over the unix socket without TLS, so a test can narrow TLS as it likes.
  const narrowed = await startMariadb({
    tls: { cert: pki.otherServer.cert, key: pki.otherServer.key },
    tlsVersion: 'TLSv1.1',
    extra: { ssl_cipher: 'DEFAULT:@SECLEVEL=0' },
  });
  try {
    assert.equal(await narrowed.sql('SELECT @@tls_version, @@have_ssl'), 'TLSv1.1\tYES\n');
    assert.equal(await narrowed.sql("SHOW SESSION STATUS LIKE 'Ssl_version'"), 'Ssl_version\t\n');
  } finally {
    await narrowed.stop();
  }
});

test('sql() throws with the server error', async () => {
  await assert.rejects(db.sql('SELECT * FROM no_such_table'), /ERROR 1046|ERROR 1146/);
});

test('stop() ends the server, removes its directory and is idempotent', async () => {
  const { pid, dir } = db;
  await db.stop();
  assert.equal(fs.existsSync(dir), false);
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  await db.stop();
});
