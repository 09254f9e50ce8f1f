/**
 * SQL sessions for server administration: the admin session that `server`, `users` and `require` keep
 * open, and the second session the lockout guard opens as another account. The `mariadb` connector does
 * the wire work (over TCP behind src/client's own TLS upgrade); TLS is decided once, from the ssl-mode, by
 * src/tls/options.ts, so that an admin password never crosses an unverified link unless the user chose that
 * explicitly.
 */
import mariadb, { type Connection, type ConnectionConfig } from 'mariadb';
import { connect } from '../../client/connect.js';
import { causeText, DbtlsError } from '../../errors.js';
import { loadTlsMaterial, nodeTlsOptions } from '../../tls/options.js';
import type { TlsMinVersion, TlsSettings } from '../../tls/settings.js';
import type { SslMode } from '../../tls/ssl-mode.js';
import {
  type Flavor,
  parseServerVersion,
  type ServerCapabilities,
  type ServerVersion,
  serverCapabilities,
} from '../flavor.js';
import { quoteString, splitCurrentUser } from './sql.js';

/** The modes an admin session may use. `preferred` is refused: it can silently send the password in clear. */
export type AdminSslMode = Exclude<SslMode, 'preferred'>;

export interface SessionTls {
  readonly mode: AdminSslMode;
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  /** The name the certificate must match when it differs from the host dialled. */
  readonly servername?: string;
  readonly minVersion?: TlsMinVersion;
}

export interface SessionOptions {
  readonly host: string;
  readonly port: number;
  /** A unix socket path: local, so no TLS is needed or used. */
  readonly socket?: string | undefined;
  readonly user: string;
  readonly password?: string | undefined;
  readonly tls: SessionTls;
  readonly connectTimeoutMs?: number;
  /**
   * Use `tls` over the unix socket too. Admin sessions never need it (the socket is local); the check
   * login of a 'localhost' account does: it must log in as that account's clients do (issue 10 item 10).
   */
  readonly socketTls?: boolean;
}

export type Row = Record<string, unknown>;

export interface SqlSession {
  query(sql: string): Promise<Row[]>;
  /** The TLS protocol of the session ('TLSv1.3'), undefined when it is not encrypted. */
  readonly tlsProtocol: string | undefined;
  /** The flavor the greeting showed (TCP only): MariaDB clears CLIENT_MYSQL, whatever VERSION() says. */
  readonly greetingFlavor?: Flavor | undefined;
  close(): Promise<void>;
}

export interface Account {
  readonly user: string;
  readonly host: string;
}

export interface AdminSession extends SqlSession {
  readonly options: SessionOptions;
  readonly version: ServerVersion;
  readonly capabilities: ServerCapabilities;
  /** The account the server authenticated this session as (CURRENT_USER()). */
  readonly account: Account;
}

/** TLS 1.2 minimum: older versions are deprecated by RFC 8996. */
const MIN_TLS_VERSION: TlsMinVersion = 'TLSv1.2';
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The session's TLS settings in the shared model (src/tls/settings.ts), for src/tls/options.ts. */
function tlsSettings(tls: SessionTls): TlsSettings {
  return {
    mode: tls.mode,
    mutualTls: tls.cert ? 'enable' : 'disable',
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert ? { cert: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
    ...(tls.servername ? { servername: tls.servername } : {}),
    minVersion: tls.minVersion ?? MIN_TLS_VERSION,
  };
}

/**
 * The connector's options for the unix socket. TLS does not apply there except for a check login
 * (socketTls): then the node TLS options come from the same mode logic as every other connection, with
 * the certificate checked against 'localhost'; the connector fails closed before sending credentials when
 * the server offers no TLS (ER_SERVER_SSL_DISABLED), and node verifies before 'secureConnect'.
 */
function socketConnectionOptions(o: SessionOptions): ConnectionConfig {
  const settings = tlsSettings(o.tls);
  return {
    ...(o.socketTls && o.tls.mode !== 'disable'
      ? { ssl: nodeTlsOptions(settings, loadTlsMaterial(settings), 'localhost') }
      : {}),
    socketPath: o.socket,
    user: o.user,
    password: o.password ?? '',
    connectTimeout: o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    multipleStatements: false,
  } as ConnectionConfig;
}

function where(o: SessionOptions): string {
  return o.socket ? o.socket : `${o.host}:${o.port}`;
}

/**
 * Opens a session. Over TCP it is the shared client (src/client/connect.ts): the ssl-mode is enforced there,
 * with no credential byte before verified TLS and the host name checked against the address dialled.
 * Over the unix socket, where TLS applies only to a check login, the same connector dials the socket.
 */
export async function openSession(o: SessionOptions): Promise<SqlSession> {
  if (!o.socket) return openTcpSession(o);
  let conn: Connection;
  try {
    conn = await mariadb.createConnection(socketConnectionOptions(o));
  } catch (err) {
    if (err instanceof DbtlsError) throw err;
    throw new DbtlsError(
      'CONNECTION_FAILED',
      `could not connect to ${where(o)} as ${o.user}: ${causeText(err)}`,
      {
        hint: 'check the socket path and the credentials',
        cause: err,
        kind: 'runtime',
        details: { code: (err as { code?: string }).code },
      },
    );
  }
  conn.on('error', () => {
    // A server-side kill after we are done must not crash the process.
  });
  let tlsProtocol: string | undefined;
  try {
    // The check login's report: the protocol the server says this session negotiated.
    if (o.socketTls) tlsProtocol = await sessionTlsVersion(conn);
  } catch (err) {
    conn.destroy();
    throw sqlFailed("SHOW SESSION STATUS LIKE 'Ssl_version'", o, err);
  }
  return {
    tlsProtocol,
    async query(sql) {
      try {
        const rows: unknown = await conn.query(sql);
        return Array.isArray(rows) ? (rows as Row[]) : [];
      } catch (err) {
        throw sqlFailed(sql, o, err);
      }
    },
    async close() {
      try {
        await conn.end();
      } catch {
        conn.destroy();
      }
    },
  };
}

/** The session's TLS protocol as the server reports it (`Ssl_version`), undefined over plaintext. */
async function sessionTlsVersion(conn: Connection): Promise<string | undefined> {
  const rows = (await conn.query("SHOW SESSION STATUS LIKE 'Ssl_version'")) as Row[];
  const version = String(rows[0]?.Value ?? '');
  return version === '' ? undefined : version;
}

function sqlFailed(sql: string, o: SessionOptions, err: unknown): DbtlsError {
  return new DbtlsError('SQL_FAILED', `could not run ${firstWords(sql)} on ${where(o)}: ${causeText(err)}`, {
    hint: 'check that the admin account has the privileges this needs',
    cause: err,
    kind: 'runtime',
    details: { sql },
  });
}

async function openTcpSession(o: SessionOptions): Promise<SqlSession> {
  const conn = await connect(
    {
      host: o.host,
      port: o.port,
      user: o.user,
      password: o.password ?? '',
      tls: tlsSettings(o.tls),
    },
    { connectTimeoutMs: o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS },
  );
  let closed = false;
  return {
    tlsProtocol: conn.session.encrypted ? conn.session.protocol : undefined,
    greetingFlavor: conn.session.flavor,
    async query(sql) {
      try {
        return await conn.query(sql);
      } catch (err) {
        throw sqlFailed(sql, o, err);
      }
    },
    async close() {
      // Idempotent, and quiet when the server already went away (a restart ends every session).
      if (closed) return;
      closed = true;
      await conn.close().catch(() => undefined);
    },
  };
}

function firstWords(sql: string): string {
  const words = sql.trim().split(/\s+/).slice(0, 3).join(' ');
  return words.length < sql.trim().length ? `${words} …` : words;
}

/** The admin session: opened once, with the server's version and capabilities read at once. */
export async function openAdminSession(o: SessionOptions): Promise<AdminSession> {
  const session = await openSession(o);
  try {
    // Our quoteString escapes backslashes; make the session parse them as escapes whatever the server's mode.
    await session.query("SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')");
    const [row] = await session.query('SELECT VERSION() AS version, CURRENT_USER() AS account');
    const version = parseServerVersion(String(row?.version ?? ''), session.greetingFlavor);
    const account = splitCurrentUser(String(row?.account ?? ''));
    return { ...session, options: o, version, capabilities: serverCapabilities(version), account };
  } catch (err) {
    await session.close();
    throw err;
  }
}

/** The value of one global variable, or undefined when the server does not know it. */
export async function globalVariables(
  session: SqlSession,
  names: readonly string[],
): Promise<Map<string, string>> {
  const list = names.map(quoteString).join(', ');
  const rows = await session.query(`SHOW GLOBAL VARIABLES WHERE Variable_name IN (${list})`);
  const out = new Map<string, string>();
  for (const row of rows) out.set(String(row.Variable_name).toLowerCase(), String(row.Value ?? ''));
  return out;
}
