/**
 * The certificate chain the server presented, judged as a client would: each certificate summarised
 * (names, key, signature, validity against a fixed clock, fingerprint), the chain verified against the
 * given CA or the system store, and the leaf matched against the name the client dials (RFC 6125 rules,
 * DNS and IP SANs, via node's checkServerIdentity).
 */
import * as tls from 'node:tls';
import { type CertificateInfo, certificateFingerprint, parseCertificate } from '../pki/certificate.js';
import { daysLeft } from '../util/dates.js';
import type { CertificateFacts, ChainEntry } from './report.js';

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
    return unreadableSummary(der);
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
    signatureAlgorithm: info.signatureAlgorithm,
    selfSigned: info.selfSigned,
    isCa: info.isCa,
  };
}

/**
 * A certificate src/pki cannot parse (a server may send anything, and a client refuses it): reported by
 * its fingerprint, with every other fact unknown (NaN days left raise no expiry finding).
 */
function unreadableSummary(der: Buffer): ChainEntry {
  return {
    subject: '(unreadable certificate)',
    issuer: '(unknown)',
    sans: [],
    serial: '',
    notBefore: '',
    notAfter: '',
    daysLeft: Number.NaN,
    fingerprint: certificateFingerprint(der),
    keyType: 'other',
    keyBits: 0,
    signatureAlgorithm: 'unknown',
    selfSigned: false,
    isCa: false,
  };
}
