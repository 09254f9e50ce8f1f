/**
 * Perl DBI: DBD::MariaDB and DBD::mysql, both on libmariadb here (Debian 12). The TLS settings go in the
 * attribute hash (single-quoted Perl strings), not the DSN, which has no quoting. Measured against
 * MariaDB 10.11 (docs/verification.md):
 * - DBD::MariaDB 1.22 refuses `mariadb_ssl=1` without `mariadb_ssl_verify_server_cert=1` ("Enforcing SSL
 *   encryption is not supported without …"), and its `mariadb_ssl=1` alone verifies against the system
 *   CAs: only verify-full can be said (verify-ca as verify-full; trust not at all).
 * - DBD::mysql 4.050 on libmariadb refuses `mysql_ssl=1` outright ("Enforcing SSL encryption is not
 *   supported"); with `mysql_ssl_optional=1` and `mysql_ssl_verify_server_cert=1` libmariadb itself
 *   refuses a server without TLS ("SSL is required, but the server does not support it"), so that pair is
 *   verify-full and fails closed, whatever "optional" suggests.
 */
import { bracketed } from '../../tls/dsn.js';
import {
  type ClientMapping,
  dsnValue,
  exact,
  need,
  needsClientCert,
  PREFERRED_REFUSED,
  singleQuoted as q,
  refuseLocalhost,
  type SnippetClient,
  type SnippetContext,
} from './model.js';

const TRUST_REASON =
  'DBD::MariaDB and DBD::mysql on libmariadb have no encrypt-without-verifying mode that fails closed: they refuse to enforce TLS unless the server certificate is verified';
const VERIFY_CA_NOTE =
  'DBD::MariaDB and DBD::mysql enforce TLS only with the server certificate verified, host name included: this is verify-full; connect with a name the server certificate holds';

const PERL_MODES = Object.freeze({
  disable: exact('disable'),
  preferred: PREFERRED_REFUSED,
  trust: Object.freeze({ expressed: false as const, reason: TRUST_REASON }),
  'verify-ca': exact('verify-full', VERIFY_CA_NOTE),
  'verify-full': exact('verify-full'),
});

function render(ctx: SnippetContext, driver: 'MariaDB' | 'mysql', client: SnippetClient, version: string) {
  refuseLocalhost(ctx, client);
  const p = driver === 'MariaDB' ? 'mariadb' : 'mysql';
  // The DSN holds only host, port and database; a ';' in them would start another key.
  const dsn = [`DBI:${driver}:host=${dsnValue(bracketed(ctx.host), 'the host', client)}`, `port=${ctx.port}`];
  if (ctx.database !== undefined) dsn.push(`database=${dsnValue(ctx.database, '--database', client)}`);
  const attrs = ['    RaiseError => 1,', '    PrintError => 0,'];
  if (ctx.mode === 'disable') attrs.push(`    ${p}_ssl => 0, # ssl-mode disable: plaintext`);
  else {
    attrs.push(`    ${p}_ssl => 1,`);
    if (driver === 'mysql')
      attrs.push(
        '    mysql_ssl_optional => 1, # 4.050 on libmariadb refuses mysql_ssl=1 without it; the next line fails closed',
      );
    attrs.push(
      `    ${p}_ssl_verify_server_cert => 1, # the chain and the host name; refuses a server without TLS`,
      `    ${p}_ssl_ca_file => ${q(need(ctx.ca, '--ca FILE', ctx, client))},`,
    );
    if (needsClientCert(ctx)) {
      attrs.push(`    ${p}_ssl_client_cert => ${q(need(ctx.cert, '--cert FILE', ctx, client))},`);
      attrs.push(`    ${p}_ssl_client_key => ${q(need(ctx.key, '--key FILE', ctx, client))},`);
    }
  }
  const lines = [
    `# ${version} (Debian 12, libmariadb 3.3) against MariaDB 10.11; the password comes from MYSQL_PWD.`,
    'use strict;',
    'use warnings;',
    'use DBI;',
    '',
    `my $dbh = DBI->connect(${q(dsn.join(';'))}, ${q(ctx.user)}, $ENV{MYSQL_PWD}, {`,
    ...attrs,
    '});',
  ];
  return { text: `${lines.join('\n')}\n`, warnings: [] };
}

export const perlMariadb: ClientMapping = {
  client: 'perl-mariadb',
  language: 'perl',
  modes: PERL_MODES,
  render: (ctx) => render(ctx, 'MariaDB', 'perl-mariadb', 'Run against DBD::MariaDB 1.22'),
};

export const perlMysql: ClientMapping = {
  client: 'perl-mysql',
  language: 'perl',
  modes: PERL_MODES,
  render: (ctx) => render(ctx, 'mysql', 'perl-mysql', 'Run against DBD::mysql 4.050'),
};
