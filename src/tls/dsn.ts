/**
 * The target text: `host`, `host:port`, `[v6]:port`, or a DSN `mysql://user@host:port/db?ssl-mode=..&ssl-ca=..`
 * (`mariadb://` too). Query keys are read case-insensitively with `-` and `_` ignored, so `ssl-mode`,
 * `ssl_mode` and `sslMode` are one key. A password component is refused (see settings.ts).
 * The one grammar of host[:port] (issue 11), and its one spelling back (`address`, IPv6 in brackets).
 */
import * as net from 'node:net';
import { DbtlsError } from '../errors.js';
import { hasControlCharacter, quotedValue, redactDsnPasswords } from '../util/safe-text.js';

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
    `could not read the target ${quotedValue(redactDsnPasswords(text), 300)}: ${cause}`,
    { hint },
  );
}

/** MySQL's and MariaDB's port, when a target names none. */
export const DEFAULT_PORT = 3306;

const isPort = (text: string) => /^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 65535;

const portError = (origin: string, port: string) =>
  dsnError(
    origin,
    `port ${JSON.stringify(port)} is not 1-65535`,
    'write host:port, e.g. db.example.com:3306',
  );

export function parsePort(text: string, origin: string): string {
  if (!isPort(text)) throw portError(origin, text);
  return text;
}

/**
 * How a caller reads host[:port]: its words for a text that is not host[:port] (`form`) and for a port, as
 * written, not 1-65535; `strict` for text from the network (a probe request): DNS characters or a bracketed
 * IPv6 address only, so that no space or slash reaches the resolver and `::1:3306` is not one address.
 */
export interface HostPortRules {
  readonly form: () => DbtlsError;
  readonly port: (port: string) => DbtlsError;
  readonly strict?: boolean;
}

/** A command's TARGET refused: `form` says what the text should have been. */
function targetRules(text: string, form: string, hint: string): HostPortRules {
  return { form: () => dsnError(text, form, hint), port: (port) => portError(text, port) };
}

const HOST_PORT_HINT = 'give a host name or address, for example db.example.com:3306 or [::1]:3306';

/**
 * A host and port, never a DSN (its settings are the caller's to take apart): `host`, `host:port`,
 * `[v6]` or `[v6]:port`, and a bare IPv6 address unless `strict`; DEFAULT_PORT when no port is named.
 */
export function parseHostPort(
  text: string,
  rules = targetRules(text, 'expected host[:port]', HOST_PORT_HINT),
): { host: string; port: number } {
  if (isDsn(text)) throw rules.form();
  const { host, port } = splitHostPort(text, rules);
  return { host, port: port === undefined ? DEFAULT_PORT : Number(port) };
}

/** The one host[:port] grammar; the port stays text, for a settings layer. */
function splitHostPort(text: string, rules: HostPortRules): { host: string; port?: string } {
  let host: string | undefined;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) [, host, port] = bracketed;
  else if (net.isIPv6(text)) host = text;
  else {
    const [name, after, ...rest] = text.split(':');
    if (rest.length === 0) [host, port] = [name, after];
  }
  const strictHost = (name: string) => (bracketed ? net.isIPv6(name) : /^[A-Za-z0-9._-]+$/.test(name));
  // No host name or address holds a blank or a control character: such text is refused before it reaches
  // the resolver (and the messages that would quote it), whatever the source.
  const plausible = (name: string) => !/\s/u.test(name) && !hasControlCharacter(name);
  if (!host || port === '' || !plausible(host) || (rules.strict && !strictHost(host))) throw rules.form();
  if (port !== undefined && !isPort(port)) throw rules.port(port);
  return port === undefined ? { host } : { host, port };
}

/**
 * A host as it stands before `:port`: an IPv6 address in brackets (RFC 3986 section 3.2.2). Any colon
 * brackets it, as Go's net.JoinHostPort does, so that the port can always be told from the host.
 */
export function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** host:port, the one spelling of an address in messages, URLs and DSNs. */
export function address(host: string, port: number | string): string {
  return `${bracketed(host)}:${port}`;
}

/** 127.0.0.0/8 and ::1, in any spelling (`::ffff:127.0.0.1`, `0:0:0:0:0:0:0:1`): RFC 1122 3.2.1.3, RFC 4291 2.5.3. */
const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Whether `host` (a name or an address without brackets) is this machine's loopback. */
export function isLoopback(host: string): boolean {
  if (net.isIP(host) === 0) return host.toLowerCase() === 'localhost';
  return LOOPBACK.check(host, net.isIPv6(host) ? 'ipv6' : 'ipv4');
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
        `could not use the target ${JSON.stringify(redactDsnPasswords(text))}: it holds a password, and a DSN on the command line is visible to every user (ps) and kept in shell history`,
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
  const form = 'it is not host[:port] nor a mysql:// DSN';
  return splitHostPort(
    text,
    targetRules(text, form, 'write host:port, [v6addr]:port or mysql://user@host:port/db'),
  );
}
