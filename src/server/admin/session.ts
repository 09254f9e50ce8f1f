/**
 * SQL sessions for server administration: the admin session that `server`, `users` and `require` keep
 * open, and the second session the lockout guard opens as another account. mysql2 does the wire work;
 * this module decides TLS once, from the ssl-mode, so that an admin password never crosses an
 * unverified link unless the user chose that explicitly.
 */
import * as fs from 'node:fs';
import type { ConnectionOptions } from 'mysql2';
import { type Connection, createConnection } from 'mysql2/promise';
import { connect } from '../../client/connect.js';
import { causeText, DbtlsError } from '../../errors.js';
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
const MIN_TLS_VERSION = 'TLSv1.2';
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** mysql2 options for the unix socket: local, so TLS does not apply. */
function socketConnectionOptions(o: SessionOptions): ConnectionOptions {
  return {
    ...(o.socketTls && o.tls.mode !== 'disable' ? { ssl: socketSsl(o.tls) } : {}),
    socketPath: o.socket,
    user: o.user,
    password: o.password ?? '',
    connectTimeout: o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    multipleStatements: false,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  };
}

/**
 * mysql2's TLS options for a unix socket (the server's certificate is checked against 'localhost'): the
 * same ssl-mode guarantees as over TCP; mysql2 fails closed before sending credentials when the server
 * offers no TLS (FACTS.md).
 */
function socketSsl(tls: SessionTls): NonNullable<ConnectionOptions['ssl']> {
  const read = (file: string | undefined) => (file ? fs.readFileSync(file) : undefined);
  return {
    ...(tls.ca ? { ca: read(tls.ca) } : {}),
    ...(tls.cert ? { cert: read(tls.cert), key: read(tls.key) } : {}),
    rejectUnauthorized: tls.mode !== 'trust',
    verifyIdentity: tls.mode === 'verify-full',
    minVersion: MIN_TLS_VERSION,
  };
}

function where(o: SessionOptions): string {
  return o.socket ? o.socket : `${o.host}:${o.port}`;
}

/**
 * Opens a session. Over TCP it is the shared client (src/client/connect.ts): the ssl-mode is enforced there,
 * with no credential byte before verified TLS and the host name checked against the address dialled
 * (mysql2's verifyIdentity checks "localhost" for an IP target). Over the unix socket, where TLS does not
 * apply, mysql2 does the work.
 */
export async function openSession(o: SessionOptions): Promise<SqlSession> {
  if (!o.socket) return openTcpSession(o);
  let conn: Connection;
  try {
    conn = await createConnection(socketConnectionOptions(o));
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
  // The TLS protocol when the stream was upgraded (a TLSSocket), for the check login's report.
  const stream = (conn as unknown as { connection?: { stream?: { getProtocol?: () => string | null } } })
    .connection?.stream;
  const cipher = stream?.getProtocol?.();
  return {
    tlsProtocol: cipher ?? undefined,
    async query(sql) {
      try {
        const [rows] = await conn.query({ sql, rowsAsArray: false });
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
      tls: {
        mode: o.tls.mode,
        mutualTls: o.tls.cert ? 'enable' : 'disable',
        ...(o.tls.ca ? { ca: o.tls.ca } : {}),
        ...(o.tls.cert ? { cert: o.tls.cert } : {}),
        ...(o.tls.key ? { key: o.tls.key } : {}),
        minVersion: MIN_TLS_VERSION,
      },
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
