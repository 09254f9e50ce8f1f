/**
 * The shape every client mapping shares. A mapping is data keyed by SslMode (how the client spells each
 * mode, or why it cannot) plus a renderer; tests check every mapping covers every mode of SSL_MODES.
 */
import { DbtlsError } from '../../errors.js';
import type { KeystoreFormat } from '../../keystore/format.js';
import type { MutualTls, SslMode } from '../../tls/ssl-mode.js';

export const SNIPPET_CLIENTS = Object.freeze([
  'mysql-cli',
  'mariadb-cli',
  'my.cnf',
  'jdbc-mariadb',
  'jdbc-mysql',
  'mysql2',
  'mariadb-node',
  'go',
  'python',
  'php-mysqli',
  'php-pdo',
  'perl-mariadb',
  'perl-mysql',
] as const);
export type SnippetClient = (typeof SNIPPET_CLIENTS)[number];

/** How one client expresses one mode: exactly, more strictly (`effective` says what it enforces), or not at all. */
export type ModeSupport =
  | { readonly expressed: true; readonly effective: SslMode; readonly note?: string }
  | { readonly expressed: false; readonly reason: string };

/** Everything a renderer needs, resolved once: paths absolute, the mode known to be expressible. */
export interface SnippetContext {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database?: string;
  readonly mode: SslMode;
  readonly mutualTls: MutualTls;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly keystore?: string;
  readonly truststore?: string;
  readonly keystoreType: KeystoreFormat;
  readonly truststoreType: KeystoreFormat;
}

export interface Rendered {
  readonly text: string;
  readonly warnings: readonly string[];
}

export interface ClientMapping {
  readonly client: SnippetClient;
  readonly language: 'shell' | 'ini' | 'jdbc-url' | 'javascript' | 'go' | 'python' | 'php' | 'perl';
  readonly modes: Readonly<Record<SslMode, ModeSupport>>;
  render(ctx: SnippetContext): Rendered;
}

/** `preferred` is refused by every client mapping: a snippet must never fall back to plaintext. */
export const PREFERRED_REFUSED: ModeSupport = Object.freeze({
  expressed: false,
  reason:
    'ssl-mode preferred falls back to plaintext when the server (or an attacker in the middle) offers no TLS',
});

export function exact(mode: SslMode, note?: string): ModeSupport {
  return Object.freeze(
    note === undefined ? { expressed: true, effective: mode } : { expressed: true, effective: mode, note },
  );
}

/** A client that can say every mode that fails closed exactly as the model means it. */
export const EVERY_MODE_EXACT: Readonly<Record<SslMode, ModeSupport>> = Object.freeze({
  disable: exact('disable'),
  preferred: PREFERRED_REFUSED,
  trust: exact('trust'),
  'verify-ca': exact('verify-ca'),
  'verify-full': exact('verify-full'),
});

/**
 * Oracle's spellings of the modes (the mysql client's --ssl-mode, MySQL Connector/J's sslMode); PREFERRED
 * is left out on purpose: no snippet may fall back to plaintext.
 */
export const MYSQL_SSL_MODE: Readonly<Record<Exclude<SslMode, 'preferred'>, string>> = Object.freeze({
  disable: 'DISABLED',
  trust: 'REQUIRED',
  'verify-ca': 'VERIFY_CA',
  'verify-full': 'VERIFY_IDENTITY',
});

/** The MySQL spelling of a mode the mapping has already accepted (never preferred). */
export function mysqlSslMode(mode: SslMode): string {
  if (mode === 'preferred') throw new TypeError('mysqlSslMode: preferred is never written');
  return MYSQL_SSL_MODE[mode];
}

/** A file the mode needs; MATERIAL_MISSING names the flag when it was not given. */
export function need(
  value: string | undefined,
  flag: string,
  ctx: SnippetContext,
  client: SnippetClient,
): string {
  if (value !== undefined) return value;
  const mtls = ctx.mutualTls === 'enable' ? ' with mutual TLS' : '';
  throw new DbtlsError(
    'MATERIAL_MISSING',
    `could not write the ${client} snippet for ssl-mode ${ctx.mode}${mtls}: ${flag} is missing`,
    {
      hint: `give ${flag}`,
    },
  );
}

/**
 * Characters no snippet value may hold: C0 and C1 controls, DEL, and the Unicode line and paragraph
 * separators. A newline in an option file adds an option (`init-command=…`), in a shell line a command,
 * in a comment a statement: issue 9 item 6. Refused, never escaped, so every language is safe alike.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Refuses a value with a control character before it reaches any snippet. */
export function refuseControl(value: string | undefined, what: string, client: string): void {
  if (value === undefined || !CONTROL.test(value)) return;
  throw new DbtlsError(
    'SNIPPET_VALUE_INVALID',
    `could not write the ${client} snippet: ${what} ${JSON.stringify(value)} holds a control character`,
    { hint: `give ${what} without newlines, tabs or other control characters` },
  );
}

/** A DSN with no quoting (PDO's, Perl DBI's): a `;` in a value would start another key. */
export function dsnValue(value: string, what: string, client: string): string {
  if (!value.includes(';')) return value;
  throw new DbtlsError(
    'SNIPPET_VALUE_INVALID',
    `could not write the ${client} snippet: ${what} ${JSON.stringify(value)} holds ';', which the driver's DSN cannot quote`,
    { hint: `give ${what} without ';'` },
  );
}

/**
 * The host name `localhost` means the unix socket to libmysqlclient-style drivers (PHP's mysqlnd): the
 * port is ignored and TLS with it (issue 9 item 3). Such a snippet needs an address or another name.
 */
export function refuseLocalhost(
  ctx: SnippetContext,
  client: string,
  reason = 'the driver takes localhost as the unix socket and ignores the port',
): void {
  if (ctx.host.toLowerCase() !== 'localhost') return;
  throw new DbtlsError(
    'SNIPPET_TARGET_UNSUPPORTED',
    `could not write the ${client} snippet for localhost: ${reason}`,
    { hint: 'give 127.0.0.1 (the server certificate must then hold IP:127.0.0.1) or a DNS name' },
  );
}

/**
 * A value in a MariaDB option file, as both readers take it (mysys my_default.c and libmariadb's
 * ma_default.c): bare when it has only safe characters, otherwise in double quotes with `\` doubled,
 * since both readers cut a value at an unquoted `#` and turn `\x` escapes into characters.
 */
export function iniValue(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `"${text.replace(/\\/g, '\\\\')}"`;
}

/** A single-quoted PHP or Perl string: only `\\` and `'` are escapes there. */
export function singleQuoted(text: string): string {
  return `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** A POSIX shell word: bare when safe, single-quoted otherwise. */
export { shellQuote as shellWord } from '../../util/shell.js';

/** A string literal valid in JavaScript, Python and Go (JSON's escapes are a subset of each). */
export function literal(text: string): string {
  return JSON.stringify(text);
}

export function needsClientCert(ctx: SnippetContext): boolean {
  return ctx.mutualTls === 'enable';
}
