import assert from 'node:assert/strict';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { before, test } from 'node:test';
import { isDbtlsError } from '../../../src/errors.js';
import { JKS_MAGIC, protectKey, readJks, recoverKey, writeJks } from '../../../src/keystore/jks.js';
import { readKeystore } from '../../../src/keystore/read.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

let pki: TestPki;
before(async () => {
  pki = await makeTestPki();
});

const der = (file: string) => new X509Certificate(fs.readFileSync(file)).raw;
const key = (file: string) => createPrivateKey(fs.readFileSync(file));
const FIXED = new Date('2026-01-02T03:04:05.678Z');

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isDbtlsError(err)) return err.code;
    throw err;
  }
  return 'no error';
}

test('header, entry layout and the Mighty Aphrodite digest are byte-exact', () => {
  const cert = der(pki.ca);
  const bytes = writeJks({
    entries: [{ type: 'trustedCertEntry', alias: 'root', cert, createdAt: FIXED }],
    storePassword: 'pw',
  });
  const body = Buffer.concat([
    Buffer.from('feedfeed0000000200000001', 'hex'), // magic, version 2, one entry
    Buffer.from('00000002', 'hex'), // tag 2: trusted certificate
    Buffer.from('0004726f6f74', 'hex'), // UTF "root"
    Buffer.from(FIXED.getTime().toString(16).padStart(16, '0'), 'hex'),
    Buffer.from('0005582e353039', 'hex'), // UTF "X.509"
    Buffer.from(cert.length.toString(16).padStart(8, '0'), 'hex'),
    cert,
  ]);
  const pwUtf16be = Buffer.from('00700077', 'hex');
  const digest = createHash('sha1').update(pwUtf16be).update('Mighty Aphrodite').update(body).digest();
  assert.deepEqual(bytes, Buffer.concat([body, digest]));
  assert.equal(bytes.readUInt32BE(0), JKS_MAGIC);
});

test('Sun key protection: salt || keystream XOR || SHA-1 check, reversible only with the password', () => {
  const plain = Buffer.from('0123456789abcdef0123456789abcdef0123456789', 'utf8'); // not a multiple of 20
  const protectedKey = protectKey(plain, 'changeit');
  assert.equal(protectedKey.length, 20 + plain.length + 20);
  const pw = Buffer.from('changeit', 'utf16le').swap16();
  assert.deepEqual(protectedKey.subarray(-20), createHash('sha1').update(pw).update(plain).digest());
  assert.deepEqual(recoverKey(protectedKey, 'changeit'), plain);
  assert.equal(
    codeOf(() => recoverKey(protectedKey, 'other')),
    'KEYSTORE_PASSWORD_WRONG',
  );
});

test('a PrivateKeyEntry round trips with a separate key password', () => {
  const chain = [der(pki.client.cert), der(pki.ca)];
  const bytes = writeJks({
    entries: [
      { type: 'PrivateKeyEntry', alias: 'mariadbclient', key: key(pki.client.key), chain, createdAt: FIXED },
    ],
    storePassword: 'store',
    keyPassword: 'keypw',
  });
  const [entry] = readJks(bytes, 'store', { keyPassword: 'keypw' });
  assert.equal(entry!.type, 'PrivateKeyEntry');
  assert.equal(entry!.alias, 'mariadbclient');
  assert.deepEqual(entry!.createdAt, FIXED);
  assert.ok(entry!.type === 'PrivateKeyEntry' && entry!.key);
  if (entry!.type === 'PrivateKeyEntry') {
    assert.deepEqual(entry!.chain, chain);
    assert.ok(entry!.key!.equals(key(pki.client.key)));
  }
  assert.equal(
    codeOf(() => readJks(bytes, 'store')),
    'KEYSTORE_PASSWORD_WRONG',
  ); // key password differs
  assert.equal(readJks(bytes, 'store', { skipKeys: true }).length, 1);
});

test('wrong store password, altered bytes, truncation, duplicates: stable codes', () => {
  const bytes = writeJks({
    entries: [{ type: 'trustedCertEntry', alias: 'root', cert: der(pki.ca) }],
    storePassword: 'pw',
  });
  assert.equal(
    codeOf(() => readKeystore(bytes, 'nope')),
    'KEYSTORE_PASSWORD_WRONG',
  );
  const altered = Buffer.from(bytes);
  altered[60]! ^= 0x80;
  assert.equal(
    codeOf(() => readKeystore(altered, 'pw')),
    'KEYSTORE_PASSWORD_WRONG',
  );
  for (const length of [4, 12, 20, 40, bytes.length - 21, bytes.length - 1]) {
    assert.equal(
      codeOf(() => readKeystore(bytes.subarray(0, length), 'pw')),
      'KEYSTORE_MALFORMED',
      `truncated to ${length}`,
    );
  }
  const jceks = Buffer.from(bytes);
  jceks.writeUInt32BE(0xcececece, 0);
  assert.equal(
    codeOf(() => readKeystore(jceks, 'pw')),
    'KEYSTORE_UNSUPPORTED',
  );
  const dup = () =>
    writeJks({
      entries: [
        { type: 'trustedCertEntry', alias: 'Root', cert: der(pki.ca) },
        { type: 'trustedCertEntry', alias: 'root', cert: der(pki.otherCa) },
      ],
      storePassword: 'pw',
    });
  assert.equal(codeOf(dup), 'ALIAS_DUPLICATE');
});
