/**
 * `server enable --crl` refuses a CRL that would lock clients out, against a real MariaDB (issue 10's
 * "no account is locked out"): the oracle first shows that MariaDB with an expired CRL as ssl_crl refuses
 * a valid client certificate that a current CRL lets in; then dbtls refuses that file, exit 2, and leaves
 * the server, its files and its config as they were.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { parseCertificate } from '../../../src/pki/certificate.js';
import { createCrl } from '../../../src/pki/crl.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb, type UserSpec } from '../../harness/mariadb.js';
import { mariadbClient } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

const DAY = 86_400_000;
const USERS: UserSpec[] = [{ name: 'x509_app', require: 'X509', grants: 'USAGE ON *.*' }];

let tmp: string;
let pki: TestPki;
let db: MariadbInstance | undefined;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-enable-crl-'));
  pki = await makeTestPki();
});
after(async () => {
  await db?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A CRL of the test CA (revoking nothing) valid from `from` for `days`. */
function crlFile(name: string, from: Date, days: number): string {
  const crl = createCrl({
    issuer: parseCertificate(fs.readFileSync(pki.ca)),
    issuerKey: createPrivateKey(fs.readFileSync(pki.caKey)),
    crlNumber: 1,
    thisUpdate: from,
    nextUpdate: new Date(from.getTime() + days * DAY),
    revoked: [],
  });
  const file = path.join(tmp, name);
  fs.writeFileSync(file, crl.pem);
  return file;
}

const clientLogin = (port: number) =>
  mariadbClient({
    port,
    user: 'x509_app',
    sql: 'SELECT CURRENT_USER()',
    ssl: { ca: pki.ca, cert: pki.client.cert, key: pki.client.key, verifyServerCert: true },
  });

test('an expired CRL locks X509 clients out of MariaDB, so server enable --crl refuses it and changes nothing', async () => {
  const expired = crlFile('expired.pem', new Date(Date.now() - 40 * DAY), 30);
  const current = crlFile('current.pem', new Date(Date.now() - DAY), 30);
  const tlsWith = (crl: string) => ({ ca: pki.ca, cert: pki.server.cert, key: pki.server.key, crl });

  // The oracle: the same valid client certificate, refused under the expired CRL, let in under the current one.
  db = await startMariadb({ tls: tlsWith(expired), users: USERS });
  const refused = await clientLogin(db.port);
  assert.equal(refused.ok, false, refused.stdout);
  await db.restart({ tls: tlsWith(current), users: USERS });
  const admitted = await clientLogin(db.port);
  assert.equal(admitted.ok, true, admitted.stderr);
  assert.match(admitted.stdout, /^x509_app@%\n$/);

  // dbtls refuses to install the expired one: before any file is written or any statement runs.
  const dir = path.join(tmp, 'ssl');
  const configFile = path.join(db.dir, 'conf.d', 'dbtls-tls.cnf'); // a directory the server reads
  const pwFile = path.join(tmp, 'admin-pw');
  fs.writeFileSync(pwFile, db.admin.password, { mode: 0o600 });
  const enable = await runCli([
    'server',
    'enable',
    `127.0.0.1:${db.port}`,
    '--user',
    db.admin.user,
    '--password-file',
    pwFile,
    '--admin-ca',
    pki.ca,
    '--server-cert',
    pki.server.cert,
    '--server-key',
    pki.server.key,
    '--server-ca',
    pki.ca,
    '--dir',
    dir,
    '--config-file',
    configFile,
    '--crl',
    expired,
  ]);
  assert.equal(enable.code, 2, enable.stderr);
  assert.equal(enable.stdout, '');
  assert.match(
    enable.stderr,
    new RegExp(
      `^error\\[CRL_EXPIRED\\]: could not use the CRL "${expired}": the CRL of the CA "dbtls Test Root CA" ran out on \\d{4}-\\d{2}-\\d{2} [\\d:]+ UTC; the server would refuse every client certificate under that CA\\nhint: put a current CRL signed by each CA the server trusts into the file \\(a dbtls CA writes them all with: dbtls crl --out crl\\.pem\\); publish the next one before it runs out\\n$`,
    ),
  );
  assert.equal(fs.existsSync(dir), false);
  assert.equal(fs.existsSync(configFile), false);
  assert.equal(await db.sql('SELECT @@ssl_crl'), `${current}\n`);
  assert.equal((await clientLogin(db.port)).ok, true);
});
