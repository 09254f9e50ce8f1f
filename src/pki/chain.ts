/**
 * Certificates in relation to each other and to keys: who issued whom, the path from a leaf upwards (by
 * who signed whom, not by the order a file lists them), duplicates, and whether a key belongs to a
 * certificate. keystore/, server/ and inspect/ take these rather than node's X509Certificate.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { DbtlsError } from '../errors.js';
import { type CertificateInfo, nodeCertificate, parseCertificate, parseCertificates } from './certificate.js';
import { publicKeyDer } from './keys.js';
import { commonName, decodeName } from './names.js';
import { publicKeyFromSpki } from './spki.js';

/** True when `issuer` issued `cert`: names (and key identifiers) match and the signature verifies. */
export function issuedBy(cert: CertificateInfo, issuer: CertificateInfo): boolean {
  try {
    const [node, by] = [nodeCertificate(cert), nodeCertificate(issuer)];
    return node.checkIssued(by) && node.verify(by.publicKey);
  } catch {
    return false;
  }
}

export function isSelfSigned(cert: CertificateInfo): boolean {
  return issuedBy(cert, cert);
}

/**
 * The path from `leaf` upwards through `pool` as far as it goes. Certificates of the pool that are not on
 * the path (the leaf itself aside) are returned as `unused`.
 */
export function buildPath(
  leaf: CertificateInfo,
  pool: readonly CertificateInfo[],
): { path: CertificateInfo[]; unused: CertificateInfo[] } {
  const path = [leaf];
  const left = pool.filter((c) => c.fingerprint !== leaf.fingerprint);
  for (let up = issuerIn(leaf, left); up && up !== path.at(-1); up = issuerIn(up, left)) {
    left.splice(left.indexOf(up), 1);
    path.push(up);
  }
  return { path, unused: left };
}

/** The certificate of `pool` that issued `cert`: `cert` itself when it is self-signed, undefined when none did. */
export function issuerIn(
  cert: CertificateInfo,
  pool: readonly CertificateInfo[],
): CertificateInfo | undefined {
  if (isSelfSigned(cert)) return cert;
  return pool.find((c) => c !== cert && issuedBy(cert, c));
}

/**
 * A set with no one leaf (a CA bundle: several chains in any order) ordered leaf to root: each certificate
 * before its issuer, as a server sends a chain (RFC 8446 §4.4.2). Stable: equal depths keep the given order.
 */
export function orderLeafToRoot(certs: readonly CertificateInfo[]): CertificateInfo[] {
  // Distance to the top inside the set: roots 0, their intermediates 1, …; an issuer cycle ends it.
  const depth = (c: CertificateInfo, seen: Set<CertificateInfo>): number => {
    const up = issuerIn(c, certs);
    return up && !seen.has(up) ? 1 + depth(up, seen.add(up)) : 0;
  };
  const depths = new Map(certs.map((c) => [c, depth(c, new Set([c]))]));
  return [...certs].sort((a, b) => depths.get(b)! - depths.get(a)!);
}

/** Removes repeated certificates (same SHA-256 fingerprint), keeping the first. */
export function dedupe(certs: readonly CertificateInfo[]): CertificateInfo[] {
  const seen = new Set<string>();
  return certs.filter((c) => !seen.has(c.fingerprint) && seen.add(c.fingerprint));
}

/** True when `key` (private or public) is the key pair of the certificate's public key. */
export function keyMatches(cert: CertificateInfo, key: KeyObject): boolean {
  const spki = publicKeyDer(key);
  // The same key may be encoded differently (an EC point compressed, explicit curve parameters).
  return spki.equals(cert.spki) || spki.equals(publicKeyDer(publicKeyFromSpki(cert.spki)));
}

/**
 * KEY_MISMATCH, with the caller's message and hint, unless `key` is the key pair of `cert`: the one place
 * that code comes from a comparison of the keys.
 */
export function checkKeyPair(cert: CertificateInfo, key: KeyObject, message: string, hint: string): void {
  if (!keyMatches(cert, key)) throw new DbtlsError('KEY_MISMATCH', message, { hint });
}

/**
 * checkKeyPair for PEM files (the first certificate), before node's TLS sees them: its refusal is English
 * text from OpenSSL, not a verdict to parse. A file it cannot read passes, for the caller's loader to report.
 * Returns the certificate when it could be read.
 */
export function checkPemKeyPair(
  certPem: Buffer | string,
  keyPem: Buffer | string,
  message: string,
  hint: string,
) {
  const read = <T>(from: () => T): T | undefined => {
    try {
      return from();
    } catch {
      return undefined;
    }
  };
  const cert = read(() => parseCertificates(certPem)[0]);
  const key = read(() => createPrivateKey(keyPem));
  if (cert && key) checkKeyPair(cert, key, message, hint);
  return cert;
}

/** How messages name a certificate: its CN, or its one-line subject when it has none. */
export function certificateName(cert: CertificateInfo): string {
  return commonName(decodeName(cert.subjectDer)) ?? cert.subject;
}

/** How messages name a certificate's issuer: the issuer's CN, or its one-line name. */
export function issuerName(cert: CertificateInfo): string {
  return commonName(decodeName(cert.issuerDer)) ?? cert.issuer;
}

/**
 * Every certificate of a PEM text, in order; a DER file counts as one certificate. CERT_MALFORMED naming
 * `what` when there is none or one does not parse.
 */
export function readCertificates(data: Buffer | string, what: string): CertificateInfo[] {
  const der = typeof data !== 'string' && data[0] === 0x30;
  let certs: CertificateInfo[];
  try {
    certs = der ? [parseCertificate(data)] : parseCertificates(data);
  } catch (err) {
    throw new DbtlsError(
      'CERT_MALFORMED',
      `could not read ${what}: ${err instanceof DbtlsError ? err.message.replace(/^could not read the certificate: /, '') : String(err)}`,
      { hint: 'check that the file holds PEM certificates and was not truncated or edited', cause: err },
    );
  }
  if (certs.length === 0) {
    throw new DbtlsError('CERT_MALFORMED', `could not read ${what}: it holds no PEM certificate`, {
      hint: 'give a PEM file with -----BEGIN CERTIFICATE----- blocks',
    });
  }
  return certs;
}
