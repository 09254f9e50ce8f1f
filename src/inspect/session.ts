/**
 * The credentialed part of an inspection: log in through dbtls's own client (src/client/connect.ts, which
 * sends no credential byte before the TLS handshake passed the mode's checks) and read the server's view of
 * its TLS settings over that verified session: require_secure_transport and the account's own REQUIRE
 * (ssl_type), which together decide whether the server accepts a login without TLS.
 *
 * A real plaintext login is never made by default (issue 9, item 11): its handshake response (user name and
 * password scramble) crosses in clear, and a passive capture of a mysql_native_password scramble is cracked
 * offline. Only an explicit opt-in (`--plaintext-login-check`, which the CLI warns about) makes one.
 */
import { connect, type DbtlsConnection } from '../client/connect.js';
import type { TcpEndpoint } from '../client/dial.js';
import { isDbtlsError } from '../errors.js';
import {
  ANY_FLAVOR_TLS_VARIABLES,
  capabilitiesOf,
  type TlsLiveness,
  tlsLivenessFromRows,
  tlsLivenessFromVariables,
  tlsLiveQuery,
} from '../server/flavor.js';
import { SYSTEM_CA } from '../tls/options.js';
import type { Target, TlsSettings } from '../tls/settings.js';
import type { SslMode } from '../tls/ssl-mode.js';
import { peerText } from '../util/safe-text.js';
import type { AccountSslType, PlaintextLoginCheck, SessionPosture } from './report.js';

export interface SessionCredentials {
  readonly user: string;
  readonly password?: string | undefined;
  /** Client certificate and key files, for accounts that REQUIRE X509. */
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

export interface SessionOptions {
  readonly credentials: SessionCredentials;
  readonly sslMode: SslMode;
  /** CA certificate file; undefined: the system store. */
  readonly ca?: string | undefined;
  readonly servername?: string | undefined;
  /** Make one real login without TLS (opt-in: the credentials then cross in clear). */
  readonly plaintextCheck: boolean;
  readonly timeoutMs: number;
}

/** The server variables that describe its TLS posture: flavor.ts's for any flavor (the version is among them). */
const POSTURE_VARIABLES = [...ANY_FLAVOR_TLS_VARIABLES, 'have_openssl', 'version_ssl_library'];
const VARIABLES_SQL = `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${POSTURE_VARIABLES.map((n) => `'${n}'`).join(', ')}) OR Variable_name LIKE 'ssl\\_%'`;
const ACCOUNT_SQL = 'SELECT CURRENT_USER() AS account';
/** Every account may read its own (MariaDB 10.2+, MySQL 5.7+); the statement holds the password hash: never kept. */
const CREATE_USER_SQL = 'SHOW CREATE USER CURRENT_USER()';

export async function inspectSession(
  endpoint: TcpEndpoint,
  options: SessionOptions,
): Promise<SessionPosture> {
  const { credentials } = options;
  const mutual = credentials.cert !== undefined && credentials.key !== undefined;
  const tls: TlsSettings = {
    mode: options.sslMode,
    mutualTls: mutual ? 'enable' : 'disable',
    ca: options.ca ?? SYSTEM_CA,
    ...(mutual ? { cert: credentials.cert, key: credentials.key } : {}),
    ...(options.servername ? { servername: options.servername } : {}),
    minVersion: 'TLSv1.2',
  };
  const connection = await connect(target(endpoint, credentials, tls), {
    connectTimeoutMs: options.timeoutMs,
  });
  try {
    const variables: Record<string, string> = {};
    for (const row of await connection.query(VARIABLES_SQL))
      variables[peerText(String(row.Variable_name))] = peerText(String(row.Value));
    const tlsLive = await sessionTlsLiveness(connection, variables);
    const [account] = await connection.query(ACCOUNT_SQL);
    const sslType = await readSslType(connection);
    const plaintextLogin = options.plaintextCheck
      ? await tryPlaintextLogin(endpoint, credentials, options.timeoutMs)
      : plaintextPolicy(variables.require_secure_transport, sslType);
    const { protocol, cipher } = connection.session;
    return {
      user: credentials.user,
      account: account?.account === undefined ? credentials.user : String(account.account),
      ...(protocol ? { protocol } : {}),
      ...(cipher ? { cipher } : {}),
      variables,
      ...(tlsLive === undefined ? {} : { tlsLive }),
      ...(sslType === undefined ? {} : { sslType }),
      plaintextLogin,
    };
  } finally {
    await connection.close();
  }
}

function target(endpoint: TcpEndpoint, credentials: SessionCredentials, tls: TlsSettings): Target {
  return {
    host: endpoint.host,
    port: endpoint.port,
    user: credentials.user,
    ...(credentials.password !== undefined ? { password: credentials.password } : {}),
    tls,
  };
}

/**
 * Whether the server has TLS live, the way its flavor tells it (server/flavor.ts: have_ssl, or MySQL 8.0.21+'s
 * tls_channel_status, which an account without access to performance_schema cannot read: undefined).
 */
export async function sessionTlsLiveness(
  connection: Pick<DbtlsConnection, 'query'>,
  variables: Readonly<Record<string, string>>,
): Promise<TlsLiveness | undefined> {
  let caps: ReturnType<typeof capabilitiesOf>;
  try {
    caps = capabilitiesOf(variables.version ?? '');
  } catch {
    return undefined; // a version string no flavor matches: no verdict rather than a wrong one
  }
  const fromVariables = tlsLivenessFromVariables(caps, new Map(Object.entries(variables)));
  if (fromVariables) return fromVariables;
  try {
    return tlsLivenessFromRows(caps, await connection.query(tlsLiveQuery(caps)));
  } catch (err) {
    if (isDbtlsError(err) && err.code === 'QUERY_FAILED') return undefined;
    throw err;
  }
}

/**
 * The account's REQUIRE clause as MariaDB's ssl_type, from its own CREATE USER statement. Quoted strings
 * (the password hash, a SUBJECT) are dropped before the clause is read, so no hash byte can look like one.
 */
async function readSslType(connection: DbtlsConnection): Promise<AccountSslType | undefined> {
  let statement: string;
  try {
    const [row] = await connection.query(CREATE_USER_SQL);
    statement = String(Object.values(row ?? {})[0] ?? '');
  } catch (err) {
    if (isDbtlsError(err) && err.code === 'QUERY_FAILED') return undefined;
    throw err;
  }
  return sslTypeOf(statement);
}

export function sslTypeOf(createUser: string): AccountSslType | undefined {
  const bare = createUser.replace(/'(?:[^'\\]|\\.|'')*'|`(?:[^`]|``)*`|"(?:[^"\\]|\\.)*"/g, "''");
  if (!/^\s*CREATE\s+USER\b/i.test(bare)) return undefined;
  const clause = /\sREQUIRE\s+(NONE|SSL|X509|SUBJECT|ISSUER|CIPHER)\b/i.exec(bare)?.[1]?.toUpperCase();
  switch (clause) {
    case undefined:
    case 'NONE':
      return '';
    case 'SSL':
      return 'ANY';
    case 'X509':
      return 'X509';
    default:
      return 'SPECIFIED';
  }
}

/**
 * Whether the server accepts a login without TLS, from its policy alone: require_secure_transport ON, or an
 * account that REQUIREs anything, refuses it (MariaDB and MySQL check both before authentication succeeds).
 */
export function plaintextPolicy(
  requireSecureTransport: string | undefined,
  sslType: AccountSslType | undefined,
): PlaintextLoginCheck {
  const rst = requireSecureTransport?.toUpperCase();
  const refused =
    rst === 'ON' || (sslType !== undefined && sslType !== '')
      ? true
      : rst === 'OFF' && sslType === ''
        ? false
        : undefined;
  return { attempted: false, ...(refused === undefined ? {} : { refused }), basis: 'policy' };
}

/** One login without TLS, with the same credentials (opt-in only); refused is what we hope for. */
async function tryPlaintextLogin(
  endpoint: TcpEndpoint,
  credentials: SessionCredentials,
  timeoutMs: number,
): Promise<PlaintextLoginCheck> {
  const plain: TlsSettings = { mode: 'disable', mutualTls: 'disable', minVersion: 'TLSv1.2' };
  try {
    const connection = await connect(target(endpoint, credentials, plain), { connectTimeoutMs: timeoutMs });
    await connection.close();
    return { attempted: true, refused: false, basis: 'attempt' };
  } catch (err) {
    // Only the server's ERR packet is an answer; a network failure says nothing about the account.
    const serverError = isDbtlsError(err) ? err.details?.serverError : undefined;
    if (typeof serverError !== 'number') throw err;
    return {
      attempted: true,
      refused: true,
      basis: 'attempt',
      errorCode: serverError,
      errorMessage: err instanceof Error ? peerText(err.message) : '',
    };
  }
}
