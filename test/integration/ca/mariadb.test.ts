/**
 * Our certificates in a real MariaDB: the server runs with an issued server chain, the `mariadb` client
 * verifies it, and REQUIRE X509 / REQUIRE SUBJECT '<recorded one-line subject>' users log in with issued
 * client certificates (and are refused without them).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { issueClientBatch } from '../../../src/ca/batch.js';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import { writeLeafFiles } from '../../../src/ca/leaf-files.js';
import type { IssuedCertificate } from '../../../src/ca/sign-leaf.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { mariadbClient, sClientStarttls } from '../../harness/oracles.js';

let work: string;
let db: MariadbInstance | undefined;
let server: string;
let x509User: string;
let subjectUser: string;
let subjectIssued: IssuedCertificate;
/** A user from a batch (`--cn-from`), signed on a worker thread when the tests run compiled. */
let fleetUser: { dir: string; subject: string; issuer: string };

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-ca-mariadb-'));
  const ca = initCa(path.join(work, 'ca'), { passphrase: undefined, intermediate: true, org: 'Acme DB' });
  const leaf = (name: string, issued: IssuedCertificate) => {
    const dir = path.join(work, name);
    writeLeafFiles(dir, issued);
    return dir;
  };
  server = leaf('server', issueCertificate(ca, { profile: 'server', cn: 'localhost', ip: ['127.0.0.1'] }));
  x509User = leaf('x509', issueCertificate(ca, { profile: 'client', cn: 'x509_user' }));
  subjectIssued = issueCertificate(ca, {
    profile: 'client',
    cn: 'subject user',
    subjectPrefix: [
      { type: 'C', value: 'US' },
      { type: 'O', value: 'Acme Corp' },
      { type: 'OU', value: 'DB Team' },
    ],
  });
  subjectUser = leaf('subject', subjectIssued);
  const fleet = await issueClientBatch(ca, ['fleet_a', 'fleet_user', 'fleet_c'], {
    outDir: path.join(work, 'fleet'),
    threads: 1,
  });
  fleetUser = { dir: fleet.dirs[1]!, subject: fleet.entries[1]!.subject, issuer: fleet.entries[1]!.issuer };
  db = await startMariadb({
    tls: {
      ca: path.join(server, 'ca.pem'),
      cert: path.join(server, 'chain.pem'),
      key: path.join(server, 'key.pem'),
    },
    users: [
      { name: 'x509_user', password: 'pw1', require: 'X509' },
      {
        name: 'subject_user',
        password: 'pw2',
        require: { subject: subjectIssued.entry.subject, issuer: subjectIssued.entry.issuer },
      },
      {
        name: 'fleet_user',
        password: 'pw3',
        require: { subject: fleetUser.subject, issuer: fleetUser.issuer },
      },
    ],
  });
});

after(async () => {
  await db?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

const ca = () => path.join(server, 'ca.pem');

test('the mariadb client verifies our server certificate (--ssl-verify-server-cert --ssl-ca)', async () => {
  const r = await mariadbClient({
    port: db!.port,
    user: db!.admin.user,
    password: db!.admin.password,
    ssl: { ca: ca(), verifyServerCert: true },
    sql: "SHOW STATUS LIKE 'Ssl_version'",
  });
  assert.ok(r.ok, r.stderr);
  assert.match(r.stdout, /Ssl_version\tTLSv1\.[23]/);
  const s = await sClientStarttls({ port: db!.port, ca: ca(), verifyHostname: 'localhost' });
  assert.ok(s.ok, s.stdout.slice(-500));
  assert.equal(s.peerChainPem.length, 2); // leaf + intermediate, as chain.pem holds them
});

test('REQUIRE X509: logs in with our client certificate, refused without it', async () => {
  const withCert = await mariadbClient({
    port: db!.port,
    user: 'x509_user',
    password: 'pw1',
    ssl: {
      ca: ca(),
      cert: path.join(x509User, 'chain.pem'),
      key: path.join(x509User, 'key.pem'),
      verifyServerCert: true,
    },
    sql: 'SELECT CURRENT_USER()',
  });
  assert.ok(withCert.ok, withCert.stderr);
  assert.match(withCert.stdout, /x509_user@%/);
  const without = await mariadbClient({
    port: db!.port,
    user: 'x509_user',
    password: 'pw1',
    ssl: { ca: ca(), verifyServerCert: true },
    sql: 'SELECT 1',
  });
  assert.equal(without.ok, false);
  assert.match(without.stderr, /Access denied/);
});

test("REQUIRE SUBJECT '<recorded one-line subject>' AND ISSUER: logs in; another certificate is refused", async () => {
  assert.equal(subjectIssued.entry.subject, '/C=US/O=Acme Corp/OU=DB Team/CN=subject user');
  assert.equal(subjectIssued.entry.issuer, '/O=Acme DB/CN=Acme DB Intermediate CA');
  const ok = await mariadbClient({
    port: db!.port,
    user: 'subject_user',
    password: 'pw2',
    ssl: {
      ca: ca(),
      cert: path.join(subjectUser, 'chain.pem'),
      key: path.join(subjectUser, 'key.pem'),
      verifyServerCert: true,
    },
    sql: 'SELECT CURRENT_USER()',
  });
  assert.ok(ok.ok, ok.stderr);
  const other = await mariadbClient({
    port: db!.port,
    user: 'subject_user',
    password: 'pw2',
    ssl: {
      ca: ca(),
      cert: path.join(x509User, 'chain.pem'),
      key: path.join(x509User, 'key.pem'),
      verifyServerCert: true,
    },
    sql: 'SELECT 1',
  });
  assert.equal(other.ok, false);
  assert.match(other.stderr, /Access denied/);
});

test('a batch-issued (--cn-from) certificate logs in with REQUIRE SUBJECT/ISSUER; its neighbour does not', async () => {
  assert.equal(fleetUser.subject, '/O=Acme DB/CN=fleet_user');
  const login = (dir: string) =>
    mariadbClient({
      port: db!.port,
      user: 'fleet_user',
      password: 'pw3',
      ssl: {
        ca: path.join(dir, 'ca.pem'),
        cert: path.join(dir, 'chain.pem'),
        key: path.join(dir, 'key.pem'),
        verifyServerCert: true,
      },
      sql: 'SELECT CURRENT_USER()',
    });
  const ok = await login(fleetUser.dir);
  assert.ok(ok.ok, ok.stderr);
  assert.match(ok.stdout, /fleet_user@%/);
  const neighbour = await login(path.join(work, 'fleet', 'fleet_c'));
  assert.equal(neighbour.ok, false);
  assert.match(neighbour.stderr, /Access denied/);
});
