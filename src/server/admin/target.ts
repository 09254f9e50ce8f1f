/**
 * ADMIN_TARGET (`host[:port]` or `mysql://user@host:port/?ssl-mode=..&ssl-ca=..`) and the admin flags,
 * resolved once into the admin session's options, with the safe defaults stated here.
 */
import { DbtlsError } from '../../errors.js';
import { parseSslMode, type SslMode } from '../../tls/ssl-mode.js';
import { redactDsnPasswords } from '../../util/safe-text.js';
import type { AdminSslMode, SessionOptions, SessionTls } from './session.js';

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

export interface AdminTargetFlags {
  readonly sslMode?: string | undefined;
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly user?: string | undefined;
  readonly socket?: string | undefined;
  readonly password?: string | undefined;
  /** The flag that gives the CA in this command (`--ca`, or `--admin-ca` where --ca means another file). */
  readonly caOption?: string | undefined;
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
    new DbtlsError(
      'TARGET_INVALID',
      `could not parse the target ${JSON.stringify(redactDsnPasswords(text))}: ${why}`,
      {
        hint: 'write host[:port] or mysql://user@host:port/?ssl-mode=verify-full&ssl-ca=ca.pem',
      },
    );
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
    if (url.username) {
      try {
        user = decodeURIComponent(url.username);
      } catch {
        throw bad('the user name holds a malformed %-escape (write %25 for a literal %)');
      }
    }
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
      // One code per failure: the same as a client's verify-full without a CA (was SSL_CA_REQUIRED).
      'TLS_CA_REQUIRED',
      `could not connect to ${host}:${port} with ssl-mode ${tls.mode}: no CA certificate given`,
      {
        hint: `pass ${flags.caOption ?? '--ca'} FILE; when the server has no TLS yet, use --socket PATH on the server host or say --ssl-mode disable explicitly`,
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
