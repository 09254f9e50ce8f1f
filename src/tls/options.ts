/**
 * Mode -> node TLS options: the one place that decides how TLS is verified (STYLE.md: one place that
 * decides TLS). The checks node performs before 'secureConnect' are exactly the mode's:
 *   trust, preferred   rejectUnauthorized false: encrypt, check nothing
 *   verify-ca          rejectUnauthorized true, checkServerIdentity a no-op: chain only
 *   verify-full        rejectUnauthorized true, checkServerIdentity = tls.checkServerIdentity(name):
 *                      chain + RFC 6125 host name (DNS and IP SANs), against --servername when given
 * TLS 1.2 is the floor whatever the settings say: 1.0 and 1.1 are deprecated (RFC 8996).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { causeText, DbtlsError } from '../errors.js';
import { type CertificateInfo, parseCertificates } from '../pki/certificate.js';
import { checkKeyPair } from '../pki/chain.js';
import { readUserFile } from '../util/files.js';
import { shellQuote } from '../util/shell.js';
import type { TlsSettings } from './settings.js';
import { checkCombination, SSL_MODES } from './ssl-mode.js';
import { DEFAULT_TLS_MIN, parseTlsMinVersion, type SecureTlsVersion } from './versions.js';

/** `--ca system`: verify against node's bundled Mozilla roots (managed cloud databases with public CAs). */
export const SYSTEM_CA = 'system';

export interface TlsMaterial {
  readonly ca?: readonly (string | Buffer)[];
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** The client certificate as read from `cert` (absent when dbtls's parser could not read it). */
  readonly clientCertificate?: CertificateInfo;
}

/**
 * The minimum TLS version a connection may negotiate: the settings' own when it is 1.2 or 1.3, 1.2 when a
 * caller gave none. Anything lower (a library caller's `'TLSv1'`, which the type forbids but JavaScript
 * does not) is refused with TLS_VERSION_INSECURE rather than negotiated (issue 9, item 14).
 */
export function tlsFloor(settings: Pick<TlsSettings, 'minVersion'>): SecureTlsVersion {
  const asked: unknown = settings.minVersion;
  if (asked === undefined) return DEFAULT_TLS_MIN;
  return parseTlsMinVersion(String(asked));
}

/** Reads the files the settings name, and refuses settings that cannot give the mode's guarantees. */
export function loadTlsMaterial(settings: TlsSettings): TlsMaterial {
  const spec = SSL_MODES[settings.mode];
  checkCombination(settings.mode, settings.mutualTls);
  tlsFloor(settings);
  if (spec.verifiesChain && !settings.ca) {
    throw new DbtlsError(
      'TLS_CA_REQUIRED',
      `could not verify the server with ssl-mode ${settings.mode}: no CA certificate was given`,
      {
        hint: `pass --ca FILE (the CA that signed the server certificate, e.g. dbtls-ca/root.pem) or --ca ${SYSTEM_CA} for public CAs`,
      },
    );
  }
  if (settings.mutualTls === 'enable' && (!settings.cert || !settings.key)) {
    throw new DbtlsError(
      'TLS_CLIENT_CERT_REQUIRED',
      'could not use mutual TLS: a client certificate and its key are both needed',
      {
        hint: 'pass --cert FILE --key FILE (dbtls issue client --cn USER writes them)',
      },
    );
  }
  const ca =
    settings.ca === undefined || !spec.verifiesChain
      ? undefined
      : settings.ca === SYSTEM_CA
        ? tls.rootCertificates
        : [caFile(settings.ca)];
  return {
    ...(ca ? { ca } : {}),
    ...(settings.mutualTls === 'enable' && settings.cert && settings.key
      ? checkClientPair(settings.cert, settings.key)
      : {}),
  };
}

/**
 * The client certificate and its key, read and checked before any connection. Node takes both as they
 * are and OpenSSL refuses them only mid-handshake, in its own English text, after the SSLRequest went
 * out: a connect then blames the handshake, a proxy fails every client.
 */
export function checkClientPair(
  certFile: string,
  keyFile: string,
): { cert: Buffer; key: Buffer; clientCertificate?: CertificateInfo } {
  const cert = readUserFile(certFile, 'the client certificate');
  const key = readUserFile(keyFile, 'the client key');
  const refuse = (what: string, why: string, hint: string, cause?: unknown) =>
    new DbtlsError('TLS_MATERIAL_INVALID', `could not load ${what}: ${why}`, {
      hint,
      ...(cause ? { cause } : {}),
    });
  let certs: CertificateInfo[] | undefined;
  try {
    certs = parseCertificates(cert);
  } catch {
    certs = undefined; // a block our parser cannot read (one OpenSSL may well accept) is left to node's TLS
  }
  if (certs?.length === 0) {
    throw refuse(
      `the client certificate ${certFile}`,
      'it holds no PEM certificate',
      'pass the PEM certificate dbtls issued for the client (check it with: dbtls cert show FILE)',
    );
  }
  const leaf = certs?.[0];
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    const encrypted = /ENCRYPTED/.test(key.toString('latin1'));
    throw refuse(
      `the client key ${keyFile}`,
      encrypted
        ? 'it is encrypted, and TLS client keys are read without a passphrase'
        : 'it holds no private key',
      encrypted
        ? `write it unencrypted to a new file only you can read, and pass that with --key: (set -C; umask 077; openssl pkey -in ${shellQuote(keyFile)} > client-key.pem)`
        : 'pass the PEM key issued with the certificate (key.pem beside cert.pem from dbtls issue --out DIR)',
      err,
    );
  }
  if (!leaf) return { cert, key };
  checkKeyPair(
    leaf,
    privateKey,
    `could not load the client certificate ${certFile}: the key ${keyFile} does not belong to it`,
    'pass the key that was issued with this certificate (both from the same dbtls issue --out DIR)',
  );
  return { cert, key, clientCertificate: leaf };
}

/**
 * The --ca file, refused unless it holds a certificate. Node takes a CA file with none (`ca: 'garbage'`)
 * without a word, and then no server verifies: a connect that blames the server, a proxy failing every
 * client, a reload that breaks every new connection instead of keeping the old files.
 */
function caFile(file: string): Buffer {
  const pem = readUserFile(file, 'the CA certificate');
  const invalid = (why: string, cause?: unknown) =>
    new DbtlsError('TLS_MATERIAL_INVALID', `could not load the CA certificate ${file}: ${why}`, {
      hint: 'pass the PEM file of the CA that signed the server certificate (check it with: dbtls cert show FILE)',
      ...(cause ? { cause } : {}),
    });
  let count: number;
  try {
    count = parseCertificates(pem).length;
  } catch (err) {
    throw invalid(causeText(err), err);
  }
  if (count === 0) throw invalid('it holds no PEM certificate');
  return pem;
}

/** The name the server certificate must match in verify-full: --servername, else the host dialled. */
export function expectedServerName(settings: TlsSettings, host: string): string {
  return settings.servername ?? host;
}

/** Node TLS options that enforce `settings.mode` for a connection to `host` over `socket`. */
export function nodeTlsOptions(
  settings: TlsSettings,
  material: TlsMaterial,
  host: string,
): tls.ConnectionOptions {
  const spec = SSL_MODES[settings.mode];
  const name = expectedServerName(settings, host);
  return {
    minVersion: tlsFloor(settings),
    // SNI carries a DNS name only (RFC 6066 section 3 forbids IP literals).
    ...(net.isIP(name) ? {} : { servername: name }),
    rejectUnauthorized: spec.verifiesChain,
    ...(material.ca ? { ca: [...material.ca] } : {}),
    ...(material.cert ? { cert: material.cert } : {}),
    ...(material.key ? { key: material.key } : {}),
    checkServerIdentity: spec.verifiesHostname
      ? (_host, cert) => tls.checkServerIdentity(name, cert)
      : () => undefined,
  };
}
