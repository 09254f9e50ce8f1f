/**
 * Accounts and their TLS requirements. MariaDB 10.4+ keeps them in mysql.global_priv as JSON (mysql.user
 * is a view over it); MySQL and older MariaDB in the mysql.user columns ssl_type ('' | ANY | X509 |
 * SPECIFIED), x509_issuer, x509_subject and ssl_cipher.
 */
import { DbtlsError } from '../../errors.js';
import type { Account, Row, SqlSession } from '../admin/session.js';
import { quoteString } from '../admin/sql.js';
import type { ServerCapabilities } from '../flavor.js';

export type RequirementType = 'NONE' | 'SSL' | 'X509' | 'SPECIFIED';

export interface TlsRequirement {
  readonly type: RequirementType;
  /** Only with SPECIFIED: the values the server compares byte for byte. */
  readonly subject?: string | undefined;
  readonly issuer?: string | undefined;
  readonly cipher?: string | undefined;
}

export interface AccountInfo extends Account {
  readonly requirement: TlsRequirement;
  /** The authentication plugin ('mysql_native_password', 'caching_sha2_password', 'unix_socket', …). */
  readonly plugin: string;
  /** Reachable from other machines (host is neither localhost nor a loopback address). */
  readonly remote: boolean;
  readonly locked: boolean;
}

const LOCAL_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '::1']);

export function isRemoteHost(host: string): boolean {
  return !LOCAL_HOSTS.has(host.toLowerCase());
}

/** MariaDB's ssl_type numbers in global_priv (sql/sql_acl.h: SSL_TYPE_NONE, ANY, X509, SPECIFIED). */
const MARIADB_SSL_TYPES: readonly RequirementType[] = ['NONE', 'SSL', 'X509', 'SPECIFIED'];
/** mysql.user ssl_type enum values. */
const USER_TABLE_SSL_TYPES: Readonly<Record<string, RequirementType>> = {
  '': 'NONE',
  ANY: 'SSL',
  X509: 'X509',
  SPECIFIED: 'SPECIFIED',
};

function specified(subject: string, issuer: string, cipher: string): TlsRequirement {
  return {
    type: 'SPECIFIED',
    ...(subject ? { subject } : {}),
    ...(issuer ? { issuer } : {}),
    ...(cipher ? { cipher } : {}),
  };
}

/** The global_priv JSON as an object: drivers return the column as text or already parsed. */
export function privObject(value: unknown): Record<string, unknown> {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) return value as Record<string, unknown>;
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : String(value ?? '{}');
  try {
    const parsed: unknown = JSON.parse(text || '{}');
    if (parsed && typeof parsed === 'object') return parsed as Record<string, unknown>;
  } catch {
    // fall through to the error below
  }
  throw new DbtlsError('PRIV_MALFORMED', 'could not read mysql.global_priv: an account has invalid JSON', {
    hint: 'check the account with SELECT * FROM mysql.global_priv',
  });
}

/** A requirement from MariaDB's global_priv JSON (text or parsed). Pure. */
export function requirementFromPriv(value: unknown): TlsRequirement {
  const priv = privObject(value);
  const type = MARIADB_SSL_TYPES[Number(priv.ssl_type ?? 0)] ?? 'NONE';
  if (type !== 'SPECIFIED') return { type };
  return specified(
    String(priv.x509_subject ?? ''),
    String(priv.x509_issuer ?? ''),
    String(priv.ssl_cipher ?? ''),
  );
}

/** A requirement from mysql.user columns. Pure. */
export function requirementFromColumns(
  sslType: string,
  subject: string,
  issuer: string,
  cipher: string,
): TlsRequirement {
  const type = USER_TABLE_SSL_TYPES[sslType.toUpperCase()] ?? 'NONE';
  return type === 'SPECIFIED' ? specified(subject, issuer, cipher) : { type };
}

/** The REQUIRE clause for ALTER USER / CREATE USER. Pure. */
export function requireClause(r: TlsRequirement): string {
  if (r.type !== 'SPECIFIED') return `REQUIRE ${r.type}`;
  const parts: string[] = [];
  if (r.subject !== undefined) parts.push(`SUBJECT ${quoteString(r.subject)}`);
  if (r.issuer !== undefined) parts.push(`ISSUER ${quoteString(r.issuer)}`);
  if (r.cipher !== undefined) parts.push(`CIPHER ${quoteString(r.cipher)}`);
  // SPECIFIED with nothing in it is what the server stores for... nothing: REQUIRE NONE.
  return parts.length ? `REQUIRE ${parts.join(' AND ')}` : 'REQUIRE NONE';
}

/** For people: `none`, `SSL`, `X509`, `SUBJECT '/CN=app' AND ISSUER '/CN=ca'`. */
export function describeRequirement(r: TlsRequirement): string {
  if (r.type === 'NONE') return 'none';
  if (r.type !== 'SPECIFIED') return r.type;
  return requireClause(r).slice('REQUIRE '.length);
}

export function sameRequirement(a: TlsRequirement, b: TlsRequirement): boolean {
  return a.type === b.type && a.subject === b.subject && a.issuer === b.issuer && a.cipher === b.cipher;
}

/** Parses `'user'@'host'`, `user@host`, `"user"@"host"`, `` `user`@`host` `` or `user` (host %). */
export function parseAccount(text: string): Account {
  const parts: string[] = [];
  let i = 0;
  const s = text.trim();
  const fail = (why: string) =>
    new DbtlsError('ACCOUNT_INVALID', `could not parse the account ${JSON.stringify(text)}: ${why}`, {
      hint: "write it as 'user'@'host' (quote it for the shell), e.g. \"'app'@'%'\"",
    });
  while (i <= s.length) {
    const q = s[i];
    if (q === "'" || q === '"' || q === '`') {
      let value = '';
      i++;
      for (;;) {
        if (i >= s.length) throw fail('an unterminated quote');
        if (s[i] === q && s[i + 1] === q) {
          value += q;
          i += 2;
        } else if (s[i] === q) {
          i++;
          break;
        } else if (s[i] === '\\' && q !== '`' && i + 1 < s.length) {
          value += s[i + 1];
          i += 2;
        } else value += s[i++];
      }
      parts.push(value);
    } else {
      // Unquoted: up to the last '@' for the user part (user names may not contain '@' unquoted).
      const at = parts.length === 0 ? s.lastIndexOf('@') : -1;
      const end = at >= i ? at : s.length;
      parts.push(s.slice(i, end));
      i = end;
    }
    if (i >= s.length) break;
    if (s[i] !== '@' || parts.length > 1) throw fail(`unexpected ${JSON.stringify(s[i])}`);
    i++;
  }
  const [user, host = '%'] = parts;
  if (user === undefined || user === '') throw fail('the user name is empty');
  if (host === '') throw fail('the host is empty');
  return { user, host };
}

function str(row: Row, key: string): string {
  const v = row[key];
  if (v === null || v === undefined) return '';
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** The query that lists accounts (one when `only` is given), from where this server keeps them. Pure. */
export function accountsSql(caps: ServerCapabilities, only?: Account): string {
  const where = only ? ` WHERE User = ${quoteString(only.user)} AND Host = ${quoteString(only.host)}` : '';
  if (caps.requirementsIn === 'mysql.global_priv')
    return `SELECT User, Host, Priv FROM mysql.global_priv${where} ORDER BY User, Host`;
  // MySQL: ssl_type is enum('','ANY','X509','SPECIFIED'); ssl_cipher, x509_issuer and x509_subject are
  // BLOBs (drivers hand them over as bytes); account_locked is enum('N','Y') (manual, "Grant Tables").
  return `SELECT User, Host, ssl_type, ssl_cipher, x509_issuer, x509_subject, plugin, account_locked FROM mysql.user${where} ORDER BY User, Host`;
}

/** One row of accountsSql as an account; undefined for a MariaDB role (a row of global_priv too). Pure. */
export function accountFromRow(caps: ServerCapabilities, row: Row): AccountInfo | undefined {
  const user = str(row, 'User');
  const host = str(row, 'Host');
  if (caps.requirementsIn === 'mysql.global_priv') {
    const priv = privObject(row.Priv);
    if (priv.is_role === true) return undefined;
    return {
      user,
      host,
      requirement: requirementFromPriv(priv),
      // mariadb-install-db writes root's JSON without `plugin` (captured from 10.11): the native password.
      plugin: String(priv.plugin ?? caps.defaultAuthPlugin),
      remote: isRemoteHost(host),
      locked: priv.account_locked === true,
    };
  }
  return {
    user,
    host,
    requirement: requirementFromColumns(
      str(row, 'ssl_type'),
      str(row, 'x509_subject'),
      str(row, 'x509_issuer'),
      str(row, 'ssl_cipher'),
    ),
    plugin: str(row, 'plugin') || caps.defaultAuthPlugin,
    remote: isRemoteHost(host),
    locked: str(row, 'account_locked') === 'Y',
  };
}

/** Every account (roles excluded), with its requirement, in the server's order (user, host). */
export async function listAccounts(
  session: SqlSession,
  caps: ServerCapabilities,
  only?: Account,
): Promise<AccountInfo[]> {
  const rows = await session.query(accountsSql(caps, only));
  return rows.map((row) => accountFromRow(caps, row)).filter((a): a is AccountInfo => a !== undefined);
}

/** One account's requirement; ACCOUNT_NOT_FOUND when it does not exist. */
export async function accountRequirement(
  session: SqlSession,
  caps: ServerCapabilities,
  account: Account,
): Promise<TlsRequirement> {
  const [found] = await listAccounts(session, caps, account);
  if (!found) {
    throw new DbtlsError(
      'ACCOUNT_NOT_FOUND',
      `could not find the account '${account.user}'@'${account.host}'`,
      {
        hint: 'run `dbtls users ADMIN_TARGET` to list the accounts (the host part must match exactly)',
      },
    );
  }
  return found.requirement;
}

export interface RequirementCounts {
  readonly none: number;
  readonly ssl: number;
  readonly x509: number;
  readonly specified: number;
  /** Remote accounts with no requirement: the ones that can still log in over plaintext. */
  readonly remoteNone: number;
}

export function countRequirements(accounts: readonly AccountInfo[]): RequirementCounts {
  const c = { none: 0, ssl: 0, x509: 0, specified: 0, remoteNone: 0 };
  for (const a of accounts) {
    if (a.requirement.type === 'NONE') {
      c.none++;
      if (a.remote && !a.locked) c.remoteNone++;
    } else if (a.requirement.type === 'SSL') c.ssl++;
    else if (a.requirement.type === 'X509') c.x509++;
    else c.specified++;
  }
  return c;
}
