/**
 * Key pairs: generation, PKCS#8 PEM (encrypted with AES-256-CBC + PBKDF2 when a passphrase is given,
 * RFC 8018), reading with precise errors, and matching a key to a certificate.
 */
import {
  createECDH,
  createPrivateKey,
  createPublicKey,
  generateKeyPair as generateKeyPairCallback,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import { causeText, DbtlsError } from '../errors.js';
import { bitString, explicit, octetString, oid, sequence, unsignedInteger } from './der.js';
import { toPem } from './pem.js';
import { type KeyDescription, knownDescriptions } from './spki.js';

export type { KeyDescription };

export type KeyAlgorithm = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';

export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = Object.freeze([
  'ec-p256',
  'ec-p384',
  'rsa-2048',
  'rsa-3072',
  'rsa-4096',
]);

/** ECDSA P-256: 128-bit security, supported by every MySQL/MariaDB TLS stack, and ~600x faster than RSA to make. */
export const DEFAULT_KEY_ALGORITHM: KeyAlgorithm = 'ec-p256';

/** NIST SP 800-131A: RSA below 2048 bits is disallowed. */
export const MIN_RSA_BITS = 2048;

export function parseKeyAlgorithm(text: string): KeyAlgorithm {
  const t = text.trim().toLowerCase();
  if ((KEY_ALGORITHMS as readonly string[]).includes(t)) return t as KeyAlgorithm;
  const rsa = /^rsa-?(\d+)$/.exec(t);
  if (rsa && Number(rsa[1]) < MIN_RSA_BITS) {
    throw new DbtlsError(
      'KEY_TOO_WEAK',
      `could not use the key algorithm ${text}: RSA keys below ${MIN_RSA_BITS} bits are broken`,
      {
        hint: 'use --key rsa-2048 or larger, or the default ec-p256',
      },
    );
  }
  throw new DbtlsError(
    'KEY_ALGORITHM_UNKNOWN',
    `could not use the key algorithm ${text}: it is not one dbtls makes`,
    {
      hint: `choose one of ${KEY_ALGORITHMS.join(', ')}`,
    },
  );
}

export function generateKeyPair(alg: KeyAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (alg) {
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ec-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return generateKeyPairSync('rsa', { modulusLength: Number(alg.slice(4)), publicExponent: 0x10001 });
    default:
      return parseKeyAlgorithm(alg) as never;
  }
}

const generateKeyPairInPool = promisify(generateKeyPairCallback);

/**
 * The same key as generateKeyPair, made on libuv's thread pool so the event loop stays free: the CLI uses
 * it for RSA keys (an RSA-4096 key takes about a second, sometimes several), ticking a progress line.
 */
export async function generateKeyPairAsync(
  alg: KeyAlgorithm,
): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  switch (alg) {
    case 'ec-p256':
    case 'ec-p384':
      return generateKeyPair(alg);
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return generateKeyPairInPool('rsa', { modulusLength: Number(alg.slice(4)), publicExponent: 0x10001 });
    default:
      return parseKeyAlgorithm(alg) as never;
  }
}

/** The most passphrase bytes OpenSSL's PEM layer uses (PEM_BUFSIZE). */
export const PEM_PASSPHRASE_MAX = 1024;

/** PKCS#8 EncryptedPrivateKeyInfo, or a traditional OpenSSL key (RSA, EC) with a Proc-Type ENCRYPTED header. */
const ENCRYPTED = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/;

/** Where the CA commands read a key's passphrase from: the default of readPrivateKey's hints. */
const CA_PASSPHRASE_SOURCES = '--passphrase-file FILE or DBTLS_CA_PASSPHRASE';

/**
 * A PEM private key (PKCS#8, PKCS#1 or SEC1), decrypted with `passphrase` when it is encrypted.
 * `passphraseFrom` names, for the hints, where the user gives the passphrase (a flag of the command).
 */
export function readPrivateKey(
  pem: string | Buffer,
  passphrase?: string,
  passphraseFrom = CA_PASSPHRASE_SOURCES,
): KeyObject {
  const text = typeof pem === 'string' ? pem : pem.toString('latin1');
  const encrypted = ENCRYPTED.test(text);
  if (encrypted && passphrase === undefined) {
    throw new DbtlsError(
      'KEY_PASSPHRASE_REQUIRED',
      'could not read the private key: it is encrypted and no passphrase was given',
      {
        hint: `give the passphrase with ${passphraseFrom}`,
      },
    );
  }
  try {
    return createPrivateKey(
      encrypted ? { key: text, format: 'pem', passphrase: passphrase ?? '' } : { key: text, format: 'pem' },
    );
  } catch (err) {
    // OpenSSL encrypts with at most the first 1,024 bytes of a passphrase (PEM_BUFSIZE) but decrypts
    // with none beyond it: a key dbtls 0.1 wrote with a longer passphrase opens with its first 1,024 bytes.
    const bytes = passphrase === undefined ? undefined : Buffer.from(passphrase);
    if (encrypted && bytes && bytes.length > PEM_PASSPHRASE_MAX) {
      try {
        return createPrivateKey({
          key: text,
          format: 'pem',
          passphrase: bytes.subarray(0, PEM_PASSPHRASE_MAX),
        });
      } catch {
        // wrong either way: reported below
      }
    }
    if (encrypted) {
      throw new DbtlsError(
        'KEY_PASSPHRASE_WRONG',
        'could not decrypt the private key: the passphrase is wrong',
        {
          hint: `check ${passphraseFrom} (a trailing newline in a file is ignored)`,
          cause: err,
        },
      );
    }
    throw new DbtlsError('KEY_MALFORMED', `could not read the private key: ${causeText(err)}`, {
      hint: 'give a PEM private key (PKCS#8 "PRIVATE KEY", "EC PRIVATE KEY" or "RSA PRIVATE KEY")',
      cause: err,
    });
  }
}

/** PKCS#8 PEM; encrypted with AES-256-CBC (PBKDF2-HMAC-SHA256 key derivation) when a passphrase is given. */
export function privateKeyPem(key: KeyObject, passphrase?: string): string {
  if (passphrase === undefined) return key.export({ format: 'pem', type: 'pkcs8' }) as string;
  return key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase }) as string;
}

/** SubjectPublicKeyInfo DER of a public or private key. */
export function publicKeyDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ format: 'der', type: 'spki' });
}

const CURVES: Readonly<Record<string, { name: string; bits: number }>> = Object.freeze({
  prime256v1: { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
});

const SUPPORTED_CURVES = new Set(Object.values(CURVES).map((c) => c.name));

export function describeKey(key: KeyObject): KeyDescription {
  const known = knownDescriptions.get(key);
  if (known) return known;
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = CURVES[details.namedCurve ?? ''];
      return {
        keyType: 'EC',
        keyBits: curve?.bits ?? 0,
        curve: curve?.name ?? details.namedCurve ?? 'unknown',
      };
    }
    case 'rsa':
    case 'rsa-pss':
      return { keyType: 'RSA', keyBits: details.modulusLength ?? 0 };
    case 'ed25519':
      return { keyType: 'Ed25519', keyBits: 256 };
    default:
      return { keyType: 'other', keyBits: 0 };
  }
}

/** The KeyAlgorithm a key (or a certificate's key: a CertificateInfo describes it) corresponds to, if dbtls could have made it. */
export function keyAlgorithmOf(key: KeyObject | KeyDescription): KeyAlgorithm | undefined {
  const d = 'keyType' in key ? key : describeKey(key);
  if (d.keyType === 'EC')
    return d.curve === 'P-256' ? 'ec-p256' : d.curve === 'P-384' ? 'ec-p384' : undefined;
  if (d.keyType === 'RSA') {
    const alg = `rsa-${d.keyBits}`;
    return (KEY_ALGORITHMS as readonly string[]).includes(alg) ? (alg as KeyAlgorithm) : undefined;
  }
  return undefined;
}

/** Refuses public keys dbtls would not put in a certificate (RSA < 2048, unknown types). */
export function checkKeyStrength(key: KeyObject, what: string): void {
  const d = describeKey(key);
  if (d.keyType === 'RSA' && d.keyBits < MIN_RSA_BITS) {
    throw new DbtlsError(
      'KEY_TOO_WEAK',
      `could not use ${what}: its RSA key has ${d.keyBits} bits, below ${MIN_RSA_BITS}`,
      {
        hint: 'make a new key with `dbtls csr` (ECDSA P-256 by default) or RSA 2048 bits or more',
      },
    );
  }
  // secp256k1, brainpool and the like: MySQL clients and TLS 1.3 (RFC 8446 §4.2.7) know only the NIST curves.
  if (d.keyType === 'EC' && !SUPPORTED_CURVES.has(d.curve ?? '')) {
    throw new DbtlsError(
      'KEY_CURVE_UNSUPPORTED',
      `could not use ${what}: its EC key is on the curve ${d.curve}, not P-256, P-384 or P-521`,
      { hint: 'make a new key on P-256 (the default of `dbtls csr`) or P-384' },
    );
  }
  if (d.keyType === 'other') {
    throw new DbtlsError('KEY_ALGORITHM_UNKNOWN', `could not use ${what}: its key type is not supported`, {
      hint: 'use an ECDSA P-256/P-384 or RSA key',
    });
  }
}

/** id-ecPublicKey and the named curves (RFC 5480 §2.1.1), with OpenSSL's curve names for ECDH. */
const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const EC_CURVES = Object.freeze({
  'ec-p256': { oid: '1.2.840.10045.3.1.7', curve: 'P-256', openssl: 'prime256v1', bytes: 32 },
  'ec-p384': { oid: '1.3.132.0.34', curve: 'P-384', openssl: 'secp384r1', bytes: 48 },
} as const);

export interface KeyMaterial {
  /** Created on first use: the issuance fast path only needs the encodings. */
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER. */
  readonly spki: Buffer;
  /** Unencrypted PKCS#8 PEM. */
  readonly pkcs8Pem: string;
  readonly description: KeyDescription;
}

/** One ECDH object per curve, reused: generateKeys() makes a fresh key pair on every call. */
const ecdhObjects = new Map<string, ReturnType<typeof createECDH>>();

function ecdhFor(alg: 'ec-p256' | 'ec-p384'): ReturnType<typeof createECDH> {
  let ecdh = ecdhObjects.get(alg);
  if (!ecdh) {
    ecdh = createECDH(EC_CURVES[alg].openssl);
    ecdhObjects.set(alg, ecdh);
  }
  return ecdh;
}

/**
 * A new key with its SPKI and PKCS#8 PEM. EC keys are generated with node's ECDH (OpenSSL
 * EC_KEY_generate_key, the same generator as generateKeyPairSync) and both encodings built here:
 * generateKeyPairSync + OpenSSL 3's DER/PEM encoders cost ~10x more than the key itself (provider
 * look-ups), which alone would miss the issue-2 target. The bytes equal OpenSSL's own encoding
 * (test/unit/pki/keys-csr.test.ts asserts it).
 */
export function generateKeyMaterial(alg: KeyAlgorithm): KeyMaterial {
  if (alg !== 'ec-p256' && alg !== 'ec-p384') {
    const pair = generateKeyPair(alg);
    return {
      ...pair,
      spki: publicKeyDer(pair.publicKey),
      pkcs8Pem: privateKeyPem(pair.privateKey),
      description: { keyType: 'RSA', keyBits: Number(alg.slice(4)) },
    };
  }
  const curve = EC_CURVES[alg];
  const ecdh = ecdhFor(alg);
  const point = ecdh.generateKeys();
  const scalar = ecdh.getPrivateKey();
  // RFC 5915 §3: the private key is an octet string of exactly ceil(log2(n)/8) bytes, zero-padded.
  const d =
    scalar.length === curve.bytes
      ? scalar
      : Buffer.concat([Buffer.alloc(curve.bytes - scalar.length), scalar]);
  const algorithm = sequence(oid(EC_PUBLIC_KEY), oid(curve.oid));
  const spki = sequence(algorithm, bitString(point));
  // PKCS#8 PrivateKeyInfo around an ECPrivateKey (version 1, key, [1] public key), as OpenSSL writes it.
  const ecPrivateKey = sequence(unsignedInteger(1), octetString(d), explicit(1, bitString(point)));
  const pkcs8Pem = toPem('PRIVATE KEY', sequence(unsignedInteger(0), algorithm, octetString(ecPrivateKey)));
  let privateKey: KeyObject | undefined;
  return {
    get privateKey() {
      privateKey ??= createPrivateKey(pkcs8Pem);
      return privateKey;
    },
    get publicKey() {
      return createPublicKey({ key: spki, format: 'der', type: 'spki' });
    },
    spki,
    pkcs8Pem,
    description: { keyType: 'EC', keyBits: curve.bytes * 8, curve: curve.curve },
  };
}
