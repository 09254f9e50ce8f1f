/** publicKeyFromSpki: the component path gives the same key, and the same description, as OpenSSL's decoder. */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, test } from 'node:test';
import { describeKey } from '../../../src/pki/keys.js';
import { knownDescriptions, publicKeyFromSpki, publicKeyFromSpkiAsync } from '../../../src/pki/spki.js';

const spkiOf = (key: KeyObject): Buffer => key.export({ format: 'der', type: 'spki' });

const CASES: ReadonlyArray<{ name: string; key: () => KeyObject; fast: boolean }> = [
  { name: 'EC P-256', key: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, fast: true },
  { name: 'EC P-384', key: () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey, fast: true },
  { name: 'EC P-521', key: () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey, fast: true },
  { name: 'RSA 2048', key: () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey, fast: true },
  {
    name: 'RSA 1031 (odd size)',
    key: () => generateKeyPairSync('rsa', { modulusLength: 1031 }).publicKey,
    fast: true,
  },
  { name: 'Ed25519', key: () => generateKeyPairSync('ed25519').publicKey, fast: true },
  // Curves it does not know go OpenSSL's way; describeKey then asks OpenSSL as before.
  {
    name: 'EC secp256k1',
    key: () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey,
    fast: false,
  },
];

describe('publicKeyFromSpki', () => {
  for (const c of CASES) {
    test(`${c.name}: same SPKI, same description as the DER decoder (sync and async)`, async () => {
      const original = c.key();
      const spki = spkiOf(original);
      const viaOpenssl = describeKey(createPublicKey({ key: spki, format: 'der', type: 'spki' }));
      for (const made of [publicKeyFromSpki(spki), await publicKeyFromSpkiAsync(spki)]) {
        assert.deepEqual(spkiOf(made), spki);
        assert.equal(made.type, 'public');
        assert.equal(knownDescriptions.has(made), c.fast);
        assert.deepEqual(describeKey(made), viaOpenssl);
        assert.ok(made.equals(original));
      }
    });
  }

  test('a point that is not on the curve is refused, by both imports', async () => {
    for (const namedCurve of ['P-256', 'P-384', 'P-521']) {
      const spki = Buffer.from(spkiOf(generateKeyPairSync('ec', { namedCurve }).publicKey));
      spki[spki.length - 1]! ^= 0x01; // flips one bit of y
      assert.throws(() => publicKeyFromSpki(spki), namedCurve);
      await assert.rejects(publicKeyFromSpkiAsync(spki), namedCurve);
      // The point at infinity's encoding where an uncompressed point belongs: refused too.
      const infinity = Buffer.from(spki);
      infinity.fill(0, infinity.length - (namedCurve === 'P-256' ? 64 : namedCurve === 'P-384' ? 96 : 132));
      await assert.rejects(publicKeyFromSpkiAsync(infinity), namedCurve);
    }
  });

  test('a truncated SPKI is a DER error naming the structure', () => {
    const spki = spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    assert.throws(
      () => publicKeyFromSpki(spki.subarray(0, 20)),
      (err: Error) => /public key/.test(err.message),
    );
  });
});
