/**
 * Server facts: which MySQL-family server this is (MariaDB or MySQL, and its version) and, from that,
 * what it can do for TLS. The capabilities are data, derived in one place, so that `enable`, `reload`,
 * `users` and `rotate` never test version numbers themselves.
 *
 * MySQL rows come from the MySQL 8.0 Reference Manual (sections cited per field); MariaDB rows from the
 * MariaDB Knowledge Base and are exercised for real against the harness MariaDB.
 */
import type { SecureVersion } from 'node:tls';
import { DbtlsError } from '../errors.js';
import { NODE_TLS_VERSION, SECURE_TLS_VERSIONS, TLS_VERSIONS, type TlsVersion } from '../tls/versions.js';

export type Flavor = 'mariadb' | 'mysql';

export interface ServerVersion {
  readonly flavor: Flavor;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** The version string as the server reported it. */
  readonly text: string;
}

export interface ServerCapabilities {
  readonly version: ServerVersion;
  /** The statement that re-reads the certificate files online; undefined when a restart is the only way. */
  readonly reloadStatement: string | undefined;
  /**
   * How to tell that TLS is live. MariaDB and MySQL before 8.0.21: the have_ssl variable. MySQL 8.0.21+:
   * performance_schema.tls_channel_status (have_ssl is deprecated in 8.0.26 and gone in 8.4, manual
   * "What Is New in MySQL 8.4": asking for it would call every 8.4 server TLS-less).
   */
  readonly tlsLiveFrom: 'have_ssl' | 'tls_channel_status';
  /** The privilege the reload statement needs (RELOAD for FLUSH SSL, CONNECTION_ADMIN for ALTER INSTANCE). */
  readonly reloadPrivilege: 'RELOAD' | 'CONNECTION_ADMIN';
  /** ssl_ca / ssl_cert / ssl_key can be changed at run time (MySQL 8.0.16+: SET PERSIST + reload). */
  readonly sslVariablesDynamic: boolean;
  /** tls_version / ssl_cipher can be changed at run time (same rule as the paths). */
  readonly tlsVersionDynamic: boolean;
  /** The server knows require_secure_transport (a dynamic global on both flavors). */
  readonly requireSecureTransport: boolean;
  /** The server knows the tls_version variable. */
  readonly tlsVersionVariable: boolean;
  /** Where per-account TLS requirements are stored. */
  readonly requirementsIn: 'mysql.global_priv' | 'mysql.user';
  /**
   * Protocol versions the server can be configured to accept (the TLS library may narrow this further),
   * spelled as MySQL's tls_version and node spell them (src/tls/versions.ts: NODE_TLS_VERSION).
   */
  readonly tlsVersions: readonly SecureVersion[];
  /** Refuses client certificates whose extended key usage lacks clientAuth (MySQL, FACTS.md). */
  readonly checksClientEku: boolean;
  /**
   * The plugin new accounts get. With caching_sha2_password a full authentication (the first login, or
   * after the server's cache lost the account) sends the password in clear inside TLS, or over a plaintext
   * link encrypted to the server's RSA key, which the client cannot verify (FACTS.md): one more reason the
   * guard's check login and every client use verified TLS.
   */
  readonly defaultAuthPlugin: 'caching_sha2_password' | 'mysql_native_password';
}

/** MariaDB prefixes its version with this for clients that only know MySQL 5.5 replication rules. */
const MARIADB_RPL_HACK_PREFIX = '5.5.5-';
const VERSION_PATTERN = /^(\d+)\.(\d+)\.(\d+)/;

/**
 * Parses a version string (the greeting's or `SELECT VERSION()`): `5.5.5-10.11.19-MariaDB-0+deb12u1`,
 * `10.11.6-MariaDB`, `8.0.36`, `8.0.35-27` (Percona), `8.0.28-log`.
 */
export function parseServerVersion(text: string, flavorHint?: Flavor): ServerVersion {
  let rest = text.trim();
  const mariadb = /mariadb/i.test(rest) || flavorHint === 'mariadb';
  if (mariadb && rest.startsWith(MARIADB_RPL_HACK_PREFIX)) rest = rest.slice(MARIADB_RPL_HACK_PREFIX.length);
  const m = VERSION_PATTERN.exec(rest);
  if (!m) {
    throw new DbtlsError(
      'SERVER_VERSION_UNKNOWN',
      `could not parse the server version ${JSON.stringify(text)}`,
      {
        hint: 'dbtls supports MySQL 5.7+ and MariaDB 10.3+; report the version string if yours is one of them',
      },
    );
  }
  return {
    flavor: mariadb ? 'mariadb' : 'mysql',
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    text,
  };
}

/** True when `v` is at least major.minor.patch. */
export function atLeast(v: ServerVersion, major: number, minor: number, patch = 0): boolean {
  if (v.major !== major) return v.major > major;
  if (v.minor !== minor) return v.minor > minor;
  return v.patch >= patch;
}

/** tls_version spells the versions as node does (TLSv1, not TLSv1.0): the owner's names in that spelling. */
const tlsVersionValues = (versions: readonly TlsVersion[]): readonly SecureVersion[] =>
  Object.freeze(versions.map((v) => NODE_TLS_VERSION[v]));
const ALL_TLS = tlsVersionValues(TLS_VERSIONS);
const UP_TO_12 = tlsVersionValues(TLS_VERSIONS.filter((v) => v !== 'TLSv1.3'));
const MODERN_TLS = tlsVersionValues(SECURE_TLS_VERSIONS);

function mysqlCapabilities(v: ServerVersion): ServerCapabilities {
  // MySQL 8.0 manual, 6.3.1 "Configuring MySQL to Use Encrypted Connections", "Server-Side Runtime
  // Configuration and Monitoring for Encrypted Connections": ALTER INSTANCE RELOAD TLS and dynamic ssl_*
  // variables arrived together in 8.0.16.
  const online = atLeast(v, 8, 0, 16);
  let tlsVersions = UP_TO_12;
  // 6.3.2 "Encrypted Connection TLS Protocols and Ciphers": TLSv1.3 from 8.0.16 (OpenSSL 1.1.1);
  // TLSv1 and TLSv1.1 removed in 8.0.28.
  if (atLeast(v, 8, 0, 28)) tlsVersions = MODERN_TLS;
  else if (online) tlsVersions = ALL_TLS;
  return Object.freeze({
    version: v,
    reloadStatement: online ? 'ALTER INSTANCE RELOAD TLS' : undefined,
    // 15.1.5 "ALTER INSTANCE Statement": RELOAD TLS requires CONNECTION_ADMIN.
    reloadPrivilege: 'CONNECTION_ADMIN',
    // 29.12.22.9 "The tls_channel_status Table", available from 8.0.21.
    tlsLiveFrom: atLeast(v, 8, 0, 21) ? 'tls_channel_status' : 'have_ssl',
    sslVariablesDynamic: online,
    tlsVersionDynamic: online,
    // 5.1.8 "Server System Variables": require_secure_transport, added in 5.7.8.
    requireSecureTransport: atLeast(v, 5, 7, 8),
    // tls_version: added in 5.7.10.
    tlsVersionVariable: atLeast(v, 5, 7, 10),
    requirementsIn: 'mysql.user',
    tlsVersions,
    checksClientEku: true,
    // 6.4.1.2 "Caching SHA-2 Pluggable Authentication": the default from 8.0.4 (mysql_native_password is
    // deprecated in 8.0.34, disabled by default in 8.4 and removed in 9.0).
    defaultAuthPlugin: atLeast(v, 8, 0, 4) ? 'caching_sha2_password' : 'mysql_native_password',
  });
}

function mariadbCapabilities(v: ServerVersion): ServerCapabilities {
  return Object.freeze({
    version: v,
    // MariaDB KB "FLUSH": FLUSH SSL added in 10.4; ssl_* stay read-only, so the first enablement restarts.
    reloadStatement: atLeast(v, 10, 4) ? 'FLUSH SSL' : undefined,
    // MariaDB KB "FLUSH": every FLUSH needs RELOAD.
    reloadPrivilege: 'RELOAD',
    tlsLiveFrom: 'have_ssl',
    sslVariablesDynamic: false,
    tlsVersionDynamic: false,
    // MariaDB KB "Server System Variables": require_secure_transport added in 10.5.2.
    requireSecureTransport: atLeast(v, 10, 5, 2),
    // tls_version added in 10.4.6.
    tlsVersionVariable: atLeast(v, 10, 4, 6),
    // mysql.global_priv (JSON) replaced the mysql.user table in 10.4.1; mysql.user is now a view.
    requirementsIn: atLeast(v, 10, 4, 1) ? 'mysql.global_priv' : 'mysql.user',
    tlsVersions: ALL_TLS,
    checksClientEku: false,
    // MariaDB never switched: its caching_sha2_password is a client-side plugin only (for MySQL servers).
    defaultAuthPlugin: 'mysql_native_password',
  });
}

export function serverCapabilities(v: ServerVersion): ServerCapabilities {
  return v.flavor === 'mariadb' ? mariadbCapabilities(v) : mysqlCapabilities(v);
}

/** Capabilities straight from a version string. */
export function capabilitiesOf(versionText: string, flavorHint?: Flavor): ServerCapabilities {
  return serverCapabilities(parseServerVersion(versionText, flavorHint));
}

/** The main interface's row of tls_channel_status ('Yes' when TLS is live; the admin interface has its own). */
export const TLS_CHANNEL_STATUS_SQL =
  "SELECT VALUE FROM performance_schema.tls_channel_status WHERE CHANNEL = 'mysql_main' AND PROPERTY = 'Enabled'";

/** The query that tells whether TLS is live on this server. Pure. */
export function tlsLiveQuery(caps: ServerCapabilities): string {
  return caps.tlsLiveFrom === 'have_ssl' ? "SHOW GLOBAL VARIABLES LIKE 'have_ssl'" : TLS_CHANNEL_STATUS_SQL;
}

/** Whether TLS is live, and what the server said that shows it (`have_ssl=YES`), for reports and reasons. */
export interface TlsLiveness {
  readonly live: boolean;
  readonly evidence: string;
}

function fromHaveSsl(value: string | undefined): TlsLiveness {
  return { live: value === 'YES', evidence: `have_ssl=${value ?? 'unknown'}` };
}

/** Whether TLS is live, from the rows of tlsLiveQuery. Pure. */
export function tlsLivenessFromRows(
  caps: ServerCapabilities,
  rows: readonly Record<string, unknown>[],
): TlsLiveness {
  const [row] = rows;
  if (caps.tlsLiveFrom === 'have_ssl') return fromHaveSsl(row ? String(row.Value ?? '') : undefined);
  const value = row ? String(row.VALUE ?? '') : 'unknown';
  return { live: value.toLowerCase() === 'yes', evidence: `tls_channel_status mysql_main Enabled=${value}` };
}

export function tlsLiveFromRows(caps: ServerCapabilities, rows: readonly Record<string, unknown>[]): boolean {
  return tlsLivenessFromRows(caps, rows).live;
}

/**
 * Whether TLS is live from SHOW GLOBAL VARIABLES (names lower case, as tlsVariableNames asks for them);
 * undefined on a server that tells it only in tls_channel_status (ask readTlsLiveness). Pure.
 */
export function tlsLivenessFromVariables(
  caps: ServerCapabilities,
  vars: ReadonlyMap<string, string>,
): TlsLiveness | undefined {
  return caps.tlsLiveFrom === 'have_ssl' ? fromHaveSsl(vars.get('have_ssl')) : undefined;
}

/** have_ssl as the server reports it in `vars`; 'unknown' where liveness is told elsewhere (MySQL 8.4 has none). */
export function haveSslOf(caps: ServerCapabilities, vars: ReadonlyMap<string, string>): string {
  return (caps.tlsLiveFrom === 'have_ssl' && vars.get('have_ssl')) || 'unknown';
}

/** Whether the server accepts TLS now, asked the way this server answers. */
export async function readTlsLiveness(session: {
  readonly capabilities: ServerCapabilities;
  query(sql: string): Promise<Record<string, unknown>[]>;
}): Promise<TlsLiveness> {
  return tlsLivenessFromRows(session.capabilities, await session.query(tlsLiveQuery(session.capabilities)));
}

/**
 * The global variables that hold this server's TLS configuration, as SHOW GLOBAL VARIABLES names them:
 * have_ssl only where liveness is read from it (reading it warns from MySQL 8.0.26, and 8.4 has none),
 * tls_version and require_secure_transport only where the server knows them.
 */
export function tlsVariableNames(
  caps: Pick<ServerCapabilities, 'tlsLiveFrom' | 'tlsVersionVariable' | 'requireSecureTransport'>,
): readonly string[] {
  return [
    ...(caps.tlsLiveFrom === 'have_ssl' ? ['have_ssl'] : []),
    'ssl_ca',
    'ssl_cert',
    'ssl_key',
    'ssl_crl',
    'ssl_cipher',
    ...(caps.tlsVersionVariable ? ['tls_version'] : []),
    ...(caps.requireSecureTransport ? ['require_secure_transport'] : []),
    'version',
  ];
}

/**
 * Every name tlsVariableNames gives for some flavor, for a reader that learns the version in the same answer
 * (the inspector): a server answers for the names it knows and leaves out the rest.
 */
export const ANY_FLAVOR_TLS_VARIABLES: readonly string[] = tlsVariableNames({
  tlsLiveFrom: 'have_ssl',
  tlsVersionVariable: true,
  requireSecureTransport: true,
});
