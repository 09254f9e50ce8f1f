/**
 * Builds and signs X.509 v3 certificates as bytes (RFC 5280 §4.1), with the extensions of a profile.
 * Fast path of issuance: see the note in der.ts for why this is not @peculiar/x509.
 */
import { createHash, type KeyObject, sign } from 'node:crypto';
import {
  bitString,
  boolean,
  DerReader,
  explicit,
  implicit,
  inside,
  NULL,
  namedBits,
  octetString,
  oid,
  sequence,
  TAG,
  time,
  unsignedInteger,
} from './der.js';
import { describeKey } from './keys.js';
import { EXTENDED_KEY_USAGE_OIDS, KEY_USAGE_BITS, type Profile } from './profiles.js';
import { ipAddressBytes } from './san.js';

/** Extension OIDs (RFC 5280 §4.2.1). */
export const EXTENSION_OIDS = Object.freeze({
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
});

export interface SignatureAlgorithm {
  readonly name: string;
  readonly hash: 'sha256' | 'sha384';
  /** The AlgorithmIdentifier DER (RFC 5758 §3.2: no parameters for ECDSA; RFC 4055 §5: NULL for RSA). */
  readonly der: Buffer;
}

/**
 * Signature algorithms by OID (RFC 3279, RFC 4055, RFC 5758, RFC 8410): the name OpenSSL prints, and the
 * node hash dbtls verifies CSRs with (null: Ed25519 hashes by itself; absent: not accepted in a CSR,
 * though named in reports, such as the weak MD5 and SHA-1 ones a server may still send).
 */
export const SIGNATURE_ALGORITHMS: Readonly<Record<string, { name: string; hash?: string | null }>> =
  Object.freeze({
    '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', hash: 'sha256' },
    '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', hash: 'sha384' },
    '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', hash: 'sha512' },
    '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', hash: 'sha256' },
    '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', hash: 'sha384' },
    '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', hash: 'sha512' },
    '1.3.101.112': { name: 'ED25519', hash: null },
    '1.2.840.113549.1.1.10': { name: 'rsassaPss' },
    '1.2.840.113549.1.1.5': { name: 'sha1WithRSAEncryption' },
    '1.2.840.113549.1.1.4': { name: 'md5WithRSAEncryption' },
    '1.2.840.10045.4.1': { name: 'ecdsa-with-SHA1' },
    '1.2.840.10040.4.3': { name: 'dsa-with-SHA1' },
  });

/** One of the table's algorithms as dbtls signs with it; `params` follow the OID (RFC 4055 §5: NULL for RSA). */
function signingAlgorithm(id: string, ...params: Buffer[]): SignatureAlgorithm {
  const { name, hash } = SIGNATURE_ALGORITHMS[id]!;
  return Object.freeze({ name, hash: hash as SignatureAlgorithm['hash'], der: sequence(oid(id), ...params) });
}
const ECDSA_SHA256 = signingAlgorithm('1.2.840.10045.4.3.2');
const ECDSA_SHA384 = signingAlgorithm('1.2.840.10045.4.3.3');
const RSA_SHA256 = signingAlgorithm('1.2.840.113549.1.1.11', NULL);

/** The signature algorithm for an issuer key: the hash matches the curve strength (RFC 5480 §4). */
const algorithmCache = new WeakMap<KeyObject, SignatureAlgorithm>();

export function signatureAlgorithmFor(key: KeyObject): SignatureAlgorithm {
  const cached = algorithmCache.get(key);
  if (cached) return cached;
  const algorithm = pickAlgorithm(key);
  algorithmCache.set(key, algorithm);
  return algorithm;
}

function pickAlgorithm(key: KeyObject): SignatureAlgorithm {
  const d = describeKey(key);
  if (d.keyType === 'EC') return d.curve === 'P-256' ? ECDSA_SHA256 : ECDSA_SHA384;
  return RSA_SHA256;
}

/** Key identifier: SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 §4.2.1.2, method 1). */
export function keyIdentifier(spki: Buffer): Buffer {
  const outer = inside(
    new DerReader(spki, 'a public key').expect(TAG.SEQUENCE, 'SubjectPublicKeyInfo'),
    'a public key',
  );
  outer.expect(TAG.SEQUENCE, 'algorithm');
  const bits = outer.expect(TAG.BIT_STRING, 'subjectPublicKey');
  return createHash('sha1').update(bits.value.subarray(1)).digest();
}

function extension(oidText: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? sequence(oid(oidText), boolean(true), octetString(value))
    : sequence(oid(oidText), octetString(value));
}

export interface ExtensionInput {
  readonly profile: Profile;
  readonly subjectSpki: Buffer;
  /** keyIdentifier(subjectSpki) when the caller has it already (issuance needs it twice). */
  readonly subjectKeyId?: Buffer;
  /** RSA subject keys get the profile's extra key usages. */
  readonly subjectIsRsa: boolean;
  /** The issuer's subject key identifier (for a self-signed root: its own). */
  readonly issuerKeyId: Buffer;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/** The extensions of a profile, in the order OpenSSL writes them. */
export function profileExtensions(input: ExtensionInput): Buffer[] {
  const exts = [...fixedExtensions(input.profile, input.subjectIsRsa)];
  exts.push(
    extension(
      EXTENSION_OIDS.subjectKeyIdentifier,
      false,
      octetString(input.subjectKeyId ?? keyIdentifier(input.subjectSpki)),
    ),
  );
  exts.push(authorityKeyIdExtension(input.issuerKeyId));
  if (input.dnsNames.length + input.ipAddresses.length > 0) {
    const names = [
      ...input.dnsNames.map((n) => implicit(2, Buffer.from(n, 'latin1'))), // dNSName [2] IA5String
      ...input.ipAddresses.map((a) => implicit(7, ipAddressBytes(a))), // iPAddress [7] OCTET STRING
    ];
    exts.push(extension(EXTENSION_OIDS.subjectAltName, false, sequence(...names)));
  }
  return exts;
}

/** The extensions that depend only on the profile (and key type): encoded once per process. */
const fixedCache = new Map<string, readonly Buffer[]>();

function fixedExtensions(p: Profile, rsa: boolean): readonly Buffer[] {
  const cacheKey = `${p.name}:${rsa}`;
  const cached = fixedCache.get(cacheKey);
  if (cached) return cached;
  const exts: Buffer[] = [];
  // basicConstraints is critical in every certificate we make (RFC 5280 §4.2.1.9 requires it for CAs).
  const bc: Buffer[] = [];
  if (p.ca) bc.push(boolean(true));
  if (p.ca && p.pathLength !== undefined) bc.push(unsignedInteger(p.pathLength));
  exts.push(extension(EXTENSION_OIDS.basicConstraints, true, sequence(...bc)));
  const usages = rsa ? [...p.keyUsage, ...p.rsaExtraKeyUsage] : p.keyUsage;
  exts.push(extension(EXTENSION_OIDS.keyUsage, true, namedBits(usages.map((u) => KEY_USAGE_BITS[u]))));
  if (p.extendedKeyUsage.length > 0) {
    const purposes = p.extendedKeyUsage.map((u) => oid(EXTENDED_KEY_USAGE_OIDS[u]));
    exts.push(extension(EXTENSION_OIDS.extKeyUsage, false, sequence(...purposes)));
  }
  fixedCache.set(cacheKey, Object.freeze(exts));
  return exts;
}

const akiCache = new Map<string, Buffer>();

function authorityKeyIdExtension(keyId: Buffer): Buffer {
  const hex = keyId.toString('hex');
  let ext = akiCache.get(hex);
  if (!ext) {
    ext = extension(EXTENSION_OIDS.authorityKeyIdentifier, false, sequence(implicit(0, keyId)));
    if (akiCache.size < 64) akiCache.set(hex, ext);
  }
  return ext;
}

export interface CertificateTemplate {
  /** Big-endian magnitude of the serial number. */
  readonly serial: Uint8Array;
  readonly issuer: Buffer;
  readonly subject: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Buffer;
  readonly extensions: readonly Buffer[];
}

const VERSION_3 = explicit(0, unsignedInteger(2));

/** TBSCertificate DER (RFC 5280 §4.1.2). */
export function encodeTbs(t: CertificateTemplate, algorithm: SignatureAlgorithm): Buffer {
  return sequence(
    VERSION_3,
    unsignedInteger(t.serial),
    algorithm.der,
    t.issuer,
    sequence(time(t.notBefore), time(t.notAfter)),
    t.subject,
    t.spki,
    explicit(3, sequence(...t.extensions)),
  );
}

/** The signed Certificate DER (RFC 5280 §4.1.1). */
export function signCertificate(t: CertificateTemplate, issuerKey: KeyObject): Buffer {
  const algorithm = signatureAlgorithmFor(issuerKey);
  const tbs = encodeTbs(t, algorithm);
  // ECDSA signatures are DER Ecdsa-Sig-Value in X.509 (RFC 5758 §3.2), node's default dsaEncoding.
  return sequence(tbs, algorithm.der, bitString(sign(algorithm.hash, tbs, issuerKey)));
}

/** signCertificate with the signature made on libuv's thread pool, leaving this thread free meanwhile. */
export async function signCertificateAsync(t: CertificateTemplate, issuerKey: KeyObject): Promise<Buffer> {
  const algorithm = signatureAlgorithmFor(issuerKey);
  const tbs = encodeTbs(t, algorithm);
  const signature = await new Promise<Buffer>((resolve, reject) =>
    sign(algorithm.hash, tbs, issuerKey, (err, sig) => (err ? reject(err) : resolve(sig))),
  );
  return sequence(tbs, algorithm.der, bitString(signature));
}
