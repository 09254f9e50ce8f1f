/**
 * Certificate rotation under a connect loop through dbtls proxy, against a real MariaDB: the proxy's
 * client certificate and key are replaced on disk (atomic renames, as dbtls and Kubernetes do); a broken
 * file first (kept out, logged), then a new certificate with another subject. No connection of the loop
 * fails, a session opened before keeps working, and new sessions present the new certificate (a user
 * REQUIRE SUBJECT of the new one logs in; one of the old one no longer does).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, it } from 'node:test';
import type { ProxyLogEntry, RunningProxy } from '../../../src/proxy/proxy.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { openssl } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { eventually, mysql2Login, startTestProxy, tcpPort } from '../../harness/proxy.js';

const PASSWORD = 'rotate-pw-55';
const NEW_SUBJECT = '/O=dbtls test/CN=dbtls_client_2';

let pki: TestPki;
let db: MariadbInstance;
let proxy: RunningProxy;
let dir: string;
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
  fs.writeFileSync(
    path.join(dir, 'ext.cnf'),
    'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n',
  );
  const req = await openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    path.join(dir, 'new-key.pem'),
    '-subj',
    NEW_SUBJECT,
    '-out',
    path.join(dir, 'new.csr'),
  ]);
  assert.equal(req.code, 0, req.stderr);
  const sign = await openssl([
    'x509',
    '-req',
    '-in',
    path.join(dir, 'new.csr'),
    '-CA',
    pki.ca,
    '-CAkey',
    pki.caKey,
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    path.join(dir, 'ext.cnf'),
    '-out',
    path.join(dir, 'new-cert.pem'),
  ]);
  assert.equal(sign.code, 0, sign.stderr);
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
    assert.match(String(logged?.msg), /could not load the TLS files .*; the previous files stay in use$/);
    assert.equal(proxy.reload(), false, 'SIGHUP with the broken file also keeps the old one');
    const atBroken = connects;
    await eventually(() => connects >= atBroken + 20, 'connects with the old files');
    // The new pair, key first then certificate (each atomically).
    const reloads = logs.filter((l) => /reloaded/.test(l.msg)).length;
    replace(path.join(dir, 'key.pem'), fs.readFileSync(path.join(dir, 'new-key.pem')));
    replace(path.join(dir, 'cert.pem'), fs.readFileSync(path.join(dir, 'new-cert.pem')));
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
