/** The CA library: the issuance fast path against the parser, validity rules, serials, renewal selection. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { issueClientBatch, readNameList } from '../../../src/ca/batch.js';
import { readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate, resolveLeaf, signCsr } from '../../../src/ca/issue.js';
import { renewCertificate, selectForRenewal } from '../../../src/ca/renew.js';
import { signLeaf } from '../../../src/ca/sign-leaf.js';
import { type Ca, normalizeSerial, openCa } from '../../../src/ca/store.js';
import { parseCertificate } from '../../../src/pki/certificate.js';
import { createCsr } from '../../../src/pki/csr.js';
import { generateKeyMaterial } from '../../../src/pki/keys.js';

const NOW = new Date('2026-03-01T12:00:00Z');
let dir: string;
let ca: Ca;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-ca-unit-'));
  ca = initCa(path.join(dir, 'ca'), { passphrase: 'pass phrase', intermediate: true, now: NOW, days: 1000 });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the fast-path CertificateInfo equals parseCertificate() of the same bytes', () => {
  for (const req of [
    { profile: 'server', cn: 'db1.example.com', dns: ['db1'], ip: ['10.0.0.1', 'fd00::1'] },
    { profile: 'client', cn: 'app user', key: 'ec-p384' },
    { profile: 'server', cn: '192.168.1.10' },
  ] as const) {
    const issued = signLeaf(ca, resolveLeaf(ca, { ...req, now: NOW }), new Set());
    assert.deepEqual(issued.cert, parseCertificate(issued.cert.der));
  }
});

test('serials are 32 lowercase hex digits, positive, unique', () => {
  const taken = new Set<string>();
  const leaf = resolveLeaf(ca, { profile: 'client', cn: 'u', now: NOW });
  for (let i = 0; i < 200; i++) {
    const s = signLeaf(ca, leaf, taken).entry.serial;
    assert.match(s, /^(?!00)[0-7][0-9a-f]{31}$/);
  }
  assert.equal(taken.size, 200);
  assert.equal(normalizeSerial('0A:1B:ff'), '0a1bff');
  assert.equal(normalizeSerial('3ff'), '03ff');
  assert.equal(normalizeSerial('00:00:ab'), 'ab');
  assert.throws(() => normalizeSerial('xyz'), { code: 'SERIAL_INVALID' });
});

test('validity: defaults, never beyond the issuer, never before it', () => {
  const leaf = resolveLeaf(ca, { profile: 'server', cn: 'a.example.com', now: NOW });
  assert.equal(leaf.notBefore.getTime(), ca.issuer.notBefore.getTime()); // backdating stops at the issuer
  assert.equal(leaf.notAfter.getTime() - leaf.notBefore.getTime(), 397 * 86_400_000);
  assert.throws(() => resolveLeaf(ca, { profile: 'server', cn: 'a.example.com', days: 1001, now: NOW }), {
    code: 'DAYS_BEYOND_ISSUER',
  });
  assert.throws(() => resolveLeaf(ca, { profile: 'client', cn: 'x', days: 0, now: NOW }), {
    code: 'DAYS_INVALID',
  });
  // the intermediate (5 years by default) is cut to the 1000-day root
  assert.equal(ca.intermediate!.notAfter.getTime(), ca.root.notAfter.getTime());
});

test('names: server CN must be a host or IP; SANs validated; client CN length', () => {
  assert.throws(() => resolveLeaf(ca, { profile: 'server', cn: 'under_score host' }), { code: 'CN_INVALID' });
  assert.throws(() => resolveLeaf(ca, { profile: 'server', cn: 'a.example.com', dns: ['-bad-.com'] }), {
    code: 'DNS_NAME_INVALID',
  });
  assert.throws(() => resolveLeaf(ca, { profile: 'server', cn: 'a.example.com', ip: ['1.2.3'] }), {
    code: 'IP_INVALID',
  });
  assert.throws(() => resolveLeaf(ca, { profile: 'client', cn: 'x'.repeat(65) }), { code: 'CN_INVALID' });
  const l = resolveLeaf(ca, {
    profile: 'server',
    cn: 'DB1.Example.com',
    dns: ['db1.example.com', '*.db.example.com'],
    ip: ['::ffff:10.0.0.1'],
  });
  assert.deepEqual(l.dnsNames, ['db1.example.com', '*.db.example.com']);
  assert.deepEqual(l.ipAddresses, ['::ffff:a00:1']);
  assert.equal(resolveLeaf(ca, { profile: 'client', cn: 'app_user' }).dnsNames.length, 0);
});

test('openCa: wrong passphrase fails at open; no passphrase fails at first use', () => {
  assert.throws(() => openCa(ca.dir, 'wrong'), { code: 'KEY_PASSPHRASE_WRONG' });
  const locked = openCa(ca.dir);
  assert.equal(locked.root.subject, '/O=dbtls/CN=dbtls Root CA');
  assert.throws(() => locked.issuerKey, { code: 'PASSPHRASE_REQUIRED' });
  assert.throws(() => openCa(path.join(dir, 'none')), { code: 'CA_NOT_FOUND' });
  assert.throws(() => initCa(ca.dir, { passphrase: 'x' }), { code: 'CA_EXISTS' });
});

test('signCsr: the CA decides; CA:true refused; SANs copied', () => {
  const key = generateKeyMaterial('ec-p256');
  const csr = createCsr({
    subject: [{ type: 'CN', value: 'db9.example.com' }],
    dnsNames: ['db9.internal'],
    privateKey: key.privateKey,
  });
  const issued = signCsr(ca, csr, { profile: 'server' });
  assert.equal(issued.keyPem, undefined);
  assert.deepEqual(issued.cert.dnsNames, ['db9.example.com', 'db9.internal']);
  assert.deepEqual(issued.cert.spki, key.spki);
  assert.deepEqual(issued.cert.extendedKeyUsage, ['serverAuth']);
  assert.equal(issued.cert.isCa, false);
});

test('batch issuance and renewal selection', async () => {
  const out = path.join(dir, 'fleet');
  assert.deepEqual(readNameList('# users\n alice \n\nbob\r\n'), ['alice', 'bob']);
  const before = readIndex(ca.dir).length;
  const r = await issueClientBatch(ca, ['alice', 'bob', 'carol'], { outDir: out });
  assert.equal(r.entries.length, 3);
  assert.equal(readIndex(ca.dir).length, before + 3);
  assert.equal(fs.statSync(path.join(out, 'bob', 'key.pem')).mode & 0o777, 0o600);
  await assert.rejects(issueClientBatch(ca, ['alice'], { outDir: out }), { code: 'OUTPUT_EXISTS' });
  await assert.rejects(issueClientBatch(ca, ['dave', 'dave'], { outDir: out }), { code: 'CN_DUPLICATE' });
  await assert.rejects(issueClientBatch(ca, ['../evil'], { outDir: out }), { code: 'CN_INVALID' });
  assert.deepEqual(fs.readdirSync(out).sort(), ['alice', 'bob', 'carol']);
  assert.equal(
    fs.readFileSync(path.join(out, 'alice', 'cert.pem'), 'utf8'),
    fs.readFileSync(path.join(ca.dir, 'certs', `${r.entries[0]!.serial}.pem`), 'utf8'),
  );
  assert.equal(readIndex(ca.dir).length, before + 3);

  const entries = readIndex(ca.dir);
  const bob = entries.find((e) => e.cn === 'bob')!;
  assert.deepEqual(selectForRenewal(entries, { cn: 'bob' }), [bob]);
  assert.deepEqual(selectForRenewal(entries, { serial: bob.serial.toUpperCase() }), [bob]);
  assert.deepEqual(selectForRenewal(entries, { serial: `0${bob.serial}`.replace(/^0+/, '') }), [bob]);
  assert.deepEqual(selectForRenewal(entries, { serial: bob.serial.replace(/(..)(?!$)/g, '$1:') }), [bob]);
  assert.throws(() => selectForRenewal(entries, { cn: 'nobody' }), { code: 'CERT_NOT_FOUND' });
  const soon = selectForRenewal(entries, { expiringWithinDays: 3000 });
  assert.ok(soon.every((e) => e.profile !== 'intermediate'));
  assert.equal(selectForRenewal(entries, { expiringWithinDays: 1 }).length, 0);
  const renewed = issueCertificate(ca, { profile: 'client', cn: 'bob', renewedFrom: bob.serial });
  const after2 = readIndex(ca.dir);
  assert.equal(selectForRenewal(after2, { cn: 'bob' })[0]!.serial, renewed.entry.serial);
});

test("renewal trusts the CA's copy only when it matches the index fingerprint", () => {
  const a = issueCertificate(ca, { profile: 'client', cn: 'copy_a' });
  const b = issueCertificate(ca, { profile: 'client', cn: 'copy_b' });
  const copy = path.join(ca.dir, 'certs', `${a.entry.serial}.pem`);
  const original = fs.readFileSync(copy);
  fs.writeFileSync(copy, b.certPem); // replaced by another (valid) certificate of this CA
  assert.throws(() => renewCertificate(ca, a.entry), { code: 'CA_CORRUPT', message: /not the certificate/ });
  fs.rmSync(copy);
  assert.throws(() => renewCertificate(ca, a.entry), { code: 'CA_CORRUPT' });
  fs.writeFileSync(copy, original);
  assert.equal(renewCertificate(ca, a.entry).entry.renewedFrom, a.entry.serial);
});
