/**
 * Ordering certificates into a chain, leaf to root, by who signed whom (not by the order a file happens
 * to list them). Shared by keystore export, keystore reading and bundles.
 */
import { X509Certificate } from 'node:crypto';
import { DbtlsError } from '../errors.js';

/** True when `issuer` issued `cert`: names match and the signature verifies with the issuer's key. */
export function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  if (!cert.checkIssued(issuer)) return false;
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

export function isSelfSigned(cert: X509Certificate): boolean {
  return issuedBy(cert, cert);
}

/**
 * The path from `leaf` upwards through `pool` as far as it goes. Certificates of the pool that are not on
 * the path are returned as `unused`.
 */
export function buildPath(
  leaf: X509Certificate,
  pool: readonly X509Certificate[],
): { path: X509Certificate[]; unused: X509Certificate[] } {
  const path = [leaf];
  const left = pool.filter((c) => c.fingerprint256 !== leaf.fingerprint256);
  for (let current = leaf; !isSelfSigned(current); ) {
    const i = left.findIndex((c) => issuedBy(current, c));
    if (i < 0) break;
    current = left.splice(i, 1)[0]!;
    path.push(current);
  }
  return { path, unused: left };
}

/** Parses DER or PEM certificates, as node:crypto objects. */
export function x509(der: Uint8Array): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (err) {
    throw new DbtlsError('CERT_MALFORMED', 'could not parse a certificate: it is not valid DER', {
      hint: 'check that the file holds X.509 certificates',
      cause: err,
    });
  }
}

/** Removes repeated certificates (same SHA-256 fingerprint), keeping the first. */
export function dedupe(certs: readonly X509Certificate[]): X509Certificate[] {
  const seen = new Set<string>();
  return certs.filter((c) => {
    if (seen.has(c.fingerprint256)) return false;
    seen.add(c.fingerprint256);
    return true;
  });
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;

/**
 * Every CERTIFICATE block of a PEM text, in order (a DER file is accepted as one certificate). Kept here
 * rather than on src/pki/pem so keystores need nothing but node:crypto.
 */
export function pemCertificates(data: Buffer | string, what: string): X509Certificate[] {
  const text = typeof data === 'string' ? data : data.toString('latin1');
  const blocks = [...text.matchAll(PEM_CERTIFICATE)].map((m) =>
    Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'),
  );
  if (blocks.length === 0 && typeof data !== 'string' && data[0] === 0x30) blocks.push(Buffer.from(data));
  if (blocks.length === 0) {
    throw new DbtlsError('CERT_MALFORMED', `could not read ${what}: it holds no PEM certificate`, {
      hint: 'give a PEM file with -----BEGIN CERTIFICATE----- blocks',
    });
  }
  return blocks.map((der) => {
    try {
      return new X509Certificate(der);
    } catch (err) {
      throw new DbtlsError('CERT_MALFORMED', `could not read ${what}: a certificate in it is not valid`, {
        hint: 'check that the file was not truncated or edited',
        cause: err,
      });
    }
  });
}

/** A certificate as PEM text. */
export function certificatePem(cert: X509Certificate): string {
  const b64 = cert.raw.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** The CN of a node:crypto name, or the whole name when there is none. */
export function commonName(nodeName: string): string {
  const cn = nodeName.split('\n').find((l) => l.startsWith('CN='));
  return cn ? cn.slice(3) : nodeName.replaceAll('\n', ', ');
}
