/**
 * Reading any keystore dbtls writes (JKS or PKCS#12, told apart by their first bytes), with the
 * integrity check first, and a listing as `keytool -list` gives it.
 */
import type { KeyObject } from 'node:crypto';
import { DbtlsError, isDbtlsError } from '../errors.js';
import { parseCertificate } from '../pki/certificate.js';
import { KEYSTORE_FORMAT_LABEL, type KeystoreFormat } from './format.js';
import { JCEKS_MAGIC, JKS_MAGIC, readJks } from './jks.js';
import { readPkcs12 } from './pkcs12-reader.js';

export interface KeystoreEntry {
  readonly alias: string;
  readonly type: 'PrivateKeyEntry' | 'trustedCertEntry';
  /** DER certificates, leaf first; the one certificate of a trustedCertEntry. */
  readonly chain: readonly Buffer[];
  readonly key?: KeyObject;
  readonly createdAt?: Date;
}

export interface Keystore {
  readonly format: KeystoreFormat;
  readonly entries: readonly KeystoreEntry[];
}

export interface ReadKeystoreOptions {
  /** JKS only: the key password when it differs from the store password. */
  readonly keyPassword?: string;
  /** JKS only: list without recovering private keys (no key password needed). */
  readonly skipKeys?: boolean;
  /** The keystore's file name, for the keytool line of a keystore dbtls cannot read (JCEKS). */
  readonly file?: string;
}

/** SEQUENCE with a long-form length: every PKCS#12 file starts this way. */
const DER_SEQUENCE = 0x30;

export function detectFormat(bytes: Buffer): KeystoreFormat {
  if (bytes.length >= 4) {
    const magic = bytes.readUInt32BE(0);
    if (magic === JKS_MAGIC || magic === JCEKS_MAGIC) return 'jks';
  }
  if (bytes[0] === DER_SEQUENCE) return 'pkcs12';
  throw new DbtlsError('KEYSTORE_MALFORMED', 'could not read the keystore: it is neither JKS nor PKCS#12', {
    hint: 'give a .jks or .p12/.pfx file; PEM files are read directly, without a keystore',
  });
}

/**
 * Reads and verifies a keystore. Wrong password: KEYSTORE_PASSWORD_WRONG; truncated or corrupted:
 * KEYSTORE_MALFORMED; a format or algorithm dbtls does not read: KEYSTORE_UNSUPPORTED.
 */
export function readKeystore(bytes: Buffer, password: string, options: ReadKeystoreOptions = {}): Keystore {
  const format = detectFormat(bytes);
  try {
    if (format === 'jks') {
      const entries = readJks(bytes, password, options).map(
        (e): KeystoreEntry =>
          e.type === 'trustedCertEntry'
            ? { alias: e.alias, type: e.type, chain: [e.cert], createdAt: e.createdAt }
            : {
                alias: e.alias,
                type: e.type,
                chain: e.chain,
                createdAt: e.createdAt,
                ...(e.key ? { key: e.key } : {}),
              },
      );
      return { format, entries };
    }
    return { format, entries: readPkcs12(bytes, password) };
  } catch (err) {
    if (isDbtlsError(err) && (err.code === 'DER_MALFORMED' || err.code === 'CERT_MALFORMED')) {
      throw new DbtlsError(
        'KEYSTORE_MALFORMED',
        `could not read the ${KEYSTORE_FORMAT_LABEL[format]} keystore: ${err.message}`,
        {
          hint: 'the file is truncated or corrupted; export it again',
          cause: err,
        },
      );
    }
    throw err;
  }
}

export interface EntrySummary {
  readonly alias: string;
  readonly type: 'PrivateKeyEntry' | 'trustedCertEntry';
  readonly subject: string;
  readonly issuer: string;
  readonly notAfter: string;
  readonly chainLength: number;
  readonly fingerprint: string;
}

/** One row per entry, for `keystore show`. */
export function summarize(keystore: Keystore): EntrySummary[] {
  return keystore.entries.map((e) => {
    const leaf = e.chain[0] ? parseCertificate(e.chain[0]) : undefined;
    return {
      alias: e.alias,
      type: e.type,
      subject: leaf?.subject ?? '',
      issuer: leaf?.issuer ?? '',
      notAfter: leaf?.notAfter.toISOString() ?? '',
      chainLength: e.chain.length,
      fingerprint: leaf?.fingerprint ?? '',
    };
  });
}
