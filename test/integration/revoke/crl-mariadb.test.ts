/**
 * The CRL that `dbtls crl` writes, loaded by a real MariaDB as ssl_crl: a revoked client certificate is
 * refused for a REQUIRE X509 user and the others are accepted, with and without an intermediate CA, and
 * FLUSH SSL re-reads a newer CRL written at the same path.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import { writeLeafFiles } from '../../../src/ca/leaf-files.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { mariadbClient, openssl } from '../../harness/oracles.js';

interface Setup {
  caDir: string;
  /** ssl_ca for the server: the root, plus the intermediate when there is one. */
  serverCa: string;
  server: string;
  client: (name: string) => { cert: string; key: string };
  crl: string;
}

let dir: string;
let db: MariadbInstance | undefined;
const USERS = ['alice', 'bob'];

function makeCa(name: string, intermediate: boolean): Setup {
  const caDir = path.join(dir, name);
  const ca = initCa(caDir, { passphrase: undefined, intermediate });
  const leafDir = (cn: string) => path.join(dir, `${name}-${cn}`);
  writeLeafFiles(
    leafDir('server'),
    issueCertificate(ca, { profile: 'server', cn: 'localhost', dns: ['localhost'], ip: ['127.0.0.1'] }),
  );
  for (const user of USERS)
    writeLeafFiles(leafDir(user), issueCertificate(ca, { profile: 'client', cn: user }));
  const serverCa = path.join(dir, `${name}-server-ca.pem`);
  fs.writeFileSync(serverCa, ca.chainPem() + ca.caPem());
  return {
    caDir,
    serverCa,
    server: leafDir('server'),
    client: (cn) => ({ cert: path.join(leafDir(cn), 'cert.pem'), key: path.join(leafDir(cn), 'key.pem') }),
    crl: path.join(dir, `${name}-crl.pem`),
  };
}

async function dbtls(...args: string[]): Promise<string> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `dbtls ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function connects(s: Setup, user: string): Promise<boolean> {
  const r = await mariadbClient({
    port: db!.port,
    user,
    password: `${user}-pw`,
    ssl: { ca: path.join(s.server, 'ca.pem'), ...s.client(user), verifyServerCert: true },
    sql: 'SELECT CURRENT_USER()',
  });
  if (r.ok) assert.equal(r.stdout.trim(), `${user}@%`);
  return r.ok;
}

async function startOn(s: Setup): Promise<void> {
  const options = {
    tls: {
      ca: s.serverCa,
      cert: path.join(s.server, 'chain.pem'),
      key: path.join(s.server, 'key.pem'),
      crl: s.crl,
    },
    users: USERS.map((name) => ({ name, password: `${name}-pw`, require: 'X509' as const })),
  };
  if (db) await db.restart(options);
  else db = await startMariadb(options);
}

/** Each CRL block of the file verifies against the CA chain (`openssl crl -CAfile … -noout`). */
async function verifyCrlFile(s: Setup): Promise<void> {
  const blocks =
    fs.readFileSync(s.crl, 'utf8').match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----\n/g) ?? [];
  assert.ok(blocks.length >= 1);
  for (const [i, block] of blocks.entries()) {
    const file = `${s.crl}.${i}`;
    fs.writeFileSync(file, block);
    const r = await openssl(['crl', '-in', file, '-CAfile', s.serverCa, '-noout']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /verify OK/);
  }
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-crl-'));
});
after(async () => {
  await db?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('without an intermediate: revoked alice refused after FLUSH SSL re-reads the new CRL, bob accepted', async () => {
  const s = makeCa('flat', false);
  await dbtls('crl', '--ca-dir', s.caDir, '--out', s.crl);
  await startOn(s);
  assert.equal(await connects(s, 'alice'), true);
  assert.equal(await connects(s, 'bob'), true);

  await dbtls('revoke', '--ca-dir', s.caDir, '--cn', 'alice', '--reason', 'keyCompromise');
  await dbtls('crl', '--ca-dir', s.caDir, '--out', s.crl); // the same path, replaced atomically
  await verifyCrlFile(s);
  await db!.sql('FLUSH SSL');
  assert.equal(await connects(s, 'alice'), false);
  assert.equal(await connects(s, 'bob'), true);
});

test('with an intermediate: one file with both CRLs; the intermediate CRL alone would refuse everyone', async () => {
  const s = makeCa('inter', true);
  await dbtls('revoke', '--ca-dir', s.caDir, '--cn', 'alice', '--reason', 'superseded');
  const out = await dbtls('crl', '--ca-dir', s.caDir, '--out', s.crl, '--json');
  const report = JSON.parse(out) as { crls: { issuer: string; revokedSerials: string[] }[] };
  assert.deepEqual(
    report.crls.map((c) => [c.issuer, c.revokedSerials.length]),
    [
      ['intermediate', 1],
      ['root', 0],
    ],
  );
  await verifyCrlFile(s);
  await startOn(s);
  assert.equal(await connects(s, 'alice'), false);
  assert.equal(await connects(s, 'bob'), true);

  // Why dbtls writes the whole chain's CRLs (FACTS.md): with only the intermediate's, bob is refused too.
  const full = fs.readFileSync(s.crl, 'utf8');
  fs.writeFileSync(
    s.crl,
    full.slice(0, full.indexOf('-----END X509 CRL-----') + '-----END X509 CRL-----\n'.length),
  );
  await db!.sql('FLUSH SSL');
  assert.equal(await connects(s, 'bob'), false);
  fs.writeFileSync(s.crl, full);
  await db!.sql('FLUSH SSL');
  assert.equal(await connects(s, 'bob'), true);

  // A newer CRL at the same path, read by FLUSH SSL with no restart: now bob is refused as well.
  const pid = db!.pid;
  await dbtls('revoke', '--ca-dir', s.caDir, '--cn', 'bob', '--reason', 'cessationOfOperation');
  await dbtls('crl', '--ca-dir', s.caDir, '--out', s.crl);
  await verifyCrlFile(s);
  assert.equal(await connects(s, 'bob'), true, 'still accepted until the server re-reads the CRL');
  await db!.sql('FLUSH SSL');
  assert.equal(await connects(s, 'bob'), false);
  assert.equal(await connects(s, 'alice'), false);
  assert.equal(db!.pid, pid);
});

test('with an intermediate: revoking the intermediate itself (root CRL) refuses every client under it', async () => {
  const s = makeCa('inter-revoked', true);
  await dbtls('crl', '--ca-dir', s.caDir, '--out', s.crl);
  await startOn(s);
  assert.equal(await connects(s, 'bob'), true);
  const intermediate = JSON.parse(await dbtls('list', '--ca-dir', s.caDir, '--json')) as {
    serial: string;
    profile: string;
  }[];
  const serial = intermediate.find((e) => e.profile === 'intermediate')!.serial;
  await dbtls('revoke', '--ca-dir', s.caDir, serial, '--reason', 'caCompromise');
  const report = JSON.parse(await dbtls('crl', '--ca-dir', s.caDir, '--out', s.crl, '--json')) as {
    crls: { issuer: string; revokedSerials: string[] }[];
  };
  assert.deepEqual(
    report.crls.map((c) => [c.issuer, c.revokedSerials]),
    [
      ['intermediate', []],
      ['root', [serial]],
    ],
  );
  await verifyCrlFile(s);
  await db!.sql('FLUSH SSL');
  assert.equal(await connects(s, 'alice'), false);
  assert.equal(await connects(s, 'bob'), false);
});
