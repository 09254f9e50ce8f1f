/**
 * SQL sessions for server administration: the admin session that `server`, `users` and `require` keep
 * open, and the second session the lockout guard opens as another account. mysql2 does the wire work;
 * this module decides TLS once, from the ssl-mode, so that an admin password never crosses an
 * unverified link unless the user chose that explicitly.
 */
import type { ConnectionOptions } from 'mysql2';
import { type Connection, createConnection } from 'mysql2/promise';
import { connect } from '../client/connect.js';
import { causeText, DbtlsError } from '../errors.js';
import { parseSslMode, type SslMode } from '../tls/ssl-mode.js';
import {
  parseServerVersion,
  type ServerCapabilities,
  type ServerVersion,
  serverCapabilities,
} from './flavor.js';

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
}

export type Row = Record<string, unknown>;

export interface SqlSession {
  query(sql: string): Promise<Row[]>;
  /** The TLS protocol of the session ('TLSv1.3'), undefined when it is not encrypted. */
  readonly tlsProtocol: string | undefined;
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

/** Parses an ssl-mode for an admin session: the shared model (src/tls/ssl-mode.ts), minus `preferred`. */
export function parseAdminSslMode(text: string): AdminSslMode {
  const mode: SslMode = parseSslMode(text);
  if (mode === 'preferred') {
    throw new DbtlsError(
      'SSL_MODE_INVALID',
      'could not use ssl-mode preferred for an admin session: it falls back to plaintext',
      {
        hint: 'use --ssl-mode verify-full --ca F (or --ssl-mode disable / --socket PATH when the server has no TLS yet)',
      },
    );
  }
  return mode;
}

/** mysql2 options for the unix socket: local, so TLS does not apply. */
function socketConnectionOptions(o: SessionOptions): ConnectionOptions {
  return {
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
      'CONNECT_FAILED',
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
  return {
    tlsProtocol: undefined,
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
    const version = parseServerVersion(String(row?.version ?? ''));
    const account = splitCurrentUser(String(row?.account ?? ''));
    return { ...session, options: o, version, capabilities: serverCapabilities(version), account };
  } catch (err) {
    await session.close();
    throw err;
  }
}

/** CURRENT_USER() is `user@host`; the user may itself contain '@', the host never does. */
export function splitCurrentUser(text: string): Account {
  const at = text.lastIndexOf('@');
  return at < 0 ? { user: text, host: '%' } : { user: text.slice(0, at), host: text.slice(at + 1) };
}

/**
 * A SQL string literal. Backslash escapes are valid because admin sessions clear NO_BACKSLASH_ESCAPES;
 * quotes are doubled (standard SQL) so the literal also survives that mode for every other character.
 */
export function quoteString(value: string): string {
  let out = "'";
  for (const ch of value) {
    switch (ch) {
      case "'":
        out += "''";
        break;
      case '\\':
        out += '\\\\';
        break;
      case '\0':
        out += '\\0';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\x1a':
        out += '\\Z';
        break;
      default:
        out += ch;
    }
  }
  return `${out}'`;
}

/** An account in SQL: 'user'@'host'. */
export function accountSql(account: Account): string {
  return `${quoteString(account.user)}@${quoteString(account.host)}`;
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

export interface AdminTargetFlags {
  readonly sslMode?: string | undefined;
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly user?: string | undefined;
  readonly socket?: string | undefined;
  readonly password?: string | undefined;
}

const DEFAULT_PORT = 3306;
/** Admin tasks are done as root unless told otherwise, like the mysql CLI on the server host. */
const DEFAULT_ADMIN_USER = 'root';

/**
 * An ADMIN_TARGET (`host[:port]` or `mysql://user@host:port/?ssl-mode=..&ssl-ca=..`) and the flags, resolved
 * once: flags win over the DSN, the DSN over defaults. The default mode is verify-full (DESIGN.md): a
 * server without TLS yet is reached with an explicit `--ssl-mode disable` or over `--socket`.
 */
export function resolveAdminTarget(text: string, flags: AdminTargetFlags = {}): SessionOptions {
  let host: string;
  let port = DEFAULT_PORT;
  let user: string | undefined;
  const query = new Map<string, string>();
  const bad = (why: string) =>
    new DbtlsError('TARGET_INVALID', `could not parse the target ${JSON.stringify(text)}: ${why}`, {
      hint: 'write host[:port] or mysql://user@host:port/?ssl-mode=verify-full&ssl-ca=ca.pem',
    });
  if (/^(mysql|mariadb):\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw bad('not a valid URL');
    }
    if (url.password) {
      throw new DbtlsError(
        'PASSWORD_IN_ARGV',
        'could not use a password written in the target: argv is visible to other users',
        {
          hint: 'put the password in a file and pass --password-file FILE, or set MYSQL_PWD',
        },
      );
    }
    host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (url.port) port = Number(url.port);
    if (url.username) user = decodeURIComponent(url.username);
    for (const [k, v] of url.searchParams) query.set(k.toLowerCase().replaceAll('_', '-'), v);
  } else {
    const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(text.trim());
    if (!m) throw bad('expected host[:port]');
    host = (m[1] ?? m[2])!;
    if (m[3]) port = Number(m[3]);
  }
  if (!host) throw bad('no host');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`port ${port} is out of range`);
  const modeText = flags.sslMode ?? query.get('ssl-mode') ?? 'verify-full';
  const tls: SessionTls = {
    mode: parseAdminSslMode(modeText),
    ca: flags.ca ?? query.get('ssl-ca'),
    cert: flags.cert ?? query.get('ssl-cert'),
    key: flags.key ?? query.get('ssl-key'),
  };
  if (!flags.socket && (tls.mode === 'verify-ca' || tls.mode === 'verify-full') && !tls.ca) {
    throw new DbtlsError(
      'SSL_CA_REQUIRED',
      `could not connect to ${host}:${port} with ssl-mode ${tls.mode}: no CA certificate given`,
      {
        hint: 'pass --ca FILE; when the server has no TLS yet, use --socket PATH on the server host or say --ssl-mode disable explicitly',
      },
    );
  }
  return {
    host,
    port,
    socket: flags.socket,
    user: flags.user ?? user ?? DEFAULT_ADMIN_USER,
    password: flags.password,
    tls,
  };
}
