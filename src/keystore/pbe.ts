/**
 * Password-based encryption for PKCS#12: PBES2 (RFC 8018 section 6.2, PBKDF2 + AES-CBC), the PKCS#12
 * key-derivation function (RFC 7292 appendix B.2, which node:crypto does not offer) and the old
 * pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292 appendix C). Each scheme is an AlgorithmIdentifier in and
 * out, so readers and writers share one table.
 */
import { createCipheriv, createDecipheriv, createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { DbtlsError } from '../errors.js';
import { NULL, octetString, oid, sequence, unsignedInteger } from '../pki/der.js';
import { decodeInteger, decodeOctets, decodeOid, fields, type Tlv, utf16be } from './der.js';

export const OID = Object.freeze({
  PBES2: '1.2.840.113549.1.5.13',
  PBKDF2: '1.2.840.113549.1.5.12',
  HMAC_SHA1: '1.2.840.113549.2.7',
  HMAC_SHA256: '1.2.840.113549.2.9',
  AES128_CBC: '2.16.840.1.101.3.4.1.2',
  AES192_CBC: '2.16.840.1.101.3.4.1.22',
  AES256_CBC: '2.16.840.1.101.3.4.1.42',
  /** RFC 7292 appendix C. */
  PBE_SHA1_3DES: '1.2.840.113549.1.12.1.3',
  PBE_SHA1_RC2_40: '1.2.840.113549.1.12.1.6',
  SHA1: '1.3.14.3.2.26',
  SHA256: '2.16.840.1.101.3.4.2.1',
});

const AES_BY_OID: Readonly<Record<string, { cipher: string; keyLength: number }>> = Object.freeze({
  [OID.AES128_CBC]: { cipher: 'aes-128-cbc', keyLength: 16 },
  [OID.AES192_CBC]: { cipher: 'aes-192-cbc', keyLength: 24 },
  [OID.AES256_CBC]: { cipher: 'aes-256-cbc', keyLength: 32 },
});
const PRF_BY_OID: Readonly<Record<string, string>> = Object.freeze({
  [OID.HMAC_SHA1]: 'sha1',
  [OID.HMAC_SHA256]: 'sha256',
});
/** Hash name -> (output length u, block length v) for the PKCS#12 KDF (RFC 7292 B.2). */
const KDF_HASH: Readonly<Record<string, { u: number; v: number }>> = Object.freeze({
  sha1: { u: 20, v: 64 },
  sha256: { u: 32, v: 64 },
});

/** RFC 7292 B.3 purpose bytes (the "ID"). */
export const KDF_PURPOSE = Object.freeze({ KEY: 1, IV: 2, MAC: 3 });

/** The PKCS#12 password form: BMPString with a two-byte NUL terminator (RFC 7292 B.1). */
export function bmpPassword(password: string): Buffer {
  return Buffer.concat([utf16be(password), Buffer.alloc(2)]);
}

/** RFC 7292 appendix B.2: derives `n` bytes for `purpose` from password, salt and iteration count. */
export function pkcs12Kdf(
  hash: 'sha1' | 'sha256',
  password: string,
  salt: Buffer,
  iterations: number,
  purpose: number,
  n: number,
): Buffer {
  const { u, v } = KDF_HASH[hash]!;
  const D = Buffer.alloc(v, purpose);
  const fill = (src: Buffer) => {
    const out = Buffer.alloc(src.length === 0 ? 0 : v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const P = bmpPassword(password);
  const I = Buffer.concat([fill(salt), fill(P)]);
  const out: Buffer[] = [];
  for (let produced = 0; produced < n; produced += u) {
    let A = createHash(hash).update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash(hash).update(A).digest();
    out.push(A);
    if (produced + u >= n) break;
    // I_j = (I_j + B + 1) mod 2^(8v), with B = A repeated to v bytes.
    const B = fill(A).subarray(0, v);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k]! + B[k]! + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, n);
}

export type PbeScheme = 'pbes2-aes256' | 'pbe-sha1-3des';

export interface Encrypted {
  /** The AlgorithmIdentifier (DER) naming scheme and parameters. */
  readonly algorithm: Buffer;
  readonly data: Buffer;
}

/** Encrypts with a fresh random salt (and IV). */
export function pbeEncrypt(
  scheme: PbeScheme,
  password: string,
  plain: Buffer,
  iterations: number,
): Encrypted {
  const salt = randomBytes(16);
  if (scheme === 'pbes2-aes256') {
    const iv = randomBytes(16);
    // RFC 8018 section 5.2: the password goes into PBKDF2 as bytes (UTF-8), as OpenSSL and Java do.
    const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
    const c = createCipheriv('aes-256-cbc', key, iv);
    const data = Buffer.concat([c.update(plain), c.final()]);
    const kdf = sequence(
      oid(OID.PBKDF2),
      sequence(octetString(salt), unsignedInteger(iterations), sequence(oid(OID.HMAC_SHA256), NULL)),
    );
    const algorithm = sequence(oid(OID.PBES2), sequence(kdf, sequence(oid(OID.AES256_CBC), octetString(iv))));
    return { algorithm, data };
  }
  // The PKCS#12 PBE schemes use 8-byte salts in every implementation (OpenSSL PKCS5_SALT_LEN, Java).
  const salt8 = salt.subarray(0, 8);
  const key = pkcs12Kdf('sha1', password, salt8, iterations, KDF_PURPOSE.KEY, 24);
  const iv = pkcs12Kdf('sha1', password, salt8, iterations, KDF_PURPOSE.IV, 8);
  const c = createCipheriv('des-ede3-cbc', key, iv);
  const data = Buffer.concat([c.update(plain), c.final()]);
  return {
    algorithm: sequence(oid(OID.PBE_SHA1_3DES), sequence(octetString(salt8), unsignedInteger(iterations))),
    data,
  };
}

/** Refuses absurd iteration counts from a hostile file before spending minutes on them. */
const MAX_ITERATIONS = 10_000_000;

function unsupported(what: string): DbtlsError {
  return new DbtlsError('KEYSTORE_UNSUPPORTED', `could not decrypt the keystore: ${what} is not supported`, {
    hint: 'convert the keystore with a current keytool or openssl to PBES2/AES (the modern PKCS#12 profile)',
  });
}

/**
 * Decrypts data under the AlgorithmIdentifier `algorithm`. A wrong password shows up as a padding error:
 * PASSWORD_WRONG (callers have usually checked the MAC already, so this is rare).
 */
export function pbeDecrypt(algorithm: Tlv, password: string, data: Buffer): Buffer {
  const [algOid, params] = fields(algorithm, 'encryption algorithm', 1);
  const name = decodeOid(algOid, 'encryption algorithm');
  let cipher: string;
  let key: Buffer;
  let iv: Buffer;
  if (name === OID.PBES2) {
    const [kdf, scheme] = fields(params, 'PBES2 parameters', 2);
    const [kdfOid, kdfParams] = fields(kdf, 'PBES2 key derivation', 2);
    if (decodeOid(kdfOid, 'PBES2 key derivation') !== OID.PBKDF2)
      throw unsupported('a PBES2 KDF other than PBKDF2');
    const p = fields(kdfParams, 'PBKDF2 parameters', 2);
    const salt = decodeOctets(p[0], 'PBKDF2 salt');
    const iterations = checkedIterations(decodeInteger(p[1], 'PBKDF2 iteration count'));
    const prfAlg = p.find((t, i) => i >= 2 && t.tag === 0x30);
    const prf = prfAlg ? PRF_BY_OID[decodeOid(fields(prfAlg, 'PBKDF2 PRF', 1)[0], 'PBKDF2 PRF')] : 'sha1';
    if (!prf) throw unsupported('this PBKDF2 PRF');
    const [encOid, encIv] = fields(scheme, 'PBES2 encryption scheme', 2);
    const aes = AES_BY_OID[decodeOid(encOid, 'PBES2 encryption scheme')];
    if (!aes) throw unsupported('this PBES2 cipher');
    cipher = aes.cipher;
    iv = decodeOctets(encIv, 'PBES2 IV');
    key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, aes.keyLength, prf);
  } else if (name === OID.PBE_SHA1_3DES) {
    const p = fields(params, 'PBE parameters', 2);
    const salt = decodeOctets(p[0], 'PBE salt');
    const iterations = checkedIterations(decodeInteger(p[1], 'PBE iteration count'));
    cipher = 'des-ede3-cbc';
    key = pkcs12Kdf('sha1', password, salt, iterations, KDF_PURPOSE.KEY, 24);
    iv = pkcs12Kdf('sha1', password, salt, iterations, KDF_PURPOSE.IV, 8);
  } else if (name === OID.PBE_SHA1_RC2_40) {
    throw unsupported('pbeWithSHAAnd40BitRC2-CBC (an RC2 legacy keystore)');
  } else {
    throw unsupported(`encryption algorithm ${name}`);
  }
  try {
    const d = createDecipheriv(cipher, key, iv);
    return Buffer.concat([d.update(data), d.final()]);
  } catch (err) {
    throw new DbtlsError('KEYSTORE_PASSWORD_WRONG', 'could not decrypt the keystore: the password is wrong', {
      hint: 'check the password file (or DBTLS_KEYSTORE_PASSWORD)',
      cause: err,
    });
  }
}

export function checkedIterations(n: number): number {
  if (n < 1 || n > MAX_ITERATIONS) {
    throw new DbtlsError(
      'KEYSTORE_MALFORMED',
      `could not read the keystore: iteration count ${n} is out of range`,
      {
        hint: 'the file is corrupted or was not written by a keystore tool',
      },
    );
  }
  return n;
}
