/**
 * caching_sha2_password through dbtls proxy, against the MySQL-8-like test server (test/harness/mysql8.ts:
 * no MySQL 8 can run here). Real clients with no TLS settings: PyMySQL, mysql2 and the mariadb CLI
 * (libmariadb's caching_sha2_password plugin). Over plaintext TCP the clients ask for an RSA key: the proxy
 * answers with its own, recovers the password and sends it in clear inside the verified TLS; over the unix
 * socket clients send it in clear. The server records which path each login took and that it was TLS
 * with the proxy's client certificate.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { RunningProxy } from '../../../src/proxy/proxy.js';
import { type Mysql8Server, startMysql8 } from '../../harness/mysql8.js';
import { run } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import {
  eventually,
  mysql2Login,
  mysql2SslVersion,
  pymysql,
  startTestProxy,
  tcpPort,
} from '../../harness/proxy.js';

const USER = 'sha2user';
const PASSWORD = 'sha2-Pw-with-some-length-0123456789';

let pki: TestPki;
let server: Mysql8Server;
let proxy: RunningProxy;
let dir: string;
let socketPath: string;

/** How many RSA exchanges the proxy answered so far (its metric). */
async function rsaCount(): Promise<number> {
  return (await proxy.metrics.rsa.get()).values[0]?.value ?? 0;
}

function lastLogin() {
  const l = server.logins.at(-1);
  assert.ok(l, 'the server saw a login');
  return l;
}

before(async () => {
  pki = await makeTestPki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-proxy-sha2-'));
  socketPath = path.join(dir, 'mysql.sock');
  server = await startMysql8({
    cert: fs.readFileSync(pki.server.cert),
    key: fs.readFileSync(pki.server.key),
    ca: fs.readFileSync(pki.ca),
    users: { [USER]: PASSWORD },
  });
  proxy = await startTestProxy(pki, server.port, {
    listen: [
      { kind: 'tcp', host: '127.0.0.1', port: 0 },
      { kind: 'unix', path: socketPath, mode: 0o600 },
    ],
  });
});

after(async () => {
  await proxy?.shutdown(0);
  await server?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('caching_sha2_password through the proxy', () => {
  beforeEach(() => server.clearCache());

  it('PyMySQL over TCP: full authentication via the proxy RSA key, then the fast path', async () => {
    const rsaBefore = await rsaCount();
    const first = await pymysql({ port: tcpPort(proxy) }, USER, PASSWORD);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.equal(await rsaCount(), rsaBefore + 1, 'the client encrypted to the proxy key');
    assert.ok(
      server.responses() > 0,
      'the test server counts handshake responses (the control for the wrong-host test)',
    );
    assert.match(first.stdout.trim(), /^TLSv1\.[23]$/);
    assert.deepEqual(lastLogin(), {
      user: USER,
      path: 'full-clear',
      tls: first.stdout.trim(),
      clientCn: 'dbtls_client',
    });
    const second = await pymysql({ port: tcpPort(proxy) }, USER, PASSWORD);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.equal(lastLogin().path, 'fast');
  });

  it('PyMySQL over the unix socket: the clear password goes on inside TLS', async () => {
    const rsaBefore = await rsaCount();
    const r = await pymysql({ socket: socketPath }, USER, PASSWORD);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(
      await rsaCount(),
      rsaBefore,
      'no RSA exchange: the client sent the password in clear on the socket',
    );
    assert.equal(lastLogin().path, 'full-clear');
    assert.match(String(lastLogin().tls), /^TLSv1\.[23]$/);
  });

  it('mysql2 over TCP and the unix socket, full then fast', async () => {
    const rsaBefore = await rsaCount();
    assert.match(await mysql2SslVersion({ port: tcpPort(proxy) }, USER, PASSWORD), /^TLSv1\.[23]$/);
    assert.equal(lastLogin().path, 'full-clear');
    assert.equal(await rsaCount(), rsaBefore + 1);
    assert.match(await mysql2SslVersion({ port: tcpPort(proxy) }, USER, PASSWORD), /^TLSv1\.[23]$/);
    assert.equal(lastLogin().path, 'fast');
    server.clearCache();
    assert.match(await mysql2SslVersion({ socket: socketPath }, USER, PASSWORD), /^TLSv1\.[23]$/);
    assert.equal(lastLogin().path, 'full-clear');
  });

  it('the mariadb CLI (libmariadb caching_sha2_password) over TCP', async () => {
    const args = [
      '--no-defaults',
      '--protocol=TCP',
      '--host=127.0.0.1',
      `--port=${tcpPort(proxy)}`,
      `--user=${USER}`,
      '-N',
      '-B',
    ];
    const env = { ...process.env, MYSQL_PWD: PASSWORD };
    const full = await run('mariadb', [...args, '-e', "SHOW STATUS LIKE 'Ssl_version'"], {
      env,
      timeoutMs: 20_000,
    });
    assert.equal(full.code, 0, full.stderr);
    assert.match(full.stdout, /^Ssl_version\tTLSv1\.[23]$/m);
    assert.equal(lastLogin().path, 'full-clear');
    const fast = await run('mariadb', [...args, '-e', 'SELECT CURRENT_USER()'], { env, timeoutMs: 20_000 });
    assert.equal(fast.code, 0, fast.stderr);
    assert.equal(fast.stdout.trim(), `${USER}@%`);
    assert.equal(lastLogin().path, 'fast');
  });

  it('a wrong password: the server says no, on either path', async () => {
    const full = await pymysql({ port: tcpPort(proxy) }, USER, 'wrong');
    assert.equal(full.code, 1);
    assert.match(full.stdout, /^ERR 1045 Access denied for user 'sha2user'/);
    assert.equal(lastLogin().path, 'denied');
    assert.equal((await pymysql({ port: tcpPort(proxy) }, USER, PASSWORD)).code, 0);
    const fast = await pymysql({ port: tcpPort(proxy) }, USER, 'wrong');
    assert.equal(fast.code, 1);
    assert.match(fast.stdout, /^ERR 1045 /);
  });
});

describe('a server whose certificate names another host', () => {
  it('HOSTNAME_MISMATCH for the client, and the server never received a handshake response', async () => {
    const wrong = await startMysql8({
      cert: fs.readFileSync(pki.wrongHost.cert),
      key: fs.readFileSync(pki.wrongHost.key),
      ca: fs.readFileSync(pki.ca),
      users: { [USER]: PASSWORD },
    });
    const p = await startTestProxy(pki, wrong.port);
    try {
      const r = await pymysql({ port: tcpPort(p) }, USER, PASSWORD);
      assert.equal(r.code, 1);
      assert.match(
        r.stdout,
        /^ERR 1043 dbtls proxy: could not verify the certificate of 127\.0\.0\.1:\d+ for the name 127\.0\.0\.1: .*\(HOSTNAME_MISMATCH\)/,
      );
      assert.equal(wrong.responses(), 0, 'not one handshake response reached the server');
      assert.deepEqual(wrong.logins, []);
    } finally {
      await p.shutdown(0);
      await wrong.close();
    }
  });
});

describe('a server with an expired certificate', () => {
  it('CERT_EXPIRED for the client, nothing relayed', async () => {
    const expired = await startMysql8({
      cert: fs.readFileSync(pki.expired.cert),
      key: fs.readFileSync(pki.expired.key),
      ca: fs.readFileSync(pki.ca),
      users: { [USER]: PASSWORD },
    });
    const p = await startTestProxy(pki, expired.port);
    try {
      await assert.rejects(
        mysql2Login({ port: tcpPort(p) }, USER, PASSWORD),
        (e: { errno?: number; message: string }) => {
          assert.equal(e.errno, 1043);
          assert.match(
            e.message,
            /certificate has expired \(CERT_EXPIRED\); hint: renew the server certificate/,
          );
          return true;
        },
      );
      assert.equal(expired.responses(), 0);
    } finally {
      await p.shutdown(0);
      await expired.close();
    }
  });
});

describe('--prewarm with caching_sha2_password', () => {
  it('pooled logins take both paths, and a client with other flags falls back through an AuthSwitchRequest', async () => {
    const p = await startTestProxy(pki, server.port, { prewarm: 2 });
    const outcome = async () => {
      const values = (await p.metrics.prewarm.get()).values;
      const of = (o: string) => values.find((v) => v.labels.outcome === o)?.value ?? 0;
      return [of('used'), of('fallback')];
    };
    try {
      server.clearCache();
      // The first client teaches the pool its flags (nothing is dialled before).
      assert.equal(p.prewarmed(), 0);
      assert.match(await mysql2SslVersion({ port: tcpPort(p) }, USER, PASSWORD), /^TLSv1\.[23]$/);
      assert.equal(lastLogin().path, 'full-clear');
      await eventually(() => p.prewarmed() === 2, 'the pool to fill');
      // The same driver again: on a pooled connection, whose greeting (and scramble) it answered.
      assert.match(await mysql2SslVersion({ port: tcpPort(p) }, USER, PASSWORD), /^TLSv1\.[23]$/);
      assert.equal(lastLogin().path, 'fast');
      assert.deepEqual(await outcome(), [1, 0]);
      await eventually(() => p.prewarmed() === 2, 'the pool to refill');
      // PyMySQL sends other capabilities: the pooled connection is dropped, and on a fresh one the server
      // asks again (AuthSwitchRequest with that connection's scramble) instead of checking a foreign answer.
      server.clearCache();
      const rsa = async () => (await p.metrics.rsa.get()).values[0]?.value ?? 0;
      const rsaBefore = await rsa();
      const py = await pymysql({ port: tcpPort(p) }, USER, PASSWORD);
      assert.equal(py.code, 0, py.stdout + py.stderr);
      assert.match(py.stdout.trim(), /^TLSv1\.[23]$/);
      assert.equal(lastLogin().path, 'full-clear');
      assert.equal(await rsa(), rsaBefore + 1, 'the full authentication went through the proxy key');
      assert.deepEqual(await outcome(), [1, 1]);
      const failures = (await p.metrics.failures.get()).values.filter((v) => v.value > 0);
      assert.deepEqual(failures, []);
    } finally {
      await p.shutdown(0);
    }
  });
});
