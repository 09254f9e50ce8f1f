/**
 * A failed TLS handshake under the verify policy, as the code the ssl-mode contract names (DESIGN.md):
 * expired, untrusted chain, host name, the server refusing our certificate, or the handshake itself.
 */
import { causeText, DbtlsError } from '../errors.js';
import { expectedServerName } from '../tls/options.js';
import type { TlsSettings } from '../tls/settings.js';
import { printable } from '../util/safe-text.js';
import { commandLine } from '../util/shell.js';
import { formatEndpoint } from './dial.js';

/** OpenSSL/node verification codes that mean "the chain does not lead to a CA you trust". */
const UNTRUSTED_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'INVALID_CA',
  'CERT_REJECTED',
]);

/** TLS alerts a server sends about the client's certificate (RFC 8446 section 6.2). */
const CLIENT_CERT_ALERTS: ReadonlySet<string> = new Set([
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
]);

/** The server refused every version offered, or picked one below the minimum (RFC 8446 section 6.2). */
const NO_COMMON_VERSION: ReadonlySet<string> = new Set([
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
]);

/** A node TLS failure as the error the mode's contract names. */
export function tlsError(err: unknown, settings: TlsSettings, host: string, port: number): DbtlsError {
  const code = String((err as NodeJS.ErrnoException).code ?? '');
  const where = formatEndpoint({ host, port });
  // node's text can quote the peer's certificate (ERR_TLS_CERT_ALTNAME_INVALID names its CN, raw, when it
  // has no SAN): one line, escaped, like every text a peer wrote.
  const cause = printable(causeText(err));
  const details = { nodeCode: code, mode: settings.mode };
  const inspect = `\`${commandLine(['dbtls', 'inspect', where])}\``;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return new DbtlsError('CERT_EXPIRED', `could not verify the certificate of ${where}: ${cause}`, {
      hint: `renew the server certificate (\`dbtls renew --cn NAME\`, NAME its CN, which ${inspect} shows) and reload it: \`${commandLine(['dbtls', 'server', 'reload', where])}\``,
      cause: err,
      details,
    });
  }
  if (UNTRUSTED_CODES.has(code)) {
    return new DbtlsError(
      'CERT_UNTRUSTED',
      `could not verify the certificate of ${where}: ${cause} (${code})`,
      {
        hint: `pass --ca with the CA that signed the server certificate (${inspect} shows its issuer)`,
        cause: err,
        details,
      },
    );
  }
  if (CLIENT_CERT_ALERTS.has(code)) {
    return new DbtlsError(
      'CLIENT_CERT_REJECTED',
      `could not complete the TLS handshake with ${where}: the server rejected the client certificate (${code})`,
      {
        hint: settings.cert
          ? 'the server does not trust the CA of --cert (its ssl_ca), or the certificate is expired or revoked: issue one from the CA the server trusts (`dbtls issue client --cn USER`, USER the database account)'
          : 'the server requires a client certificate: pass --cert FILE --key FILE',
        cause: err,
        details,
      },
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const name = expectedServerName(settings, host);
    return new DbtlsError(
      'HOSTNAME_MISMATCH',
      `could not verify the certificate of ${where} for the name ${printable(name)}: ${cause}`,
      {
        hint: 'connect with a name the certificate lists, pass --servername NAME, or reissue the certificate with --dns/--ip for this name',
        cause: err,
        details: { ...details, expectedName: name },
      },
    );
  }
  if (NO_COMMON_VERSION.has(code)) {
    // OpenSSL's text here is a dump ("...:ssl3_read_bytes:tlsv1 alert protocol version:../deps/...:1601:");
    // the code is kept: client/mutual.ts tells a version refusal by it.
    return new DbtlsError(
      'TLS_HANDSHAKE_FAILED',
      `could not complete the TLS handshake with ${where}: the server and this side have no TLS version in common (${code})`,
      {
        hint: `the server accepts only versions below the lowest one offered here: enable TLSv1.3 on the server (tls_version) or lower --tls-min; ${inspect} lists the versions it accepts`,
        cause: err,
        details,
      },
    );
  }
  return new DbtlsError(
    'TLS_HANDSHAKE_FAILED',
    `could not complete the TLS handshake with ${where}: ${cause}`,
    {
      hint: `check the TLS versions and ciphers both sides allow (${inspect} shows the server side) and the client certificate, if any`,
      cause: err,
      details,
    },
  );
}
