/**
 * connect(target): a SQL session whose TLS behaviour is exactly the ssl-mode (DESIGN.md).
 *
 * dbtls performs the handshake's TLS part itself and hands the verified stream to the `mariadb` connector
 * for authentication and SQL (src/client/handover.ts). Why not let the driver do TLS: mysql2 can verify no
 * chain-without-host-name and takes no servername; the `mariadb` connector can, but for a MariaDB >= 11.4.1
 * greeting with a password and no pinned CA it lowers rejectUnauthorized and checks the certificate only
 * after authentication (its zero-configuration fingerprint path). Owning the upgrade makes the rule
 * "no credential byte before verified TLS" a property of this code, proven by the downgrade relay test.
 *
 * Order, per mode:
 *   1. dial, read the greeting (no credentials exist yet);
 *   2. trust / verify-ca / verify-full: a greeting without CLIENT_SSL -> TLS_NOT_OFFERED, close;
 *      preferred: TLS when offered, else plaintext (reported as verifiedAs 'disable');
 *   3. SSLRequest + TLS with the mode's checks; a failure -> CERT_UNTRUSTED / HOSTNAME_MISMATCH /
 *      CERT_EXPIRED / TLS_HANDSHAKE_FAILED, and the held handshake response is dropped;
 *   4. authentication by the driver inside TLS; ERR 1045 -> AUTH_FAILED.
 *
 * trust is unsafe: it encrypts but accepts any certificate, so a machine in the middle can terminate
 * TLS and read the handshake response (proven by the downgrade test); with caching_sha2_password a client
 * in trust mode sends the password itself in clear inside that TLS on a full authentication. (dbtls's
 * driver believes the link is plaintext and gets no RSA key retrieval in trust, so there such a login
 * fails instead of leaking the password.)
 */
import * as os from 'node:os';
import mariadb, { type Connection, type ConnectionConfig } from 'mariadb';
import { causeText, DbtlsError } from '../errors.js';
import { CLIENT_SSL } from '../protocol/capabilities.js';
import {
  ER_ACCESS_DENIED_ERROR,
  ER_MARIADB_SECURE_TRANSPORT_REQUIRED,
  ER_SECURE_TRANSPORT_REQUIRED,
} from '../protocol/err-packet.js';
import { encodeGreeting, withoutCapabilities } from '../protocol/handshake.js';
import { framePacket } from '../protocol/packet.js';
import { loadTlsMaterial } from '../tls/options.js';
import type { Target } from '../tls/settings.js';
import { SSL_MODES } from '../tls/ssl-mode.js';
import { peerText, printable, UNAUTHENTICATED } from '../util/safe-text.js';
import { endpointOf, formatEndpoint, timeoutError } from './dial.js';
import { Handover } from './handover.js';
import {
  atLeastTls13,
  downgradeError,
  isVersionRefusal,
  prefersTls13,
  verifiedVersionWithoutCertificate,
} from './mutual.js';
import { openOrigin } from './origin.js';
import { type SessionFacts, sessionFacts } from './session.js';
import { offersTls, tlsError, upgradeToTls } from './upgrade.js';

/** Long enough for a slow cross-region link, short enough that a black-holed port fails visibly. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The mariadb connector's "Connection timeout" errno (its ER_CONNECTION_TIMEOUT). */
const DRIVER_CONNECTION_TIMEOUT = 45012;

export interface ConnectOptions {
  readonly connectTimeoutMs?: number;
}

export type ResultRow = Record<string, unknown>;

export interface DbtlsConnection {
  readonly session: SessionFacts;
  query(sql: string): Promise<ResultRow[]>;
  close(): Promise<void>;
}

export async function connect(target: Target, options: ConnectOptions = {}): Promise<DbtlsConnection> {
  // Mutual TLS prefers TLS 1.3, where the client certificate is encrypted (src/client/mutual.ts).
  if (!prefersTls13(target.tls)) return connectOnce(target, options);
  try {
    return await connectOnce(atLeastTls13(target), options);
  } catch (err) {
    if (!isVersionRefusal(err)) throw err;
  }
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if ((await verifiedVersionWithoutCertificate(target, timeoutMs)) === 'TLSv1.3')
    throw downgradeError(target);
  return connectOnce(target, options);
}

async function connectOnce(target: Target, options: ConnectOptions): Promise<DbtlsConnection> {
  const { host, port } = target;
  const where = formatEndpoint(endpointOf(target));
  const settings = target.tls;
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const material = loadTlsMaterial(settings);
  const { socket, greeting, packet } = await openOrigin(host, port, settings, timeoutMs, target.socket);
  const offered = offersTls(greeting);
  const useTls = settings.mode !== 'disable' && offered;
  const handover = new Handover({
    socket,
    greetingFrame: useTls
      ? framePacket(packet.sequenceId, encodeGreeting(withoutCapabilities(greeting, CLIENT_SSL)))
      : framePacket(packet.sequenceId, packet.payload),
    ...(useTls
      ? {
          upgrade: (response: Buffer) =>
            upgradeToTls(
              socket,
              greeting,
              { kind: 'verify', settings, material, response },
              { host, port, timeoutMs },
            ),
        }
      : {}),
  });
  let conn: Connection;
  try {
    conn = await mariadb.createConnection({
      host,
      port,
      user: target.user ?? os.userInfo().username,
      ...(target.password !== undefined ? { password: target.password } : {}),
      ...(target.database ? { database: target.database } : {}),
      stream: () => handover,
      // TLS is ours (above): the driver must never try its own. It therefore believes the link is plaintext,
      // so for caching_sha2_password / sha256_password full authentication (MySQL 8) it encrypts the password
      // with the server's RSA key instead of sending it in clear: allowed only when the link is verified TLS,
      // where that key cannot come from an attacker. Cleartext plugins (mysql_clear_password, PAM) are
      // refused by the driver on such a link: a known limitation.
      ssl: false,
      allowPublicKeyRetrieval: useTls && SSL_MODES[settings.mode].verifiesChain,
      // Authentication includes our TLS upgrade, which has its own deadline of timeoutMs: let that one
      // fire first, so a stalled handshake is reported as such.
      connectTimeout: timeoutMs * 2,
    } as ConnectionConfig);
  } catch (err) {
    handover.destroy();
    if (handover.failure) throw handover.failure;
    // TLS 1.3 delivers the server's verdict on our client certificate after the handshake, during auth.
    if (handover.linkError) throw tlsError(handover.linkError, settings, host, port);
    throw driverError(err, target, handover.secureSocket !== undefined, timeoutMs * 2);
  }
  const session = sessionFacts({
    greeting,
    secure: handover.secureSocket,
    requested: settings.mode,
    mutualTls: settings.mutualTls === 'enable',
  });
  // The driver emits 'error' when the link drops between queries (server restart, KILL, network): keep
  // it for the next query's report; unlistened, that event would end the whole process.
  let lost: Error | undefined;
  conn.on('error', (err: Error) => {
    lost ??= err;
  });
  return {
    session,
    async query(sql: string): Promise<ResultRow[]> {
      try {
        const rows: unknown = await conn.query(sql);
        return Array.isArray(rows) ? (rows as ResultRow[]) : [rows as ResultRow];
      } catch (err) {
        // The driver's text holds the server's message (SIGNAL lets a statement choose it): one line, escaped.
        if (lost || (err as { fatal?: boolean }).fatal) {
          throw new DbtlsError(
            'CONNECTION_LOST',
            `could not run the SQL on ${where}: the connection was lost: ${printable(causeText(lost ?? err))}`,
            {
              hint: 'the server closed the session (restart, KILL, wait_timeout or network): connect again',
              cause: lost ?? err,
            },
          );
        }
        throw new DbtlsError(
          'QUERY_FAILED',
          `could not run the SQL on ${where}: ${printable(causeText(err))}`,
          {
            hint: 'check the statement and the privileges of the user',
            cause: err,
          },
        );
      }
    },
    async close(): Promise<void> {
      try {
        await conn.end();
      } catch {
        conn.destroy();
      }
    },
  };
}

/** A driver error during authentication as a dbtls error naming what the server said. */
function driverError(err: unknown, target: Target, encrypted: boolean, timeoutMs: number): DbtlsError {
  const where = formatEndpoint(endpointOf(target));
  const errno = (err as { errno?: number }).errno;
  // The server's words (or, without TLS, anyone's on the path): escaped and marked when unauthenticated.
  const said = peerText((err as { sqlMessage?: string }).sqlMessage ?? causeText(err));
  const text = encrypted ? said : `${said} (${UNAUTHENTICATED.replace('before', 'without')})`;
  if (errno === ER_ACCESS_DENIED_ERROR) {
    return new DbtlsError('AUTH_FAILED', `could not log in to ${where}: the server said: ${text}`, {
      hint: encrypted
        ? 'check the user name and password; for a REQUIRE X509/SUBJECT/ISSUER user pass --cert and --key with a certificate the server accepts'
        : 'check the user name and password; MariaDB gives this same answer to a plaintext login when the user REQUIREs SSL or require_secure_transport is ON: connect with --ssl-mode verify-full --ca FILE',
      cause: err,
      details: { serverError: errno },
    });
  }
  if (errno === DRIVER_CONNECTION_TIMEOUT) {
    return timeoutError(endpointOf(target), { timeoutMs }, 'authenticating');
  }
  if (errno === ER_SECURE_TRANSPORT_REQUIRED || errno === ER_MARIADB_SECURE_TRANSPORT_REQUIRED) {
    return new DbtlsError(
      'SECURE_TRANSPORT_REQUIRED',
      `could not log in to ${where} without TLS: the server said: ${text}`,
      {
        hint: 'the server has require_secure_transport=ON: connect with --ssl-mode verify-full --ca FILE',
        cause: err,
        details: { serverError: errno },
      },
    );
  }
  return new DbtlsError('CONNECTION_FAILED', `could not connect to ${where}: ${text}`, {
    hint: 'check the server error log',
    cause: err,
    ...(errno !== undefined ? { details: { serverError: errno } } : {}),
  });
}
