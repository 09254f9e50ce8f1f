/**
 * MariaDB 11.4+ zero-configuration TLS: a server with TLS on but no ssl_cert/ssl_key makes a certificate
 * in memory at every start and never writes it to disk (MDEV-31856; vio_keygen/vio_gencert in
 * vio/viosslfactories.c). Clients cannot trust it through a CA: Connector/C 3.4+ accepts it only when
 * the account has a password and a "secure without TLS" plugin (mysql_native_password, ed25519, parsec),
 * by checking a hash of the password hash, the scramble and the certificate fingerprint that the server
 * puts in its OK packet (MDEV-31855). Passwordless and X509-only accounts get no protection from it.
 *
 * What that certificate looks like, read from the source and reproduced for tests with the same traits:
 *   subject = issuer   CN=MariaDB Server (the only attribute)
 *   self-signed        with the same RSA 4096-bit key, sha256WithRSAEncryption
 *   serial             0 (never set), X.509 v3 with no extensions: no SAN, no basicConstraints
 *   validity           from start-up for 3650 days; key and certificate change at every restart
 */
import type { ChainEntry } from './report.js';

/** The name MariaDB gives its generated certificate, as subject and issuer (OpenSSL one-line form). */
export const GENERATED_CERT_NAME = '/CN=MariaDB Server';

/** The traits of the generated certificate that no CA-issued or hand-made certificate should share all of. */
export const GENERATED_CERT_TRAITS = Object.freeze({
  name: GENERATED_CERT_NAME,
  keyType: 'RSA',
  keyBits: 4096,
  serial: '00',
  validityDays: 3650,
});

/**
 * True for the certificate MariaDB generates itself: its name, self-signed, and without the extensions
 * every certificate made for a host carries (a SAN, basicConstraints). Key size, serial and validity are
 * not required, so that a future release changing them is still recognised.
 */
export function isServerGeneratedCertificate(leaf: ChainEntry): boolean {
  return (
    leaf.selfSigned &&
    leaf.subject === GENERATED_CERT_NAME &&
    leaf.issuer === GENERATED_CERT_NAME &&
    leaf.sans.length === 0 &&
    !leaf.isCa
  );
}
