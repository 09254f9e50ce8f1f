/**
 * PHP through mysqlnd: mysqli and PDO_mysql. Both hand TLS to PHP's OpenSSL streams, whose
 * `verify_peer` checks the chain and the peer name together: neither API can verify the chain without the
 * name, so verify-ca is written as verify-full (with a note), as for the mariadb client. Run against
 * PHP 8.2 (Debian 12, mysqlnd) and MariaDB 10.11; what was measured is in docs/verification.md.
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
  type SnippetContext,
} from './model.js';

const VERSIONS = '// Run against PHP 8.2 (mysqlnd) and MariaDB 10.11; the password comes from MYSQL_PWD.';

const VERIFY_CA_NOTE =
  "PHP's mysqlnd verifies the chain and the host name together (OpenSSL streams' verify_peer): this is verify-full; connect with a name the server certificate holds";

const PHP_MODES = Object.freeze({
  disable: exact('disable'),
  preferred: PREFERRED_REFUSED,
  trust: exact('trust'),
  'verify-ca': exact('verify-full', VERIFY_CA_NOTE),
  'verify-full': exact('verify-full'),
});

/** mysqli: the CA through ssl_set, MYSQLI_CLIENT_SSL so a server without TLS is refused. */
export const phpMysqli: ClientMapping = {
  client: 'php-mysqli',
  language: 'php',
  modes: PHP_MODES,
  render(ctx) {
    refuseLocalhost(ctx, 'php-mysqli');
    const lines = ['<?php', VERSIONS, '// mysqli throws on every error (the default since PHP 8.1).'];
    lines.push('mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);', '$db = mysqli_init();');
    let flags = '0';
    if (ctx.mode !== 'disable') {
      const verify = ctx.mode !== 'trust';
      const ca = verify ? q(need(ctx.ca, '--ca FILE', ctx, 'php-mysqli')) : 'null';
      const cert = needsClientCert(ctx) ? q(need(ctx.cert, '--cert FILE', ctx, 'php-mysqli')) : 'null';
      const key = needsClientCert(ctx) ? q(need(ctx.key, '--key FILE', ctx, 'php-mysqli')) : 'null';
      lines.push(
        `$db->options(MYSQLI_OPT_SSL_VERIFY_SERVER_CERT, ${verify ? 'true' : 'false'});`,
        `$db->ssl_set(${key}, ${cert}, ${ca}, null, null); // key, certificate, CA, CA directory, ciphers`,
      );
      if (!verify) lines.push('// ssl-mode trust: encrypted, server not verified');
      flags = verify ? 'MYSQLI_CLIENT_SSL' : 'MYSQLI_CLIENT_SSL | MYSQLI_CLIENT_SSL_DONT_VERIFY_SERVER_CERT';
    }
    const db = ctx.database === undefined ? 'null' : q(ctx.database);
    lines.push(
      `$db->real_connect(${q(ctx.host)}, ${q(ctx.user)}, getenv('MYSQL_PWD'), ${db}, ${ctx.port}, null, ${flags});`,
    );
    return { text: `${lines.join('\n')}\n`, warnings: [] };
  },
};

/** PDO_mysql: the CA attribute turns TLS on; VERIFY_SERVER_CERT says whether it is checked. */
export const phpPdo: ClientMapping = {
  client: 'php-pdo',
  language: 'php',
  modes: PHP_MODES,
  render(ctx: SnippetContext) {
    refuseLocalhost(ctx, 'php-pdo');
    let dsn = `mysql:host=${dsnValue(bracketed(ctx.host), 'the host', 'php-pdo')};port=${ctx.port}`;
    if (ctx.database !== undefined) dsn += `;dbname=${dsnValue(ctx.database, '--database', 'php-pdo')}`;
    const attrs = ['    PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,'];
    if (ctx.mode !== 'disable') {
      const verify = ctx.mode !== 'trust';
      // Measured: with the CA and VERIFY_SERVER_CERT false PDO verifies nothing, so the CA goes only with
      // true; trust needs some TLS attribute to turn TLS on, and the cipher list is the neutral one.
      if (verify)
        attrs.push(`    PDO::MYSQL_ATTR_SSL_CA => ${q(need(ctx.ca, '--ca FILE', ctx, 'php-pdo'))},`);
      else
        attrs.push(
          "    PDO::MYSQL_ATTR_SSL_CIPHER => 'DEFAULT', // turns TLS on without a CA: OpenSSL's default list",
        );
      if (needsClientCert(ctx)) {
        attrs.push(`    PDO::MYSQL_ATTR_SSL_CERT => ${q(need(ctx.cert, '--cert FILE', ctx, 'php-pdo'))},`);
        attrs.push(`    PDO::MYSQL_ATTR_SSL_KEY => ${q(need(ctx.key, '--key FILE', ctx, 'php-pdo'))},`);
      }
      attrs.push(
        verify
          ? '    PDO::MYSQL_ATTR_SSL_VERIFY_SERVER_CERT => true, // the chain and the host name'
          : '    PDO::MYSQL_ATTR_SSL_VERIFY_SERVER_CERT => false, // ssl-mode trust: encrypted, server not verified',
      );
    }
    const lines = [
      '<?php',
      VERSIONS,
      `$pdo = new PDO(${q(dsn)}, ${q(ctx.user)}, getenv('MYSQL_PWD'), [`,
      ...attrs,
      ']);',
    ];
    return { text: `${lines.join('\n')}\n`, warnings: [] };
  },
};
