/**
 * The server's TLS configuration fragment: a `[mysqld]` group in its own file (default
 * /etc/mysql/conf.d/ssl-config.cnf, included by the Debian/Ubuntu and RPM layouts), so that dbtls owns one
 * file and never edits the DBA's my.cnf.
 */
import * as fs from 'node:fs';
import { DbtlsError } from '../../errors.js';
import { parseTlsMinVersion, SECURE_TLS_VERSIONS, type SecureTlsVersion } from '../../tls/versions.js';

export const DEFAULT_CONFIG_FILE = '/etc/mysql/conf.d/ssl-config.cnf';
export const DEFAULT_CERT_DIR = '/etc/mysql/ssl';
/** TLS 1.2 minimum (RFC 8996 deprecates 1.0 and 1.1); 1.3 where the server's TLS library has it. */
export const DEFAULT_TLS_VERSIONS: readonly SecureTlsVersion[] = SECURE_TLS_VERSIONS;

export interface ServerTlsConfig {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly crl?: string | undefined;
  readonly tlsVersions: readonly SecureTlsVersion[];
  readonly cipher?: string | undefined;
  readonly requireSecureTransport: boolean;
}

/** Parses `--tls-version TLSv1.2,TLSv1.3` (also `1.2`, `tlsv1.3`); TLS 1.0 and 1.1 are refused. */
export function parseTlsVersions(text: string): SecureTlsVersion[] {
  const out: SecureTlsVersion[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (!item) continue;
    const version = parseTlsMinVersion(item, 'use --tls-version TLSv1.2,TLSv1.3');
    if (!out.includes(version)) out.push(version);
  }
  if (out.length === 0) {
    throw new DbtlsError('TLS_VERSION_UNKNOWN', 'could not read a TLS version in an empty --tls-version', {
      hint: 'use --tls-version TLSv1.2,TLSv1.3',
    });
  }
  return out.sort();
}

/** An option value for my.cnf: quoted when it holds characters the option-file parser would cut at. */
export function cnfValue(value: string): string {
  if (/[\n\r\0]/.test(value)) {
    throw new DbtlsError(
      'CONFIG_VALUE_INVALID',
      `could not write ${JSON.stringify(value)} into the config: it has a line break`,
      {
        hint: 'use paths and cipher lists without line breaks',
      },
    );
  }
  // my.cnf: a value may be enclosed in double quotes, inside which \\ and \" are escapes ("Using Option Files").
  if (/[\s#;'"\\]/.test(value) || value === '')
    return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
  return value;
}

/** The fragment's text. Deterministic, so that writing it twice is a no-op. */
export function renderConfig(config: ServerTlsConfig): string {
  const lines = [
    '# TLS for the database server, written by dbtls (`dbtls server enable`).',
    '# The files are replaced atomically on rotation; the server re-reads them with FLUSH SSL /',
    '# ALTER INSTANCE RELOAD TLS. Edit with dbtls, or remove this file to drop the settings.',
    '[mysqld]',
    `ssl_ca = ${cnfValue(config.ca)}`,
    `ssl_cert = ${cnfValue(config.cert)}`,
    `ssl_key = ${cnfValue(config.key)}`,
  ];
  if (config.crl) lines.push(`ssl_crl = ${cnfValue(config.crl)}`);
  lines.push(`tls_version = ${config.tlsVersions.join(',')}`);
  if (config.cipher) lines.push(`ssl_cipher = ${cnfValue(config.cipher)}`);
  if (config.requireSecureTransport) lines.push('require_secure_transport = ON');
  return `${lines.join('\n')}\n`;
}

/** The fragment's current text, or undefined when there is none yet. */
export function readConfigFile(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DbtlsError(
      'FILE_UNREADABLE',
      `could not read the config fragment ${file}: ${(err as Error).message}`,
      {
        hint: 'check its permissions (run as the user that owns the server configuration, or with sudo)',
        cause: err,
      },
    );
  }
}

/** The settings of a ServerTlsConfig as option lines, keyed by option name (only those it sets). */
function managedLines(config: ServerTlsConfig): Map<string, string> {
  const rendered = renderConfig(config).split('\n');
  const out = new Map<string, string>();
  for (const line of rendered) {
    const m = /^([a-z_]+) = /.exec(line);
    if (m) out.set(m[1]!, line);
  }
  return out;
}

const optionName = (line: string): string | undefined => {
  const m = /^\s*([A-Za-z0-9_-]+)\s*(=|$)/.exec(line);
  return m ? m[1]!.replaceAll('-', '_').toLowerCase() : undefined;
};

/**
 * The fragment edited, not rewritten (issue 10, item 13): the settings dbtls manages are replaced in place
 * in the [mysqld] group, missing ones are added at its end, and every other line (a hand-added ssl_crl,
 * require_secure_transport set by secure, comments) is kept. Settings `config` leaves unset (no cipher,
 * no CRL, require_secure_transport false) are left as they are. Pure and idempotent.
 */
export function editConfig(existing: string | undefined, config: ServerTlsConfig): string {
  if (existing === undefined || existing.trim() === '') return renderConfig(config);
  const managed = managedLines(config);
  const lines = existing.replace(/\n$/, '').split('\n');
  const out: string[] = [];
  const placed = new Set<string>();
  let inMysqld = false;
  let mysqldEnd = -1;
  for (const line of lines) {
    const group = /^\s*\[\s*([^\]]+?)\s*\]\s*$/.exec(line)?.[1];
    if (group !== undefined) {
      inMysqld = group.toLowerCase() === 'mysqld' && mysqldEnd === -1;
      out.push(line);
      if (inMysqld) mysqldEnd = out.length;
      continue;
    }
    const name = inMysqld ? optionName(line) : undefined;
    if (name !== undefined && managed.has(name)) {
      // The first occurrence takes the new value; later duplicates would override it, so they go.
      if (!placed.has(name)) out.push(managed.get(name)!);
      placed.add(name);
    } else out.push(line);
    if (inMysqld && line.trim() !== '') mysqldEnd = out.length;
  }
  const missing = [...managed].filter(([name]) => !placed.has(name)).map(([, line]) => line);
  if (mysqldEnd === -1) out.push('[mysqld]', ...missing);
  else out.splice(mysqldEnd, 0, ...missing);
  return `${out.join('\n')}\n`;
}
