/**
 * X.509 v2 certificate revocation lists (RFC 5280 section 5), built as bytes and signed with node:crypto.
 * Each CRL carries the two extensions RFC 5280 requires of a conforming CA: the authority key identifier
 * (5.2.1, so verifiers find the right issuer key) and the CRL number (5.2.3, monotonically increasing).
 */
import { type KeyObject, sign, verify } from 'node:crypto';
import { DbtlsError, isDbtlsError } from '../errors.js';
import { type CertificateInfo, decodeTime } from './certificate.js';
import {
  bitString,
  contextTag,
  DerReader,
  decodeOid,
  explicit,
  implicit,
  inside,
  octetString,
  oid,
  sequence,
  TAG,
  time,
  tlv,
  unsignedInteger,
} from './der.js';
import { oneLineName } from './names.js';
import { pemBlocks, toPem } from './pem.js';
import { publicKeyFromSpki } from './spki.js';
import { keyIdentifier, SIGNATURE_ALGORITHMS, signatureAlgorithmFor } from './tbs.js';

/** CRLReason (RFC 5280 section 5.3.1); value 7 is unused by the RFC. */
export const REVOCATION_REASONS = Object.freeze({
  unspecified: 0,
  keyCompromise: 1,
  caCompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
});
export type RevocationReason = keyof typeof REVOCATION_REASONS;

export function parseRevocationReason(text: string): RevocationReason {
  const found = (Object.keys(REVOCATION_REASONS) as RevocationReason[]).find(
    (r) => r.toLowerCase() === text.toLowerCase(),
  );
  if (!found) {
    throw new DbtlsError('REASON_UNKNOWN', `could not use revocation reason ${text}: unknown reason`, {
      hint: `use one of: ${Object.keys(REVOCATION_REASONS).join(', ')}`,
    });
  }
  return found;
}

const OIDS = Object.freeze({
  authorityKeyIdentifier: '2.5.29.35',
  cRLNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
});
/** TBSCertList version field: v2 is encoded as 1 (RFC 5280 section 5.1.2.1). */
const CRL_V2 = 1;
const ENUMERATED = 0x0a;

export interface RevokedCertificate {
  /** Serial number, hex (any case, no separators). */
  readonly serial: string;
  readonly revokedAt: Date;
  readonly reason?: RevocationReason;
}

export interface CrlInput {
  /** The CA certificate whose key signs the CRL (its subject becomes the CRL issuer). */
  readonly issuer: CertificateInfo;
  readonly issuerKey: KeyObject;
  readonly crlNumber: number;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly revoked: readonly RevokedCertificate[];
}

export interface Crl {
  readonly der: Buffer;
  readonly pem: string;
}

function serialBytes(hex: string): Buffer {
  const clean = hex.replace(/[:\s]/g, '');
  if (!/^[0-9a-fA-F]+$/.test(clean)) {
    throw new DbtlsError('SERIAL_INVALID', `could not use serial ${hex}: expected hexadecimal digits`, {
      hint: 'copy the serial from `dbtls list`',
    });
  }
  return Buffer.from(clean.length % 2 ? `0${clean}` : clean, 'hex');
}

function revokedEntry(r: RevokedCertificate): Buffer {
  const fields = [unsignedInteger(serialBytes(r.serial)), time(r.revokedAt)];
  // RFC 5280 5.3.1: the reasonCode extension should be absent rather than say "unspecified".
  if (r.reason && r.reason !== 'unspecified') {
    const reason = tlv(ENUMERATED, Buffer.from([REVOCATION_REASONS[r.reason]]));
    fields.push(sequence(sequence(oid(OIDS.reasonCode), octetString(reason))));
  }
  return sequence(...fields);
}

export function createCrl(input: CrlInput): Crl {
  if (input.nextUpdate.getTime() <= input.thisUpdate.getTime()) {
    throw new DbtlsError(
      'CRL_DAYS_INVALID',
      'could not create the CRL: nextUpdate must be after thisUpdate',
      {
        hint: 'give --days 1 or more',
      },
    );
  }
  const alg = signatureAlgorithmFor(input.issuerKey);
  const issuerKeyId = keyIdentifier(input.issuer.spki);
  const extensions = sequence(
    sequence(oid(OIDS.authorityKeyIdentifier), octetString(sequence(implicit(0, issuerKeyId)))),
    sequence(oid(OIDS.cRLNumber), octetString(unsignedInteger(input.crlNumber))),
  );
  const tbs = sequence(
    unsignedInteger(CRL_V2),
    alg.der,
    input.issuer.subjectDer, // the CRL issuer must match the CA's subject byte for byte
    time(input.thisUpdate),
    time(input.nextUpdate),
    // revokedCertificates is OPTIONAL and must be absent, not empty, when nothing is revoked (5.1.2.6).
    ...(input.revoked.length > 0 ? [sequence(...input.revoked.map(revokedEntry))] : []),
    explicit(0, extensions),
  );
  const signature = sign(alg.hash, tbs, input.issuerKey);
  const der = sequence(tbs, alg.der, bitString(signature));
  return { der, pem: toPem('X509 CRL', der) };
}

/** A CRL as read from a file: who issued it, when it is current, and what its signature covers. */
export interface CrlInfo {
  readonly issuerDer: Buffer;
  /** The issuer in OpenSSL's one-line form. */
  readonly issuer: string;
  readonly thisUpdate: Date;
  /** Absent in a CRL that never runs out (RFC 5280 allows it; OpenSSL then never calls it expired). */
  readonly nextUpdate?: Date;
  /**
   * Why OpenSSL would not take it as the complete CRL of its issuer: a delta CRL (RFC 5280 §5.2.4, used
   * only with X509_V_FLAG_USE_DELTAS) or one scoped by an issuing distribution point (§5.2.5).
   */
  readonly partial?: 'a delta CRL' | 'a CRL scoped by an issuing distribution point';
  /** A critical extension OpenSSL does not handle: it then refuses every certificate the CRL is for. */
  readonly unhandledCritical?: string;
  readonly tbs: Buffer;
  readonly signatureOid: string;
  readonly signature: Buffer;
}

/** CRL extensions OpenSSL understands (crypto/x509/v3_purp.c, x509_vfy.c), by OID. */
const HANDLED_CRL_EXTENSIONS = new Set([
  OIDS.authorityKeyIdentifier,
  OIDS.cRLNumber,
  '2.5.29.18', // issuerAltName
  '2.5.29.27', // deltaCRLIndicator
  '2.5.29.28', // issuingDistributionPoint
  '2.5.29.46', // freshestCRL
  '1.3.6.1.5.5.7.1.1', // authorityInfoAccess
]);

/** Every CRL of a PEM file (RFC 5280 §5.1), in order; CRL_MALFORMED when there is none or one does not parse. */
export function readCrls(pem: string | Buffer, what: string): CrlInfo[] {
  const malformed = (why: string) =>
    new DbtlsError('CRL_MALFORMED', `could not read ${what}: ${why}`, {
      hint: 'pass the file `dbtls crl --out FILE` wrote (or crl.pem in the CA directory)',
    });
  let blocks: Buffer[];
  try {
    blocks = pemBlocks(pem)
      .filter((b) => b.label === 'X509 CRL')
      .map((b) => b.der);
  } catch (err) {
    throw malformed(isDbtlsError(err) ? err.message.replace(/^could not read [^:]*: /, '') : 'it is not PEM');
  }
  if (blocks.length === 0) throw malformed('it holds no PEM CRL');
  return blocks.map((der, n) => {
    try {
      return decodeCrl(der);
    } catch (err) {
      const why = isDbtlsError(err)
        ? err.message.replace(/^could not decode [^:]*: /, '')
        : 'it does not parse';
      throw malformed(`its PEM block ${n + 1} is not a CRL (${why})`);
    }
  });
}

const notCrl = (why: string) => new DbtlsError('DER_MALFORMED', `could not decode a CRL: ${why}`);

function decodeCrl(der: Buffer): CrlInfo {
  const list = inside(new DerReader(der, 'a CRL').expect(TAG.SEQUENCE, 'CertificateList'), 'a CRL');
  const tbsTlv = list.expect(TAG.SEQUENCE, 'tbsCertList');
  const outerAlgorithm = list.expect(TAG.SEQUENCE, 'signatureAlgorithm');
  const signatureOid = decodeOid(inside(outerAlgorithm, 'a CRL').expect(TAG.OID, 'algorithm').value);
  const signature = list.expect(TAG.BIT_STRING, 'signature').value.subarray(1);
  const tbs = inside(tbsTlv, 'a CRL');
  if (tbs.peekTag() === TAG.INTEGER) {
    const version = tbs.read('version').value;
    if (version.length !== 1 || version[0] !== CRL_V2) throw notCrl('its version is not v2');
  }
  // RFC 5280 §5.1.1.2: the signature algorithm inside must be the one outside.
  if (!Buffer.from(tbs.expect(TAG.SEQUENCE, 'signature').raw).equals(Buffer.from(outerAlgorithm.raw)))
    throw notCrl('its two signature algorithm fields differ');
  const issuerDer = Buffer.from(tbs.expect(TAG.SEQUENCE, 'issuer').raw);
  const thisUpdate = decodeTime(tbs.read('thisUpdate'));
  const next = tbs.peekTag();
  const nextUpdate =
    next === TAG.UTC_TIME || next === TAG.GENERALIZED_TIME ? decodeTime(tbs.read('nextUpdate')) : undefined;
  tbs.optional(TAG.SEQUENCE, 'revokedCertificates');
  const wrapped = tbs.optional(contextTag(0, true), 'crlExtensions');
  let partial: CrlInfo['partial'];
  let unhandledCritical: string | undefined;
  if (wrapped) {
    const extensions = inside(inside(wrapped, 'a CRL').expect(TAG.SEQUENCE, 'Extensions'), 'a CRL');
    while (extensions.more()) {
      const ext = inside(extensions.expect(TAG.SEQUENCE, 'Extension'), 'a CRL extension');
      const id = decodeOid(ext.expect(TAG.OID, 'extnID').value);
      const critical = ext.peekTag() === TAG.BOOLEAN && ext.read('critical').value[0] !== 0;
      if (id === '2.5.29.27') partial = 'a delta CRL';
      else if (id === '2.5.29.28') partial ??= 'a CRL scoped by an issuing distribution point';
      else if (critical && !HANDLED_CRL_EXTENSIONS.has(id)) unhandledCritical ??= id;
    }
  }
  return {
    issuerDer,
    issuer: oneLineName(issuerDer),
    thisUpdate,
    ...(nextUpdate ? { nextUpdate } : {}),
    ...(partial ? { partial } : {}),
    ...(unhandledCritical ? { unhandledCritical } : {}),
    tbs: Buffer.from(tbsTlv.raw),
    signatureOid,
    signature: Buffer.from(signature),
  };
}

/** Whether the CRL names `issuer` as its issuer (byte for byte, as dbtls and most CAs write names). */
export function crlNames(crl: CrlInfo, issuer: CertificateInfo): boolean {
  return crl.issuerDer.equals(issuer.subjectDer);
}

/** Whether `issuer` signed the CRL: its name is the CRL's issuer and its key verifies the signature. */
export function crlSignedBy(crl: CrlInfo, issuer: CertificateInfo): boolean {
  if (!crlNames(crl, issuer)) return false;
  const hash = SIGNATURE_ALGORITHMS[crl.signatureOid]?.hash;
  if (hash === undefined) return false;
  try {
    return verify(hash, crl.tbs, publicKeyFromSpki(issuer.spki), crl.signature);
  } catch {
    return false;
  }
}
