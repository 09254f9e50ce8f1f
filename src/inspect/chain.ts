/**
 * The certificate chain the server presented, judged as a client would: each certificate summarised
 * (names, key, signature, validity against a fixed clock, fingerprint), the chain verified against the
 * given CA or the system store, and the leaf matched against the name the client dials (RFC 6125 rules,
 * DNS and IP SANs, via node's checkServerIdentity).
 */
import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import { type CertificateInfo, parseCertificate } from '../pki/certificate.js';
import type { CertificateFacts, ChainEntry } from './report.js';

const MS_PER_DAY = 86_400_000;

export interface ChainJudgement {
  /** DER, leaf first. */
  readonly chain: readonly Buffer[];
  readonly peer: tls.PeerCertificate;
  readonly authorized: boolean;
  readonly authorizationError?: string | undefined;
  readonly trustAnchor: 'ca-file' | 'system';
  /** `--servername`, else the host dialled. */
  readonly checkedName: string;
  readonly now: Date;
}

export function judgeChain(input: ChainJudgement): CertificateFacts {
  const chain = input.chain.map((der) => summarizeCertificate(der, input.now));
  const identityError = tls.checkServerIdentity(input.checkedName, input.peer);
  return {
    chain,
    verified: input.authorized,
    ...(input.authorizationError ? { verifyError: input.authorizationError } : {}),
    trustAnchor: input.trustAnchor,
    checkedName: input.checkedName,
    hostnameMatch: identityError === undefined,
    ...(identityError ? { hostnameError: identityError.message } : {}),
  };
}

export function summarizeCertificate(der: Buffer, now: Date): ChainEntry {
  let info: CertificateInfo;
  try {
    info = parseCertificate(der);
  } catch {
    return fallbackSummary(der, now);
  }
  return {
    subject: info.subject,
    issuer: info.issuer,
    sans: [...info.dnsNames.map((n) => `DNS:${n}`), ...info.ipAddresses.map((ip) => `IP:${ip}`)],
    serial: info.serial,
    notBefore: info.notBefore.toISOString(),
    notAfter: info.notAfter.toISOString(),
    daysLeft: daysLeft(info.notAfter, now),
    fingerprint: info.fingerprint,
    keyType: info.keyType,
    keyBits: info.keyBits,
    signatureAlgorithm: WEAK_SIGNATURE_OIDS[info.signatureAlgorithm] ?? info.signatureAlgorithm,
    selfSigned: info.selfSigned,
    isCa: info.isCa,
  };
}

function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / MS_PER_DAY);
}

/** Old signature algorithms src/pki does not name (RFC 3279): the findings must still recognise them. */
const WEAK_SIGNATURE_OIDS: Readonly<Record<string, string>> = Object.freeze({
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10040.4.3': 'dsa-with-SHA1',
});

/**
 * What node alone can tell about a certificate src/pki cannot parse (a server may send anything): enough
 * to report it, with the signature algorithm left unknown.
 */
function fallbackSummary(der: Buffer, now: Date): ChainEntry {
  const x509 = new X509Certificate(der);
  const notAfter = new Date(x509.validTo);
  const key = x509.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  const type = key.asymmetricKeyType;
  return {
    subject: oneLine(x509.subject),
    issuer: oneLine(x509.issuer),
    sans: (x509.subjectAltName ?? '')
      .split(/,\s*/)
      .filter((s) => s.length > 0)
      .map((s) => s.replace(/^IP Address:/, 'IP:')),
    serial: x509.serialNumber.toLowerCase(),
    notBefore: new Date(x509.validFrom).toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft: daysLeft(notAfter, now),
    fingerprint: x509.fingerprint256.replace(/:/g, '').toLowerCase(),
    keyType: type === 'ec' ? 'EC' : type === 'rsa' ? 'RSA' : type === 'ed25519' ? 'Ed25519' : 'other',
    keyBits: details.modulusLength ?? 0,
    signatureAlgorithm: 'unknown',
    selfSigned: x509.subject === x509.issuer && x509.verify(x509.publicKey),
    isCa: x509.ca,
  };
}

/** node prints names one attribute per line (`C=FI\nCN=x`); OpenSSL's one-line form is `/C=FI/CN=x`. */
function oneLine(name: string): string {
  return name
    .split('\n')
    .filter((part) => part.length > 0)
    .map((part) => `/${part}`)
    .join('');
}
