/**
 * The in-protocol TLS upgrade: SSLRequest, then a TLS handshake on the same socket with the mode's checks
 * (src/tls/options.ts). It resolves only once node has completed the handshake AND the checks passed
 * ('secureConnect' fires after verification and checkServerIdentity), so nothing the caller sends
 * afterwards can leave before the server is verified as the mode requires.
 */
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { causeText, DbtlsError } from '../errors.js';
import { framePacket } from '../protocol/packet.js';
import { SSL_REQUEST_SEQUENCE_ID } from '../protocol/ssl-request.js';
import { expectedServerName, nodeTlsOptions, type TlsMaterial } from '../tls/options.js';
import type { TlsSettings } from '../tls/settings.js';
import { address, timeoutError } from './dial.js';

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

export interface UpgradeRequest {
  readonly socket: net.Socket;
  readonly host: string;
  readonly port: number;
  readonly settings: TlsSettings;
  readonly material: TlsMaterial;
  /** The 32-byte SSLRequest payload (sent with sequence id 1). */
  readonly sslRequest: Buffer;
  readonly timeoutMs: number;
  /**
   * A context shared by many connections (the proxy): its CA, certificate and key replace the material's,
   * and OpenSSL can resume TLS sessions made on it. The mode's checks (rejectUnauthorized,
   * checkServerIdentity) still come from the settings.
   */
  readonly secureContext?: tls.SecureContext;
  /** A TLS session of an earlier connection on the same context, to resume (RFC 8446 section 2.2). */
  readonly session?: Buffer;
}

export function upgradeToTls(req: UpgradeRequest): Promise<tls.TLSSocket> {
  const { socket, host, port, settings } = req;
  return new Promise((resolve, reject) => {
    socket.write(framePacket(SSL_REQUEST_SEQUENCE_ID, req.sslRequest));
    const secure = tls.connect({
      ...nodeTlsOptions(settings, req.material, host),
      ...(req.secureContext ? { secureContext: req.secureContext } : {}),
      ...(req.session ? { session: req.session } : {}),
      socket,
    });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(timeoutError(host, port, 'in the TLS handshake', req.timeoutMs));
    }, req.timeoutMs);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      secure.removeAllListeners('error');
      resolve(secure);
    });
    secure.once('error', (err) => {
      clearTimeout(timer);
      secure.destroy();
      socket.destroy();
      reject(tlsError(err, settings, host, port));
    });
  });
}

/** A node TLS failure as the error the mode's contract names. */
export function tlsError(err: unknown, settings: TlsSettings, host: string, port: number): DbtlsError {
  const code = String((err as NodeJS.ErrnoException).code ?? '');
  const where = address(host, port);
  const details = { nodeCode: code, mode: settings.mode };
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return new DbtlsError('CERT_EXPIRED', `could not verify the certificate of ${where}: ${causeText(err)}`, {
      hint: 'renew the server certificate (dbtls renew --cn NAME) and reload the server (dbtls server reload)',
      kind: 'check',
      cause: err,
      details,
    });
  }
  if (UNTRUSTED_CODES.has(code)) {
    return new DbtlsError(
      'CERT_UNTRUSTED',
      `could not verify the certificate of ${where}: ${causeText(err)} (${code})`,
      {
        hint: 'pass --ca with the CA that signed the server certificate (check it with: dbtls inspect TARGET)',
        kind: 'check',
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
          ? 'the server does not trust the CA of --cert (its ssl_ca), or the certificate is expired or revoked: issue one from the CA the server trusts (dbtls issue client --cn USER)'
          : 'the server requires a client certificate: pass --cert FILE --key FILE',
        kind: 'check',
        cause: err,
        details,
      },
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const name = expectedServerName(settings, host);
    return new DbtlsError(
      'HOSTNAME_MISMATCH',
      `could not verify the certificate of ${where} for the name ${name}: ${causeText(err)}`,
      {
        hint: 'connect with a name the certificate lists, pass --servername NAME, or reissue the certificate with --dns/--ip for this name',
        kind: 'check',
        cause: err,
        details: { ...details, expectedName: name },
      },
    );
  }
  return new DbtlsError(
    'TLS_HANDSHAKE_FAILED',
    `could not complete the TLS handshake with ${where}: ${causeText(err)}`,
    {
      hint: 'check the TLS versions and ciphers both sides allow (dbtls inspect TARGET shows the server side) and the client certificate, if any',
      kind: 'check',
      cause: err,
      details,
    },
  );
}
