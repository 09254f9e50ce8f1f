/**
 * TLS protocol versions and cipher suites as the inspector names them: OpenSSL names, as `sslscan` and
 * the server's `ssl_cipher` variable spell them, with their strength in bits and what makes one weak.
 * Pure data and functions; the probe decides what to offer with them.
 */
import type { TlsVersion } from '../tls/versions.js';

/**
 * The TLS 1.3 suites (RFC 8446 appendix B.4), in the order sslscan offers them. TLS 1.3 servers built on
 * OpenSSL honour the client's order unless told otherwise, so this order is what a scan reports.
 */
export const TLS13_SUITES: readonly string[] = Object.freeze([
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_CCM_SHA256',
  'TLS_AES_128_CCM_8_SHA256',
]);

/**
 * Every TLS 1.0-1.2 suite our OpenSSL knows, weak ones included (COMPLEMENTOFALL adds the NULL suites),
 * at security level 0: OpenSSL 3 refuses TLS 1.0/1.1 and short keys at the default level 1, and an
 * inspector must be able to see what a careless client could still negotiate.
 */
const LEGACY_BASE = 'ALL:COMPLEMENTOFALL';
const SECLEVEL_ANY = '@SECLEVEL=0';

/** The `ciphers` option offering every candidate for `version` except the ones already found. */
export function candidateCiphers(version: TlsVersion, exclude: readonly string[] = []): string | undefined {
  if (version === 'TLSv1.3') {
    const left = TLS13_SUITES.filter((s) => !exclude.includes(s));
    return left.length === 0 ? undefined : left.join(':');
  }
  return [LEGACY_BASE, ...exclude.map((name) => `!${name}`), SECLEVEL_ANY].join(':');
}

/**
 * The strength of a suite's bulk cipher in bits, as OpenSSL's SSL_CIPHER_get_bits reports it (and
 * sslscan prints it): 3DES counts as 112, export ciphers as 40, NULL as 0.
 */
export function cipherBits(name: string): number {
  if (/(^|-)NULL(-|$)/.test(name) || name.includes('_NULL_')) return 0;
  if (name.startsWith('EXP')) return 40;
  const sized = /(AES|ARIA|CAMELLIA)[-_]?(128|256)/.exec(name);
  if (sized) return Number(sized[2]);
  if (name.includes('CHACHA20')) return 256;
  if (name.includes('DES-CBC3') || name.includes('3DES')) return 112;
  if (name.includes('DES-CBC')) return 56;
  if (name.includes('RC4') || name.includes('SEED') || name.includes('IDEA') || name.includes('RC2'))
    return 128;
  return 0;
}

/** Why a suite is unfit for use, or undefined when it is fine. The first reason that applies wins. */
export function cipherWeakness(name: string): string | undefined {
  if (cipherBits(name) === 0) return 'no encryption (NULL cipher)';
  if (name.startsWith('EXP')) return 'export-grade key length';
  if (name.startsWith('ADH') || name.startsWith('AECDH') || /(^|-)anon(-|$)/i.test(name))
    return 'anonymous key exchange (no server authentication)';
  if (name.includes('RC4')) return 'RC4 is broken (RFC 7465)';
  if (name.includes('DES-CBC3') || name.includes('3DES'))
    return '3DES has a 64-bit block (Sweet32, CVE-2016-2183)';
  if (name.includes('DES-CBC')) return 'single DES (56-bit key)';
  if (name.endsWith('-MD5')) return 'MD5 message authentication';
  if (cipherBits(name) < 128) return `only ${cipherBits(name)}-bit encryption`;
  return undefined;
}

/** True when the suite's key exchange gives forward secrecy (every TLS 1.3 suite does). */
export function hasForwardSecrecy(name: string): boolean {
  return name.startsWith('TLS_') || /^(ECDHE|DHE|EDH)-/.test(name);
}
