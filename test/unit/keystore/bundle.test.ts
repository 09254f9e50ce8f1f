import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { rdsBundle, rdsRegions } from '../../../src/deploy/cloud.js';
import { isDbtlsError } from '../../../src/errors.js';
import { buildBundle, reportBundle } from '../../../src/keystore/bundle.js';
import { type CertificateInfo, parseCertificates } from '../../../src/pki/certificate.js';
import { certificateName, readCertificates } from '../../../src/pki/chain.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { type IntermediateChain, makeIntermediateChain } from './intermediate.js';

let pki: TestPki;
let chain: IntermediateChain;
let dir: string;
before(async () => {
  pki = await makeTestPki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-bundle-'));
  chain = await makeIntermediateChain(pki, dir);
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const certs = (...files: string[]) => files.flatMap((f) => readCertificates(fs.readFileSync(f), f));
const cn = (c: CertificateInfo): string | undefined => `CN=${certificateName(c)}`;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isDbtlsError(err)) return err.code;
    throw err;
  }
  return 'no error';
}

test('orders intermediates before their roots and removes duplicates', () => {
  const b = buildBundle(certs(pki.ca, pki.otherCa, chain.intermediate, pki.ca), { verify: true });
  assert.deepEqual(b.certs.map(cn), [
    'CN=dbtls test intermediate',
    'CN=dbtls Test Root CA',
    'CN=dbtls Other Root CA',
  ]);
  assert.equal(b.complete, true);
  assert.equal(parseCertificates(b.pem).length, 3);
});

test('refuses a leaf, an expired CA, and with --verify a missing root', () => {
  assert.equal(
    codeOf(() => buildBundle(certs(pki.ca, pki.server.cert))),
    'CERT_NOT_CA',
  );
  assert.equal(
    codeOf(() => buildBundle(certs(pki.ca), { now: new Date('2300-01-01T00:00:00Z') })),
    'BUNDLE_CERT_EXPIRED',
  );
  assert.equal(buildBundle(certs(chain.intermediate)).complete, false);
  assert.equal(
    codeOf(() => buildBundle(certs(chain.intermediate), { verify: true })),
    'BUNDLE_INCOMPLETE',
  );
});

test('the report flags certificates expiring within 90 days and an incomplete chain', () => {
  const intermediate = certs(chain.intermediate)[0]!;
  const now = new Date(intermediate.notAfter.getTime() - 10 * 86_400_000);
  const report = reportBundle(certs(chain.intermediate), now);
  assert.equal(report.complete, false);
  assert.equal(report.certificates[0]!.daysLeft, 10);
  assert.equal(report.certificates[0]!.expiringSoon, true);
  assert.equal(report.certificates[0]!.issuerInBundle, false);
  const full = reportBundle(certs(chain.intermediate, pki.ca), intermediate.notBefore);
  assert.equal(full.complete, true);
  // The intermediate lives 30 days: flagged from its first day.
  assert.deepEqual(
    full.certificates.map((c) => [c.selfSigned, c.issuerInBundle]),
    [
      [false, true],
      [true, true],
    ],
  );
  assert.equal(full.certificates[0]!.expiringSoon, true);
});

test('RDS: one region plus the Amazon roots, only valid certificates, unknown region refused', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const all = rdsBundle({ now });
  assert.ok(all.length > 50);
  assert.ok(all.every((c) => c.notAfter > now && c.isCa));
  const eu = rdsBundle({ region: 'eu-west-1', now });
  const names = eu.map((c) => cn(c)!.slice(3));
  assert.ok(names.includes('Amazon RDS eu-west-1 Root CA RSA2048 G1'));
  assert.ok(names.includes('Amazon Root CA 1'));
  assert.ok(names.every((n) => n.includes('eu-west-1') || !n.startsWith('Amazon RDS')));
  assert.ok(rdsRegions().includes('us-east-1'));
  assert.equal(
    codeOf(() => rdsBundle({ region: 'mars-north-1', now })),
    'CLOUD_REGION_UNKNOWN',
  );
  assert.equal(buildBundle(eu, { now }).complete, true);
});
