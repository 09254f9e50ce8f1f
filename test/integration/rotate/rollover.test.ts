/**
 * The CA rollover stage by stage against a real MariaDB, with a verify-full client (mutual TLS, account
 * REQUIRE X509) connecting after every stage: it never breaks as long as the client trusts what the
 * stage says (the old root, then the bundle, then the new root), and the server never restarts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import { writeLeafFiles } from '../../../src/ca/leaf-files.js';
import { generateCrls } from '../../../src/ca/revoke.js';
import { openCa } from '../../../src/ca/store.js';
import { parseCertificates } from '../../../src/pki/certificate.js';
import { readCrls } from '../../../src/pki/crl.js';
import { type AdminSession, openAdminSession, openSession } from '../../../src/server/admin/session.js';
import { runStage } from '../../../src/server/rotation/rollover-stages.js';
import { probeServedCertificate } from '../../../src/server/tls/reload.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { opensslVerify } from '../../harness/oracles.js';

let tmp: string;
let caDir: string;
let db: MariadbInstance;
const ssl = (f: string) => path.join(tmp, 'ssl', f);
const file = (f: string) => path.join(caDir, f);

/** A verify-full, mutual-TLS login as 'app'; resolves to 'ok' or the error code. */
async function appLogin(ca: string, clientDir: string): Promise<string> {
  try {
    const s = await openSession({
      host: db.host,
      port: db.port,
      user: 'app',
      password: 'app-pw',
      tls: {
        mode: 'verify-full',
        ca,
        cert: path.join(clientDir, 'cert.pem'),
        key: path.join(clientDir, 'key.pem'),
      },
    });
    await s.query('SELECT 1');
    await s.close();
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/** The CAs are encrypted, as `dbtls ca init` makes them by default: every stage that signs needs this. */
const PASSPHRASE = 'rollover passphrase';

async function admin(ca: string): Promise<AdminSession> {
  return openAdminSession({
    host: db.host,
    port: db.port,
    user: db.admin.user,
    password: db.admin.password,
    tls: { mode: 'verify-full', ca },
  });
}

async function stage(name: 'trust-both' | 'reissue' | 'retire-old', ca: string) {
  const session = await admin(ca);
  try {
    return await runStage(caDir, name, { session, passphrase: PASSPHRASE });
  } finally {
    await session.close();
  }
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-rollover-'));
  caDir = path.join(tmp, 'ca');
  const ca = initCa(caDir, { passphrase: PASSPHRASE, cn: 'rollover CA' });
  const server = issueCertificate(ca, {
    profile: 'server',
    cn: 'localhost',
    dns: ['localhost'],
    ip: ['127.0.0.1'],
  });
  fs.mkdirSync(path.join(tmp, 'ssl'));
  fs.writeFileSync(ssl('server-cert.pem'), server.chainPem);
  fs.writeFileSync(ssl('server-key.pem'), server.keyPem!, { mode: 0o600 });
  fs.writeFileSync(ssl('ca.pem'), ca.caPem());
  writeLeafFiles(path.join(tmp, 'old-app'), issueCertificate(ca, { profile: 'client', cn: 'app' }));
  fs.copyFileSync(file('root.pem'), path.join(tmp, 'old-root.pem'));
  // The server checks revocation: with ssl_crl, every CA of a client's chain needs a current CRL there,
  // so the rollover must add the new CA's before its clients arrive (or they would all be refused).
  fs.writeFileSync(ssl('crl.pem'), generateCrls(ca).pem);
  db = await startMariadb({
    tls: { ca: ssl('ca.pem'), cert: ssl('server-cert.pem'), key: ssl('server-key.pem'), crl: ssl('crl.pem') },
    users: [{ name: 'app', password: 'app-pw', require: 'X509' }],
  });
});

after(async () => {
  await db?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the CA rollover, stage by stage, never breaks a verify-full client and never restarts the server', async () => {
  const pid = db.pid;
  const oldRoot = path.join(tmp, 'old-root.pem');
  const oldApp = path.join(tmp, 'old-app');
  assert.equal(await appLogin(oldRoot, oldApp), 'ok');

  // 1. new-ca: a second CA next to the first, encrypted like it; nothing served changes. Without the
  // passphrase it is refused before next/ exists (it once made the new CA with unencrypted keys).
  await assert.rejects(runStage(caDir, 'new-ca'), { code: 'PASSPHRASE_REQUIRED' });
  assert.equal(fs.existsSync(file('next')), false);
  const s1 = await runStage(caDir, 'new-ca', { passphrase: PASSPHRASE });
  assert.equal(openCa(file('next')).meta.encrypted, true);
  assert.equal(s1.ran, true);
  assert.equal(openCa(file('next')).root.subject, '/O=dbtls/CN=rollover CA G2');
  assert.equal(await appLogin(oldRoot, oldApp), 'ok');
  assert.equal(
    (await runStage(caDir, 'new-ca', { passphrase: PASSPHRASE })).ran,
    false,
    'a stage run twice does nothing',
  );
  await assert.rejects(runStage(caDir, 'reissue'), { code: 'ROLLOVER_OUT_OF_ORDER' });

  // 2. trust-both: the bundle for clients, and the server's ssl_ca, hold old + new.
  await stage('trust-both', oldRoot);
  const bundle = file('trust-bundle.pem');
  assert.equal(parseCertificates(fs.readFileSync(bundle)).length, 2);
  assert.equal(parseCertificates(fs.readFileSync(ssl('ca.pem'))).length, 2);
  assert.deepEqual(
    readCrls(fs.readFileSync(ssl('crl.pem')), 'ssl_crl').map((c) => c.issuer),
    ['/O=dbtls/CN=rollover CA', '/O=dbtls/CN=rollover CA G2'],
  );
  assert.equal(await appLogin(oldRoot, oldApp), 'ok');
  assert.equal(await appLogin(bundle, oldApp), 'ok');

  // 3. reissue: the new CA is active; the server and 'app' are re-issued from it.
  const servedBefore = await probeServedCertificate(db.host, db.port);
  const s3 = await stage('reissue', bundle);
  const served = await probeServedCertificate(db.host, db.port);
  assert.notEqual(served.fingerprint, servedBefore.fingerprint);
  assert.equal(served.issuer.includes('rollover CA G2'), true, served.issuer);
  assert.ok(
    s3.details.some((d) => d.startsWith('client app: re-issued into')),
    s3.details.join('\n'),
  );
  const newApp = file('reissued/app');
  assert.equal(await appLogin(bundle, newApp), 'ok');
  assert.equal(await appLogin(bundle, oldApp), 'ok', 'old client certificates still work until retire-old');
  assert.equal(
    await appLogin(oldRoot, oldApp),
    'CERT_UNTRUSTED',
    'a client that never took the bundle breaks here',
  );
  const verify = await opensslVerify({
    ca: file('root.pem'),
    cert: ssl('server-cert.pem'),
    purpose: 'sslserver',
    ip: '127.0.0.1',
  });
  assert.ok(verify.ok, verify.stdout + verify.stderr);
  assert.ok(readIndex(file('previous')).every((e) => e.status === 'revoked'));

  // Without a target anywhere, the status says what goes in its place; with one, the line works pasted.
  const status = await runCli(['rotate', '--ca-rollover', '--status', '--ca-dir', caDir]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /✓ reissue/);
  assert.ok(
    status.stdout.includes(
      `Next: dbtls rotate ADMIN_TARGET --ca-rollover --stage retire-old --ca-dir ${caDir}   (ADMIN_TARGET: the server, host[:port] or a DSN)\n`,
    ),
    status.stdout,
  );
  const pwFile = path.join(tmp, 'admin.pw');
  fs.writeFileSync(pwFile, db.admin.password, { mode: 0o600 });
  const admin = ['--user', db.admin.user, '--password-file', pwFile];
  const targeted = await runCli(['rotate', '--ca-rollover', '--status', '--ca-dir', caDir], {
    env: { DBTLS_ADMIN_TARGET: `127.0.0.1:${db.port}` },
  });
  const hinted = /^Next: (.*)$/m.exec(targeted.stdout)?.[1];
  assert.equal(
    hinted,
    `dbtls rotate 127.0.0.1:${db.port} --ca-rollover --stage retire-old --ca-dir ${caDir}`,
  );

  // 4. retire-old: refused while the old CA still has a valid leaf, done once it has none.
  const stray = issueCertificate(openCa(file('previous'), PASSPHRASE), { profile: 'client', cn: 'stray' });
  let inUse: unknown;
  await assert.rejects(stage('retire-old', bundle), (err) => {
    inUse = err;
    return (err as { code?: string }).code === 'ROLLOVER_OLD_CA_IN_USE';
  });
  // The hint's revoke line, pasted as a shell splits it (no path here holds a space).
  const revokeLine = /then mark each old one superseded: (.*); or wait until they expire$/.exec(
    (inUse as { hint?: string }).hint ?? '',
  )?.[1];
  assert.equal(
    revokeLine,
    `dbtls revoke ${stray.cert.serial} --reason superseded --ca-dir ${file('previous')}`,
  );
  const revoked = await runCli(revokeLine!.split(' ').slice(1));
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal(readIndex(file('previous')).find((e) => e.serial === stray.cert.serial)?.status, 'revoked');
  // The hinted command, as a shell splits it, plus the admin login flags. It waits for previous/'s lock,
  // held here as another dbtls (say, a revoke) would hold it, and moves nothing meanwhile.
  const previousLock = path.join(file('previous'), '.lock');
  fs.writeFileSync(previousLock, String(process.pid));
  const retiring = runCli([...hinted!.split(' ').slice(1), ...admin]);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(fs.existsSync(previousLock), true, 'retire-old moved previous/ while its lock was held');
  fs.rmSync(previousLock);
  const retire = await retiring;
  assert.equal(retire.code, 0, retire.stderr);
  assert.match(retire.stdout, /^Stage retire-old: the old CA is out of every trust file/m);
  assert.match(retire.stdout, /^The CA rollover is complete\.$/m);
  const newRoot = file('root.pem');
  assert.equal(parseCertificates(fs.readFileSync(bundle)).length, 1);
  assert.deepEqual(
    parseCertificates(fs.readFileSync(ssl('ca.pem'))).map((c) => c.subject),
    ['/O=dbtls/CN=rollover CA G2'],
  );
  assert.equal(await appLogin(newRoot, newApp), 'ok');
  assert.equal(await appLogin(bundle, newApp), 'ok');
  assert.notEqual(await appLogin(newRoot, oldApp), 'ok', 'the old CA no longer vouches for clients');
  assert.equal(fs.existsSync(file('previous')), false);
  assert.equal(fs.readdirSync(file('retired')).length, 1);
  const retiredCa = path.join(file('retired'), fs.readdirSync(file('retired'))[0]!);
  assert.equal(fs.existsSync(path.join(retiredCa, '.lock')), false, 'no lock file travels with the old CA');
  assert.equal(readIndex(retiredCa).find((e) => e.serial === stray.cert.serial)?.status, 'revoked');
  assert.equal(db.pid, pid, 'no stage restarted the server');
});
