import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { isDbtlsError } from '../../../src/errors.js';
import { KDF_PURPOSE, pkcs12Kdf } from '../../../src/keystore/pbe.js';
import { writePkcs12, writePkcs12Truststore } from '../../../src/keystore/pkcs12.js';
import { readPkcs12 } from '../../../src/keystore/pkcs12-reader.js';
import { readKeystore } from '../../../src/keystore/read.js';
import { openssl } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

let pki: TestPki;
before(async () => {
  pki = await makeTestPki();
});

const der = (file: string) => new X509Certificate(fs.readFileSync(file)).raw;
const key = (file: string) => createPrivateKey(fs.readFileSync(file));

/** Vectors from `openssl kdf ... PKCS12KDF` (the password given as BMPString hex) and Bouncy Castle's test. */
const KDF_VECTORS = [
  {
    hash: 'sha1',
    pw: 'smeg',
    salt: '0a58cf64530d823f',
    iter: 1,
    id: KDF_PURPOSE.KEY,
    n: 24,
    out: '8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3',
  },
  {
    hash: 'sha1',
    pw: 'queeg',
    salt: '05dec959acff72f7',
    iter: 1000,
    id: KDF_PURPOSE.KEY,
    n: 24,
    out: 'ed2034e36328830ff09df1e1a07dd357185dac0d4f9eb3d4',
  },
  {
    hash: 'sha256',
    pw: 'secret',
    salt: '00112233445566778899aabbccddeeff',
    iter: 2048,
    id: KDF_PURPOSE.MAC,
    n: 32,
    out: 'ee9a93c4d2a2a1627a43771fa2c817d8cd6dbf93c4788f1faeb703d1da106db0',
  },
] as const;

for (const v of KDF_VECTORS) {
  test(`PKCS#12 KDF ${v.hash} id=${v.id} iter=${v.iter} matches OpenSSL`, () => {
    assert.equal(
      pkcs12Kdf(v.hash, v.pw, Buffer.from(v.salt, 'hex'), v.iter, v.id, v.n).toString('hex'),
      v.out,
    );
  });
}

for (const profile of ['modern', 'legacy'] as const) {
  test(`${profile} PKCS#12 round trip: alias, chain order, the same key`, () => {
    const bytes = writePkcs12({
      key: key(pki.client.key),
      chain: [der(pki.client.cert), der(pki.ca)],
      alias: 'mariadbclient',
      password: 'pässword',
      profile,
    });
    const [entry, ...rest] = readPkcs12(bytes, 'pässword');
    assert.equal(rest.length, 0);
    assert.equal(entry!.type, 'PrivateKeyEntry');
    assert.equal(entry!.alias, 'mariadbclient');
    assert.deepEqual(entry!.chain, [der(pki.client.cert), der(pki.ca)]);
    assert.deepEqual(
      entry!.key!.export({ type: 'pkcs8', format: 'der' }),
      key(pki.client.key).export({ type: 'pkcs8', format: 'der' }),
    );
  });
}

test('a PKCS#12 truststore reads back as trustedCertEntry per CA', () => {
  const bytes = writePkcs12Truststore({
    certs: [
      { alias: 'root', cert: der(pki.ca) },
      { alias: 'other', cert: der(pki.otherCa) },
    ],
    password: 'pw',
  });
  const entries = readPkcs12(bytes, 'pw');
  assert.deepEqual(
    entries.map((e) => [e.type, e.alias, e.chain.length]),
    [
      ['trustedCertEntry', 'root', 1],
      ['trustedCertEntry', 'other', 1],
    ],
  );
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

test('wrong password, altered MAC and every truncation give stable codes', () => {
  const bytes = writePkcs12({
    key: key(pki.server.key),
    chain: [der(pki.server.cert)],
    alias: 'a',
    password: 'right',
  });
  assert.equal(
    codeOf(() => readKeystore(bytes, 'wrong')),
    'KEYSTORE_PASSWORD_WRONG',
  );
  const altered = Buffer.from(bytes);
  altered[altered.length - 40]! ^= 0x01; // inside the MAC digest
  assert.equal(
    codeOf(() => readKeystore(altered, 'right')),
    'KEYSTORE_PASSWORD_WRONG',
  );
  for (const length of [0, 1, 2, 10, 100, bytes.length / 2, bytes.length - 1]) {
    const code = codeOf(() => readKeystore(bytes.subarray(0, Math.floor(length)), 'right'));
    assert.equal(code, 'KEYSTORE_MALFORMED', `truncated to ${length} bytes`);
  }
});

test('reads what `openssl pkcs12 -export` (OpenSSL 3 defaults) writes', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-p12-'));
  const out = path.join(tmp, 'openssl.p12');
  fs.writeFileSync(path.join(tmp, 'pw'), 'Open-Pw\n');
  try {
    const r = await openssl([
      'pkcs12',
      '-export',
      '-in',
      pki.client.cert,
      '-inkey',
      pki.client.key,
      '-certfile',
      pki.ca,
      '-name',
      'fromopenssl',
      '-passout',
      'pass:Open-Pw',
      '-out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [entry, ...rest] = readKeystore(fs.readFileSync(out), 'Open-Pw').entries;
    assert.equal(rest.length, 0);
    assert.deepEqual([entry!.alias, entry!.type, entry!.chain.length], ['fromopenssl', 'PrivateKeyEntry', 2]);
    assert.ok(entry!.key!.equals(key(pki.client.key)));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
