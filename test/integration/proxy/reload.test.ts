/**
 * Certificate rotation under a connect loop through dbtls proxy, against a real MariaDB: the proxy's
 * client certificate and key are replaced on disk (atomic renames, as dbtls and Kubernetes do); a broken
 * file first (kept out, logged), then a new certificate with another subject. No connection of the loop
 * fails, a session opened before keeps working, and new sessions present the new certificate (a user
 * REQUIRE SUBJECT of the new one logs in; one of the old one no longer does).
 */
import * as assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, it } from 'node:test';
import mysql from 'mysql2/promise';
import type { ProxyLogEntry, RunningProxy } from '../../../src/proxy/proxy.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { openssl } from '../../harness/oracles.js';
import { type KeyPair, makeClientCertificate, makeTestPki, type TestPki } from '../../harness/pki.js';
import { eventually, mysql2Login, startTestProxy, tcpPort } from '../../harness/proxy.js';

const PASSWORD = 'rotate-pw-55';
const NEW_SUBJECT = '/O=dbtls test/CN=dbtls_client_2';

let pki: TestPki;
let db: MariadbInstance;
let proxy: RunningProxy;
let dir: string;
let second: KeyPair;
const logs: ProxyLogEntry[] = [];

const login = (user: string) => mysql2Login({ port: tcpPort(proxy) }, user, PASSWORD);

/** Write + rename: readers see the old file or the new one, never half of one. */
function replace(file: string, content: Buffer | string): void {
  fs.writeFileSync(`${file}.tmp`, content);
  fs.renameSync(`${file}.tmp`, file);
}

before(async () => {
  pki = await makeTestPki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-proxy-reload-'));
  // The second client certificate, made with the openssl CLI from the test CA.
  second = await makeClientCertificate(pki, dir, 'new', NEW_SUBJECT);
  fs.copyFileSync(pki.client.cert, path.join(dir, 'cert.pem'));
  fs.copyFileSync(pki.client.key, path.join(dir, 'key.pem'));
  db = await startMariadb({
    tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
    users: [
      { name: 'rot_any', password: PASSWORD, require: 'X509' },
      { name: 'rot_old', password: PASSWORD, require: { subject: pki.client.subject } },
      { name: 'rot_new', password: PASSWORD, require: { subject: NEW_SUBJECT } },
    ],
  });
  proxy = await startTestProxy(pki, db.port, {
    tls: { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') },
    log: (e) => logs.push(e),
  });
});

after(async () => {
  await proxy?.shutdown(0);
  await db?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

it('rotation under a connect loop: 0 failures, the old session lives, new sessions use the new certificate', async () => {
  const early = await login('rot_old');
  let stop = false;
  let connects = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (!stop) {
      try {
        const c = await login('rot_any');
        await c.query('SELECT 1');
        await c.end();
        connects++;
      } catch (err) {
        failures.push(String(err));
      }
    }
  })();
  try {
    await eventually(() => connects >= 20, 'the loop to run');
    // A broken certificate: the proxy keeps the old files and says why.
    const errorsBefore = logs.filter((l) => l.level === 'error').length;
    replace(path.join(dir, 'cert.pem'), 'not a certificate\n');
    await eventually(() => logs.filter((l) => l.level === 'error').length > errorsBefore, 'the reload error');
    const logged = logs.filter((l) => l.level === 'error').at(-1);
    assert.equal(
      logged?.msg,
      `dbtls proxy: could not load the client certificate ${path.join(dir, 'cert.pem')}: it holds no PEM certificate (TLS_MATERIAL_INVALID); hint: pass the PEM certificate dbtls issued for the client (check it with: dbtls cert show FILE); the previous files stay in use`,
    );
    assert.equal(proxy.reload(), false, 'SIGHUP with the broken file also keeps the old one');
    const atBroken = connects;
    await eventually(() => connects >= atBroken + 20, 'connects with the old files');
    // The new pair, key first then certificate (each atomically).
    const reloads = logs.filter((l) => /reloaded/.test(l.msg)).length;
    replace(path.join(dir, 'key.pem'), fs.readFileSync(second.key));
    replace(path.join(dir, 'cert.pem'), fs.readFileSync(second.cert));
    await eventually(() => logs.filter((l) => /reloaded/.test(l.msg)).length > reloads, 'the reload');
    const atRotation = connects;
    await eventually(() => connects >= atRotation + 20, 'connects with the new files');
    const fresh = await login('rot_new');
    const [who] = await fresh.query('SELECT CURRENT_USER() AS u');
    assert.equal((who as { u: string }[])[0]?.u, 'rot_new@%');
    await fresh.end();
    await assert.rejects(login('rot_old'), /Access denied/);
    const [rows] = await early.query('SELECT CURRENT_USER() AS u');
    assert.equal((rows as { u: string }[])[0]?.u, 'rot_old@%', 'the session opened before still works');
    assert.equal(proxy.reload(), true, 'SIGHUP re-reads the good files');
  } finally {
    stop = true;
    await loop;
    await early.end();
  }
  assert.deepEqual(failures, [], `${failures.length} failed of ${connects + failures.length}`);
  assert.ok(connects >= 60);
});

/** The leaf certificate the proxy's listener presents, as `openssl s_client -starttls mysql` receives it. */
async function listenerFingerprint(p: RunningProxy): Promise<string> {
  const r = await openssl(['s_client', '-connect', `127.0.0.1:${tcpPort(p)}`, '-starttls', 'mysql'], {
    input: '',
    timeoutMs: 20_000,
  });
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  assert.ok(pem, `s_client printed a certificate: ${r.stdout.slice(0, 400)} ${r.stderr.slice(0, 400)}`);
  return new X509Certificate(pem).fingerprint256;
}

const fingerprintOf = (file: string) => new X509Certificate(fs.readFileSync(file)).fingerprint256;

it('--listen-cert/--listen-key: a broken file keeps the old pair (logged), a new pair serves new connections, open sessions keep theirs', async () => {
  const cert = path.join(dir, 'listen-cert.pem');
  const key = path.join(dir, 'listen-key.pem');
  fs.copyFileSync(pki.server.cert, cert);
  fs.copyFileSync(pki.server.key, key);
  const seen: ProxyLogEntry[] = [];
  const p = await startTestProxy(pki, db.port, {
    tls: { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') },
    listenTls: { cert, key },
    log: (e) => seen.push(e),
  });
  const tlsLogin = () =>
    mysql.createConnection({
      host: 'localhost',
      port: tcpPort(p),
      user: 'rot_any',
      password: PASSWORD,
      ssl: { ca: fs.readFileSync(pki.ca, 'utf8'), verifyIdentity: true },
    });
  try {
    assert.equal(await listenerFingerprint(p), fingerprintOf(pki.server.cert));
    const early = await tlsLogin();
    const errorsBefore = seen.filter((l) => l.level === 'error').length;
    replace(cert, 'not a certificate\n');
    await eventually(() => seen.filter((l) => l.level === 'error').length > errorsBefore, 'the reload error');
    assert.match(
      String(seen.filter((l) => l.level === 'error').at(-1)?.msg),
      /could not load --listen-cert\/--listen-key: .*; the previous files stay in use$/,
    );
    assert.equal(p.reload(), false, 'SIGHUP with the broken file keeps the old pair');
    assert.equal(await listenerFingerprint(p), fingerprintOf(pki.server.cert), 'still the old certificate');
    // The new pair (the test CA's leaf for DNS:localhost only), key first, each atomically.
    const reloads = seen.filter((l) => /reloaded --listen-cert/.test(l.msg)).length;
    replace(key, fs.readFileSync(pki.localhostOnly.key));
    replace(cert, fs.readFileSync(pki.localhostOnly.cert));
    await eventually(
      () => seen.filter((l) => /reloaded --listen-cert/.test(l.msg)).length > reloads,
      'the reload',
    );
    assert.equal(
      await listenerFingerprint(p),
      fingerprintOf(pki.localhostOnly.cert),
      'new connections: new pair',
    );
    const fresh = await tlsLogin();
    await fresh.query('SELECT 1');
    await fresh.end();
    const [rows] = await early.query('SELECT CURRENT_USER() AS u');
    assert.equal((rows as { u: string }[])[0]?.u, 'rot_any@%', 'the session opened before still works');
    await early.end();
    assert.equal(p.reload(), true, 'SIGHUP re-reads the good pair');
  } finally {
    await p.shutdown(0);
  }
});
