/**
 * A SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) turned into a KeyObject, for the CSR path.
 *
 * Why not `createPublicKey({ format: 'der', type: 'spki' })`: with OpenSSL 3 that call goes through the
 * generic decoder framework and was 39% of CSR signing (issue 11: ~2,100 CSRs/s). Building the key from
 * its components (JWK) takes less than half the time, and the components are already in the DER we
 * parse. The description (type, curve, bits) falls out of the same parse, so `describeKey` need not ask
 * OpenSSL for the key's details again. Anything this reader does not know goes the generic way.
 */
import { createPublicKey, KeyObject, webcrypto } from 'node:crypto';
import { DerReader, decodeOid, inside, TAG } from './der.js';

/** A key's type and size as dbtls reports them (pki/keys.ts describeKey). */
export interface KeyDescription {
  readonly keyType: 'EC' | 'RSA' | 'Ed25519' | 'other';
  readonly keyBits: number;
  readonly curve?: string;
}

/** Descriptions known without asking OpenSSL (filled here, read by describeKey). */
export const knownDescriptions = new WeakMap<KeyObject, KeyDescription>();

const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const ED25519 = '1.3.101.112';

/** Named curves by OID (RFC 5480 §2.1.1.1): JWK name, coordinate length, bits. */
const EC_CURVES: Readonly<Record<string, { jwk: string; size: number; bits: number }>> = Object.freeze({
  '1.2.840.10045.3.1.7': { jwk: 'P-256', size: 32, bits: 256 },
  '1.3.132.0.34': { jwk: 'P-384', size: 48, bits: 384 },
  '1.3.132.0.35': { jwk: 'P-521', size: 66, bits: 521 },
});

/** SEC 1 §2.3.3: an uncompressed point starts with 0x04. */
const UNCOMPRESSED_POINT = 0x04;

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** An unsigned big-endian integer without the sign byte DER adds when the top bit is set. */
function magnitude(value: Uint8Array): Uint8Array {
  let i = 0;
  while (i < value.length - 1 && value[i] === 0) i++;
  return value.subarray(i);
}

/** An EC public key as an SPKI carries it: the curve and the uncompressed point. */
interface EcPoint {
  readonly curve: (typeof EC_CURVES)[string];
  readonly point: Uint8Array;
}

/** The parts of a SubjectPublicKeyInfo the readers below need (DbtlsError from the DER reader when malformed). */
function readSpki(spki: Buffer): { algorithmOid: string; key: Uint8Array; ec?: EcPoint } | undefined {
  const outer = inside(
    new DerReader(spki, 'a public key').expect(TAG.SEQUENCE, 'SubjectPublicKeyInfo'),
    'a public key',
  );
  const algorithm = inside(outer.expect(TAG.SEQUENCE, 'algorithm'), 'a public key');
  const algorithmOid = decodeOid(algorithm.expect(TAG.OID, 'algorithm').value);
  const bits = outer.expect(TAG.BIT_STRING, 'subjectPublicKey').value;
  if (bits[0] !== 0) return undefined; // the first byte counts unused bits: 0 for every key type read here
  const key = bits.subarray(1);
  if (algorithmOid !== EC_PUBLIC_KEY || !algorithm.more()) return { algorithmOid, key };
  const curve = EC_CURVES[decodeOid(algorithm.expect(TAG.OID, 'namedCurve').value)];
  const uncompressed = curve && key.length === 1 + 2 * curve.size && key[0] === UNCOMPRESSED_POINT;
  return { algorithmOid, key, ...(uncompressed ? { ec: { curve, point: key } } : {}) };
}

/** The public key of a SubjectPublicKeyInfo; throws (a DbtlsError from the DER reader, or node's) when malformed. */
export function publicKeyFromSpki(spki: Buffer): KeyObject {
  const read = readSpki(spki);
  if (read?.ec) {
    const { curve, point } = read.ec;
    const made = createPublicKey({
      key: {
        kty: 'EC',
        crv: curve.jwk,
        x: b64url(point.subarray(1, 1 + curve.size)),
        y: b64url(point.subarray(1 + curve.size)),
      },
      format: 'jwk',
    });
    return described(made, { keyType: 'EC', keyBits: curve.bits, curve: curve.jwk });
  }
  if (read?.algorithmOid === RSA_ENCRYPTION) {
    const rsa = inside(
      new DerReader(Buffer.from(read.key), 'an RSA key').expect(TAG.SEQUENCE, 'RSAPublicKey'),
      'an RSA key',
    );
    const n = magnitude(rsa.expect(TAG.INTEGER, 'modulus').value);
    const e = magnitude(rsa.expect(TAG.INTEGER, 'publicExponent').value);
    const made = createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(e) }, format: 'jwk' });
    const keyBits = n.length === 0 ? 0 : (n.length - 1) * 8 + (32 - Math.clz32(n[0]!));
    return described(made, { keyType: 'RSA', keyBits });
  }
  if (read?.algorithmOid === ED25519 && read.key.length === 32) {
    const made = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(read.key) }, format: 'jwk' });
    return described(made, { keyType: 'Ed25519', keyBits: 256 });
  }
  return createPublicKey({ key: spki, format: 'der', type: 'spki' });
}

/**
 * publicKeyFromSpki for a run that imports thousands of keys on one thread (CSR signing, issue 11): an EC
 * point goes through WebCrypto's raw import, which skips OpenSSL's full public-key check. That check
 * multiplies the point by the group order: 0.65 M of the 0.85 M instructions a JWK import costs (callgrind,
 * node 20 with OpenSSL 3), three quarters of this thread's share of a CSR. It proves nothing more for the
 * curves read here, whose cofactor is 1: the raw import still refuses a point that is not on the curve,
 * and the CSR's self-signature then proves the requester holds the key. Other keys go the sync way.
 */
export async function publicKeyFromSpkiAsync(spki: Buffer): Promise<KeyObject> {
  const ec = readSpki(spki)?.ec;
  if (!ec) return publicKeyFromSpki(spki);
  const imported = await webcrypto.subtle.importKey(
    'raw',
    ec.point,
    { name: 'ECDSA', namedCurve: ec.curve.jwk },
    true,
    ['verify'],
  );
  return described(KeyObject.from(imported), { keyType: 'EC', keyBits: ec.curve.bits, curve: ec.curve.jwk });
}

function described(key: KeyObject, description: KeyDescription): KeyObject {
  knownDescriptions.set(key, description);
  return key;
}
