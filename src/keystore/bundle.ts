/**
 * CA bundles: the PEM file a client gives as ssl-ca. Built from any pile of CA certificates: duplicates
 * removed, expired and non-CA certificates refused (a bundle that silently trusts a leaf, or an expired CA,
 * fails at 3 a.m.), ordered leaf-to-root so that intermediates come before the roots that signed them.
 */
import { DbtlsError } from '../errors.js';
import type { CertificateInfo } from '../pki/certificate.js';
import {
  certificateName,
  dedupe,
  isSelfSigned,
  issuerIn,
  issuerName,
  orderLeafToRoot,
} from '../pki/chain.js';
import { dateText, daysLeft } from '../util/dates.js';

/** Certificates expiring within this many days are flagged: a quarter is enough notice to rotate. */
export const EXPIRY_WARNING_DAYS = 90;

export interface BundleOptions {
  readonly now?: Date;
  /** Fail (BUNDLE_INCOMPLETE) unless every certificate's issuer is in the bundle. */
  readonly verify?: boolean;
}

export interface Bundle {
  readonly certs: readonly CertificateInfo[];
  readonly pem: string;
  /** Every certificate's issuer is in the bundle (each chain ends in a self-signed root). */
  readonly complete: boolean;
}

/**
 * A certificate whose issuer's name is in the set but whose signature no certificate of that name
 * verifies: two different CAs under one name (a re-keyed or replaced CA), a link that looks whole and fails
 * at every handshake.
 */
function brokenLink(cert: CertificateInfo, certs: readonly CertificateInfo[]): boolean {
  return issuerIn(cert, certs) === undefined && certs.some((c) => c.subject === cert.issuer);
}

export function buildBundle(input: readonly CertificateInfo[], options: BundleOptions = {}): Bundle {
  const now = options.now ?? new Date();
  const certs = dedupe(input);
  if (certs.length === 0) {
    throw new DbtlsError('USAGE', 'could not build the bundle: no certificate given', {
      hint: 'give one or more PEM files',
    });
  }
  for (const c of certs) {
    if (!c.isCa) {
      throw new DbtlsError(
        'CERT_NOT_CA',
        `could not bundle ${certificateName(c)}: it is not a CA certificate`,
        {
          hint: 'a CA bundle holds the CAs that issue server certificates; leave leaf certificates out',
        },
      );
    }
    if (c.notAfter.getTime() <= now.getTime()) {
      throw new DbtlsError(
        'BUNDLE_CERT_EXPIRED',
        `could not bundle ${certificateName(c)}: it expired on ${dateText(c.notAfter)}`,
        {
          hint: 'leave the expired certificate out, or get its successor from the CA',
        },
      );
    }
  }
  const broken = certs.find((c) => brokenLink(c, certs));
  if (broken) {
    throw new DbtlsError(
      'BUNDLE_LINK_BROKEN',
      `could not bundle ${certificateName(broken)}: ${issuerName(broken)} is in the bundle but did not sign it`,
      {
        hint: 'two different CAs share that name (a re-keyed or replaced CA): give the CA certificate that really issued it',
      },
    );
  }
  const ordered = orderLeafToRoot(certs);
  const complete = ordered.every((c) => issuerIn(c, ordered) !== undefined);
  if (options.verify && !complete) {
    const orphan = ordered.find((c) => issuerIn(c, ordered) === undefined)!;
    throw new DbtlsError(
      'BUNDLE_INCOMPLETE',
      `could not verify the bundle: the issuer of ${certificateName(orphan)} (${issuerName(orphan)}) is not in it`,
      { hint: 'add the CA certificate that issued it (its root), or drop --verify' },
    );
  }
  return { certs: ordered, pem: ordered.map((c) => c.pem).join(''), complete };
}

export interface BundleCertReport {
  readonly subject: string;
  readonly issuer: string;
  readonly notAfter: string;
  readonly daysLeft: number;
  readonly isCa: boolean;
  readonly selfSigned: boolean;
  readonly issuerInBundle: boolean;
  /** A certificate with the issuer's name is in the bundle, but did not sign this one. */
  readonly linkBroken: boolean;
  readonly expired: boolean;
  readonly expiringSoon: boolean;
  readonly fingerprint: string;
}

export interface BundleReport {
  readonly certificates: readonly BundleCertReport[];
  /** Every certificate's issuer is present, so every chain ends at a root in the file. */
  readonly complete: boolean;
  readonly expiringWithinDays: number;
}

export function reportBundle(certs: readonly CertificateInfo[], now: Date = new Date()): BundleReport {
  const rows = certs.map((c): BundleCertReport => {
    const days = daysLeft(c.notAfter, now);
    return {
      subject: c.subject,
      issuer: c.issuer,
      notAfter: c.notAfter.toISOString(),
      daysLeft: days,
      isCa: c.isCa,
      selfSigned: isSelfSigned(c),
      issuerInBundle: issuerIn(c, certs) !== undefined,
      linkBroken: brokenLink(c, certs),
      expired: c.notAfter.getTime() <= now.getTime(),
      expiringSoon: days < EXPIRY_WARNING_DAYS,
      fingerprint: c.fingerprint,
    };
  });
  return {
    certificates: rows,
    complete: rows.every((r) => r.issuerInBundle),
    expiringWithinDays: EXPIRY_WARNING_DAYS,
  };
}
