/**
 * dbtls proxy against a real MariaDB with real clients that have NO TLS settings at all: the mariadb CLI,
 * PyMySQL (/usr/bin/python3) and mysql2 log in through the proxy as REQUIRE X509 and REQUIRE SUBJECT users,
 * and the server sees TLS. Failing upstream checks reach the client as an ERR naming cause and fix, and
 * a stripping relay captures no credential byte.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import type { RunningProxy } from '../../../src/proxy/proxy.js';
import { type Relay, startDowngradeRelay } from '../../harness/attacker.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { mariadbClient } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import {
  mariadbSocket,
  mysql2SslVersion,
  pymysql,
  SSL_VERSION_SQL,
  startTestProxy,
  tcpPort,
} from '../../harness/proxy.js';

const PASSWORD = 'proxy-pw-4711';
const X509_USER = 'app_x509';
const SUBJECT_USER = 'app_subject';
const NATIVE_USER = 'app_native';
const ED_USER = 'app_ed';

let pki: TestPki;
let db: MariadbInstance;
let proxy: RunningProxy;
let dir: string;
let socketPath: string;

before(async () => {
  pki = await makeTestPki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-proxy-'));
  socketPath = path.join(dir, 'mysql.sock');
  db = await startMariadb({
    tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
    users: [
      { name: X509_USER, password: PASSWORD, require: 'X509' },
      { name: SUBJECT_USER, password: PASSWORD, require: { subject: pki.client.subject } },
      { name: NATIVE_USER, password: PASSWORD, require: 'SSL' },
    ],
  });
  await db.sql("INSTALL SONAME 'auth_ed25519'");
  await db.sql(
    `CREATE OR REPLACE USER '${ED_USER}'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('${PASSWORD}') REQUIRE X509`,
  );
  await db.sql(`GRANT ALL ON *.* TO '${ED_USER}'@'%'`);
  proxy = await startTestProxy(pki, db.port, { socket: socketPath });
});

after(async () => {
  await proxy?.shutdown(0);
  await db?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('clients with no TLS settings log in through the proxy; the server sees mutual TLS', () => {
  it('the mariadb CLI over TCP and the unix socket, REQUIRE X509 and REQUIRE SUBJECT', async () => {
    for (const user of [X509_USER, SUBJECT_USER]) {
      const r = await mariadbClient({ port: tcpPort(proxy), user, password: PASSWORD, sql: SSL_VERSION_SQL });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Ssl_version\tTLSv1\.[23]$/m);
      const s = await mariadbSocket(socketPath, user, PASSWORD);
      assert.equal(s.code, 0, s.stderr);
      assert.match(s.stdout, /^Ssl_version\tTLSv1\.[23]$/m);
    }
    assert.equal((fs.statSync(socketPath).mode & 0o777).toString(8), '660');
  });

  it('PyMySQL over TCP and the unix socket', async () => {
    const results = await Promise.all([
      pymysql({ port: tcpPort(proxy) }, X509_USER, PASSWORD),
      pymysql({ port: tcpPort(proxy) }, SUBJECT_USER, PASSWORD),
      pymysql({ socket: socketPath }, X509_USER, PASSWORD),
    ]);
    for (const r of results) {
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout.trim(), /^TLSv1\.[23]$/);
    }
  });

  it('mysql2 over TCP and the unix socket', async () => {
    assert.match(await mysql2SslVersion({ port: tcpPort(proxy) }, X509_USER, PASSWORD), /^TLSv1\.[23]$/);
    assert.match(await mysql2SslVersion({ port: tcpPort(proxy) }, SUBJECT_USER, PASSWORD), /^TLSv1\.[23]$/);
    assert.match(await mysql2SslVersion({ socket: socketPath }, X509_USER, PASSWORD), /^TLSv1\.[23]$/);
  });

  it('mysql_native_password and ed25519 (an auth switch) accounts', async () => {
    const native = await mariadbClient({
      port: tcpPort(proxy),
      user: NATIVE_USER,
      password: PASSWORD,
      sql: SSL_VERSION_SQL,
    });
    assert.equal(native.code, 0, native.stderr);
    const ed = await mariadbClient({
      port: tcpPort(proxy),
      user: ED_USER,
      password: PASSWORD,
      sql: 'SELECT CURRENT_USER()',
    });
    assert.equal(ed.code, 0, ed.stderr);
    assert.equal(ed.stdout.trim(), `${ED_USER}@%`);
    const edSocket = await mariadbSocket(socketPath, ED_USER, PASSWORD);
    assert.equal(edSocket.code, 0, edSocket.stderr);
    // A wrong password is the server's answer, relayed unchanged.
    const wrong = await mariadbClient({
      port: tcpPort(proxy),
      user: X509_USER,
      password: 'nope',
      sql: 'SELECT 1',
    });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /ERROR 1045 \(28000\): Access denied for user 'app_x509'/);
  });
});

describe('an upstream that fails a check: ERR naming cause and fix, no credential byte sent', () => {
  it('a certificate for another name: HOSTNAME_MISMATCH in the client error', async () => {
    const p = await startTestProxy(pki, db.port, {
      tls: { servername: 'db2.example' },
    });
    try {
      const r = await mariadbClient({
        port: tcpPort(p),
        user: X509_USER,
        password: PASSWORD,
        sql: 'SELECT 1',
      });
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /ERROR 1043 \(08S01\): dbtls proxy: could not verify the certificate of 127\.0\.0\.1:\d+ for the name db2\.example: .* \(HOSTNAME_MISMATCH\); hint: /,
      );
      await assert.rejects(
        mysql2SslVersion({ port: tcpPort(p) }, X509_USER, PASSWORD),
        (err: { errno?: number; message: string }) => {
          assert.equal(err.errno, 1043);
          assert.match(err.message, /HOSTNAME_MISMATCH/);
          return true;
        },
      );
    } finally {
      await p.shutdown(0);
    }
  });

  it('an untrusted CA: CERT_UNTRUSTED', async () => {
    const p = await startTestProxy(pki, db.port, {
      tls: { ca: pki.otherCa },
    });
    try {
      const r = await pymysql({ port: tcpPort(p) }, X509_USER, PASSWORD);
      assert.equal(r.code, 1);
      assert.match(
        r.stdout,
        /^ERR 1043 dbtls proxy: could not verify the certificate .*\(CERT_UNTRUSTED\); hint: pass --ca/,
      );
    } finally {
      await p.shutdown(0);
    }
  });

  it('a TLS-stripping relay: TLS_NOT_OFFERED, and the relay captured no user name and no password', async () => {
    const relay: Relay = await startDowngradeRelay({ port: db.port });
    const p = await startTestProxy(pki, relay.port);
    try {
      const r = await mariadbClient({
        port: tcpPort(p),
        user: X509_USER,
        password: PASSWORD,
        sql: 'SELECT 1',
      });
      assert.equal(r.code, 1);
      // The CLI (TLS on by default, falling back) prints the ERR behind its own "cannot be verified" preface.
      assert.match(
        r.stderr,
        /1043 - dbtls proxy: could not connect to 127\.0\.0\.1:\d+ with ssl-mode verify-full: .*does not offer TLS .*\(TLS_NOT_OFFERED\); hint: /,
      );
      const py = await pymysql({ port: tcpPort(p) }, SUBJECT_USER, PASSWORD);
      assert.equal(py.code, 1);
      const seen = relay.clientBytes();
      assert.equal(seen.indexOf(X509_USER), -1);
      assert.equal(seen.indexOf(SUBJECT_USER), -1);
      assert.equal(seen.indexOf(PASSWORD), -1);
      assert.equal(seen.length, 0, 'the proxy sent nothing at all to a server that offers no TLS');
    } finally {
      await p.shutdown(0);
      await relay.close();
    }
  });
});

describe('TLS on the client leg (--listen-cert/--listen-key)', () => {
  it('clients hard-wired to verify the server log in through verified TLS on both legs', async () => {
    const p = await startTestProxy(pki, db.port, {
      listenTls: { cert: pki.server.cert, key: pki.server.key },
    });
    try {
      const cli = await mariadbClient({
        port: tcpPort(p),
        user: SUBJECT_USER,
        password: PASSWORD,
        ssl: { ca: pki.ca, verifyServerCert: true },
        sql: `${SSL_VERSION_SQL}; SELECT CURRENT_USER()`,
      });
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /^Ssl_version\tTLSv1\.[23]$/m);
      const conn = await mysql.createConnection({
        host: 'localhost',
        port: tcpPort(p),
        user: X509_USER,
        password: PASSWORD,
        ssl: { ca: fs.readFileSync(pki.ca, 'utf8'), verifyIdentity: true },
      });
      const [rows] = await conn.query(SSL_VERSION_SQL);
      assert.match(String((rows as { Value: string }[])[0]?.Value), /^TLSv1\.[23]$/);
      await conn.end();
      // A plaintext client still works on the same listener.
      assert.match(await mysql2SslVersion({ port: tcpPort(p) }, X509_USER, PASSWORD), /^TLSv1\.[23]$/);
      // A client that does not trust the local certificate fails on its side: nothing was relayed.
      const untrusting = await mariadbClient({
        port: tcpPort(p),
        user: X509_USER,
        password: PASSWORD,
        ssl: { ca: pki.otherCa, verifyServerCert: true },
        sql: 'SELECT 1',
      });
      assert.notEqual(untrusting.code, 0);
    } finally {
      await p.shutdown(0);
    }
  });
});
