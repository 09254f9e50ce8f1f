import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxysqlStatements, sqliteString } from '../../../src/deploy/proxysql.js';
import { DbtlsError } from '../../../src/errors.js';
import { runCli } from '../../harness/cli.js';

// Golden outputs. Each statement was checked against ProxySQL's documentation and source (cited in
// src/deploy/proxysql.ts): the SSL support page, the main/runtime tables page, the v2.3.0 TLS reload post,
// the mysql-ssl_p2s_* variable list, and the maintainers on mysql_users.use_ssl (sysown/proxysql#3018).
const FRONTEND_INSTALL = [
  '-- Frontend TLS (clients -> ProxySQL). ProxySQL reads fixed file names in its datadir; install them',
  '-- on the ProxySQL host first (all three must be present, the key readable by proxysql only):',
  '--   install -m 0644 /pki/ca.pem /var/lib/proxysql/proxysql-ca.pem',
  '--   install -m 0644 /pki/proxy.pem /var/lib/proxysql/proxysql-cert.pem',
  '--   install -m 0600 -o proxysql /pki/proxy.key /var/lib/proxysql/proxysql-key.pem',
];
const frontend = { ca: '/pki/ca.pem', cert: '/pki/proxy.pem', key: '/pki/proxy.key' };

describe('proxysqlStatements', () => {
  it('frontend only', () => {
    assert.deepEqual(proxysqlStatements({ frontend }), [
      ...FRONTEND_INSTALL,
      "UPDATE global_variables SET variable_value='true' WHERE variable_name='mysql-have_ssl'",
      'LOAD MYSQL VARIABLES TO RUNTIME',
      'SAVE MYSQL VARIABLES TO DISK',
      '-- Load the installed frontend files (ProxySQL 2.3.0+; older versions need a restart):',
      'PROXYSQL RELOAD TLS',
    ]);
  });
  it('frontend + backend with client certificate, cipher, CRL, one hostgroup, TLS users', () => {
    assert.deepEqual(
      proxysqlStatements({
        frontend,
        backend: {
          ca: '/pki/db-ca.pem',
          cert: '/pki/proxy-client.pem',
          key: '/pki/proxy-client.key',
          cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256',
          crl: '/pki/crl.pem',
        },
        users: ['app', "o'brien"],
        hostgroup: 10,
      }),
      [
        ...FRONTEND_INSTALL,
        "UPDATE global_variables SET variable_value='true' WHERE variable_name='mysql-have_ssl'",
        '-- Backend TLS (ProxySQL -> servers): default files for every server with use_ssl=1.',
        "UPDATE global_variables SET variable_value='/pki/db-ca.pem' WHERE variable_name='mysql-ssl_p2s_ca'",
        "UPDATE global_variables SET variable_value='/pki/proxy-client.pem' WHERE variable_name='mysql-ssl_p2s_cert'",
        "UPDATE global_variables SET variable_value='/pki/proxy-client.key' WHERE variable_name='mysql-ssl_p2s_key'",
        "UPDATE global_variables SET variable_value='ECDHE-ECDSA-AES128-GCM-SHA256' WHERE variable_name='mysql-ssl_p2s_cipher'",
        "UPDATE global_variables SET variable_value='/pki/crl.pem' WHERE variable_name='mysql-ssl_p2s_crl'",
        'LOAD MYSQL VARIABLES TO RUNTIME',
        'SAVE MYSQL VARIABLES TO DISK',
        'UPDATE mysql_servers SET use_ssl=1 WHERE hostgroup_id=10',
        'LOAD MYSQL SERVERS TO RUNTIME',
        'SAVE MYSQL SERVERS TO DISK',
        '-- These frontend users must connect over TLS:',
        "UPDATE mysql_users SET use_ssl=1 WHERE username IN ('app', 'o''brien') AND frontend=1",
        'LOAD MYSQL USERS TO RUNTIME',
        'SAVE MYSQL USERS TO DISK',
        '-- Load the installed frontend files (ProxySQL 2.3.0+; older versions need a restart):',
        'PROXYSQL RELOAD TLS',
      ],
    );
  });
  it('backend CA only applies to every server', () => {
    const out = proxysqlStatements({ frontend, backend: { ca: '/pki/db-ca.pem' } });
    assert.ok(out.includes('UPDATE mysql_servers SET use_ssl=1'));
    assert.ok(!out.some((s) => s.includes('mysql-ssl_p2s_cert')));
  });
  it('after a rotation: install the files, then PROXYSQL RELOAD TLS only', () => {
    assert.deepEqual(proxysqlStatements({ frontend, rotation: true, datadir: '/data/proxysql/' }), [
      FRONTEND_INSTALL[0],
      FRONTEND_INSTALL[1],
      '--   install -m 0644 /pki/ca.pem /data/proxysql/proxysql-ca.pem',
      '--   install -m 0644 /pki/proxy.pem /data/proxysql/proxysql-cert.pem',
      '--   install -m 0600 -o proxysql /pki/proxy.key /data/proxysql/proxysql-key.pem',
      '-- Then load the new files for new connections (open ones keep theirs):',
      'PROXYSQL RELOAD TLS',
    ]);
  });
  it('quotes for SQLite (doubled quotes, literal backslashes) and the shell', () => {
    assert.equal(sqliteString("a'b\\c"), "'a''b\\c'");
    const out = proxysqlStatements({ frontend: { ...frontend, key: "/my keys/it's.key" } });
    assert.equal(
      out[4],
      "--   install -m 0600 -o proxysql '/my keys/it'\\''s.key' /var/lib/proxysql/proxysql-key.pem",
    );
  });
  it('refuses half a backend client certificate and NUL bytes', () => {
    assert.throws(
      () => proxysqlStatements({ frontend, backend: { cert: '/c.pem' } }),
      (e: unknown) => e instanceof DbtlsError && e.code === 'USAGE',
    );
    assert.throws(
      () => sqliteString('a\0b'),
      (e: unknown) => e instanceof DbtlsError && e.code === 'PROXYSQL_VALUE_INVALID',
    );
    // A newline in a path would end the `--` comment line and make the rest a statement (issue 9 item 6).
    for (const bad of ['/k\nDELETE FROM mysql_users', '/k\r', '/k\t', '/k\u001b[2J', '/k\u2028']) {
      assert.throws(
        () => proxysqlStatements({ frontend: { ...frontend, key: bad } }),
        (e: unknown) => e instanceof DbtlsError && e.code === 'PROXYSQL_VALUE_INVALID',
        JSON.stringify(bad),
      );
      assert.throws(
        () => proxysqlStatements({ frontend, users: [`app${bad}`] }),
        (e: unknown) => e instanceof DbtlsError && e.code === 'PROXYSQL_VALUE_INVALID',
      );
    }
  });
});

describe('dbtls proxysql (the CLI prints each statement with its semicolon, comments as they are)', () => {
  it('frontend + backend CA + TLS users', async () => {
    const r = await runCli([
      'proxysql',
      '--frontend-ca',
      '/pki/ca.pem',
      '--frontend-cert',
      '/pki/proxy.pem',
      '--frontend-key',
      '/pki/proxy.key',
      '--backend-ca',
      '/pki/db-ca.pem',
      '--users',
      'app, reporting',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        ...FRONTEND_INSTALL,
        "UPDATE global_variables SET variable_value='true' WHERE variable_name='mysql-have_ssl';",
        '-- Backend TLS (ProxySQL -> servers): default files for every server with use_ssl=1.',
        "UPDATE global_variables SET variable_value='/pki/db-ca.pem' WHERE variable_name='mysql-ssl_p2s_ca';",
        'LOAD MYSQL VARIABLES TO RUNTIME;',
        'SAVE MYSQL VARIABLES TO DISK;',
        'UPDATE mysql_servers SET use_ssl=1;',
        'LOAD MYSQL SERVERS TO RUNTIME;',
        'SAVE MYSQL SERVERS TO DISK;',
        '-- These frontend users must connect over TLS:',
        "UPDATE mysql_users SET use_ssl=1 WHERE username IN ('app', 'reporting') AND frontend=1;",
        'LOAD MYSQL USERS TO RUNTIME;',
        'SAVE MYSQL USERS TO DISK;',
        '-- Load the installed frontend files (ProxySQL 2.3.0+; older versions need a restart):',
        'PROXYSQL RELOAD TLS;',
        '',
      ].join('\n'),
    );
  });
  it('--json is the list of statements; a bad hostgroup or a missing --key is a usage error', async () => {
    // The old spellings (--ca/--cert/--key) work for one release, each with a warning.
    const json = await runCli(['proxysql', '--ca', 'a', '--cert', 'b', '--key', 'c', '--rotation', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).at(-1), 'PROXYSQL RELOAD TLS');
    assert.deepEqual(
      json.stderr.split('\n').filter(Boolean),
      ['ca', 'cert', 'key'].map(
        (f) =>
          `warning: --${f} is now --frontend-${f} in \`dbtls proxysql\`; the old name goes in the next release`,
      ),
    );
    const hostgroup = await runCli([
      'proxysql',
      '--ca',
      'a',
      '--cert',
      'b',
      '--key',
      'c',
      '--hostgroup',
      '1x',
    ]);
    assert.equal(hostgroup.code, 2);
    assert.match(
      hostgroup.stderr,
      /^error\[USAGE\]: could not parse --hostgroup 1x: expected a whole number$/m,
    );
    const noKey = await runCli(['proxysql', '--frontend-ca', 'a', '--frontend-cert', 'b']);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /^error\[USAGE\]: could not run the command: --frontend-key is required$/m);
  });
});
