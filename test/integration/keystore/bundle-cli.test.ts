/** `dbtls bundle`, `bundle show` and `cloud-ca rds` through the real CLI, checked with openssl. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { pemCertificates } from '../../../src/keystore/chain.js';
import { runCli } from '../../harness/cli.js';
import { opensslVerify } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { type IntermediateChain, makeIntermediateChain } from '../../unit/keystore/intermediate.js';

let pki: TestPki;
let chain: IntermediateChain;
let dir: string;
const f = (name: string) => path.join(dir, name);
const cns = (file: string) =>
  pemCertificates(fs.readFileSync(file), file).map((c) =>
    c.subject.split('\n').find((l) => l.startsWith('CN=')),
  );

before(async () => {
  pki = await makeTestPki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-bundle-cli-'));
  chain = await makeIntermediateChain(pki, dir);
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('bundle: leaf-to-root order, duplicates removed, usable by openssl as a CA file', async () => {
  const out = f('bundle.pem');
  const r = await runCli([
    'bundle',
    pki.ca,
    pki.otherCa,
    chain.intermediate,
    pki.ca,
    '--out',
    out,
    '--verify',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(cns(out), [
    'CN=dbtls test intermediate',
    'CN=dbtls Test Root CA',
    'CN=dbtls Other Root CA',
  ]);
  assert.equal((await opensslVerify({ ca: out, cert: chain.leaf, purpose: 'sslclient' })).ok, true);
  const show = await runCli(['bundle', 'show', out, '--json']);
  assert.equal(show.code, 0, show.stderr);
  const report = JSON.parse(show.stdout) as {
    complete: boolean;
    certificates: { subject: string; expiringSoon: boolean }[];
  };
  assert.equal(report.complete, true);
  assert.deepEqual(
    report.certificates.map((c) => c.expiringSoon),
    [true, false, false], // the intermediate lives 30 days
  );
});

test('bundle refuses a leaf (exit 2) and with --verify a missing root (exit 1), writing nothing', async () => {
  const leaf = await runCli(['bundle', pki.ca, pki.server.cert, '--out', f('refused-leaf.pem')]);
  assert.equal(leaf.code, 2);
  assert.match(leaf.stderr, /^error\[CERT_NOT_CA\]/);
  const orphan = await runCli(['bundle', chain.intermediate, '--out', f('refused-orphan.pem'), '--verify']);
  assert.equal(orphan.code, 1);
  assert.match(orphan.stderr, /^error\[BUNDLE_INCOMPLETE\]/);
  assert.equal(fs.existsSync(f('refused-leaf.pem')) || fs.existsSync(f('refused-orphan.pem')), false);
});

test('cloud-ca rds: a region bundle from the shipped package; an unknown region is refused', async () => {
  const out = f('rds.pem');
  const r = await runCli(['cloud-ca', 'rds', '--region', 'us-east-1', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const names = cns(out);
  assert.ok(names.includes('CN=Amazon RDS us-east-1 Root CA ECC384 G1'));
  assert.ok(names.every((n) => !n?.startsWith('CN=Amazon RDS') || n.includes('us-east-1')));
  const bad = await runCli(['cloud-ca', 'rds', '--region', 'xx-nowhere-9', '--out', f('bad.pem')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error\[CLOUD_REGION_UNKNOWN\]/);
  const gcp = await runCli(['cloud-ca', 'gcp', '--out', f('gcp.pem')]);
  assert.equal(gcp.code, 2);
  assert.match(
    gcp.stderr,
    /^error\[CLOUD_PROVIDER_UNSUPPORTED\][^\n]*\nhint: gcloud sql ssl server-ca-certs list/,
  );
});
