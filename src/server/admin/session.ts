/**
 * SQL sessions for server administration: the admin session that `server`, `users` and `require` keep
 * open, and the second session the lockout guard opens as another account. src/client opens them (TCP or
 * the unix socket, its own TLS upgrade, the `mariadb` connector for SQL); TLS is decided once, from the
 * ssl-mode, by src/tls/options.ts, so that an admin password never crosses an unverified link unless the
 * user chose that explicitly.
 */
import * as path from 'node:path';
import { connect } from '../../client/connect.js';
import { causeText, DbtlsError, isDbtlsError } from '../../errors.js';
import { address } from '../../tls/dsn.js';
import type { TlsSettings } from '../../tls/settings.js';
import type { SslMode } from '../../tls/ssl-mode.js';
import { DEFAULT_TLS_MIN, type SecureTlsVersion } from '../../tls/versions.js';
import { printable } from '../../util/safe-text.js';
import {
  type Flavor,
  parseServerVersion,
  type ServerCapabilities,
  type ServerVersion,
  serverCapabilities,
} from '../flavor.js';
import { type Account, quoteString, splitCurrentUser } from './sql.js';

export type { Account };

/** The modes an admin session may use. `preferred` is refused: it can silently send the password in clear. */
export type AdminSslMode = Exclude<SslMode, 'preferred'>;

export interface SessionTls {
  readonly mode: AdminSslMode;
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  /** The name the certificate must match when it differs from the host dialled. */
  readonly servername?: string;
  readonly minVersion?: SecureTlsVersion;
}

export interface SessionOptions {
  readonly host: string;
  readonly port: number;
  /** A unix socket path: local, so no TLS is needed or used (but for a check login, socketTls). */
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
  /** The flavor the greeting showed: MariaDB clears CLIENT_MYSQL, whatever VERSION() says. */
  readonly greetingFlavor?: Flavor | undefined;
  close(): Promise<void>;
}

export interface AdminSession extends SqlSession {
  readonly options: SessionOptions;
  readonly version: ServerVersion;
  readonly capabilities: ServerCapabilities;
  /** The account the server authenticated this session as (CURRENT_USER()). */
  readonly account: Account;
}

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
    minVersion: tls.minVersion ?? DEFAULT_TLS_MIN,
  };
}

function where(o: SessionOptions): string {
  return o.socket ? o.socket : address(o.host, o.port);
}

/**
 * Opens a session through the shared client (src/client/connect.ts), over TCP or the unix socket: the
 * ssl-mode is enforced there, with no credential byte before verified TLS and the host name checked against
 * the address dialled ('localhost' over the socket). Over the socket TLS applies only to a check login
 * (socketTls); an admin session there is local and plaintext.
 */
export async function openSession(o: SessionOptions): Promise<SqlSession> {
  const settings = tlsSettings(o.tls);
  const conn = await connect(
    {
      ...(o.socket ? { host: 'localhost', socket: o.socket } : { host: o.host }),
      port: o.port,
      user: o.user,
      password: o.password ?? '',
      tls: o.socket && !o.socketTls ? { ...settings, mode: 'disable', mutualTls: 'disable' } : settings,
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

/**
 * A statement that failed, told with the statement and the server: the client's code is kept (one failure,
 * one code, issue 11): QUERY_FAILED when the server refused it, CONNECTION_LOST when the session dropped.
 */
function sqlFailed(sql: string, o: SessionOptions, err: unknown): DbtlsError {
  const lost = isDbtlsError(err) && err.code === 'CONNECTION_LOST';
  // The driver's and the server's own text: escaped, never printed raw.
  const why = printable(isDbtlsError(err) && err.cause !== undefined ? causeText(err.cause) : causeText(err));
  return new DbtlsError(
    lost ? 'CONNECTION_LOST' : 'QUERY_FAILED',
    `could not run ${firstWords(sql)} on ${where(o)}: ${lost ? 'the connection was lost: ' : ''}${why}`,
    {
      hint: (lost && err.hint) || 'check that the admin account has the privileges this needs',
      cause: err,
      details: { sql },
    },
  );
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

/** The variables that name a file of the server's. */
const FILE_VARIABLE = /^(pid_file|ssl_(ca|capath|cert|crl|crlpath|key))$/;

/**
 * Global variables by name; a name the server does not know is absent. The file variables (@@ssl_cert,
 * @@pid_file, …) come back as absolute paths, resolved here and nowhere else: MariaDB and MySQL alike read
 * a relative one from the datadir, where they change at start (MySQL's auto-generated certificate is
 * `server-cert.pem`), not from where dbtls runs.
 */
export async function globalVariables(
  session: SqlSession,
  names: readonly string[],
): Promise<Map<string, string>> {
  const files = names.filter((n) => FILE_VARIABLE.test(n));
  const asked = files.length > 0 && !names.includes('datadir') ? [...names, 'datadir'] : names;
  const list = asked.map(quoteString).join(', ');
  const rows = await session.query(`SHOW GLOBAL VARIABLES WHERE Variable_name IN (${list})`);
  const out = new Map<string, string>();
  for (const row of rows) out.set(String(row.Variable_name).toLowerCase(), String(row.Value ?? ''));
  for (const name of files) {
    const value = out.get(name);
    if (value) out.set(name, path.resolve(out.get('datadir') || '/', value));
  }
  return out;
}
