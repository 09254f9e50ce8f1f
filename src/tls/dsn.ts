/**
 * The target text: `host`, `host:port`, `[v6]:port`, or a DSN `mysql://user@host:port/db?ssl-mode=..&ssl-ca=..`
 * (`mariadb://` too). Query keys are read case-insensitively with `-` and `_` ignored, so `ssl-mode`,
 * `ssl_mode` and `sslMode` are one key. A password component is refused (see settings.ts).
 */
import * as net from 'node:net';
import { DbtlsError } from '../errors.js';
import { redactDsnPasswords } from '../util/safe-text.js';

/** The settings a layer (flags, DSN, my.cnf, environment) may give. */
export type Key =
  | 'mode'
  | 'mutualTls'
  | 'ca'
  | 'cert'
  | 'key'
  | 'servername'
  | 'minVersion'
  | 'user'
  | 'database'
  | 'port'
  | 'password'
  | 'host'
  | 'socket';
export type Layer = Partial<Record<Key, string>>;

/** DSN query keys, normalized (lowercase, no - or _), to settings. */
const DSN_KEYS: Readonly<Record<string, Key>> = Object.freeze({
  sslmode: 'mode',
  ssl: 'mode',
  mutualtls: 'mutualTls',
  sslca: 'ca',
  sslcert: 'cert',
  sslkey: 'key',
  servername: 'servername',
  sslservername: 'servername',
  tlsmin: 'minVersion',
  tlsminversion: 'minVersion',
});

function dsnError(text: string, cause: string, hint: string): DbtlsError {
  return new DbtlsError(
    'TARGET_INVALID',
    `could not read the target ${JSON.stringify(redact(text))}: ${cause}`,
    { hint },
  );
}

/** A DSN with any password component replaced, so that an error message never echoes it. */
function redact(text: string): string {
  return redactDsnPasswords(text);
}

export function parsePort(text: string, origin: string): string {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535)
    throw dsnError(
      origin,
      `port ${JSON.stringify(text)} is not 1-65535`,
      'write host:port, e.g. db.example.com:3306',
    );
  return text;
}

/** Whether the target text is a URL (`mysql://…`, or another scheme that parseTargetText refuses). */
export function isDsn(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
}

/** The DSN or host[:port] text as a settings layer. */
export function parseTargetText(text: string): Layer {
  const layer: Layer = {};
  if (isDsn(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw dsnError(
        text,
        'it is not a valid URL',
        'write mysql://user@host:port/db?ssl-mode=verify-full&ssl-ca=FILE',
      );
    }
    if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:')
      throw dsnError(
        text,
        `the scheme ${url.protocol} is not mysql: or mariadb:`,
        'write mysql://user@host:port/db',
      );
    if (url.password) {
      throw new DbtlsError(
        'TARGET_PASSWORD_IN_DSN',
        `could not use the target ${JSON.stringify(redact(text))}: it holds a password, and a DSN on the command line is visible to every user (ps) and kept in shell history`,
        {
          hint: 'remove the password from the DSN and pass it with --password-file FILE or the MYSQL_PWD environment variable',
        },
      );
    }
    if (!url.hostname) throw dsnError(text, 'it has no host', 'write mysql://user@host:port/db');
    layer.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (url.port) layer.port = parsePort(url.port, text);
    // A malformed %-escape (`%zz`) is the user's typo, not a crash (issue 14, item 8).
    const decoded = (part: string, what: string): string => {
      try {
        return decodeURIComponent(part);
      } catch {
        throw dsnError(text, `its ${what} holds a malformed %-escape`, 'write %25 for a literal %');
      }
    };
    if (url.username) layer.user = decoded(url.username, 'user name');
    const db = decoded(url.pathname.replace(/^\//, ''), 'database name');
    if (db) layer.database = db;
    for (const [rawKey, value] of url.searchParams) {
      const key = DSN_KEYS[rawKey.toLowerCase().replace(/[-_]/g, '')];
      if (!key) {
        throw dsnError(
          text,
          `the parameter ${rawKey} is not known`,
          `use ${['ssl-mode', 'ssl-ca', 'ssl-cert', 'ssl-key', 'mutualTls', 'servername', 'tls-min'].join(', ')}`,
        );
      }
      layer[key] = value;
    }
    return layer;
  }
  // host, host:port, [v6]:port, or a bare IPv6 address.
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    layer.host = bracketed[1] ?? '';
    if (bracketed[2] !== undefined) layer.port = parsePort(bracketed[2], text);
  } else if (net.isIPv6(text)) {
    layer.host = text;
  } else {
    const [host, port, ...rest] = text.split(':');
    if (rest.length > 0 || !host)
      throw dsnError(
        text,
        'it is not host[:port] nor a mysql:// DSN',
        'write host:port, [v6addr]:port or mysql://user@host:port/db',
      );
    layer.host = host;
    if (port !== undefined) layer.port = parsePort(port, text);
  }
  return layer;
}
