/**
 * MySQL-only behaviour, which no server here can exercise: written from the MySQL 8.0 Reference Manual and
 * checked against it. Rows are shaped as mysql2 returns them from MySQL 8.0.28's mysql.user (ssl_type
 * enum('','ANY','X509','SPECIFIED'); ssl_cipher, x509_issuer and x509_subject BLOB, so Buffers; plugin
 * char(64) defaulting to caching_sha2_password; account_locked enum('N','Y')). MariaDB rows are captured
 * from the 10.11 server of the harness, for contrast.
 */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alterRequireStatement } from '../../../src/server/accounts/require.js';
import {
  type AccountInfo,
  accountFromRow,
  accountsSql,
  countRequirements,
} from '../../../src/server/accounts/users.js';
import { capabilitiesOf } from '../../../src/server/flavor.js';
import { planEnable } from '../../../src/server/tls/enable.js';
import { serverFilePaths } from '../../../src/server/tls/install.js';

const MYSQL = capabilitiesOf('8.0.36');
const MARIADB = capabilitiesOf('5.5.5-10.11.19-MariaDB-0+deb12u1');

/** A mysql.user row as mysql2 hands it over from MySQL 8.0. */
function userRow(
  user: string,
  host: string,
  ssl: { type?: string; cipher?: string; issuer?: string; subject?: string } = {},
  plugin = 'caching_sha2_password',
  locked = 'N',
) {
  return {
    User: user,
    Host: host,
    ssl_type: ssl.type ?? '',
    ssl_cipher: Buffer.from(ssl.cipher ?? ''),
    x509_issuer: Buffer.from(ssl.issuer ?? ''),
    x509_subject: Buffer.from(ssl.subject ?? ''),
    plugin,
    account_locked: locked,
  };
}

describe('accounts on MySQL live in mysql.user columns', () => {
  it('reads ssl_type, the x509 BLOBs, plugin and account_locked from mysql.user', () => {
    assert.equal(
      accountsSql(MYSQL),
      'SELECT User, Host, ssl_type, ssl_cipher, x509_issuer, x509_subject, plugin, account_locked FROM mysql.user ORDER BY User, Host',
    );
    assert.equal(
      accountsSql(MYSQL, { user: "o'brien", host: '10.0.0.%' }),
      "SELECT User, Host, ssl_type, ssl_cipher, x509_issuer, x509_subject, plugin, account_locked FROM mysql.user WHERE User = 'o''brien' AND Host = '10.0.0.%' ORDER BY User, Host",
    );
    assert.equal(
      accountsSql(MARIADB, { user: 'app', host: '%' }),
      "SELECT User, Host, Priv FROM mysql.global_priv WHERE User = 'app' AND Host = '%' ORDER BY User, Host",
    );
  });

  it('maps each ssl_type to a requirement, SPECIFIED with its byte-compared values', () => {
    const rows = [
      userRow('mysql.session', 'localhost', {}, 'caching_sha2_password', 'Y'),
      userRow('plain', '%'),
      userRow('tls', '%', { type: 'ANY' }),
      userRow('x509', '%', { type: 'X509' }),
      userRow('app', '%', {
        type: 'SPECIFIED',
        subject: '/C=DE/O=Acme/CN=app',
        issuer: '/C=DE/O=Acme/CN=Acme Issuing CA',
        cipher: 'ECDHE-ECDSA-AES256-GCM-SHA384',
      }),
      userRow('legacy', '192.168.1.%', {}, 'mysql_native_password'),
    ];
    const accounts = rows.map((r) => accountFromRow(MYSQL, r));
    assert.deepEqual(accounts, [
      {
        user: 'mysql.session',
        host: 'localhost',
        requirement: { type: 'NONE' },
        plugin: 'caching_sha2_password',
        remote: false,
        locked: true,
      },
      {
        user: 'plain',
        host: '%',
        requirement: { type: 'NONE' },
        plugin: 'caching_sha2_password',
        remote: true,
        locked: false,
      },
      {
        user: 'tls',
        host: '%',
        requirement: { type: 'SSL' },
        plugin: 'caching_sha2_password',
        remote: true,
        locked: false,
      },
      {
        user: 'x509',
        host: '%',
        requirement: { type: 'X509' },
        plugin: 'caching_sha2_password',
        remote: true,
        locked: false,
      },
      {
        user: 'app',
        host: '%',
        requirement: {
          type: 'SPECIFIED',
          subject: '/C=DE/O=Acme/CN=app',
          issuer: '/C=DE/O=Acme/CN=Acme Issuing CA',
          cipher: 'ECDHE-ECDSA-AES256-GCM-SHA384',
        },
        plugin: 'caching_sha2_password',
        remote: true,
        locked: false,
      },
      {
        user: 'legacy',
        host: '192.168.1.%',
        requirement: { type: 'NONE' },
        plugin: 'mysql_native_password',
        remote: true,
        locked: false,
      },
    ]);
    assert.deepEqual(countRequirements(accounts as AccountInfo[]), {
      none: 3,
      ssl: 1,
      x509: 1,
      specified: 1,
      remoteNone: 2,
    });
    // The REQUIRE clause that restores the SPECIFIED account is the same SQL on both flavors.
    assert.equal(
      alterRequireStatement({ user: 'app', host: '%' }, accounts[4]!.requirement),
      "ALTER USER 'app'@'%' REQUIRE SUBJECT '/C=DE/O=Acme/CN=app' AND ISSUER '/C=DE/O=Acme/CN=Acme Issuing CA' AND CIPHER 'ECDHE-ECDSA-AES256-GCM-SHA384'",
    );
  });

  it('MariaDB keeps the same facts as JSON in mysql.global_priv, with roles beside the accounts', () => {
    const rows = [
      { User: 'root', Host: 'localhost', Priv: '{"access":18446744073709551615}' },
      { User: 'r1', Host: '', Priv: '{"access":0,"version_id":101119,"is_role":true}' },
      {
        User: 'app',
        Host: '%',
        Priv: '{"access":0,"version_id":101119,"plugin":"mysql_native_password","authentication_string":"*B69027D44F6E5EDC07F1AEAD1477967B16F28227","ssl_type":2,"ssl_cipher":"","x509_issuer":"","x509_subject":"","password_last_changed":1795431466}',
      },
    ];
    assert.deepEqual(
      rows.map((r) => accountFromRow(MARIADB, r)),
      [
        {
          user: 'root',
          host: 'localhost',
          requirement: { type: 'NONE' },
          plugin: 'mysql_native_password',
          remote: false,
          locked: false,
        },
        undefined,
        {
          user: 'app',
          host: '%',
          requirement: { type: 'X509' },
          plugin: 'mysql_native_password',
          remote: true,
          locked: false,
        },
      ],
    );
  });
});

describe('caching_sha2_password is the default plugin from MySQL 8.0.4', () => {
  const cases: [string, string][] = [
    ['5.7.44', 'mysql_native_password'],
    ['8.0.3', 'mysql_native_password'],
    ['8.0.4', 'caching_sha2_password'],
    ['8.0.36', 'caching_sha2_password'],
    ['8.4.2', 'caching_sha2_password'],
    ['9.1.0', 'caching_sha2_password'],
    ['10.11.6-MariaDB', 'mysql_native_password'],
  ];
  for (const [version, plugin] of cases) {
    it(`${version}: ${plugin}`, () => assert.equal(capabilitiesOf(version).defaultAuthPlugin, plugin));
  }
  it('an empty plugin column falls back to the default of the server', () => {
    assert.equal(accountFromRow(MYSQL, userRow('u', '%', {}, ''))?.plugin, 'caching_sha2_password');
    assert.equal(
      accountFromRow(capabilitiesOf('5.7.44'), userRow('u', '%', {}, ''))?.plugin,
      'mysql_native_password',
    );
  });
});

describe('online reload on MySQL: SET PERSIST + ALTER INSTANCE RELOAD TLS (8.0.16+)', () => {
  const files = serverFilePaths("/etc/mysql/it's ssl");
  const options = {
    files,
    configFile: '/etc/mysql/conf.d/ssl-config.cnf',
    material: { certPem: '', keyPem: '', caPem: '' },
    tlsVersions: ['TLSv1.2', 'TLSv1.3'] as const,
    requireSecureTransport: true,
  };
  const served = new Map([
    ['have_ssl', 'YES'],
    ['ssl_ca', 'ca.pem'],
    ['ssl_cert', 'server-cert.pem'],
    ['ssl_key', 'server-key.pem'],
    ['tls_version', 'TLSv1.2'],
    ['require_secure_transport', 'OFF'],
  ]);
  it('points the persisted ssl_* at the new paths (quoted), narrows tls_version, reloads, then requires TLS', () => {
    const plan = planEnable(MYSQL, served, { ...options, tlsVersions: [...options.tlsVersions] });
    assert.equal(plan.restartRequired, false);
    assert.deepEqual(plan.statements, [
      "SET PERSIST ssl_ca = '/etc/mysql/it''s ssl/ca.pem'",
      "SET PERSIST ssl_cert = '/etc/mysql/it''s ssl/server-cert.pem'",
      "SET PERSIST ssl_key = '/etc/mysql/it''s ssl/server-key.pem'",
      "SET PERSIST tls_version = 'TLSv1.2,TLSv1.3'",
      'ALTER INSTANCE RELOAD TLS',
    ]);
    // After the proof only: a refused reload must not leave every client locked out.
    assert.deepEqual(plan.finalStatements, ['SET GLOBAL require_secure_transport = ON']);
  });
  it('MySQL 8.0.15 has neither: the new files need a restart', () => {
    const plan = planEnable(capabilitiesOf('8.0.15'), served, {
      ...options,
      tlsVersions: [...options.tlsVersions],
    });
    assert.equal(plan.restartRequired, true);
    assert.deepEqual(plan.statements, []);
    assert.deepEqual(plan.finalStatements, []);
  });
});
