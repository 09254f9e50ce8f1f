/**
 * Capability flags of the MySQL client/server protocol.
 * Spec: MySQL Source "Capabilities Flags" (include/mysql_com.h, dev.mysql.com/doc/dev/mysql-server/latest/group__group__cs__capabilities__flags.html)
 * and MariaDB "Connection" (mariadb.com/kb/en/connection/#capabilities), which renames bit 0 to CLIENT_MYSQL
 * and adds extended capabilities sent in the last 4 filler bytes of the greeting and of the SSLRequest.
 */

/** Bit 0: CLIENT_LONG_PASSWORD in MySQL; MariaDB servers clear it (CLIENT_MYSQL) to announce extended capabilities. */
export const CLIENT_MYSQL = 0x0000_0001;
export const CLIENT_LONG_PASSWORD = CLIENT_MYSQL;
export const CLIENT_FOUND_ROWS = 0x0000_0002;
export const CLIENT_LONG_FLAG = 0x0000_0004;
export const CLIENT_CONNECT_WITH_DB = 0x0000_0008;
export const CLIENT_NO_SCHEMA = 0x0000_0010;
export const CLIENT_COMPRESS = 0x0000_0020;
export const CLIENT_ODBC = 0x0000_0040;
export const CLIENT_LOCAL_FILES = 0x0000_0080;
export const CLIENT_IGNORE_SPACE = 0x0000_0100;
export const CLIENT_PROTOCOL_41 = 0x0000_0200;
export const CLIENT_INTERACTIVE = 0x0000_0400;
/** The server can switch to TLS after the greeting (SSLRequest). The flag a downgrade attacker clears. */
export const CLIENT_SSL = 0x0000_0800;
export const CLIENT_IGNORE_SIGPIPE = 0x0000_1000;
export const CLIENT_TRANSACTIONS = 0x0000_2000;
export const CLIENT_RESERVED = 0x0000_4000;
/** 4.1 authentication: the second part of the scramble follows in the greeting. */
export const CLIENT_SECURE_CONNECTION = 0x0000_8000;
export const CLIENT_MULTI_STATEMENTS = 0x0001_0000;
export const CLIENT_MULTI_RESULTS = 0x0002_0000;
export const CLIENT_PS_MULTI_RESULTS = 0x0004_0000;
/** The greeting carries the default authentication plugin name. */
export const CLIENT_PLUGIN_AUTH = 0x0008_0000;
export const CLIENT_CONNECT_ATTRS = 0x0010_0000;
export const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 0x0020_0000;
export const CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS = 0x0040_0000;
export const CLIENT_SESSION_TRACK = 0x0080_0000;
export const CLIENT_DEPRECATE_EOF = 0x0100_0000;
export const CLIENT_OPTIONAL_RESULTSET_METADATA = 0x0200_0000;
export const CLIENT_ZSTD_COMPRESSION_ALGORITHM = 0x0400_0000;
export const CLIENT_QUERY_ATTRIBUTES = 0x0800_0000;
export const CLIENT_SSL_VERIFY_SERVER_CERT = 0x4000_0000;
export const CLIENT_REMEMBER_OPTIONS = 0x8000_0000;

/** MariaDB extended capabilities (mariadb_com.h, MARIADB_CLIENT_*), bits of the 4 extra bytes. */
export const MARIADB_CLIENT_PROGRESS = 0x01;
export const MARIADB_CLIENT_COM_MULTI = 0x02;
export const MARIADB_CLIENT_STMT_BULK_OPERATIONS = 0x04;
export const MARIADB_CLIENT_EXTENDED_METADATA = 0x08;
export const MARIADB_CLIENT_CACHE_METADATA = 0x10;
export const MARIADB_CLIENT_BULK_UNIT_RESULTS = 0x20;

/** Names of the base flags, for reports (`capabilityNames(g.capabilities)`). */
export const CAPABILITY_NAMES: ReadonlyArray<readonly [number, string]> = Object.freeze([
  [CLIENT_MYSQL, 'CLIENT_LONG_PASSWORD'],
  [CLIENT_FOUND_ROWS, 'CLIENT_FOUND_ROWS'],
  [CLIENT_LONG_FLAG, 'CLIENT_LONG_FLAG'],
  [CLIENT_CONNECT_WITH_DB, 'CLIENT_CONNECT_WITH_DB'],
  [CLIENT_NO_SCHEMA, 'CLIENT_NO_SCHEMA'],
  [CLIENT_COMPRESS, 'CLIENT_COMPRESS'],
  [CLIENT_ODBC, 'CLIENT_ODBC'],
  [CLIENT_LOCAL_FILES, 'CLIENT_LOCAL_FILES'],
  [CLIENT_IGNORE_SPACE, 'CLIENT_IGNORE_SPACE'],
  [CLIENT_PROTOCOL_41, 'CLIENT_PROTOCOL_41'],
  [CLIENT_INTERACTIVE, 'CLIENT_INTERACTIVE'],
  [CLIENT_SSL, 'CLIENT_SSL'],
  [CLIENT_IGNORE_SIGPIPE, 'CLIENT_IGNORE_SIGPIPE'],
  [CLIENT_TRANSACTIONS, 'CLIENT_TRANSACTIONS'],
  [CLIENT_RESERVED, 'CLIENT_RESERVED'],
  [CLIENT_SECURE_CONNECTION, 'CLIENT_SECURE_CONNECTION'],
  [CLIENT_MULTI_STATEMENTS, 'CLIENT_MULTI_STATEMENTS'],
  [CLIENT_MULTI_RESULTS, 'CLIENT_MULTI_RESULTS'],
  [CLIENT_PS_MULTI_RESULTS, 'CLIENT_PS_MULTI_RESULTS'],
  [CLIENT_PLUGIN_AUTH, 'CLIENT_PLUGIN_AUTH'],
  [CLIENT_CONNECT_ATTRS, 'CLIENT_CONNECT_ATTRS'],
  [CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA, 'CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA'],
  [CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS, 'CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS'],
  [CLIENT_SESSION_TRACK, 'CLIENT_SESSION_TRACK'],
  [CLIENT_DEPRECATE_EOF, 'CLIENT_DEPRECATE_EOF'],
  [CLIENT_OPTIONAL_RESULTSET_METADATA, 'CLIENT_OPTIONAL_RESULTSET_METADATA'],
  [CLIENT_ZSTD_COMPRESSION_ALGORITHM, 'CLIENT_ZSTD_COMPRESSION_ALGORITHM'],
  [CLIENT_QUERY_ATTRIBUTES, 'CLIENT_QUERY_ATTRIBUTES'],
  [CLIENT_SSL_VERIFY_SERVER_CERT, 'CLIENT_SSL_VERIFY_SERVER_CERT'],
  [CLIENT_REMEMBER_OPTIONS, 'CLIENT_REMEMBER_OPTIONS'],
] as const);

/** The names of the flags set in `flags`, lowest bit first. */
export function capabilityNames(flags: number): string[] {
  return CAPABILITY_NAMES.filter(([bit]) => (flags & bit) >>> 0 !== 0).map(([, name]) => name);
}

/** True when `flags` has `bit` set (32-bit safe: bit 31 is negative in JS bitwise arithmetic). */
export function hasCapability(flags: number, bit: number): boolean {
  return (flags & bit) >>> 0 !== 0;
}
