/**
 * `dbtls crl --install` installs only CRLs that cover every CA the server trusts: a server whose ssl_ca
 * holds a second CA would, with only this CA's CRLs as ssl_crl, refuse every client certificate of the
 * other CA. Against a real MariaDB: a CA dbtls does not hold is refused, exit 2, nothing written on the
 * server nor published in the CA; during a CA rollover (the other CA in next/ or previous/), the file
 * holds the current CRLs of both, so a revoked client is refused and the other CA's clients log in.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import { generateCrls, revoke } from '../../../src/ca/revoke.js';
import { openCa } from '../../../src/ca/store.js';
import { readCrls } from '../../../src/pki/crl.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { mariadbClient } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

/** Every file below `dir` with its bytes. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, name);
    if (fs.statSync(p).isFile()) files.set(name, fs.readFileSync(p, 'base64'));
  }
  return files;
}

let tmp: string;
let pki: TestPki;
const dbs: MariadbInstance[] = [];
before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-crl-install-'));
  pki = await makeTestPki();
});
after(async () => {
  for (const db of dbs) await db.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** `dbtls crl --install` as the harness's admin (its password in a 0600 file), verifying with `adminCa`. */
async function crlInstall(db: MariadbInstance, caDir: string, adminCa: string) {
  const pwFile = path.join(tmp, `pw-${db.port}`);
  fs.writeFileSync(pwFile, db.admin.password, { mode: 0o600 });
  const admin = ['--user', db.admin.user, '--password-file', pwFile, '--admin-ca', adminCa];
  return {
    pwFile,
    r: await runCli(['crl', '--ca-dir', caDir, '--install', `127.0.0.1:${db.port}`, ...admin]),
  };
}

test("crl --install refuses CRLs that leave a CA of the server's ssl_ca uncovered, and writes nothing", async () => {
  const caDir = path.join(tmp, 'ca');
  const ca = initCa(caDir, { passphrase: undefined });
  const server = issueCertificate(ca, { profile: 'server', cn: 'localhost', ip: ['127.0.0.1'] });
  const ssl = path.join(tmp, 'ssl');
  fs.mkdirSync(ssl);
  const files = {
    cert: path.join(ssl, 'server-cert.pem'),
    key: path.join(ssl, 'server-key.pem'),
    ca: path.join(ssl, 'ca.pem'),
  };
  fs.writeFileSync(files.cert, server.chainPem);
  fs.writeFileSync(files.key, server.keyPem!, { mode: 0o600 });
  // Two CAs trusted, as in a rollover's trust-both stage: dbtls's, and the test PKI's (its clients log in).
  fs.writeFileSync(files.ca, ca.caPem() + fs.readFileSync(pki.ca, 'utf8'));
  const db = await startMariadb({
    tls: files,
    users: [{ name: 'x509_app', require: 'X509', grants: 'USAGE ON *.*' }],
  });
  dbs.push(db);
  const caBefore = snapshot(caDir);
  const { r } = await crlInstall(db, caDir, path.join(caDir, 'root.pem'));
  assert.equal(r.code, 2, r.stdout + r.stderr);
  const crl = path.join(ssl, 'crl.pem');
  assert.equal(
    r.stderr,
    `error[CRL_MISSING]: could not install this CA's CRLs as "${crl}": it holds no CRL signed by the CA "dbtls Test Root CA", which the server trusts (it holds CRLs of "/O=dbtls/CN=dbtls Root CA"); with ssl_crl set, the server would refuse every client certificate under that CA\n` +
      `hint: the server trusts a CA that is not this CA: install a file holding a current CRL of every CA in ${files.ca} by hand, or give the --ca-dir of the CA that issued it\n`,
  );
  assert.equal(fs.existsSync(crl), false);
  assert.deepEqual(snapshot(caDir), caBefore, 'the CA published nothing (no CRL file, no CRL number used)');
  const login = await mariadbClient({
    port: db.port,
    user: 'x509_app',
    sql: 'SELECT CURRENT_USER()',
    ssl: { ca: files.ca, cert: pki.client.cert, key: pki.client.key, verifyServerCert: true },
  });
  assert.equal(login.ok, true, login.stderr);
});

test('crl --install during a CA rollover: the file holds the current CRLs of both CAs, and FLUSH SSL loads it', async () => {
  const caDir = path.join(tmp, 'rollover');
  const ca = initCa(caDir, { passphrase: undefined, cn: 'rollover CA' });
  const next = initCa(path.join(caDir, 'next'), { passphrase: undefined, cn: 'rollover CA G2' });
  const ssl = path.join(tmp, 'rollover-ssl');
  fs.mkdirSync(ssl);
  const server = issueCertificate(ca, { profile: 'server', cn: 'localhost', ip: ['127.0.0.1'] });
  const files = {
    cert: path.join(ssl, 'server-cert.pem'),
    key: path.join(ssl, 'server-key.pem'),
    ca: path.join(ssl, 'ca.pem'),
    crl: path.join(ssl, 'crl.pem'),
  };
  fs.writeFileSync(files.cert, server.chainPem);
  fs.writeFileSync(files.key, server.keyPem!, { mode: 0o600 });
  fs.writeFileSync(files.ca, ca.caPem() + next.caPem()); // trust-both: the server trusts old + new
  fs.writeFileSync(files.crl, generateCrls(ca).pem + generateCrls(next).pem);
  const client = (from: typeof ca, cn: string) => {
    const issued = issueCertificate(from, { profile: 'client', cn });
    const cert = path.join(tmp, `${cn}.pem`);
    const key = path.join(tmp, `${cn}-key.pem`);
    fs.writeFileSync(cert, issued.chainPem);
    fs.writeFileSync(key, issued.keyPem!, { mode: 0o600 });
    return { cert, key };
  };
  const oldApp = client(ca, 'old_app');
  const lostApp = client(ca, 'lost_app');
  const newApp = client(next, 'new_app');
  const db = await startMariadb({
    tls: files,
    users: [{ name: 'x509_app', require: 'X509', grants: 'USAGE ON *.*' }],
  });
  dbs.push(db);
  const login = async (c: { cert: string; key: string }) =>
    (
      await mariadbClient({
        port: db.port,
        user: 'x509_app',
        sql: 'SELECT CURRENT_USER()',
        ssl: { ca: files.ca, cert: c.cert, key: c.key, verifyServerCert: true },
      })
    ).ok;
  assert.deepEqual([await login(oldApp), await login(lostApp), await login(newApp)], [true, true, true]);

  revoke(caDir, { cn: 'lost_app' });
  const { r } = await crlInstall(db, caDir, files.ca);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok(
    r.stdout.includes(
      `Installed it as ${files.crl}, with the current CRLs of ${path.join(caDir, 'next')} (the other CA of the rollover).\nReloaded online: FLUSH SSL.`,
    ),
    r.stdout,
  );
  const installed = readCrls(fs.readFileSync(files.crl), 'ssl_crl');
  assert.deepEqual(
    installed.map((c) => c.issuer),
    ['/O=dbtls/CN=rollover CA', '/O=dbtls/CN=rollover CA G2'],
  );
  // Both published (CRL #2 of each after the server's first file): the numbers moved on in both CAs.
  assert.deepEqual([openCa(caDir).meta.crlNumber, openCa(path.join(caDir, 'next')).meta.crlNumber], [3, 3]);
  assert.deepEqual(
    [await login(oldApp), await login(lostApp), await login(newApp)],
    [true, false, true],
    'the revoked client is refused; both CAs keep their clients',
  );
});

test('crl --install refuses when the certificate file next to which it would go is not the one served (another machine, or changed since the reload)', async () => {
  const caDir = path.join(tmp, 'mismatch');
  const ca = initCa(caDir, { passphrase: undefined, cn: 'mismatch CA' });
  const ssl = path.join(tmp, 'mismatch-ssl');
  fs.mkdirSync(ssl);
  const files = {
    cert: path.join(ssl, 'server-cert.pem'),
    key: path.join(ssl, 'server-key.pem'),
    ca: path.join(ssl, 'ca.pem'),
  };
  const served = issueCertificate(ca, { profile: 'server', cn: 'localhost', ip: ['127.0.0.1'] });
  fs.writeFileSync(files.cert, served.chainPem);
  fs.writeFileSync(files.key, served.keyPem!, { mode: 0o600 });
  fs.writeFileSync(files.ca, ca.caPem());
  const db = await startMariadb({ tls: files });
  dbs.push(db);
  // The file now holds another certificate than the one the server loaded.
  const other = issueCertificate(ca, { profile: 'server', cn: 'localhost', ip: ['127.0.0.1'] });
  fs.writeFileSync(files.cert, other.chainPem);
  const caBefore = snapshot(caDir);
  const { pwFile, r } = await crlInstall(db, caDir, files.ca);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  const [error, hint] = r.stderr.split('\n');
  assert.match(
    error!,
    /^error\[SERVER_FILES_MISMATCH\]: could not install the CRL next to the server's certificate: the server serves [0-9a-f]{16}… but \S+ holds [0-9a-f]{16}…$/,
  );
  assert.ok(error!.includes(` but ${files.cert} holds `), error);
  // The hint's command carries the target and the admin flags given (as `server reload` spells them).
  assert.equal(
    hint,
    `hint: the file changed since the last reload, or it is not the server this machine hosts; run \`dbtls server reload 127.0.0.1:${db.port} --ca ${files.ca} --user ${db.admin.user} --password-file ${pwFile}\` or pass --dir`,
  );
  assert.equal(fs.existsSync(path.join(ssl, 'crl.pem')), false);
  assert.deepEqual(snapshot(caDir), caBefore);
});
