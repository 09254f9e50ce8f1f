/**
 * Sun's JKS keystore format, written and read without Java. No public spec exists; the reference is the
 * OpenJDK source: sun.security.provider.JavaKeyStore (engineStore/engineLoad) and
 * sun.security.provider.KeyProtector (protect/recover). Layout, all integers big-endian:
 *
 *   u32 magic 0xFEEDFEED, u32 version 2, u32 entry count, then per entry:
 *     u32 tag (1 PrivateKeyEntry, 2 TrustedCertEntry), UTF alias, u64 creation time (ms since epoch)
 *     tag 1: u32 length + EncryptedPrivateKeyInfo (DER, algorithm 1.3.6.1.4.1.42.2.17.1.1),
 *            u32 chain length, per certificate: UTF type "X.509", u32 length + DER
 *     tag 2: UTF type "X.509", u32 length + DER
 *   20 bytes SHA-1(password as UTF-16BE || "Mighty Aphrodite" || every preceding byte)
 *
 * "UTF" is Java's DataOutput.writeUTF: u16 length + modified UTF-8 (the same bytes as UTF-8 for aliases
 * without NUL or characters outside the BMP, which we refuse).
 */
import { createHash, createPrivateKey, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';
import { DbtlsError } from '../errors.js';
import { NULL, octetString, oid, sequence } from '../pki/der.js';
import { commandLine } from '../util/shell.js';
import { decode, decodeOctets, decodeOid, fields, utf16be } from './der.js';

export const JKS_MAGIC = 0xfeedfeed;
/** JCEKS shares the layout but uses another magic and key protection; recognised to refuse it clearly. */
export const JCEKS_MAGIC = 0xcececece;
export const JKS_VERSION = 2;
const TAG_PRIVATE_KEY = 1;
const TAG_TRUSTED_CERT = 2;
/** KeyProtector.KEY_PROTECTOR_OID: Sun's proprietary key protection algorithm. */
export const KEY_PROTECTOR_OID = '1.3.6.1.4.1.42.2.17.1.1';
/** JavaKeyStore.getPreKeyedHash: the integrity digest is keyed with the password and this phrase. */
const INTEGRITY_PHRASE = 'Mighty Aphrodite';
const SHA1_LENGTH = 20;
const SALT_LENGTH = 20;
const CERT_TYPE = 'X.509';

export type JksEntry =
  | {
      readonly type: 'PrivateKeyEntry';
      readonly alias: string;
      readonly key: KeyObject;
      readonly chain: readonly Uint8Array[];
      readonly createdAt?: Date;
    }
  | {
      readonly type: 'trustedCertEntry';
      readonly alias: string;
      readonly cert: Uint8Array;
      readonly createdAt?: Date;
    };

export interface JksInput {
  readonly entries: readonly JksEntry[];
  readonly storePassword: string;
  /** Protects the private keys; defaults to the store password (what most Java clients assume). */
  readonly keyPassword?: string;
}

/** KeyProtector.protect: a SHA-1 keystream over password+salt, XORed in, and a SHA-1 check digest. */
export function protectKey(pkcs8: Buffer, password: string): Buffer {
  const pw = utf16be(password);
  const salt = randomBytes(SALT_LENGTH);
  const encrypted = xorKeystream(pkcs8, pw, salt);
  const check = createHash('sha1').update(pw).update(pkcs8).digest();
  return Buffer.concat([salt, encrypted, check]);
}

function xorKeystream(data: Buffer, pw: Buffer, salt: Buffer): Buffer {
  const out = Buffer.alloc(data.length);
  let digest = salt;
  for (let i = 0; i < data.length; i += SHA1_LENGTH) {
    digest = createHash('sha1').update(pw).update(digest).digest();
    for (let j = 0; j < SHA1_LENGTH && i + j < data.length; j++) out[i + j] = data[i + j]! ^ digest[j]!;
  }
  return out;
}

/** KeyProtector.recover: undoes protectKey; a wrong password fails the check digest. */
export function recoverKey(protectedKey: Buffer, password: string): Buffer {
  if (protectedKey.length <= SALT_LENGTH + SHA1_LENGTH) throw malformed('the protected key is too short');
  const pw = utf16be(password);
  const salt = protectedKey.subarray(0, SALT_LENGTH);
  const body = protectedKey.subarray(SALT_LENGTH, protectedKey.length - SHA1_LENGTH);
  const plain = xorKeystream(body, pw, salt);
  const check = createHash('sha1').update(pw).update(plain).digest();
  if (!timingSafeEqual(check, protectedKey.subarray(protectedKey.length - SHA1_LENGTH))) {
    throw new DbtlsError(
      'KEYSTORE_PASSWORD_WRONG',
      'could not recover the private key: the key password is wrong',
      {
        hint: 'give the key password with --key-password-file (it defaults to the store password)',
      },
    );
  }
  return plain;
}

function utf(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 0xffff || text.includes('\0') || /[\u{10000}-\u{10ffff}]/u.test(text)) {
    throw new DbtlsError(
      'ALIAS_INVALID',
      `could not use alias ${JSON.stringify(text)}: JKS cannot store it`,
      {
        hint: 'use a short alias of letters, digits, dots, dashes and underscores',
      },
    );
  }
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
const blob = (data: Uint8Array) => Buffer.concat([u32(data.length), data]);

export function integrityDigest(password: string, data: Buffer): Buffer {
  return createHash('sha1').update(utf16be(password)).update(INTEGRITY_PHRASE, 'utf8').update(data).digest();
}

export function writeJks(input: JksInput): Buffer {
  const parts: Buffer[] = [u32(JKS_MAGIC), u32(JKS_VERSION), u32(input.entries.length)];
  const aliases = new Set<string>();
  for (const entry of input.entries) {
    // Java lower-cases aliases on load; two that differ only in case would silently collapse.
    const folded = entry.alias.toLowerCase();
    if (aliases.has(folded)) {
      throw new DbtlsError(
        'ALIAS_DUPLICATE',
        `could not write the keystore: alias ${entry.alias} appears twice`,
        {
          hint: 'give every entry its own alias',
        },
      );
    }
    aliases.add(folded);
    const created = (entry.createdAt ?? new Date()).getTime();
    if (entry.type === 'PrivateKeyEntry') {
      const pkcs8 = entry.key.export({ type: 'pkcs8', format: 'der' });
      const epki = sequence(
        sequence(oid(KEY_PROTECTOR_OID), NULL),
        octetString(protectKey(pkcs8, input.keyPassword ?? input.storePassword)),
      );
      parts.push(u32(TAG_PRIVATE_KEY), utf(entry.alias), u64(created), blob(epki), u32(entry.chain.length));
      for (const der of entry.chain) parts.push(utf(CERT_TYPE), blob(der));
    } else {
      parts.push(u32(TAG_TRUSTED_CERT), utf(entry.alias), u64(created), utf(CERT_TYPE), blob(entry.cert));
    }
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, integrityDigest(input.storePassword, body)]);
}

function malformed(cause: string): DbtlsError {
  return new DbtlsError('KEYSTORE_MALFORMED', `could not read the JKS keystore: ${cause}`, {
    hint: 'the file is truncated or corrupted; export it again',
  });
}

/** A bounds-checked cursor over the keystore bytes. */
class Cursor {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  take(n: number, what: string): Buffer {
    if (n < 0 || this.pos + n > this.buf.length) throw malformed(`the data ends inside ${what}`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u32(what: string): number {
    return this.take(4, what).readUInt32BE(0);
  }
  utf(what: string): string {
    return this.take(this.take(2, what).readUInt16BE(0), what).toString('utf8');
  }
}

export interface JksReadOptions {
  /** When given, private keys are recovered with it; otherwise with the store password if possible. */
  readonly keyPassword?: string;
  /** Skip key recovery (listing needs no key). */
  readonly skipKeys?: boolean;
  /** The keystore's file name, for the keytool line of a keystore dbtls cannot read. */
  readonly file?: string;
}

/**
 * The keytool line that converts a keystore dbtls cannot read to PKCS#12 beside it (`app.jceks` →
 * `app.p12`); keytool asks for both passwords. KEYSTORE_FILE stands in when the caller gave only bytes.
 * keytool refuses `-importkeystore` without -srckeystore, and guesses the source type wrongly without
 * -srcstoretype, so the line names both.
 */
export function toPkcs12Command(storeType: 'JKS' | 'JCEKS', file?: string): string {
  const out = file === undefined ? 'keystore.p12' : `${file.replace(/\.(jks|jceks|keystore|ks)$/i, '')}.p12`;
  return commandLine([
    'keytool',
    '-importkeystore',
    '-srckeystore',
    file ?? 'KEYSTORE_FILE',
    '-srcstoretype',
    storeType,
    '-destkeystore',
    out,
    '-deststoretype',
    'pkcs12',
  ]);
}

export type ReadJksEntry =
  | {
      readonly type: 'PrivateKeyEntry';
      readonly alias: string;
      readonly createdAt: Date;
      readonly chain: Buffer[];
      readonly key?: KeyObject;
    }
  | {
      readonly type: 'trustedCertEntry';
      readonly alias: string;
      readonly createdAt: Date;
      readonly cert: Buffer;
    };

/** Reads a JKS keystore, checking the integrity digest first (wrong password: KEYSTORE_PASSWORD_WRONG). */
export function readJks(bytes: Buffer, storePassword: string, options: JksReadOptions = {}): ReadJksEntry[] {
  if (bytes.length < 12 + SHA1_LENGTH) throw malformed(`${bytes.length} bytes is too short for a keystore`);
  const magic = bytes.readUInt32BE(0);
  if (magic === JCEKS_MAGIC) {
    throw new DbtlsError('KEYSTORE_UNSUPPORTED', 'could not read the keystore: JCEKS is not supported', {
      hint: `convert it to PKCS#12, which dbtls reads: \`${toPkcs12Command('JCEKS', options.file)}\``,
    });
  }
  if (magic !== JKS_MAGIC) throw malformed('it does not start with the JKS magic number');
  // Parse first, then check the digest: a truncated file is KEYSTORE_MALFORMED, not a wrong password.
  const { entries, end } = parseEntries(bytes);
  if (bytes.length - end !== SHA1_LENGTH)
    throw malformed(`${bytes.length - end} bytes after the entries, expected a 20-byte digest`);
  const body = bytes.subarray(0, end);
  if (!timingSafeEqual(integrityDigest(storePassword, body), bytes.subarray(end))) {
    throw new DbtlsError(
      'KEYSTORE_PASSWORD_WRONG',
      'could not read the JKS keystore: the password is wrong or the file was altered',
      {
        hint: 'check the password file (or DBTLS_KEYSTORE_PASSWORD); if it is right, the file is corrupted',
      },
    );
  }
  return entries.map((e) => {
    if (e.type === 'trustedCertEntry' || options.skipKeys) return e.entry;
    return { ...e.entry, key: recover(e.epki, options.keyPassword ?? storePassword, options.file) };
  });
}

type ParsedEntry =
  | { type: 'trustedCertEntry'; entry: ReadJksEntry }
  | { type: 'PrivateKeyEntry'; entry: ReadJksEntry; epki: Buffer };

function parseEntries(bytes: Buffer): { entries: ParsedEntry[]; end: number } {
  const c = new Cursor(bytes);
  c.u32('the magic number');
  const version = c.u32('the version');
  if (version !== 1 && version !== JKS_VERSION) throw malformed(`unknown version ${version}`);
  const count = c.u32('the entry count');
  const entries: ParsedEntry[] = [];
  for (let i = 0; i < count; i++) {
    const tag = c.u32('an entry tag');
    const alias = c.utf('an alias');
    const createdAt = new Date(Number(c.take(8, 'a timestamp').readBigUInt64BE(0)));
    if (tag === TAG_PRIVATE_KEY) {
      const epki = c.take(c.u32('a key length'), 'a protected key');
      const chainLength = c.u32('a chain length');
      const chain: Buffer[] = [];
      for (let j = 0; j < chainLength; j++) chain.push(readCert(c, version));
      entries.push({
        type: 'PrivateKeyEntry',
        entry: { type: 'PrivateKeyEntry', alias, createdAt, chain },
        epki,
      });
    } else if (tag === TAG_TRUSTED_CERT) {
      entries.push({
        type: 'trustedCertEntry',
        entry: { type: 'trustedCertEntry', alias, createdAt, cert: readCert(c, version) },
      });
    } else {
      throw malformed(`unknown entry tag ${tag}`);
    }
  }
  return { entries, end: c.pos };
}

function readCert(c: Cursor, version: number): Buffer {
  // Version 1 keystores have no certificate type string (JavaKeyStore.engineLoad).
  if (version === JKS_VERSION) {
    const type = c.utf('a certificate type');
    if (type !== CERT_TYPE) throw malformed(`unsupported certificate type ${type}`);
  }
  return Buffer.from(c.take(c.u32('a certificate length'), 'a certificate'));
}

function recover(epki: Buffer, password: string, file: string | undefined): KeyObject {
  const [alg, data] = fields(decode(epki, 'the protected key'), 'the protected key', 2);
  const algOid = decodeOid(fields(alg, 'the key protection algorithm', 1)[0], 'the key protection algorithm');
  if (algOid !== KEY_PROTECTOR_OID) {
    throw new DbtlsError(
      'KEYSTORE_UNSUPPORTED',
      `could not recover the private key: protection ${algOid} is not supported`,
      {
        hint: `convert the keystore to PKCS#12, which dbtls reads: \`${toPkcs12Command('JKS', file)}\``,
      },
    );
  }
  const pkcs8 = recoverKey(decodeOctets(data, 'the protected key'), password);
  try {
    return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new DbtlsError(
      'KEYSTORE_MALFORMED',
      'could not read the JKS keystore: the private key is not valid PKCS#8',
      {
        hint: 'the file is corrupted; export it again',
        cause: err,
      },
    );
  }
}
