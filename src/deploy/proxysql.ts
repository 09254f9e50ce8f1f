/**
 * ProxySQL admin statements for TLS on both legs: clients -> ProxySQL (frontend) and ProxySQL -> MySQL
 * servers (backend). Generated only; dbtls never connects to ProxySQL. Each statement is checked against
 * ProxySQL's documentation:
 *   - https://proxysql.com/documentation/ssl-support/ : backend TLS is per server (mysql_servers.use_ssl);
 *     frontend TLS (v2.x) needs mysql-have_ssl=true and the three fixed files proxysql-ca.pem,
 *     proxysql-cert.pem, proxysql-key.pem in the datadir; there is no variable that names other paths.
 *   - https://proxysql.com/blog/ssl-additions-to-proxysql-v2-3-0 : `PROXYSQL RELOAD TLS` (2.3.0+) re-reads
 *     those three files for new connections; it fails, keeping the old context, unless all three are present.
 *   - https://proxysql.com/documentation/main-runtime/ (mysql_servers, mysql_users): mysql_servers.use_ssl=1
 *     makes ProxySQL connect to that server over TLS; the files it uses are the mysql-ssl_p2s_ca / _capath /
 *     _cert / _key / _cipher / _crl / _crlpath global variables (ProxySQL 2.x encrypts with none of them
 *     set; v1 needed the certificate and key). mysql_users.use_ssl=1 on a frontend user makes ProxySQL
 *     refuse that user's plaintext logins ("SSL is required"): the maintainers on sysown/proxysql#3018, and
 *     #5927 on what it does not do: it checks the link is encrypted, it asks for no client certificate.
 *   - https://proxysql.com/documentation/global-variables/ and "Admin Commands": variables are changed with
 *     UPDATE global_variables, then LOAD MYSQL VARIABLES TO RUNTIME (not ADMIN VARIABLES, a common slip:
 *     sysown/proxysql#3737) and SAVE MYSQL VARIABLES TO DISK (same for MYSQL SERVERS and MYSQL USERS).
 * The admin interface runs the statements in SQLite, so string literals double their quotes and treat
 * backslashes literally (SQLite "Literal Values").
 */
import { DbtlsError } from '../errors.js';

/** ProxySQL's default datadir (packages: /var/lib/proxysql), where the frontend files must live. */
export const PROXYSQL_DATADIR = '/var/lib/proxysql';

export interface ProxysqlOptions {
  /**
   * Frontend: the certificate ProxySQL serves, its key, and the CA file it insists on beside them (it loads
   * all three or none); it asks clients for no certificate.
   */
  readonly frontend: { readonly ca: string; readonly cert: string; readonly key: string };
  /** Backend: what ProxySQL presents to and verifies the servers with (paths on the ProxySQL host). */
  readonly backend?: {
    readonly ca?: string | undefined;
    readonly cert?: string | undefined;
    readonly key?: string | undefined;
    readonly cipher?: string | undefined;
    readonly crl?: string | undefined;
  };
  /** Frontend users that must connect over TLS. */
  readonly users?: readonly string[];
  /** Backend TLS only for this hostgroup; every server when undefined. */
  readonly hostgroup?: number | undefined;
  readonly datadir?: string | undefined;
  /** After a rotation: only the file installation and PROXYSQL RELOAD TLS. */
  readonly rotation?: boolean;
}

/**
 * No value may hold a control character: a newline would end a `--` comment line and make the rest of
 * the value a statement of its own (issue 9 item 6), and a NUL ends the string in ProxySQL's SQLite.
 */
function refuseControl(value: string): void {
  if (!/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value)) return;
  throw new DbtlsError(
    'PROXYSQL_VALUE_INVALID',
    `could not quote ${JSON.stringify(value)} for ProxySQL: it holds a control character`,
    { hint: 'check the file paths and user names: no newlines, tabs or other control characters' },
  );
}

/** A SQLite string literal. */
export function sqliteString(value: string): string {
  refuseControl(value);
  return `'${value.replaceAll("'", "''")}'`;
}

/** A POSIX shell word, for the install commands printed as comments. */
function shellWord(value: string): string {
  refuseControl(value);
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

function setVariable(name: string, value: string): string {
  return `UPDATE global_variables SET variable_value=${sqliteString(value)} WHERE variable_name=${sqliteString(name)}`;
}

/**
 * The statements in order. Lines starting with `--` are comments (shell steps that must run on the
 * ProxySQL host first); every other entry is one admin statement without its semicolon.
 */
export function proxysqlStatements(o: ProxysqlOptions): string[] {
  const datadir = (o.datadir ?? PROXYSQL_DATADIR).replace(/\/+$/, '');
  const f = o.frontend;
  const out: string[] = [
    '-- Frontend TLS (clients -> ProxySQL). ProxySQL reads fixed file names in its datadir; install them',
    '-- on the ProxySQL host first (all three must be present, the key readable by proxysql only):',
    `--   install -m 0644 ${shellWord(f.ca)} ${shellWord(`${datadir}/proxysql-ca.pem`)}`,
    `--   install -m 0644 ${shellWord(f.cert)} ${shellWord(`${datadir}/proxysql-cert.pem`)}`,
    `--   install -m 0600 -o proxysql ${shellWord(f.key)} ${shellWord(`${datadir}/proxysql-key.pem`)}`,
  ];
  if (o.rotation) {
    out.push(
      '-- Then load the new files for new connections (open ones keep theirs):',
      'PROXYSQL RELOAD TLS',
    );
    return out;
  }
  out.push(setVariable('mysql-have_ssl', 'true'));
  const users = o.users ?? [];
  const b = o.backend ?? {};
  const backendVars: [string, string | undefined][] = [
    ['mysql-ssl_p2s_ca', b.ca],
    ['mysql-ssl_p2s_cert', b.cert],
    ['mysql-ssl_p2s_key', b.key],
    ['mysql-ssl_p2s_cipher', b.cipher],
    ['mysql-ssl_p2s_crl', b.crl],
  ];
  if (!!b.cert !== !!b.key) {
    throw new DbtlsError(
      'USAGE',
      'could not configure backend TLS: --backend-cert and --backend-key go together',
      {
        hint: 'pass both, or neither for a backend without client certificates',
      },
    );
  }
  const backend = backendVars.some(([, v]) => v !== undefined);
  if (backend) {
    out.push('-- Backend TLS (ProxySQL -> servers): default files for every server with use_ssl=1.');
    for (const [name, value] of backendVars) if (value !== undefined) out.push(setVariable(name, value));
  }
  out.push('LOAD MYSQL VARIABLES TO RUNTIME', 'SAVE MYSQL VARIABLES TO DISK');
  if (backend) {
    const where = o.hostgroup === undefined ? '' : ` WHERE hostgroup_id=${Math.trunc(o.hostgroup)}`;
    out.push(
      `UPDATE mysql_servers SET use_ssl=1${where}`,
      'LOAD MYSQL SERVERS TO RUNTIME',
      'SAVE MYSQL SERVERS TO DISK',
    );
  }
  if (users.length > 0) {
    out.push(
      '-- These frontend users must connect over TLS:',
      `UPDATE mysql_users SET use_ssl=1 WHERE username IN (${users.map(sqliteString).join(', ')}) AND frontend=1`,
      'LOAD MYSQL USERS TO RUNTIME',
      'SAVE MYSQL USERS TO DISK',
    );
  }
  out.push(
    '-- Load the installed frontend files (ProxySQL 2.3.0+; older versions need a restart):',
    'PROXYSQL RELOAD TLS',
  );
  return out;
}
