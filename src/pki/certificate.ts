/**
 * Parsed certificates as immutable values (STYLE.md: parsing is separate from building). The fields are
 * read from the DER with our bounds-checked reader. node's X509Certificate, which pki/chain.ts uses to
 * check signatures, stays inside pki/ (issue 11: callers hold one model of a certificate, not two); it is
 * made on first use, so that issuing thousands of certificates does not pay for it.
 */
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { DbtlsError, isDbtlsError } from '../errors.js';
import { quotedValue } from '../util/safe-text.js';
import { contextTag, DerReader, decodeOid, inside, TAG, type Tlv } from './der.js';
import { describeKey, type KeyDescription } from './keys.js';
import { oneLineName } from './names.js';
import { pemBlocks, toPem } from './pem.js';
import { EXTENDED_KEY_USAGE_OIDS, KEY_USAGE_BITS, type Profile } from './profiles.js';
import { ipAddressBytes, ipAddressText } from './san.js';
import { EXTENSION_OIDS, SIGNATURE_ALGORITHMS } from './tbs.js';

export interface CertificateInfo {
  readonly der: Buffer;
  readonly pem: string;
  /** OpenSSL one-line form, `/O=x/CN=y`: what REQUIRE SUBJECT compares (FACTS.md). */
  readonly subject: string;
  readonly issuer: string;
  /** Lowercase hex, no leading zero bytes. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly dnsNames: string[];
  readonly ipAddresses: string[];
  readonly isCa: boolean;
  readonly pathLength?: number;
  readonly keyUsage: string[];
  /** 'serverAuth', 'clientAuth', or the dotted OID of other purposes. */
  readonly extendedKeyUsage: string[];
  /** SHA-256 of the DER, lowercase hex, no colons. */
  readonly fingerprint: string;
  readonly keyType: 'EC' | 'RSA' | 'Ed25519' | 'other';
  readonly keyBits: number;
  readonly curve?: string;
  readonly signatureAlgorithm: string;
  readonly selfSigned: boolean;
  readonly subjectKeyId?: string;
  readonly authorityKeyId?: string;
  /** DER of the subject Name, for issuing under it and for exact name comparison. */
  readonly subjectDer: Buffer;
  readonly issuerDer: Buffer;
  /** SubjectPublicKeyInfo DER. */
  readonly spki: Buffer;
}

/** SHA-256 of a certificate's DER, lowercase hex without colons: the one fingerprint spelling of dbtls. */
export function certificateFingerprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** A fingerprint cut to 16 hex digits for a message: enough to tell two certificates apart by eye. */
export function shortFingerprint(fingerprint: string): string {
  return `${fingerprint.slice(0, 16)}…`;
}

/** node's views of certificates, by value: made on first use, dropped with the value. */
const nodeViews = new WeakMap<CertificateInfo, X509Certificate>();

/**
 * node's X509Certificate of a certificate, for pki/chain.ts's signature checks (checkIssued, verify).
 * Not part of the library's API (src/index.ts does not export it): outside pki/, a certificate is a
 * CertificateInfo.
 */
export function nodeCertificate(cert: CertificateInfo): X509Certificate {
  const x509 = nodeViews.get(cert) ?? new X509Certificate(cert.der);
  nodeViews.set(cert, x509);
  return x509;
}

const EKU_NAMES = new Map<string, string>(Object.entries(EXTENDED_KEY_USAGE_OIDS).map(([k, v]) => [v, k]));
const KEY_USAGE_NAMES = Object.entries(KEY_USAGE_BITS);

/** An X.509 Time (UTCTime or GeneralizedTime, RFC 5280 §4.1.2.5) as a Date. */
export function decodeTime(t: Tlv): Date {
  const s = t.value.toString('latin1');
  const m = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m || (t.tag === TAG.UTC_TIME) !== (m[1]!.length === 2))
    throw new DbtlsError(
      'DER_MALFORMED',
      `could not decode a time: ${quotedValue(s, 40)} is not an X.509 time`,
    );
  let year = Number(m[1]);
  if (t.tag === TAG.UTC_TIME) year += year < 50 ? 2000 : 1900; // RFC 5280 §4.1.2.5.1
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

export interface Extensions {
  isCa: boolean;
  pathLength?: number;
  keyUsage: string[];
  extendedKeyUsage: string[];
  dnsNames: string[];
  ipAddresses: string[];
  subjectKeyId?: string;
  authorityKeyId?: string;
}

/** The extensions dbtls reads, from an `Extensions` SEQUENCE (RFC 5280 §4.1; also in CSRs, RFC 2985 §5.4.2). */
export function readExtensions(list: Tlv | undefined): Extensions {
  const out: Extensions = { isCa: false, keyUsage: [], extendedKeyUsage: [], dnsNames: [], ipAddresses: [] };
  if (!list) return out;
  const exts = inside(list, 'extensions');
  while (exts.more()) {
    const ext = inside(exts.expect(TAG.SEQUENCE, 'Extension'), 'an extension');
    const id = decodeOid(ext.expect(TAG.OID, 'extnID').value);
    ext.optional(TAG.BOOLEAN, 'critical');
    const value = new DerReader(ext.expect(TAG.OCTET_STRING, 'extnValue').value, `extension ${id}`);
    switch (id) {
      case EXTENSION_OIDS.basicConstraints: {
        const bc = inside(value.expect(TAG.SEQUENCE, 'BasicConstraints'), 'basicConstraints');
        const ca = bc.optional(TAG.BOOLEAN, 'cA');
        out.isCa = ca !== undefined && ca.value[0] !== 0;
        const len = bc.optional(TAG.INTEGER, 'pathLenConstraint');
        if (len) out.pathLength = len.value.reduce((n, b) => n * 256 + b, 0);
        break;
      }
      case EXTENSION_OIDS.keyUsage: {
        const bits = value.expect(TAG.BIT_STRING, 'KeyUsage').value.subarray(1);
        out.keyUsage = KEY_USAGE_NAMES.filter(
          ([, bit]) => ((bits[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0,
        ).map(([name]) => name);
        break;
      }
      case EXTENSION_OIDS.extKeyUsage: {
        const seq = inside(value.expect(TAG.SEQUENCE, 'ExtKeyUsageSyntax'), 'extKeyUsage');
        while (seq.more()) {
          const purpose = decodeOid(seq.expect(TAG.OID, 'KeyPurposeId').value);
          out.extendedKeyUsage.push(EKU_NAMES.get(purpose) ?? purpose);
        }
        break;
      }
      case EXTENSION_OIDS.subjectAltName: {
        const names = inside(value.expect(TAG.SEQUENCE, 'GeneralNames'), 'subjectAltName');
        while (names.more()) {
          const n = names.read('GeneralName');
          if (n.tag === contextTag(2, false)) out.dnsNames.push(n.value.toString('latin1'));
          else if (n.tag === contextTag(7, false)) out.ipAddresses.push(ipAddressText(n.value));
        }
        break;
      }
      case EXTENSION_OIDS.subjectKeyIdentifier:
        out.subjectKeyId = value.expect(TAG.OCTET_STRING, 'SubjectKeyIdentifier').value.toString('hex');
        break;
      case EXTENSION_OIDS.authorityKeyIdentifier: {
        const aki = inside(value.expect(TAG.SEQUENCE, 'AuthorityKeyIdentifier'), 'authorityKeyIdentifier');
        const keyId = aki.optional(contextTag(0, false), 'keyIdentifier');
        if (keyId) out.authorityKeyId = keyId.value.toString('hex');
        break;
      }
    }
  }
  return out;
}

function parseDer(der: Buffer, knownKey?: KeyDescription): CertificateInfo {
  const cert = inside(
    new DerReader(der, 'a certificate').expect(TAG.SEQUENCE, 'Certificate'),
    'a certificate',
  );
  const tbs = inside(cert.expect(TAG.SEQUENCE, 'tbsCertificate'), 'a certificate');
  const sigAlg = inside(cert.expect(TAG.SEQUENCE, 'signatureAlgorithm'), 'a certificate');
  const sigOid = decodeOid(sigAlg.expect(TAG.OID, 'algorithm').value);
  tbs.optional(contextTag(0, true), 'version');
  const serial = tbs.expect(TAG.INTEGER, 'serialNumber').value;
  tbs.expect(TAG.SEQUENCE, 'signature');
  const issuerDer = tbs.expect(TAG.SEQUENCE, 'issuer').raw;
  const validity = inside(tbs.expect(TAG.SEQUENCE, 'validity'), 'a certificate');
  const notBefore = decodeTime(validity.read('notBefore'));
  const notAfter = decodeTime(validity.read('notAfter'));
  const subjectDer = tbs.expect(TAG.SEQUENCE, 'subject').raw;
  const spki = tbs.expect(TAG.SEQUENCE, 'subjectPublicKeyInfo').raw;
  tbs.optional(contextTag(1, false), 'issuerUniqueID');
  tbs.optional(contextTag(2, false), 'subjectUniqueID');
  const extWrapper = tbs.optional(contextTag(3, true), 'extensions');
  const ext = readExtensions(
    extWrapper && inside(extWrapper, 'extensions').expect(TAG.SEQUENCE, 'Extensions'),
  );
  const key = knownKey ?? describeKey(createPublicKey({ key: spki, format: 'der', type: 'spki' }));
  let serialStart = 0;
  while (serialStart < serial.length - 1 && serial[serialStart] === 0) serialStart++;
  const issuer = oneLineName(issuerDer);
  return {
    der,
    pem: toPem('CERTIFICATE', der),
    subject: oneLineName(subjectDer),
    issuer,
    serial: serial.subarray(serialStart).toString('hex'),
    notBefore,
    notAfter,
    ...ext,
    fingerprint: certificateFingerprint(der),
    ...key,
    signatureAlgorithm: SIGNATURE_ALGORITHMS[sigOid]?.name ?? sigOid,
    selfSigned: subjectDer.equals(issuerDer),
    subjectDer: Buffer.from(subjectDer),
    issuerDer: Buffer.from(issuerDer),
    spki: Buffer.from(spki),
  };
}

/** One certificate from PEM text (the first CERTIFICATE block) or DER bytes. */
export function parseCertificate(input: string | Uint8Array): CertificateInfo {
  const text = typeof input === 'string' ? input : undefined;
  const bytes =
    typeof input === 'string' ? undefined : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const isPem = text !== undefined || bytes?.subarray(0, 64).includes('-----BEGIN');
  if (isPem) {
    const all = parseCertificates(text ?? bytes!);
    if (all.length === 0) throw malformed('it holds no CERTIFICATE block');
    return all[0]!;
  }
  return parseOne(bytes!);
}

function malformed(cause: string, err?: unknown): DbtlsError {
  return new DbtlsError('CERT_MALFORMED', `could not read the certificate: ${cause}`, {
    hint: 'give a PEM (-----BEGIN CERTIFICATE-----) or DER X.509 certificate',
    cause: err,
  });
}

function parseOne(der: Buffer): CertificateInfo {
  try {
    return parseDer(Buffer.from(der));
  } catch (err) {
    throw malformed(
      isDbtlsError(err) ? err.message.replace(/^could not decode [^:]*: /, '') : String(err),
      err,
    );
  }
}

/** What the issuer already knows about a certificate it has just signed. */
export interface SignedFields {
  readonly der: Buffer;
  readonly serial: Buffer;
  readonly subjectDer: Buffer;
  readonly subject: string;
  readonly issuer: CertificateInfo;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly profile: Profile;
  readonly spki: Buffer;
  /** keyIdentifier(spki), as written in the certificate. */
  readonly subjectKeyId: Buffer;
  readonly key: KeyDescription;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly signatureAlgorithm: string;
}

/**
 * The CertificateInfo of a leaf dbtls has just signed, from what it put in, without re-reading the DER:
 * parsing costs as much as signing (issuance fast path). test/unit/pki/certificate.test.ts checks it
 * equals parseCertificate() of the same bytes.
 */
export function signedCertificateInfo(f: SignedFields): CertificateInfo {
  const der = f.der;
  const rsa = f.key.keyType === 'RSA';
  return {
    der,
    pem: toPem('CERTIFICATE', der),
    subject: f.subject,
    issuer: f.issuer.subject,
    serial: f.serial.toString('hex').replace(/^(00)+(?=.)/, ''),
    notBefore: f.notBefore,
    notAfter: f.notAfter,
    isCa: f.profile.ca,
    ...(f.profile.ca && f.profile.pathLength !== undefined ? { pathLength: f.profile.pathLength } : {}),
    keyUsage: KEY_USAGE_NAMES.filter(
      ([name]) =>
        (f.profile.keyUsage as readonly string[]).includes(name) ||
        (rsa && (f.profile.rsaExtraKeyUsage as readonly string[]).includes(name)),
    ).map(([name]) => name),
    extendedKeyUsage: [...f.profile.extendedKeyUsage],
    dnsNames: [...f.dnsNames],
    ipAddresses: f.ipAddresses.map((a) => ipAddressText(ipAddressBytes(a))),
    subjectKeyId: f.subjectKeyId.toString('hex'),
    ...(f.issuer.subjectKeyId ? { authorityKeyId: f.issuer.subjectKeyId } : {}),
    fingerprint: certificateFingerprint(der),
    ...f.key,
    signatureAlgorithm: f.signatureAlgorithm,
    selfSigned: false,
    subjectDer: f.subjectDer,
    issuerDer: f.issuer.subjectDer,
    spki: f.spki,
  };
}

/** Every CERTIFICATE block in a PEM text, in order. */
export function parseCertificates(pemText: string | Buffer): CertificateInfo[] {
  let blocks: { label: string; der: Buffer }[];
  try {
    blocks = pemBlocks(pemText);
  } catch (err) {
    throw malformed(isDbtlsError(err) ? err.message : String(err), err);
  }
  return blocks
    .filter((b) => b.label === 'CERTIFICATE' || b.label === 'X509 CERTIFICATE')
    .map((b) => parseOne(b.der));
}
