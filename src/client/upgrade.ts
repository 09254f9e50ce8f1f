/**
 * The in-protocol TLS upgrade, for every caller: SSLRequest (sequence id 1), then a TLS handshake on the
 * same socket (the only `tls.connect` in src/), under one of two policies:
 *
 *   verify   the ssl-mode's checks (src/tls/options.ts). It resolves only once node has completed the
 *            handshake AND the checks passed ('secureConnect' fires after verification and
 *            checkServerIdentity), so nothing the caller sends afterwards can leave before the server is
 *            verified as the mode requires. A failure is the mode contract's code (tlsError).
 *   observe  the probes' (inspect, the reload proof): any chain is taken, the versions and suites are the
 *            caller's per attempt, and the outcome is the peer chain and the verification verdict, or the
 *            reason the handshake was refused. It never fails on what the server presents.
 */
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { causeText, DbtlsError } from '../errors.js';
import {
  CLIENT_LONG_PASSWORD,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  hasCapability,
} from '../protocol/capabilities.js';
import type { Greeting } from '../protocol/handshake.js';
import { framePacket } from '../protocol/packet.js';
import { encodeSslRequest, SSL_REQUEST_LENGTH, SSL_REQUEST_SEQUENCE_ID } from '../protocol/ssl-request.js';
import { nodeTlsOptions, type TlsMaterial } from '../tls/options.js';
import type { TlsSettings } from '../tls/settings.js';
import { requiresTls } from '../tls/ssl-mode.js';
import { peerText, UNAUTHENTICATED } from '../util/safe-text.js';
import { type DialOptions, formatEndpoint, timeoutError } from './dial.js';
import { tlsError } from './tls-errors.js';

/** Callers of the upgrade report a failure after it (a TLS 1.3 alert about our certificate) the same way. */
export { tlsError };

/**
 * The capabilities of every SSLRequest dbtls writes when no handshake response of a client follows (probes,
 * verification handshakes): a 4.1 client with secure authentication about to upgrade, limited to what the
 * server offered. A caller that authenticates sends its handshake response's own first 32 bytes instead
 * (MariaDB keeps the SSLRequest's capabilities).
 */
export const SSL_REQUEST_CAPABILITIES =
  CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_SSL;

export function offersTls(greeting: Greeting): boolean {
  return hasCapability(greeting.capabilities, CLIENT_SSL);
}

/**
 * The framed SSLRequest for `greeting`. With `response` (the held handshake response of a client) its first
 * 32 bytes are the request; CLIENT_SSL is set in `response` itself too, or the server drops the session.
 */
export function sslRequestFrame(greeting: Greeting, response?: Buffer): Buffer {
  if (!response) {
    const capabilities = (SSL_REQUEST_CAPABILITIES & greeting.capabilities) >>> 0;
    return framePacket(SSL_REQUEST_SEQUENCE_ID, encodeSslRequest({ capabilities }));
  }
  response.writeUInt32LE((response.readUInt32LE(0) | CLIENT_SSL) >>> 0, 0);
  return framePacket(SSL_REQUEST_SEQUENCE_ID, Buffer.from(response.subarray(0, SSL_REQUEST_LENGTH)));
}

/** What TLS_NOT_OFFERED tells of the greeting, also kept as its details (--json, and an outer rewording). */
export type NotOfferedFacts = Pick<Greeting, 'flavor' | 'serverVersion' | 'capabilities'>;

/**
 * TLS_NOT_OFFERED, worded once (issue 11): what could not be done (`what`: "connect to HOST:PORT ..."), then
 * the same cause wherever a greeting without CLIENT_SSL stops dbtls; `hint` is that caller's next step.
 */
export function tlsNotOffered(
  what: string,
  server: NotOfferedFacts,
  hint = 'enable TLS on the server, on its host: `dbtls server enable ADMIN_TARGET --issue --socket /run/mysqld/mysqld.sock` (the socket its my.cnf names; no TLS is needed over it); if the server has TLS, something on the path strips it: do not connect',
): DbtlsError<'TLS_NOT_OFFERED'> {
  const { flavor, capabilities } = server;
  const serverVersion = peerText(server.serverVersion);
  return new DbtlsError(
    'TLS_NOT_OFFERED',
    `could not ${what}: the server (${flavor} ${serverVersion}, ${UNAUTHENTICATED}) does not offer TLS (no CLIENT_SSL in its greeting)`,
    { hint, details: { serverVersion, flavor, capabilities } },
  );
}

/** TLS_NOT_OFFERED when the mode needs TLS and the greeting lacks CLIENT_SSL (a stripping relay looks so). */
export function requireTlsOffered(
  greeting: Greeting,
  host: string,
  port: number,
  settings: TlsSettings,
): void {
  if (!requiresTls(settings.mode) || offersTls(greeting)) return;
  throw tlsNotOffered(
    `connect to ${formatEndpoint({ host, port })} with ssl-mode ${settings.mode}`,
    greeting,
  );
}

export interface VerifyPolicy {
  readonly kind: 'verify';
  readonly settings: TlsSettings;
  readonly material: TlsMaterial;
  /**
   * A context shared by many connections (the proxy): its CA, certificate and key replace the material's,
   * and OpenSSL can resume TLS sessions made on it. The mode's checks (rejectUnauthorized,
   * checkServerIdentity) still come from the settings.
   */
  readonly secureContext?: tls.SecureContext | undefined;
  /** A TLS session of an earlier connection on the same context, to resume (RFC 8446 section 2.2). */
  readonly session?: Buffer | undefined;
  /** The client's held handshake response, sent by the caller inside TLS once this resolves. */
  readonly response?: Buffer | undefined;
}

export interface ObservePolicy {
  readonly kind: 'observe';
  /** Versions, suites and trust anchors of this attempt (the inspector enumerates with one per step). */
  readonly secureContext?: tls.SecureContext | undefined;
  /** Without a context: the lowest version to offer (default TLS 1.2). */
  readonly minVersion?: tls.SecureVersion | undefined;
  /** SNI to send (never an IP address, RFC 6066 section 3). */
  readonly servername?: string | undefined;
}

export type TlsPolicy = VerifyPolicy | ObservePolicy;

export type Observed =
  | {
      readonly kind: 'accepted';
      readonly secure: tls.TLSSocket;
      /** Whether the chain verifies against the context's CA, and why not. */
      readonly authorized: boolean;
      readonly authorizationError?: string;
    }
  | { readonly kind: 'refused'; readonly reason: string };

export interface UpgradeAt extends Pick<DialOptions, 'timeoutMs' | 'brief' | 'timeoutFlag'> {
  readonly host: string;
  readonly port: number;
}

export function upgradeToTls(
  socket: net.Socket,
  greeting: Greeting,
  policy: VerifyPolicy,
  at: UpgradeAt,
): Promise<tls.TLSSocket>;
export function upgradeToTls(
  socket: net.Socket,
  greeting: Greeting,
  policy: ObservePolicy,
  at: UpgradeAt,
): Promise<Observed>;
export function upgradeToTls(
  socket: net.Socket,
  greeting: Greeting,
  policy: TlsPolicy,
  at: UpgradeAt,
): Promise<tls.TLSSocket | Observed> {
  const { host, port } = at;
  if (policy.kind === 'verify') {
    try {
      requireTlsOffered(greeting, host, port, policy.settings);
    } catch (err) {
      socket.destroy();
      return Promise.reject(err);
    }
  }
  return new Promise((resolve, reject) => {
    let secure: tls.TLSSocket | undefined;
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      secure?.destroy();
      socket.destroy();
      reject(timeoutError({ host, port }, at, 'in the TLS handshake'));
    }, at.timeoutMs);
    // The handshake ended without a session: observe reports why, verify fails as the mode names it.
    const failed = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      secure?.destroy();
      socket.destroy();
      if (policy.kind === 'observe') resolve({ kind: 'refused', reason: causeText(err) });
      else reject(tlsError(err, policy.settings, host, port));
    };
    // Both sockets keep this listener for their whole life ('on', not 'once'): OpenSSL can report a second
    // error after the first (a failed write, then the server's alert), and an 'error' with no listener is
    // an uncaught exception that would end the process (the proxy's, for every client). Errors after the
    // outcome belong to the caller's own listeners.
    socket.on('error', failed);
    socket.write(sslRequestFrame(greeting, policy.kind === 'verify' ? policy.response : undefined));
    try {
      secure = tls.connect({ ...connectOptions(policy, host), socket });
    } catch (err) {
      // OpenSSL's "no cipher match": nothing left to offer for this attempt's version.
      failed(err);
      return;
    }
    const onClose = () => failed(new Error('the server closed the connection during the handshake'));
    secure.once('close', onClose);
    secure.on('error', failed);
    secure.once('secureConnect', () => {
      if (settled || !secure) return;
      settled = true;
      clearTimeout(timer);
      secure.off('close', onClose);
      if (policy.kind === 'verify') return resolve(secure);
      resolve({
        kind: 'accepted',
        secure,
        authorized: secure.authorized,
        ...(secure.authorizationError ? { authorizationError: String(secure.authorizationError) } : {}),
      });
    });
  });
}

function connectOptions(policy: TlsPolicy, host: string): tls.ConnectionOptions {
  if (policy.kind === 'verify') {
    return {
      ...nodeTlsOptions(policy.settings, policy.material, host),
      ...(policy.secureContext ? { secureContext: policy.secureContext } : {}),
      ...(policy.session ? { session: policy.session } : {}),
    };
  }
  return {
    ...(policy.secureContext
      ? { secureContext: policy.secureContext }
      : { minVersion: policy.minVersion ?? 'TLSv1.2' }),
    ...(policy.servername ? { servername: policy.servername } : {}),
    // The probe judges the certificate itself (authorized, the host name); it must see every chain.
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
  };
}

export interface PeerChain {
  /** DER of each certificate, leaf first, as OpenSSL assembled the chain. */
  readonly chain: readonly Buffer[];
  readonly peer: tls.PeerCertificate;
  readonly authorized: boolean;
  readonly authorizationError?: string;
}

/** The peer's chain (leaf first, following issuerCertificate to a root) and its verdict. */
export function peerChain(secure: tls.TLSSocket): PeerChain {
  const peer = secure.getPeerCertificate(true);
  const chain: Buffer[] = [];
  let cert: tls.DetailedPeerCertificate | undefined = peer;
  while (cert?.raw && chain.length < 10) {
    chain.push(cert.raw);
    const next: tls.DetailedPeerCertificate | undefined = cert.issuerCertificate;
    if (!next || next === cert || next.raw?.equals(cert.raw)) break;
    cert = next;
  }
  return {
    chain,
    peer,
    authorized: secure.authorized,
    ...(secure.authorizationError ? { authorizationError: String(secure.authorizationError) } : {}),
  };
}
