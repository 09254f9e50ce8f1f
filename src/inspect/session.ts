/**
 * The credentialed part of an inspection: log in through dbtls's own client (src/client/connect.ts, which
 * sends no credential byte before the TLS handshake passed the mode's checks) and read the server's view of
 * its TLS settings; then try the same login once without TLS and record whether the server refused it.
 * The plaintext attempt is the point of the check (it is what a careless client or a downgrade attacker
 * gets) and can be skipped.
 */
import { connect } from '../client/connect.js';
import { isDbtlsError } from '../errors.js';
import { SYSTEM_CA } from '../tls/options.js';
import type { Target, TlsSettings } from '../tls/settings.js';
import type { SslMode } from '../tls/ssl-mode.js';
import type { Endpoint } from './probe.js';
import type { PlaintextLoginCheck, SessionPosture } from './report.js';

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
  readonly plaintextCheck: boolean;
  readonly timeoutMs: number;
}

/** The server variables that describe its TLS posture. */
const VARIABLES_SQL =
  "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('have_ssl', 'have_openssl', 'require_secure_transport', 'tls_version', 'version_ssl_library') OR Variable_name LIKE 'ssl\\_%'";
const ACCOUNT_SQL = 'SELECT CURRENT_USER() AS account';

export async function inspectSession(endpoint: Endpoint, options: SessionOptions): Promise<SessionPosture> {
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
      variables[String(row.Variable_name)] = String(row.Value);
    const [account] = await connection.query(ACCOUNT_SQL);
    const plaintextLogin = options.plaintextCheck
      ? await tryPlaintextLogin(endpoint, credentials, options.timeoutMs)
      : { attempted: false };
    const { protocol, cipher } = connection.session;
    return {
      user: credentials.user,
      account: account?.account === undefined ? credentials.user : String(account.account),
      ...(protocol ? { protocol } : {}),
      ...(cipher ? { cipher } : {}),
      variables,
      plaintextLogin,
    };
  } finally {
    await connection.close();
  }
}

function target(endpoint: Endpoint, credentials: SessionCredentials, tls: TlsSettings): Target {
  return {
    host: endpoint.host,
    port: endpoint.port,
    user: credentials.user,
    ...(credentials.password !== undefined ? { password: credentials.password } : {}),
    tls,
  };
}

/** One login without TLS, with the same credentials; refused is what we hope for. */
async function tryPlaintextLogin(
  endpoint: Endpoint,
  credentials: SessionCredentials,
  timeoutMs: number,
): Promise<PlaintextLoginCheck> {
  const plain: TlsSettings = { mode: 'disable', mutualTls: 'disable', minVersion: 'TLSv1.2' };
  try {
    const connection = await connect(target(endpoint, credentials, plain), { connectTimeoutMs: timeoutMs });
    await connection.close();
    return { attempted: true, refused: false };
  } catch (err) {
    // Only the server's ERR packet is an answer; a network failure says nothing about the account.
    const serverError = isDbtlsError(err) ? err.details?.serverError : undefined;
    if (typeof serverError !== 'number') throw err;
    return {
      attempted: true,
      refused: true,
      errorCode: serverError,
      errorMessage: err instanceof Error ? err.message : '',
    };
  }
}
