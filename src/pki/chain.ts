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
    const node = nodeCertificate(cert);
    const by = nodeCertificate(issuer);
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
  for (let current = leaf; !isSelfSigned(current); ) {
    const i = left.findIndex((c) => issuedBy(current, c));
    if (i < 0) break;
    current = left.splice(i, 1)[0]!;
    path.push(current);
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

/** Distance to the top of the chain inside the set: roots 0, their intermediates 1, and so on. */
function depth(cert: CertificateInfo, certs: readonly CertificateInfo[], seen: Set<CertificateInfo>): number {
  const issuer = issuerIn(cert, certs);
  if (!issuer || issuer === cert || seen.has(issuer)) return 0;
  seen.add(cert);
  return depth(issuer, certs, seen) + 1;
}

/**
 * A set of certificates with no one leaf (a CA bundle: several chains, roots and intermediates in any
 * order) ordered leaf to root: each certificate before the one that issued it, as in a chain a server sends
 * (RFC 8446 §4.4.2) and as OpenSSL and keytool read bundles. Certificates at the same depth keep the given
 * order (the sort is stable), so the output does not depend on anything but the input.
 */
export function orderLeafToRoot(certs: readonly CertificateInfo[]): CertificateInfo[] {
  const depths = new Map(certs.map((c) => [c, depth(c, certs, new Set())]));
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
 * Whether the PEM key is the pair of the first certificate of the PEM text, compared by keyMatches before
 * node's TLS sees them (its refusal is English text from OpenSSL, not a verdict to parse). Undefined when
 * either cannot be read here (garbage, an encrypted key): the caller's loader reports that in its words.
 */
export function pemKeyMatches(certPem: Buffer | string, keyPem: Buffer | string): boolean | undefined {
  let cert: CertificateInfo | undefined;
  let key: KeyObject;
  try {
    cert = parseCertificates(certPem)[0];
    key = createPrivateKey(keyPem);
  } catch {
    return undefined;
  }
  return cert && keyMatches(cert, key);
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
