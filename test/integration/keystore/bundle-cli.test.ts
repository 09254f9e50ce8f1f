/** `dbtls bundle`, `bundle show` and `cloud-ca rds` through the real CLI, checked with openssl. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../../harness/cli.js';
import { opensslVerify } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import {
  type IntermediateChain,
  makeExpiredCa,
  makeIntermediateChain,
  makeRoot,
} from '../../unit/keystore/intermediate.js';

let pki: TestPki;
let chain: IntermediateChain;
let dir: string;
const f = (name: string) => path.join(dir, name);
/** node's reading of the written file, as an oracle independent of src/pki. */
const cns = (file: string) =>
  (
    fs.readFileSync(file, 'latin1').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []
  ).map((pem) => new X509Certificate(pem).subject.split('\n').find((l) => l.startsWith('CN=')));

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
  const text = await runCli(['bundle', 'show', out]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /3 certificate\(s\), chain complete/);
  assert.match(
    text.stdout,
    /subject: \/O=dbtls test\/CN=dbtls test intermediate\n[^\n]+\n {2}expires: [^\n]+ \(\d+ days left\) {2}EXPIRES WITHIN 90 DAYS\n/,
  );
  assert.equal(text.stdout.match(/EXPIRES WITHIN/g)?.length, 1);
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

test('bundle refuses an expired CA, and a link whose signature fails (two CAs, one name)', async () => {
  const expired = await makeExpiredCa(dir);
  const r = await runCli(['bundle', pki.ca, expired, '--out', f('refused-expired.pem')]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /^error\[BUNDLE_CERT_EXPIRED\]: could not bundle dbtls expired CA: it expired on 2021-01-01/,
  );
  assert.match(r.stderr, /\nhint: /);
  const shown = await runCli(['bundle', 'show', expired]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /days left\) {2}EXPIRED\n/);

  // Twin roots: the same name, different keys; the intermediate is signed by the first.
  const twins = path.join(dir, 'twins');
  fs.mkdirSync(twins);
  const a = await makeRoot(twins, 'twin-a', '/O=dbtls test/CN=twin root');
  const b = await makeRoot(twins, 'twin-b', '/O=dbtls test/CN=twin root');
  const underA = await makeIntermediateChain({ ...pki, ca: a.cert, caKey: a.key }, twins);
  assert.equal((await opensslVerify({ ca: b.cert, cert: underA.intermediate })).ok, false);
  const broken = await runCli(['bundle', underA.intermediate, b.cert, '--out', f('refused-broken.pem')]);
  assert.equal(broken.code, 2);
  assert.match(
    broken.stderr,
    /^error\[BUNDLE_LINK_BROKEN\]: could not bundle dbtls test intermediate: twin root is in the bundle but did not sign it\nhint: /,
  );
  assert.equal(fs.existsSync(f('refused-broken.pem')), false);
  fs.writeFileSync(
    f('broken.pem'),
    fs.readFileSync(underA.intermediate, 'utf8') + fs.readFileSync(b.cert, 'utf8'),
  );
  const report = await runCli(['bundle', 'show', f('broken.pem'), '--json']);
  assert.equal(report.code, 0, report.stderr);
  const rows = (JSON.parse(report.stdout) as { certificates: { linkBroken: boolean }[] }).certificates;
  assert.deepEqual(
    rows.map((c) => c.linkBroken),
    [true, false],
  );
  // With the real issuer in the file the link holds, whichever twin comes first.
  const ok = await runCli([
    'bundle',
    b.cert,
    underA.intermediate,
    a.cert,
    '--out',
    f('twins.pem'),
    '--verify',
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(
    (await opensslVerify({ ca: f('twins.pem'), cert: underA.leaf, purpose: 'sslclient' })).ok,
    true,
  );
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
  // Asked how (the help's example): the steps, exit 0.
  const how = await runCli(['cloud-ca', 'gcp']);
  assert.equal(how.code, 0, how.stderr);
  assert.equal(
    how.stdout,
    [
      'Google Cloud SQL publishes its server CAs per instance, so dbtls ships none. Build the bundle:',
      "  1. gcloud sql ssl server-ca-certs list --instance=INSTANCE --format='value(cert)' > cloudsql-cas.pem",
      '  2. dbtls bundle cloudsql-cas.pem --out cloudsql-ca.pem --verify',
      'More in docs/cloud.md.',
      '',
    ].join('\n'),
  );
  assert.equal((await runCli(['cloud-ca', 'azure'])).code, 0);
});
