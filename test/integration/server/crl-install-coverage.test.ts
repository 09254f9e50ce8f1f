/**
 * `dbtls crl --install` installs only CRLs that cover every CA the server trusts: a server whose ssl_ca
 * holds a second CA (as during a CA rollover's trust-both stage) would, with only this CA's CRLs as
 * ssl_crl, refuse every client certificate of the other CA. Against a real MariaDB: refused, exit 2,
 * nothing written; the other CA's clients still log in.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { mariadbClient } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

let tmp: string;
let pki: TestPki;
let db: MariadbInstance | undefined;
before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-crl-install-'));
  pki = await makeTestPki();
});
after(async () => {
  await db?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

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
  db = await startMariadb({
    tls: files,
    users: [{ name: 'x509_app', require: 'X509', grants: 'USAGE ON *.*' }],
  });
  const pwFile = path.join(tmp, 'pw');
  fs.writeFileSync(pwFile, db.admin.password, { mode: 0o600 });
  const r = await runCli([
    'crl',
    '--ca-dir',
    caDir,
    '--install',
    `127.0.0.1:${db.port}`,
    '--user',
    db.admin.user,
    '--password-file',
    pwFile,
    '--admin-ca',
    path.join(caDir, 'root.pem'),
  ]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  const crl = path.join(ssl, 'crl.pem');
  assert.equal(
    r.stderr,
    `error[CRL_MISSING]: could not install this CA's CRLs as "${crl}": it holds no CRL signed by the CA "dbtls Test Root CA", which the server trusts (it holds CRLs of "/O=dbtls/CN=dbtls Root CA"); with ssl_crl set, the server would refuse every client certificate under that CA\n` +
      `hint: the server trusts a CA whose CRL this CA cannot sign (during a CA rollover, both CAs): install a file holding a current CRL of every CA in ${files.ca} by hand, or finish the rollover first (dbtls rotate --ca-rollover --status)\n`,
  );
  assert.equal(fs.existsSync(crl), false);
  const login = await mariadbClient({
    port: db.port,
    user: 'x509_app',
    sql: 'SELECT CURRENT_USER()',
    ssl: { ca: files.ca, cert: pki.client.cert, key: pki.client.key, verifyServerCert: true },
  });
  assert.equal(login.ok, true, login.stderr);
});
