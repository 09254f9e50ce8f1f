/**
 * Writing PKCS#12 (RFC 7292) keystores: a private key with its chain, or trusted certificates, under one
 * password. Layout as OpenSSL and Java write it: an AuthenticatedSafe of (1) an encrypted SafeContents of
 * certBags and (2) a plain SafeContents holding the pkcs8ShroudedKeyBag, then a password MAC over it all.
 */
import { createHash, createHmac, type KeyObject, randomBytes } from 'node:crypto';
import { explicit, implicit, NULL, octetString, oid, sequence, unsignedInteger } from '../pki/der.js';
import { bmpString, setOf } from './der.js';
import { KDF_PURPOSE, OID as PBE_OID, type PbeScheme, pbeEncrypt, pkcs12Kdf } from './pbe.js';

export const P12_OID = Object.freeze({
  DATA: '1.2.840.113549.1.7.1',
  ENCRYPTED_DATA: '1.2.840.113549.1.7.6',
  KEY_BAG: '1.2.840.113549.1.12.10.1.1',
  SHROUDED_KEY_BAG: '1.2.840.113549.1.12.10.1.2',
  CERT_BAG: '1.2.840.113549.1.12.10.1.3',
  X509_CERTIFICATE: '1.2.840.113549.1.9.22.1',
  FRIENDLY_NAME: '1.2.840.113549.1.9.20',
  LOCAL_KEY_ID: '1.2.840.113549.1.9.21',
  /**
   * Oracle's "trusted key usage" attribute: Java loads a certBag without a key as a trustedCertEntry only
   * when it carries this (JDK PKCS12KeyStore; OpenSSL 3.2 added `-jdktrust` for the same reason).
   */
  ORACLE_TRUSTED_KEY_USAGE: '2.16.840.1.113894.746875.1.1',
  ANY_EXTENDED_KEY_USAGE: '2.5.29.37.0',
});

/** PFX version (RFC 7292 section 4). */
const PFX_VERSION = 3;
/** EncryptedData version (RFC 5652 section 8). */
const ENCRYPTED_DATA_VERSION = 0;

export type Pkcs12Profile = 'modern' | 'legacy';

interface ProfileSpec {
  readonly scheme: PbeScheme;
  readonly iterations: number;
  readonly macHash: 'sha1' | 'sha256';
  readonly macIterations: number;
}

/**
 * modern: what OpenSSL 3 writes by default and Java 11.0.12+ reads and writes (Java's 10,000 iterations).
 * legacy: 3DES + SHA-1 MAC, the newest that Java 8 before 8u301 reads; RC2 is avoided on purpose because
 * OpenSSL 3 refuses it without the legacy provider.
 */
export const PKCS12_PROFILES: Readonly<Record<Pkcs12Profile, ProfileSpec>> = Object.freeze({
  modern: Object.freeze({
    scheme: 'pbes2-aes256',
    iterations: 10_000,
    macHash: 'sha256',
    macIterations: 10_000,
  }),
  legacy: Object.freeze({ scheme: 'pbe-sha1-3des', iterations: 2048, macHash: 'sha1', macIterations: 2048 }),
});

const MAC_DIGEST_OID: Readonly<Record<'sha1' | 'sha256', string>> = Object.freeze({
  sha1: PBE_OID.SHA1,
  sha256: PBE_OID.SHA256,
});

export interface Pkcs12KeyInput {
  readonly key: KeyObject;
  /** DER certificates, leaf first, then intermediates and (optionally) the root. */
  readonly chain: readonly Uint8Array[];
  readonly alias: string;
  readonly password: string;
  readonly profile?: Pkcs12Profile;
}

export interface TrustedCertInput {
  readonly alias: string;
  readonly cert: Uint8Array;
}

export interface Pkcs12TruststoreInput {
  readonly certs: readonly TrustedCertInput[];
  readonly password: string;
  readonly profile?: Pkcs12Profile;
}

const attribute = (type: string, value: Buffer) => sequence(oid(type), setOf(value));
const friendlyName = (alias: string) => attribute(P12_OID.FRIENDLY_NAME, bmpString(alias));
const localKeyId = (id: Buffer) => attribute(P12_OID.LOCAL_KEY_ID, octetString(id));
const trustedForAnyUsage = () =>
  attribute(P12_OID.ORACLE_TRUSTED_KEY_USAGE, oid(P12_OID.ANY_EXTENDED_KEY_USAGE));

function certBag(der: Uint8Array, attributes: Buffer[]): Buffer {
  const value = sequence(oid(P12_OID.X509_CERTIFICATE), explicit(0, octetString(der)));
  return sequence(
    oid(P12_OID.CERT_BAG),
    explicit(0, value),
    ...(attributes.length ? [setOf(...attributes)] : []),
  );
}

const dataContentInfo = (content: Buffer) => sequence(oid(P12_OID.DATA), explicit(0, octetString(content)));

function encryptedContentInfo(content: Buffer, password: string, spec: ProfileSpec): Buffer {
  const enc = pbeEncrypt(spec.scheme, password, content, spec.iterations);
  const encryptedData = sequence(
    unsignedInteger(ENCRYPTED_DATA_VERSION),
    sequence(oid(P12_OID.DATA), enc.algorithm, implicit(0, enc.data)),
  );
  return sequence(oid(P12_OID.ENCRYPTED_DATA), explicit(0, encryptedData));
}

/** Assembles the PFX around the AuthenticatedSafe and adds the MAC (RFC 7292 section 5.1). */
function pfx(safes: Buffer[], password: string, spec: ProfileSpec): Buffer {
  const authSafe = sequence(...safes);
  const salt = randomBytes(16);
  const size = spec.macHash === 'sha1' ? 20 : 32;
  const macKey = pkcs12Kdf(spec.macHash, password, salt, spec.macIterations, KDF_PURPOSE.MAC, size);
  const mac = createHmac(spec.macHash, macKey).update(authSafe).digest();
  const macData = sequence(
    sequence(sequence(oid(MAC_DIGEST_OID[spec.macHash]), NULL), octetString(mac)),
    octetString(salt),
    unsignedInteger(spec.macIterations),
  );
  return sequence(unsignedInteger(PFX_VERSION), dataContentInfo(authSafe), macData);
}

/** A PKCS#12 file with one private key entry under `alias`, its chain, and a MAC under `password`. */
export function writePkcs12(input: Pkcs12KeyInput): Buffer {
  const spec = PKCS12_PROFILES[input.profile ?? 'modern'];
  const [leaf, ...rest] = input.chain;
  if (!leaf) throw new TypeError('writePkcs12: the chain must hold at least the leaf certificate');
  // OpenSSL's choice of local key id: the SHA-1 of the certificate, which ties key bag and cert bag.
  const keyId = createHash('sha1').update(leaf).digest();
  const certs = [
    certBag(leaf, [friendlyName(input.alias), localKeyId(keyId)]),
    ...rest.map((der) => certBag(der, [])),
  ];
  const plainKey = input.key.export({ type: 'pkcs8', format: 'der' });
  const enc = pbeEncrypt(spec.scheme, input.password, plainKey, spec.iterations);
  const keyBag = sequence(
    oid(P12_OID.SHROUDED_KEY_BAG),
    explicit(0, sequence(enc.algorithm, octetString(enc.data))),
    setOf(friendlyName(input.alias), localKeyId(keyId)),
  );
  return pfx(
    [encryptedContentInfo(sequence(...certs), input.password, spec), dataContentInfo(sequence(keyBag))],
    input.password,
    spec,
  );
}

/** A PKCS#12 truststore: one trusted certificate entry per CA, readable by Java as trustedCertEntry. */
export function writePkcs12Truststore(input: Pkcs12TruststoreInput): Buffer {
  const spec = PKCS12_PROFILES[input.profile ?? 'modern'];
  const bags = input.certs.map((c) => certBag(c.cert, [friendlyName(c.alias), trustedForAnyUsage()]));
  return pfx([encryptedContentInfo(sequence(...bags), input.password, spec)], input.password, spec);
}
