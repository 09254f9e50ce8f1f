/**
 * TLS protocol versions, the one vocabulary (issue 11 item 5): the inspector's reports, the client's floor
 * and the server's tls_version name versions from here, and one parser reads what users write.
 *
 * Two spellings exist outside dbtls: OpenSSL and sslscan say TLSv1.0, node and MySQL's tls_version say
 * TLSv1. dbtls says TLSv1.0 and converts at node's boundary (NODE_TLS_VERSION, versionFromNode).
 */
import type { SecureVersion } from 'node:tls';
import { DbtlsError } from '../errors.js';

/** Oldest first; SSLv3 and older cannot be negotiated by node at all. */
export const TLS_VERSIONS = ['TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

/** What dbtls negotiates and configures: TLS 1.0 and 1.1 are deprecated (RFC 8996). */
export type SecureTlsVersion = Extract<TlsVersion, 'TLSv1.2' | 'TLSv1.3'>;
/** The client's floor when none is asked for. */
export const DEFAULT_TLS_MIN: SecureTlsVersion = 'TLSv1.2';

/** node's spelling of each version for the TLS options minVersion and maxVersion, also MySQL's tls_version's. */
export const NODE_TLS_VERSION: Readonly<Record<TlsVersion, SecureVersion>> = Object.freeze({
  'TLSv1.0': 'TLSv1',
  'TLSv1.1': 'TLSv1.1',
  'TLSv1.2': 'TLSv1.2',
  'TLSv1.3': 'TLSv1.3',
});

/** What node's getProtocol() returns, in dbtls's names. */
export function versionFromNode(protocol: string | null): TlsVersion | undefined {
  return TLS_VERSIONS.find((v) => NODE_TLS_VERSION[v] === protocol);
}

/** Reads a version as users write it (TLSv1.2, tlsv1.3, 1.2; TLSv1 and 1 are 1.0); TLS_VERSION_UNKNOWN else. */
export function parseTlsVersion(text: string): TlsVersion {
  const number = text
    .trim()
    .toLowerCase()
    .replace(/^tlsv?/, '');
  const found = TLS_VERSIONS.find((v) => v.slice('TLSv'.length) === (number === '1' ? '1.0' : number));
  if (found) return found;
  throw new DbtlsError('TLS_VERSION_UNKNOWN', `could not read the TLS version ${JSON.stringify(text)}`, {
    hint: 'use TLSv1.2 or TLSv1.3',
  });
}

export function isSecureTlsVersion(version: TlsVersion): version is SecureTlsVersion {
  return version === 'TLSv1.2' || version === 'TLSv1.3';
}

/** The versions dbtls negotiates and configures, oldest first: the choices of `--tls-min`. */
export const SECURE_TLS_VERSIONS: readonly SecureTlsVersion[] = Object.freeze(
  TLS_VERSIONS.filter(isSecureTlsVersion),
);

/**
 * A version dbtls negotiates or configures: the client's minimum (--tls-min, DBTLS_TLS_MIN, a DSN) and each
 * version of a server's tls_version list. 1.2 or 1.3; TLS_VERSION_INSECURE below, whoever asks (one failure,
 * one code: issue 11). The hint names the option the text came from.
 */
export function parseTlsMinVersion(
  text: string,
  hint = 'use --tls-min TLSv1.2 (the default) or TLSv1.3',
): SecureTlsVersion {
  const version = parseTlsVersion(text);
  if (isSecureTlsVersion(version)) return version;
  throw new DbtlsError(
    'TLS_VERSION_INSECURE',
    `could not use TLS version ${text}: TLS 1.0 and 1.1 are deprecated (RFC 8996)`,
    { hint },
  );
}
