import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DbtlsError } from '../../../src/errors.js';
import { alterRequireStatement } from '../../../src/server/accounts/require.js';
import {
  countRequirements,
  describeRequirement,
  isRemoteHost,
  parseAccount,
  requireClause,
  requirementFromColumns,
  requirementFromPriv,
  sameRequirement,
} from '../../../src/server/accounts/users.js';
import { accountSql, quoteString, splitCurrentUser } from '../../../src/server/admin/sql.js';

const code = (c: string) => (e: unknown) => e instanceof DbtlsError && e.code === c;

describe('quoteString', () => {
  const cases: [string, string][] = [
    ['', "''"],
    ['app', "'app'"],
    ["o'brien", "'o''brien'"],
    ['back\\slash', "'back\\\\slash'"],
    ["\\'", "'\\\\'''"],
    ['a\nb\rc\0d\x1ae', "'a\\nb\\rc\\0d\\Ze'"],
    ['/C=DE/O=Ä Org/CN=x', "'/C=DE/O=Ä Org/CN=x'"],
  ];
  for (const [input, expected] of cases) {
    it(JSON.stringify(input), () => assert.equal(quoteString(input), expected));
  }
  it('accountSql quotes both parts', () => {
    assert.equal(accountSql({ user: "a'b", host: '10.0.0.%' }), "'a''b'@'10.0.0.%'");
  });
});

describe('parseAccount', () => {
  const cases: [string, string, string][] = [
    ["'app'@'%'", 'app', '%'],
    ['app@%', 'app', '%'],
    ['app', 'app', '%'],
    ['"app"@"10.0.0.%"', 'app', '10.0.0.%'],
    ['`app`@`localhost`', 'app', 'localhost'],
    ["'it''s'@'h'", "it's", 'h'],
    ["'a@b'@localhost", 'a@b', 'localhost'],
    ["'app'@'::1'", 'app', '::1'],
    [' app@localhost ', 'app', 'localhost'],
  ];
  for (const [text, user, host] of cases) {
    it(text, () => assert.deepEqual(parseAccount(text), { user, host }));
  }
  for (const bad of ['', "'app", 'app@', "'app'x", "'a'@'b'@'c'", "''@'%'"]) {
    it(`refuses ${JSON.stringify(bad)} with ACCOUNT_INVALID`, () =>
      assert.throws(() => parseAccount(bad), code('ACCOUNT_INVALID')));
  }
  it('CURRENT_USER() splits at the last @', () => {
    assert.deepEqual(splitCurrentUser('a@b@%'), { user: 'a@b', host: '%' });
  });
});

describe('requirements', () => {
  it('reads every MariaDB global_priv ssl_type (captured from 10.11)', () => {
    assert.deepEqual(requirementFromPriv('{"access":0}'), { type: 'NONE' });
    assert.deepEqual(
      requirementFromPriv({ ssl_type: 0, ssl_cipher: '', x509_issuer: '', x509_subject: '' }),
      { type: 'NONE' },
    );
    assert.deepEqual(requirementFromPriv('{"ssl_type":1,"ssl_cipher":""}'), { type: 'SSL' });
    assert.deepEqual(requirementFromPriv('{"ssl_type":2}'), { type: 'X509' });
    assert.deepEqual(
      requirementFromPriv(
        '{"ssl_type":3,"ssl_cipher":"AES","x509_issuer":"/CN=ca","x509_subject":"/CN=x\'y"}',
      ),
      { type: 'SPECIFIED', subject: "/CN=x'y", issuer: '/CN=ca', cipher: 'AES' },
    );
    assert.deepEqual(requirementFromPriv(Buffer.from('{"ssl_type":3,"x509_subject":"/CN=a"}')), {
      type: 'SPECIFIED',
      subject: '/CN=a',
    });
  });
  it('refuses invalid JSON with PRIV_MALFORMED', () => {
    assert.throws(() => requirementFromPriv('{'), code('PRIV_MALFORMED'));
  });
  it('reads mysql.user columns', () => {
    assert.deepEqual(requirementFromColumns('', '', '', ''), { type: 'NONE' });
    assert.deepEqual(requirementFromColumns('ANY', '', '', ''), { type: 'SSL' });
    assert.deepEqual(requirementFromColumns('X509', '', '', ''), { type: 'X509' });
    assert.deepEqual(requirementFromColumns('SPECIFIED', '/CN=a', '', ''), {
      type: 'SPECIFIED',
      subject: '/CN=a',
    });
  });
  it('writes REQUIRE clauses', () => {
    assert.equal(requireClause({ type: 'NONE' }), 'REQUIRE NONE');
    assert.equal(requireClause({ type: 'SSL' }), 'REQUIRE SSL');
    assert.equal(requireClause({ type: 'X509' }), 'REQUIRE X509');
    assert.equal(
      requireClause({
        type: 'SPECIFIED',
        subject: "/O=it's/CN=app",
        issuer: '/CN=ca',
        cipher: 'TLS_AES_256_GCM_SHA384',
      }),
      "REQUIRE SUBJECT '/O=it''s/CN=app' AND ISSUER '/CN=ca' AND CIPHER 'TLS_AES_256_GCM_SHA384'",
    );
    assert.equal(requireClause({ type: 'SPECIFIED' }), 'REQUIRE NONE');
    assert.equal(
      alterRequireStatement({ user: 'app', host: '%' }, { type: 'X509' }),
      "ALTER USER 'app'@'%' REQUIRE X509",
    );
  });
  it('describes and compares', () => {
    assert.equal(describeRequirement({ type: 'NONE' }), 'none');
    assert.equal(describeRequirement({ type: 'SPECIFIED', issuer: '/CN=ca' }), "ISSUER '/CN=ca'");
    assert.equal(sameRequirement({ type: 'SSL' }, { type: 'SSL' }), true);
    assert.equal(
      sameRequirement({ type: 'SPECIFIED', subject: '/CN=a' }, { type: 'SPECIFIED', subject: '/CN=b' }),
      false,
    );
  });
  it('counts accounts and flags remote ones without a requirement', () => {
    assert.equal(isRemoteHost('%'), true);
    assert.equal(isRemoteHost('LOCALHOST'), false);
    assert.equal(isRemoteHost('::1'), false);
    const base = { remote: true, locked: false, plugin: 'mysql_native_password' };
    const counts = countRequirements([
      { user: 'a', host: '%', requirement: { type: 'NONE' }, ...base },
      { user: 'b', host: '%', requirement: { type: 'NONE' }, ...base, locked: true },
      { user: 'c', host: 'localhost', requirement: { type: 'NONE' }, ...base, remote: false },
      { user: 'd', host: '%', requirement: { type: 'SSL' }, ...base },
      { user: 'e', host: '%', requirement: { type: 'X509' }, ...base },
      { user: 'f', host: '%', requirement: { type: 'SPECIFIED', subject: '/CN=f' }, ...base },
    ]);
    assert.deepEqual(counts, { none: 3, ssl: 1, x509: 1, specified: 1, remoteNone: 1 });
  });
});
