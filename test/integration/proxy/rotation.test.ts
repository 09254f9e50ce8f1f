/**
 * What reload.test.ts does not rotate, against a real MariaDB: the --ca file (replaced by another CA, a
 * broken file and a bundle while the proxy runs), SIGHUP sent to a real `dbtls proxy` process, and the
 * Kubernetes Secret volume's `..data` symlink swap (kubelet's atomic update) picked up by the watcher.
 * "New sessions use the new files" is judged by the server: CERT_UNTRUSTED or a login, and a user REQUIRE
 * SUBJECT of the new client certificate.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, it } from 'node:test';
import type mysql from 'mysql2/promise';
import type { ProxyLogEntry, RunningProxy } from '../../../src/proxy/proxy.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { makeClientCertificate, makeTestPki, type TestPki } from '../../harness/pki.js';
import { eventually, mysql2Login, startTestProxy, tcpPort } from '../../harness/proxy.js';
import { spawnProxy } from '../../harness/proxy-process.js';

const PASSWORD = 'rotation-pw-88';
const NEW_SUBJECT = '/O=dbtls test/CN=dbtls_client_rotated';

let pki: TestPki;
let db: MariadbInstance;
let dir: string;
/** A second client certificate from the test CA, with NEW_SUBJECT. */
let fresh: { cert: string; key: string };

/** Write + rename: readers see the old file or the new one, never half of one. */
function replace(file: string, content: Buffer | string): void {
  fs.writeFileSync(`${file}.tmp`, content);
  fs.renameSync(`${file}.tmp`, file);
}

const pem = (...files: string[]) => Buffer.concat(files.map((f) => fs.readFileSync(f)));

/** The user `user` logging in through the proxy on `port`: its CURRENT_USER(), or the error it got. */
async function outcome(port: number, user: string): Promise<string> {
  let conn: mysql.Connection;
  try {
    conn = await mysql2Login({ port }, user, PASSWORD);
  } catch (err) {
    const e = err as { errno?: number; sqlMessage?: string };
    return `ERR ${e.errno} ${/\(([A-Z_]+)\); hint:/.exec(String(e.sqlMessage))?.[1] ?? e.sqlMessage}`;
  }
  const [rows] = await conn.query('SELECT CURRENT_USER() AS u');
  await conn.end();
  return String((rows as { u: string }[])[0]?.u);
}

before(async () => {
  pki = await makeTestPki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-proxy-rotation-'));
  fresh = await makeClientCertificate(pki, dir, 'fresh', NEW_SUBJECT);
  db = await startMariadb({
    tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
    users: [
      { name: 'rot_any', password: PASSWORD, require: 'X509' },
      { name: 'rot_old', password: PASSWORD, require: { subject: pki.client.subject } },
      { name: 'rot_new', password: PASSWORD, require: { subject: NEW_SUBJECT } },
    ],
  });
});

after(async () => {
  await db?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

it('the --ca file replaced while running: a broken one is kept out, another CA is used at once, then a bundle', async () => {
  const ca = path.join(dir, 'ca.pem');
  fs.copyFileSync(pki.ca, ca);
  const logs: ProxyLogEntry[] = [];
  const proxy: RunningProxy = await startTestProxy(pki, db.port, { tls: { ca }, log: (e) => logs.push(e) });
  const count = (re: RegExp) => logs.filter((l) => re.test(l.msg)).length;
  const swap = async (content: Buffer | string, re: RegExp, what: string) => {
    const seen = count(re);
    replace(ca, content);
    await eventually(() => count(re) > seen, what);
  };
  const port = tcpPort(proxy);
  let early: mysql.Connection | undefined;
  try {
    assert.equal(await outcome(port, 'rot_any'), 'rot_any@%');
    early = await mysql2Login({ port }, 'rot_any', PASSWORD);
    await swap('not a certificate\n', /previous files stay in use/, 'the reload error');
    assert.match(
      logs.at(-1)!.msg,
      new RegExp(
        `^dbtls proxy: could not load the CA certificate ${ca}: it holds no PEM certificate \\(TLS_MATERIAL_INVALID\\); hint: .*; the previous files stay in use$`,
      ),
    );
    assert.equal(await outcome(port, 'rot_any'), 'rot_any@%', 'the broken file was kept out');
    // Another CA only: the server's certificate no longer verifies, and no TLS session of the old CA is
    // resumed past that verdict.
    await swap(pem(pki.otherCa), /^reloaded the TLS files/, 'the reload to the other CA');
    assert.equal(await outcome(port, 'rot_any'), 'ERR 1043 CERT_UNTRUSTED');
    // The bundle a CA migration ships: the new CA and the old one.
    await swap(pem(pki.otherCa, pki.ca), /^reloaded the TLS files/, 'the reload to the bundle');
    assert.equal(await outcome(port, 'rot_any'), 'rot_any@%');
    const [rows] = await early.query('SELECT 1 + 1 AS two');
    assert.equal((rows as { two: number }[])[0]?.two, 2, 'the session opened before lived through it all');
  } finally {
    await early?.end();
    await proxy.shutdown(0);
  }
});

it('SIGHUP to a running `dbtls proxy`: the new client certificate is presented (REQUIRE SUBJECT of it logs in)', async () => {
  // The flags name symlinks into another directory: the proxy watches the symlinks' directory, so a change
  // behind them is seen only when SIGHUP asks for it.
  const store = fs.mkdtempSync(path.join(dir, 'store-'));
  const linked = fs.mkdtempSync(path.join(dir, 'linked-'));
  fs.copyFileSync(pki.client.cert, path.join(store, 'cert.pem'));
  fs.copyFileSync(pki.client.key, path.join(store, 'key.pem'));
  fs.symlinkSync(path.join(store, 'cert.pem'), path.join(linked, 'cert.pem'));
  fs.symlinkSync(path.join(store, 'key.pem'), path.join(linked, 'key.pem'));
  const p = await spawnProxy([
    `127.0.0.1:${db.port}`,
    '--ca',
    pki.ca,
    '--cert',
    path.join(linked, 'cert.pem'),
    '--key',
    path.join(linked, 'key.pem'),
    '--listen',
    '127.0.0.1:0',
  ]);
  try {
    assert.equal(await outcome(p.port, 'rot_old'), 'rot_old@%');
    replace(path.join(store, 'key.pem'), fs.readFileSync(fresh.key));
    replace(path.join(store, 'cert.pem'), fs.readFileSync(fresh.cert));
    // Past the watcher's 200 ms debounce: nothing was reloaded without the signal.
    await new Promise((r) => setTimeout(r, 600));
    assert.match(await outcome(p.port, 'rot_new'), /^ERR 1045 Access denied for user 'rot_new'/);
    assert.ok(!p.lines().some((l) => /reloaded/.test(l)), p.lines().join('\n'));
    p.kill('SIGHUP');
    assert.match(
      await p.waitFor(/reloaded/, 'the reload'),
      / info reloaded the TLS files; new connections use them$/,
    );
    assert.equal(await outcome(p.port, 'rot_new'), 'rot_new@%');
    assert.match(await outcome(p.port, 'rot_old'), /^ERR 1045 Access denied for user 'rot_old'/);
    assert.equal(p.stderr(), '');
  } finally {
    await p.stop();
  }
});

it("a Kubernetes Secret volume's `..data` symlink swap is picked up by the watcher", async () => {
  // kubelet's layout (atomic_writer.go): the files are symlinks through `..data` to a timestamped
  // directory; an update writes a new directory, points `..data_tmp` at it and renames that over `..data`.
  const volume = fs.mkdtempSync(path.join(dir, 'secret-'));
  const version = (name: string, files: Record<string, Buffer>) => {
    fs.mkdirSync(path.join(volume, name));
    for (const [file, content] of Object.entries(files))
      fs.writeFileSync(path.join(volume, name, file), content);
  };
  version('..2026_01_01_00_00_00.000000001', {
    'ca.crt': pem(pki.ca),
    'tls.crt': pem(pki.client.cert),
    'tls.key': pem(pki.client.key),
  });
  fs.symlinkSync('..2026_01_01_00_00_00.000000001', path.join(volume, '..data'));
  for (const f of ['ca.crt', 'tls.crt', 'tls.key']) fs.symlinkSync(`..data/${f}`, path.join(volume, f));
  const logs: ProxyLogEntry[] = [];
  const proxy = await startTestProxy(pki, db.port, {
    tls: {
      ca: path.join(volume, 'ca.crt'),
      cert: path.join(volume, 'tls.crt'),
      key: path.join(volume, 'tls.key'),
    },
    log: (e) => logs.push(e),
  });
  const port = tcpPort(proxy);
  try {
    assert.equal(await outcome(port, 'rot_old'), 'rot_old@%');
    version('..2026_02_01_00_00_00.000000002', {
      'ca.crt': pem(pki.otherCa, pki.ca),
      'tls.crt': pem(fresh.cert),
      'tls.key': pem(fresh.key),
    });
    fs.symlinkSync('..2026_02_01_00_00_00.000000002', path.join(volume, '..data_tmp'));
    fs.renameSync(path.join(volume, '..data_tmp'), path.join(volume, '..data'));
    fs.rmSync(path.join(volume, '..2026_01_01_00_00_00.000000001'), { recursive: true });
    await eventually(() => logs.some((l) => /^reloaded the TLS files/.test(l.msg)), 'the reload');
    assert.deepEqual(
      logs.filter((l) => l.level !== 'info'),
      [],
      'no reload saw a half-swapped volume',
    );
    assert.equal(await outcome(port, 'rot_new'), 'rot_new@%');
    assert.match(await outcome(port, 'rot_old'), /^ERR 1045 Access denied for user 'rot_old'/);
  } finally {
    await proxy.shutdown(0);
  }
});
