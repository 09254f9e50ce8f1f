/** Keys (generation, PKCS#8, error codes) and CSRs (ours read by openssl, openssl's read by us). */
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCsr, parseCsr, parseCsrAsync } from '../../../src/pki/csr.js';
import {
  generateKeyMaterial,
  keyAlgorithmOf,
  parseKeyAlgorithm,
  privateKeyPem,
  publicKeyDer,
  readPrivateKey,
} from '../../../src/pki/keys.js';
import { toPem } from '../../../src/pki/pem.js';
import { openssl } from '../../harness/oracles.js';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-keys-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('keys', () => {
  test('EC key material built from the JWK equals node/OpenSSL encodings byte for byte', () => {
    for (const alg of Array.from(
      { length: 20 },
      (_, i) => (i % 2 ? 'ec-p256' : 'ec-p384') as 'ec-p256' | 'ec-p384',
    )) {
      const m = generateKeyMaterial(alg);
      // OpenSSL re-encodes our PKCS#8 to the same bytes, and derives the same public key from the scalar
      const reread = createPrivateKey(m.pkcs8Pem);
      assert.equal(reread.export({ format: 'pem', type: 'pkcs8' }), m.pkcs8Pem);
      assert.deepEqual(publicKeyDer(reread), m.spki);
      assert.equal(keyAlgorithmOf(m.privateKey), alg);
    }
  });

  test('parseKeyAlgorithm: known names, KEY_ALGORITHM_UNKNOWN, KEY_TOO_WEAK', () => {
    assert.equal(parseKeyAlgorithm('EC-P384'), 'ec-p384');
    assert.throws(() => parseKeyAlgorithm('dsa-1024'), { code: 'KEY_ALGORITHM_UNKNOWN' });
    assert.throws(() => parseKeyAlgorithm('ed448'), { code: 'KEY_ALGORITHM_UNKNOWN' });
    assert.throws(() => parseKeyAlgorithm('rsa-1024'), { code: 'KEY_TOO_WEAK' });
  });

  test('encrypted PKCS#8: openssl decrypts it; wrong or missing passphrase have their own codes', async () => {
    const m = generateKeyMaterial('ec-p256');
    const pem = privateKeyPem(m.privateKey, 'correct horse');
    assert.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const file = path.join(dir, 'enc.pem');
    fs.writeFileSync(file, pem);
    const r = await openssl(['pkey', '-in', file, '-passin', 'pass:correct horse', '-noout']);
    assert.equal(r.code, 0, r.stderr);
    const info = await openssl(['asn1parse', '-in', file]);
    assert.match(info.stdout, /aes-256-cbc/);
    assert.deepEqual(publicKeyDer(readPrivateKey(pem, 'correct horse')), m.spki);
    assert.throws(() => readPrivateKey(pem, 'wrong'), { code: 'KEY_PASSPHRASE_WRONG' });
    assert.throws(() => readPrivateKey(pem), { code: 'KEY_PASSPHRASE_REQUIRED' });
    assert.throws(() => readPrivateKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), {
      code: 'KEY_MALFORMED',
    });
  });
});

describe('CSRs', () => {
  test('our CSR verifies with `openssl req -verify` and carries the SANs', async () => {
    const m = generateKeyMaterial('ec-p256');
    const pem = createCsr({
      subject: [{ type: 'CN', value: 'db1.example.com' }],
      dnsNames: ['db1.example.com'],
      ipAddresses: ['10.0.0.5'],
      privateKey: m.privateKey,
    });
    const file = path.join(dir, 'ours.csr');
    fs.writeFileSync(file, pem);
    const r = await openssl(['req', '-in', file, '-verify', '-noout', '-text']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /verify OK/i);
    assert.match(r.stdout, /DNS:db1\.example\.com, IP Address:10\.0\.0\.5/);
    const back = parseCsr(pem);
    assert.deepEqual(
      [back.cn, back.dnsNames, back.ipAddresses, back.requestsCa],
      ['db1.example.com', ['db1.example.com'], ['10.0.0.5'], false],
    );
  });

  test("openssl's CSRs: SANs read, CA:true detected, RSA CSR verified", async () => {
    const key = path.join(dir, 'k.pem');
    const csr = path.join(dir, 'ca.csr');
    const r = await openssl([
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      '/O=x/CN=db2.example.com',
      '-addext',
      'subjectAltName=DNS:db2.example.com,IP:10.0.0.2',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const info = parseCsr(fs.readFileSync(csr));
    assert.equal(info.subject, '/O=x/CN=db2.example.com');
    assert.deepEqual(
      [info.dnsNames, info.ipAddresses, info.requestsCa],
      [['db2.example.com'], ['10.0.0.2'], true],
    );
  });

  test('a tampered CSR is CSR_SIGNATURE_INVALID; garbage is CSR_MALFORMED', () => {
    const m = generateKeyMaterial('ec-p256');
    const pem = createCsr({ subject: [{ type: 'CN', value: 'abc.example.com' }], privateKey: m.privateKey });
    const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    const at = der.indexOf(Buffer.from('abc.example.com'));
    der[at] = 'x'.charCodeAt(0);
    assert.throws(() => parseCsr(toPem('CERTIFICATE REQUEST', der)), { code: 'CSR_SIGNATURE_INVALID' });
    assert.throws(() => parseCsr('hello'), { code: 'CSR_MALFORMED' });
    assert.throws(() => parseCsr(toPem('CERTIFICATE REQUEST', Buffer.from('3003020100', 'hex'))), {
      code: 'CSR_MALFORMED',
    });
    assert.throws(
      () => parseCsr('-----BEGIN CERTIFICATE REQUEST-----\n@@@\n-----END CERTIFICATE REQUEST-----\n'),
      {
        code: 'CSR_MALFORMED',
      },
    );
  });

  test('a CSR signed by another key than the one it names does not verify', () => {
    const a = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const b = generateKeyMaterial('ec-p256');
    const pem = createCsr({ subject: [{ type: 'CN', value: 'x' }], privateKey: a.privateKey });
    const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    const spkiA = publicKeyDer(a.publicKey);
    const swapped = Buffer.from(der);
    swapped.set(b.spki, der.indexOf(spkiA));
    assert.throws(() => parseCsr(toPem('CERTIFICATE REQUEST', swapped)), { code: 'CSR_SIGNATURE_INVALID' });
  });

  test('parseCsrAsync (the fast key import) gives what parseCsr gives, and refuses the same CSRs with the same codes', async () => {
    const m = generateKeyMaterial('ec-p256');
    const pem = createCsr({
      subject: [{ type: 'CN', value: 'db3.example.com' }],
      dnsNames: ['db3.example.com'],
      privateKey: m.privateKey,
    });
    const sync = parseCsr(pem);
    const async = await parseCsrAsync(pem);
    assert.deepEqual(
      { ...async, publicKey: undefined, pem: async.pem },
      { ...sync, publicKey: undefined, pem: sync.pem },
    );
    assert.ok(async.publicKey.equals(sync.publicKey));
    const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    // A point moved off the curve: the key cannot be imported, so the CSR is malformed (both paths).
    const offCurve = Buffer.from(der);
    const spki = publicKeyDer(m.publicKey);
    const at = der.indexOf(spki) + spki.length - 1;
    offCurve[at]! ^= 0x01;
    const bad = toPem('CERTIFICATE REQUEST', offCurve);
    assert.throws(() => parseCsr(bad), { code: 'CSR_MALFORMED' });
    await assert.rejects(parseCsrAsync(bad), {
      code: 'CSR_MALFORMED',
      message: /^could not read the CSR: its public key cannot be used: /,
    });
    // The signature made by another key than the one named: CSR_SIGNATURE_INVALID on the fast path too.
    const other = generateKeyMaterial('ec-p256');
    const swapped = Buffer.from(der);
    swapped.set(other.spki, der.indexOf(spki));
    await assert.rejects(parseCsrAsync(toPem('CERTIFICATE REQUEST', swapped)), {
      code: 'CSR_SIGNATURE_INVALID',
    });
  });
});
