/**
 * Preflight: before a server operation changes anything, check that it can finish (issue 10 items 8, 15).
 * `rotate` without RELOAD used to issue a certificate and swap the files before FLUSH SSL failed; a user
 * who cannot write /etc/mysql/ssl got `error[INTERNAL]`. Both are known before the first change: the SQL
 * privileges from SHOW GRANTS, the file permissions from access(2). Each failure names what is missing and
 * the exact fix (the GRANT statement, the path and its owner).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbtlsError } from '../../errors.js';
import type { ServerCapabilities } from '../flavor.js';
import type { Account, SqlSession } from './session.js';
import { accountSql } from './sql.js';

/** One privilege an operation needs, on `*.*`, on a database (`mysql.*`) or on one table. */
export interface PrivilegeNeed {
  readonly privilege: string;
  /** `*.*`, `mysql.*` or `mysql.global_priv`. */
  readonly on: string;
  /** What it is needed for, for the error message ("FLUSH SSL"). */
  readonly why: string;
}

/** The operations whose privileges dbtls checks, and docs/server.md lists. */
export type Operation = 'rotate' | 'require' | 'users' | 'enable' | 'secure';

/** What each operation does, for "could not …". */
const OPERATION_TEXT: Readonly<Record<Operation, string>> = Object.freeze({
  rotate: 'rotate the server certificate',
  require: 'change the account requirement',
  users: 'list the accounts',
  enable: 'enable TLS',
  secure: 'secure the server',
});

/** What a run of an operation will do beyond its core: only a run that sets require_secure_transport needs SET GLOBAL. */
export interface OperationScope {
  /** Whether the run sets require_secure_transport (secure and enable without --no-require-secure-transport). */
  readonly setsGlobal?: boolean;
  /**
   * Whether the run SETs PERSIST ssl_* (MySQL 8.0.16+ when the paths change): enable knows from its plan;
   * unknown (secure's preflight, before its plan), it is assumed wherever the server would persist them.
   */
  readonly persists?: boolean;
}

/** The privileges each operation needs on this server (MariaDB KB and MySQL manual, per statement). */
export function privilegeNeeds(
  caps: ServerCapabilities,
  op: Operation,
  scope: OperationScope = {},
): PrivilegeNeed[] {
  const setsGlobal = scope.setsGlobal ?? true;
  const mariadb = caps.version.flavor === 'mariadb';
  const reload: PrivilegeNeed = {
    privilege: caps.reloadPrivilege,
    on: '*.*',
    why: caps.reloadStatement ?? 'the TLS reload',
  };
  const readAccounts: PrivilegeNeed = {
    privilege: 'SELECT',
    on: caps.requirementsIn,
    why: 'reading accounts',
  };
  // ALTER USER: the global CREATE USER privilege (MariaDB KB "ALTER USER"; MySQL manual 15.7.1.1).
  const alterUser: PrivilegeNeed = { privilege: 'CREATE USER', on: '*.*', why: 'ALTER USER … REQUIRE' };
  // SET GLOBAL require_secure_transport: SUPER on MariaDB, SYSTEM_VARIABLES_ADMIN on MySQL 8.
  const setGlobal: PrivilegeNeed = {
    privilege: mariadb ? 'SUPER' : 'SYSTEM_VARIABLES_ADMIN',
    on: '*.*',
    why: 'SET GLOBAL require_secure_transport',
  };
  // SET PERSIST ssl_* where they are dynamic (MySQL 8.0.16+): SYSTEM_VARIABLES_ADMIN too (manual, "SET").
  const persists = scope.persists ?? (caps.sslVariablesDynamic && caps.reloadStatement !== undefined);
  const persist: PrivilegeNeed[] = persists
    ? [{ privilege: 'SYSTEM_VARIABLES_ADMIN', on: '*.*', why: 'SET PERSIST ssl_*' }]
    : [];
  const globalNeeds = (needs: PrivilegeNeed[]): PrivilegeNeed[] => {
    const all = setsGlobal ? [...needs, setGlobal] : needs;
    return all.filter((n, i) => all.findIndex((m) => m.privilege === n.privilege) === i);
  };
  switch (op) {
    case 'rotate':
      return [reload];
    case 'users':
      return [readAccounts];
    case 'require':
      return [readAccounts, alterUser];
    case 'enable':
      return globalNeeds([reload, ...persist]);
    case 'secure':
      return globalNeeds([reload, readAccounts, alterUser, ...persist]);
  }
}

/** Privileges granted on one object, as SHOW GRANTS lists them. */
export interface Grant {
  readonly privileges: ReadonlySet<string>;
  /** Normalised: `*.*`, `mysql.*`, `mysql.global_priv` (no backticks, lower case). */
  readonly on: string;
}

const GRANT_LINE =
  /^GRANT\s+(.+?)\s+ON\s+(?:TABLE\s+|PROCEDURE\s+|FUNCTION\s+|PACKAGE\s+(?:BODY\s+)?)?(\S+)\s+TO\s/is;

/** Splits `SELECT (a, b), RELOAD, CREATE USER` at the commas outside parentheses. */
function splitPrivileges(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  // Column privileges (`SELECT (a)`) do not cover a whole table: keep only whole privileges.
  return out.map((p) => p.trim()).filter((p) => p && !p.includes('('));
}

function normaliseObject(on: string): string {
  return on.replace(/`/g, '').toLowerCase();
}

/** The privilege grants in SHOW GRANTS output (role and PROXY lines are skipped). Pure. */
export function parseGrants(lines: readonly string[]): Grant[] {
  const grants: Grant[] = [];
  for (const line of lines) {
    const m = GRANT_LINE.exec(line.trim());
    if (!m || m[2]!.includes('@')) continue;
    const privileges = new Set(splitPrivileges(m[1]!).map((p) => p.toUpperCase().replace(/\s+/g, ' ')));
    grants.push({ privileges, on: normaliseObject(m[2]!) });
  }
  return grants;
}

/** Privileges that include others: ALL everything, and MySQL's deprecated SUPER its dynamic successors. */
function covers(granted: ReadonlySet<string>, privilege: string): boolean {
  if (granted.has(privilege) || granted.has('ALL PRIVILEGES') || granted.has('ALL')) return true;
  // MySQL manual 8.2.2 "Privileges Provided": SUPER still grants CONNECTION_ADMIN and SYSTEM_VARIABLES_ADMIN.
  return granted.has('SUPER') && (privilege === 'CONNECTION_ADMIN' || privilege === 'SYSTEM_VARIABLES_ADMIN');
}

/** Whether a grant on `grantOn` applies to `needOn` (`*.*` covers all, `mysql.*` covers its tables). */
function appliesTo(grantOn: string, needOn: string): boolean {
  if (grantOn === '*.*' || grantOn === needOn) return true;
  const [db] = needOn.split('.');
  return grantOn === `${db}.*`;
}

/** The needs that no grant covers. Pure. */
export function missingPrivileges(
  grants: readonly Grant[],
  needs: readonly PrivilegeNeed[],
): PrivilegeNeed[] {
  return needs.filter(
    (need) => !grants.some((g) => appliesTo(g.on, need.on) && covers(g.privileges, need.privilege)),
  );
}

/** `GRANT RELOAD, CREATE USER ON *.* TO 'ops'@'%'` (one statement per object). Pure. */
export function grantStatements(missing: readonly PrivilegeNeed[], account: Account): string[] {
  const byObject = new Map<string, string[]>();
  for (const need of missing) {
    const list = byObject.get(need.on) ?? [];
    if (!list.includes(need.privilege)) list.push(need.privilege);
    byObject.set(need.on, list);
  }
  return [...byObject].map(([on, privs]) => `GRANT ${privs.join(', ')} ON ${on} TO ${accountSql(account)}`);
}

/** The SHOW GRANTS lines of the session's own account (with its active roles). */
export async function currentGrants(session: SqlSession): Promise<string[]> {
  const rows = await session.query('SHOW GRANTS');
  return rows.map((row) => String(Object.values(row)[0] ?? ''));
}

/**
 * Fails, before any change, when the admin account lacks a privilege `op` needs: PRIVILEGES_MISSING names
 * them and the GRANT statement that adds them. An input error (exit 2): nothing was changed.
 */
export async function checkPrivileges(
  session: SqlSession & { readonly capabilities: ServerCapabilities; readonly account: Account },
  op: Operation,
  scope: OperationScope = {},
): Promise<void> {
  const missing = missingPrivileges(
    parseGrants(await currentGrants(session)),
    privilegeNeeds(session.capabilities, op, scope),
  );
  if (missing.length === 0) return;
  const name = `'${session.account.user}'@'${session.account.host}'`;
  const what = missing.map((m) => `${m.privilege} ON ${m.on} (for ${m.why})`).join(', ');
  const statements = grantStatements(missing, session.account);
  throw new DbtlsError(
    'PRIVILEGES_MISSING',
    `could not ${OPERATION_TEXT[op]}: the admin account ${name} lacks ${what}; nothing was changed`,
    {
      hint: `as an account that may grant them, run: ${statements.map((s) => `${s};`).join(' ')} or connect with --user as an account that has them`,
      details: { missing, statements },
    },
  );
}

/** A path the operation will write: a file replaced by write + rename, or a directory created in. */
export interface WriteTarget {
  readonly path: string;
  /** What it is, for the message ("the server certificate"). */
  readonly what: string;
}

/**
 * The user name of a uid, through the system's name service (`getent`: /etc/passwd, LDAP, systemd's
 * synthesized users alike); the number when there is none. Only on the error path.
 */
function ownerName(uid: number): string {
  try {
    const line = execFileSync('getent', ['passwd', String(uid)], { encoding: 'utf8', timeout: 2_000 });
    const name = line.split(':')[0]?.trim();
    if (name) return name;
  } catch {
    // no getent, or no such user: the number will do
  }
  return String(uid);
}

/** The nearest directory that exists at or above `p`: where a write actually needs permission. */
function existingDir(p: string): string {
  let dir = path.resolve(p);
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/**
 * Fails, before any change, when this process cannot write a target: files are replaced by write + rename,
 * so what counts is write and search permission on the directory that holds them (and the file itself,
 * when it is replaced in place). PERMISSION_DENIED names the path and its owner.
 */
export function checkWritable(targets: readonly WriteTarget[]): void {
  for (const t of targets) {
    const isDir = fs.existsSync(t.path) && fs.statSync(t.path).isDirectory();
    const dir = isDir ? t.path : existingDir(path.dirname(t.path));
    try {
      fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
    } catch {
      const st = fs.statSync(dir);
      const owner = ownerName(st.uid);
      const me = ownerName(process.getuid?.() ?? -1);
      throw new DbtlsError(
        'PERMISSION_DENIED',
        `could not write ${t.what} ${t.path}: ${dir} is owned by ${owner} (mode ${(st.mode & 0o777).toString(8)}) and ${me} may not write it; nothing was changed`,
        {
          hint: `run the command as ${owner} (e.g. \`sudo -u ${owner} dbtls …\`) or with sudo, or pass a directory you can write`,
          details: { path: t.path, dir, owner },
        },
      );
    }
  }
}
