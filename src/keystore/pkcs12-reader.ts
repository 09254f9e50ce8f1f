/**
 * Reading PKCS#12 (RFC 7292): the MAC is checked before anything is decrypted (a wrong password is
 * KEYSTORE_PASSWORD_WRONG, never garbage), then bags are collected and private keys matched to their
 * certificates by localKeyId, chains completed from the other certificates in the file.
 */
import { createHmac, createPrivateKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { DbtlsError } from '../errors.js';
import { type CertificateInfo, parseCertificate } from '../pki/certificate.js';
import { buildPath, keyMatches } from '../pki/chain.js';
import { TAG } from '../pki/der.js';
import {
  CONTEXT_CONSTRUCTED,
  CONTEXT_PRIMITIVE,
  children,
  decode,
  decodeInteger,
  decodeOctets,
  decodeOid,
  expectTag,
  fields,
  fromUtf16be,
  type Tlv,
} from './der.js';
import { checkedIterations, KDF_PURPOSE, OID as PBE_OID, pbeDecrypt, pkcs12Kdf } from './pbe.js';
import { P12_OID } from './pkcs12.js';

export interface Pkcs12Entry {
  readonly type: 'PrivateKeyEntry' | 'trustedCertEntry';
  readonly alias: string;
  /** DER certificates, leaf first; one certificate for a trustedCertEntry. */
  readonly chain: Buffer[];
  readonly key?: KeyObject;
}

const MAC_HASH_BY_OID: Readonly<Record<string, 'sha1' | 'sha256'>> = Object.freeze({
  [PBE_OID.SHA1]: 'sha1',
  [PBE_OID.SHA256]: 'sha256',
});

interface Bag {
  readonly kind: 'cert' | 'key';
  readonly der: Buffer;
  readonly friendlyName?: string;
  readonly localKeyId?: string;
}

function explicitContent(t: Tlv | undefined, what: string): Tlv {
  const outer = expectTag(t, CONTEXT_CONSTRUCTED, what);
  return decode(outer.value, what);
}

/** Verifies the password MAC over the AuthenticatedSafe (RFC 7292 section 5.1). */
function checkMac(macData: Tlv | undefined, authSafe: Buffer, password: string): void {
  if (!macData) {
    throw new DbtlsError('KEYSTORE_UNSUPPORTED', 'could not read the PKCS#12 file: it has no password MAC', {
      hint: 'dbtls only reads password-protected PKCS#12 files',
    });
  }
  const [digestInfo, saltT, iterT] = fields(macData, 'MacData', 2);
  const [alg, digestT] = fields(digestInfo, 'MAC DigestInfo', 2);
  const algOid = decodeOid(fields(alg, 'MAC algorithm', 1)[0], 'MAC algorithm');
  const hash = MAC_HASH_BY_OID[algOid];
  if (!hash) {
    throw new DbtlsError(
      'KEYSTORE_UNSUPPORTED',
      `could not read the PKCS#12 file: MAC digest ${algOid} is not supported`,
      {
        hint: 'convert it with openssl or keytool to a SHA-256 MAC (the modern profile)',
      },
    );
  }
  const iterations = iterT ? checkedIterations(decodeInteger(iterT, 'MAC iterations')) : 1;
  const expected = decodeOctets(digestT, 'MAC digest');
  const key = pkcs12Kdf(
    hash,
    password,
    decodeOctets(saltT, 'MAC salt'),
    iterations,
    KDF_PURPOSE.MAC,
    hash === 'sha1' ? 20 : 32,
  );
  const actual = createHmac(hash, key).update(authSafe).digest();
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new DbtlsError(
      'KEYSTORE_PASSWORD_WRONG',
      'could not read the PKCS#12 file: the password is wrong or the file was altered',
      {
        hint: 'check the password file (or DBTLS_KEYSTORE_PASSWORD); if it is right, the file is corrupted',
      },
    );
  }
}

function attributes(t: Tlv | undefined): { friendlyName?: string; localKeyId?: string } {
  const out: { friendlyName?: string; localKeyId?: string } = {};
  if (!t) return out;
  for (const attr of children(expectTag(t, TAG.SET, 'bag attributes'), 'bag attributes')) {
    const [type, values] = fields(attr, 'bag attribute', 2);
    const first = children(expectTag(values, TAG.SET, 'attribute values'), 'attribute values')[0];
    const name = decodeOid(type, 'attribute type');
    if (name === P12_OID.FRIENDLY_NAME && first?.tag === TAG.BMP_STRING)
      out.friendlyName = fromUtf16be(first.value);
    if (name === P12_OID.LOCAL_KEY_ID && first?.tag === TAG.OCTET_STRING)
      out.localKeyId = first.value.toString('hex');
  }
  return out;
}

function safeBags(safeContents: Buffer, password: string): Bag[] {
  const bags: Bag[] = [];
  for (const bag of fields(decode(safeContents, 'SafeContents'), 'SafeContents')) {
    const [idT, valueT, attrsT] = fields(bag, 'SafeBag', 2);
    const id = decodeOid(idT, 'SafeBag type');
    const value = explicitContent(valueT, 'SafeBag value');
    const attrs = attributes(attrsT);
    if (id === P12_OID.CERT_BAG) {
      const [certType, certValue] = fields(value, 'CertBag', 2);
      if (decodeOid(certType, 'CertBag type') !== P12_OID.X509_CERTIFICATE) continue;
      bags.push({
        kind: 'cert',
        der: Buffer.from(decodeOctets(explicitContent(certValue, 'CertBag value'), 'certificate')),
        ...attrs,
      });
    } else if (id === P12_OID.SHROUDED_KEY_BAG) {
      const [alg, data] = fields(value, 'EncryptedPrivateKeyInfo', 2);
      bags.push({
        kind: 'key',
        der: pbeDecrypt(alg!, password, decodeOctets(data, 'encrypted key')),
        ...attrs,
      });
    } else if (id === P12_OID.KEY_BAG) {
      bags.push({ kind: 'key', der: Buffer.from(value.raw), ...attrs });
    }
  }
  return bags;
}

function encryptedContent(t: Tlv | undefined): Buffer {
  if (t && t.tag === CONTEXT_PRIMITIVE) return t.value;
  // BER writers may split [0] IMPLICIT OCTET STRING into constructed pieces.
  if (t && t.tag === CONTEXT_CONSTRUCTED) {
    return Buffer.concat(
      children(t, 'encrypted content').map((p) => decodeOctets(p, 'encrypted content piece')),
    );
  }
  throw new DbtlsError(
    'KEYSTORE_MALFORMED',
    'could not read the PKCS#12 file: the encrypted content is missing',
    {
      hint: 'the file is corrupted or truncated; export it again',
    },
  );
}

/** Every bag of a PKCS#12 file, after the MAC check. */
function readBags(bytes: Buffer, password: string): Bag[] {
  const [versionT, authSafeInfo, macData] = fields(decode(bytes, 'PFX'), 'PFX', 2);
  const version = decodeInteger(versionT, 'PFX version');
  if (version !== 3) {
    throw new DbtlsError(
      'KEYSTORE_UNSUPPORTED',
      `could not read the PKCS#12 file: version ${version} is not 3`,
      {
        hint: 'only PKCS#12 v3 files (everything written since 1999) are read',
      },
    );
  }
  const [typeT, contentT] = fields(authSafeInfo, 'authSafe', 2);
  if (decodeOid(typeT, 'authSafe type') !== P12_OID.DATA) {
    throw new DbtlsError(
      'KEYSTORE_UNSUPPORTED',
      'could not read the PKCS#12 file: public-key integrity mode is not supported',
      {
        hint: 'use a password-protected PKCS#12 file',
      },
    );
  }
  const authSafe = decodeOctets(explicitContent(contentT, 'authSafe content'), 'authSafe');
  checkMac(macData, authSafe, password);
  const bags: Bag[] = [];
  for (const info of fields(decode(authSafe, 'AuthenticatedSafe'), 'AuthenticatedSafe')) {
    const [ctype, content] = fields(info, 'ContentInfo', 2);
    const type = decodeOid(ctype, 'ContentInfo type');
    if (type === P12_OID.DATA) {
      bags.push(...safeBags(decodeOctets(explicitContent(content, 'data'), 'SafeContents'), password));
    } else if (type === P12_OID.ENCRYPTED_DATA) {
      const [, eci] = fields(explicitContent(content, 'EncryptedData'), 'EncryptedData', 2);
      const [, alg, data] = fields(eci, 'EncryptedContentInfo', 2);
      bags.push(...safeBags(pbeDecrypt(alg!, password, encryptedContent(data)), password));
    }
  }
  return bags;
}

function privateKey(der: Buffer): KeyObject {
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new DbtlsError(
      'KEYSTORE_MALFORMED',
      'could not read the PKCS#12 file: a private key is not valid PKCS#8',
      {
        hint: 'the file is corrupted; export it again',
        cause: err,
      },
    );
  }
}

/** The entries of a PKCS#12 file as keytool would list them. */
export function readPkcs12(bytes: Buffer, password: string): Pkcs12Entry[] {
  const bags = readBags(bytes, password);
  const certs = bags.filter((b) => b.kind === 'cert').map((b) => ({ bag: b, cert: parseCertificate(b.der) }));
  let pool: CertificateInfo[] = certs.map((c) => c.cert);
  const entries: Pkcs12Entry[] = [];
  bags.forEach((bag, i) => {
    if (bag.kind !== 'key') return;
    const key = privateKey(bag.der);
    const leaf =
      certs.find((c) => bag.localKeyId !== undefined && c.bag.localKeyId === bag.localKeyId) ??
      certs.find((c) => keyMatches(c.cert, key));
    const alias = bag.friendlyName ?? leaf?.bag.friendlyName ?? String(i + 1);
    if (!leaf) {
      entries.push({ type: 'PrivateKeyEntry', alias, chain: [], key });
      return;
    }
    const { path } = buildPath(leaf.cert, pool);
    pool = pool.filter((c) => !path.includes(c));
    entries.push({ type: 'PrivateKeyEntry', alias, chain: path.map((c) => c.der), key });
  });
  certs.forEach((c, i) => {
    if (!pool.includes(c.cert)) return;
    entries.push({
      type: 'trustedCertEntry',
      alias: c.bag.friendlyName ?? String(i + 1),
      chain: [c.cert.der],
    });
  });
  return entries;
}
