import 'reflect-metadata';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { X509Crl } from '@peculiar/x509';
import { readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import { generateCrls, revoke } from '../../../src/ca/revoke.js';
import { type Ca, openCa, readCaMeta } from '../../../src/ca/store.js';
import { isDbtlsError } from '../../../src/errors.js';
import { parseRevocationReason } from '../../../src/pki/crl.js';

const NOW = new Date('2026-03-01T12:00:00Z');
let dir: string;
let ca: Ca;
const serials: Record<string, string> = {};

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-revoke-'));
  ca = initCa(path.join(dir, 'ca'), { passphrase: undefined, intermediate: true, now: NOW });
  for (const cn of ['alice', 'bob', 'carol'])
    serials[cn] = issueCertificate(ca, { profile: 'client', cn, now: NOW }).cert.serial;
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isDbtlsError(err)) return err.code;
    throw err;
  }
  return 'no error';
}

/** Every CRL of the PEM file, parsed by @peculiar/x509 (independent of our encoder). */
const crlsOf = (pem: string) =>
  (pem.match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g) ?? []).map((b) => new X509Crl(b));

test('revoke by serial (as users type it) keeps every index line and records when and why', () => {
  const before = readIndex(ca.dir);
  const typed = serials.alice!.toUpperCase().match(/../g)!.join(':');
  const [entry] = revoke(ca.dir, { serial: typed, reason: 'keyCompromise', now: NOW });
  assert.equal(entry!.serial, serials.alice);
  const after = readIndex(ca.dir);
  assert.equal(after.length, before.length);
  const alice = after.find((e) => e.serial === serials.alice)!;
  assert.deepEqual(
    [alice.status, alice.revokedAt, alice.revocationReason],
    ['revoked', NOW.toISOString(), 'keyCompromise'],
  );
  assert.deepEqual(
    after.filter((e) => e.serial !== serials.alice),
    before.filter((e) => e.serial !== serials.alice),
  );
});

test('revoking twice, an unknown serial or CN, or both selectors: stable codes, index untouched', () => {
  const snapshot = fs.readFileSync(path.join(ca.dir, 'index.jsonl'));
  assert.equal(
    codeOf(() => revoke(ca.dir, { serial: serials.alice! })),
    'ALREADY_REVOKED',
  );
  assert.equal(
    codeOf(() => revoke(ca.dir, { cn: 'alice' })),
    'ALREADY_REVOKED',
  );
  assert.equal(
    codeOf(() => revoke(ca.dir, { serial: 'abcdef' })),
    'CERT_NOT_FOUND',
  );
  assert.equal(
    codeOf(() => revoke(ca.dir, { cn: 'nobody' })),
    'CERT_NOT_FOUND',
  );
  assert.equal(
    codeOf(() => revoke(ca.dir, { serial: 'zz' })),
    'SERIAL_INVALID',
  );
  assert.equal(
    codeOf(() => revoke(ca.dir, { serial: serials.bob!, cn: 'bob' })),
    'USAGE',
  );
  assert.equal(
    codeOf(() => parseRevocationReason('stolen')),
    'REASON_UNKNOWN',
  );
  assert.equal(parseRevocationReason('KEYCOMPROMISE'), 'keyCompromise');
  assert.deepEqual(fs.readFileSync(path.join(ca.dir, 'index.jsonl')), snapshot);
});

test('the CRL file lists exactly the revoked serials per issuer, with CRL number, AKI and next update', () => {
  revoke(ca.dir, { cn: 'carol', reason: 'unspecified', now: NOW });
  const intermediateSerial = readIndex(ca.dir).find((e) => e.profile === 'intermediate')!.serial;
  const number = readCaMeta(ca.dir).crlNumber;
  const set = generateCrls(openCa(ca.dir), { days: 7, now: NOW });
  assert.equal(readCaMeta(ca.dir).crlNumber, number + 1);
  assert.equal(fs.readFileSync(set.file, 'utf8'), set.pem);
  const [inter, root] = crlsOf(set.pem);
  assert.equal(inter!.issuer, 'O=dbtls, CN=dbtls Intermediate CA');
  assert.equal(root!.issuer, 'O=dbtls, CN=dbtls Root CA');
  assert.deepEqual(
    inter!.entries.map((e) => e.serialNumber.toLowerCase()).sort(),
    [serials.alice, serials.carol].sort(),
  );
  assert.equal(root!.entries.length, 0);
  const alice = inter!.entries.find((e) => e.serialNumber.toLowerCase() === serials.alice)!;
  assert.equal(alice.reason, 1); // keyCompromise
  assert.equal(inter!.entries.find((e) => e.serialNumber.toLowerCase() === serials.carol)!.reason, undefined);
  assert.deepEqual(inter!.thisUpdate, NOW);
  assert.deepEqual(inter!.nextUpdate, new Date('2026-03-08T12:00:00Z'));
  const ext = (crl: X509Crl, oid: string) => crl.extensions.find((e) => e.type === oid);
  assert.ok(ext(inter!, '2.5.29.20'), 'CRL number');
  assert.ok(ext(inter!, '2.5.29.35'), 'authority key identifier');
  assert.equal(
    Buffer.from(ext(inter!, '2.5.29.35')!.value).toString('hex').includes(ca.intermediate!.subjectKeyId!),
    true,
  );
  // Revoking the intermediate moves it to the root's CRL.
  revoke(ca.dir, { serial: intermediateSerial, reason: 'caCompromise', now: NOW });
  const again = crlsOf(generateCrls(openCa(ca.dir), { now: NOW }).pem);
  assert.deepEqual(
    again[1]!.entries.map((e) => e.serialNumber.toLowerCase()),
    [intermediateSerial],
  );
  assert.equal(readCaMeta(ca.dir).crlNumber, number + 2);
});

test('CRL lifetime out of range is refused before anything is written', () => {
  const number = readCaMeta(ca.dir).crlNumber;
  assert.equal(
    codeOf(() => generateCrls(openCa(ca.dir), { days: 0 })),
    'CRL_DAYS_INVALID',
  );
  assert.equal(
    codeOf(() => generateCrls(openCa(ca.dir), { days: 1000 })),
    'CRL_DAYS_INVALID',
  );
  assert.equal(readCaMeta(ca.dir).crlNumber, number);
});
