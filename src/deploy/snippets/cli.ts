/**
 * Command-line clients and option files: Oracle's `mysql` (`--ssl-mode`), MariaDB's `mariadb` and the
 * `[client-mariadb]` option group. Passwords never go on the command line: MYSQL_PWD or an option file.
 *
 * MariaDB 10.11's client, checked against a live server: `--ssl` and `--ssl-ca` alone continue in
 * plaintext when the server offers no TLS; only `--ssl-verify-server-cert` fails closed, and it checks the
 * host name too (127.0.0.1 included). So it can say verify-full, say verify-ca only as verify-full, and
 * cannot say trust at all.
 *
 * Every snippet names the TCP protocol: with host=localhost a MariaDB client takes the unix socket and
 * ignores the port, so it would log in to whatever server owns the default socket (issue 9 item 3).
 */
import { SSL_MODES } from '../../tls/ssl-mode.js';
import {
  type ClientMapping,
  exact,
  iniValue,
  mysqlSslMode,
  need,
  needsClientCert,
  PREFERRED_REFUSED,
  refuseLocalhost,
  type SnippetContext,
  shellWord,
} from './model.js';

const TLS_VERSIONS = 'TLSv1.2,TLSv1.3';

export const mysqlCli: ClientMapping = {
  client: 'mysql-cli',
  language: 'shell',
  modes: Object.freeze({
    disable: exact('disable'),
    preferred: PREFERRED_REFUSED,
    // No --ssl-ca with REQUIRED: the CA is not used to verify anything in that mode.
    trust: exact('trust', '--ssl-mode=REQUIRED encrypts but verifies nothing, even when --ssl-ca is given'),
    'verify-ca': exact('verify-ca'),
    'verify-full': exact('verify-full'),
  }),
  render(ctx) {
    const args = [
      'mysql',
      `--host=${ctx.host}`,
      `--port=${ctx.port}`,
      '--protocol=TCP',
      `--user=${ctx.user}`,
    ];
    // Oracle MySQL client 8.x: its --ssl-mode words are the MySQL spellings of our modes.
    args.push(`--ssl-mode=${mysqlSslMode(ctx.mode)}`);
    if (SSL_MODES[ctx.mode].verifiesChain)
      args.push(`--ssl-ca=${need(ctx.ca, '--ca FILE', ctx, 'mysql-cli')}`);
    if (needsClientCert(ctx)) {
      args.push(`--ssl-cert=${need(ctx.cert, '--cert FILE', ctx, 'mysql-cli')}`);
      args.push(`--ssl-key=${need(ctx.key, '--key FILE', ctx, 'mysql-cli')}`);
    }
    if (ctx.mode !== 'disable') args.push(`--tls-version=${TLS_VERSIONS}`);
    if (ctx.database) args.push(ctx.database);
    return {
      text: `${MYSQL_CLI_FOR}\n${PASSWORD_NOTE}\n${args.map(shellWord).join(' ')}\n`,
      warnings: [MYSQL_CLI_WARNING],
    };
  },
};

const PASSWORD_NOTE =
  '# password: MYSQL_PWD or an option file given with --defaults-extra-file, never on the command line';
/** Where `mysql` is MariaDB's client (Debian, most Linux distributions) it stops at --ssl-mode (item 8). */
const MYSQL_CLI_FOR =
  "# for Oracle's MySQL client 8.0+ (`mysql --version` says 'Ver 8'); MariaDB's client is `dbtls snippet --for mariadb-cli`";
const MYSQL_CLI_WARNING =
  "this command is for Oracle's MySQL client 8.0+: MariaDB's client (also installed as `mysql` on many systems) stops with unknown variable 'ssl-mode'; use --for mariadb-cli for it";

const MARIADB_TRUST_REASON =
  'the mariadb client has no encrypt-without-verifying mode that fails closed: --ssl continues in plaintext when the server offers no TLS, and --ssl-verify-server-cert (the only switch that refuses) verifies the certificate';
const MARIADB_VERIFY_CA_NOTE =
  'the mariadb client cannot verify the chain without the host name: --ssl-verify-server-cert checks both, so this is verify-full; connect with a name the server certificate holds';

const MARIADB_MODES = Object.freeze({
  disable: exact('disable'),
  preferred: PREFERRED_REFUSED,
  trust: Object.freeze({ expressed: false as const, reason: MARIADB_TRUST_REASON }),
  'verify-ca': exact('verify-full', MARIADB_VERIFY_CA_NOTE),
  'verify-full': exact('verify-full'),
});

/**
 * The MariaDB option names, shared by the command line (`--name=value`) and option files (`name=value`).
 * Booleans carry `=1`/`=0`: libmariadb's option-file reader (mysqlclient, DBD::MariaDB, DBD::mysql,
 * ruby-mysql2) reads a bare `ssl-verify-server-cert` as 0, which turned verification off (issue 9 item 2).
 */
function mariadbOptions(ctx: SnippetContext, client: 'mariadb-cli' | 'my.cnf'): [string, string?][] {
  // The mariadb 10.11 client uses TLS by default: disable says so.
  if (ctx.mode === 'disable') return [['skip-ssl']];
  const out: [string, string?][] = [
    ['ssl-ca', need(ctx.ca, '--ca FILE', ctx, client)],
    // The switch that makes the client refuse a server without TLS or with a certificate it cannot verify.
    ['ssl-verify-server-cert', '1'],
  ];
  if (needsClientCert(ctx)) {
    out.push(['ssl-cert', need(ctx.cert, '--cert FILE', ctx, client)]);
    out.push(['ssl-key', need(ctx.key, '--key FILE', ctx, client)]);
  }
  out.push(['tls-version', TLS_VERSIONS]);
  return out;
}

export const mariadbCli: ClientMapping = {
  client: 'mariadb-cli',
  language: 'shell',
  modes: MARIADB_MODES,
  render(ctx) {
    const args = [
      'mariadb',
      `--host=${ctx.host}`,
      `--port=${ctx.port}`,
      '--protocol=TCP',
      `--user=${ctx.user}`,
    ];
    for (const [name, value] of mariadbOptions(ctx, 'mariadb-cli'))
      args.push(value === undefined ? `--${name}` : `--${name}=${value}`);
    if (ctx.database) args.push(ctx.database);
    return { text: `${PASSWORD_NOTE}\n${args.map(shellWord).join(' ')}\n`, warnings: [] };
  },
};

export const myCnf: ClientMapping = {
  client: 'my.cnf',
  language: 'ini',
  modes: MARIADB_MODES,
  render(ctx) {
    // Measured: libmariadb 3.3 reads `protocol` in an option file as a number, so protocol=TCP is 0 there
    // and localhost stays the unix socket for every Connector/C driver (the mariadb programs read TCP, and
    // refuse protocol=1). No one file says TCP to both: localhost is refused (issue 9 item 3).
    refuseLocalhost(
      ctx,
      'my.cnf',
      'Connector/C programs (mysqlclient, DBD::MariaDB, DBD::mysql, ruby-mysql2) take it as the unix socket whatever the file says (libmariadb reads protocol=TCP as 0), and would log in to whichever server owns that socket',
    );
    const lines = [
      `# ssl-mode ${ctx.mode}${ctx.mutualTls === 'enable' ? ' with mutual TLS' : ''}, for MariaDB clients: mariadb, mariadb-dump and`,
      '# Connector/C programs (mysqlclient, DBD::MariaDB, DBD::mysql, ruby-mysql2). Run against libmariadb 3.3 (MariaDB 10.11).',
      '# Use it with --defaults-extra-file=FILE (or --defaults-file=FILE); keep the file 0600 if you add password=.',
      '[client-mariadb]',
      `host=${iniValue(ctx.host)}`,
      `port=${ctx.port}`,
      'protocol=TCP',
      `user=${iniValue(ctx.user)}`,
    ];
    for (const [name, value] of mariadbOptions(ctx, 'my.cnf'))
      lines.push(value === undefined ? name : `${name}=${iniValue(value)}`);
    // Only the interactive client reads [mysql]: mariadb-dump warns about database= (item 8).
    if (ctx.database) lines.push('', '[mysql]', `database=${iniValue(ctx.database)}`);
    return {
      text: `${lines.join('\n')}\n`,
      warnings: [
        "MySQL's own clients do not read [client-mariadb]: use `dbtls snippet --for mysql-cli` for them",
      ],
    };
  },
};
