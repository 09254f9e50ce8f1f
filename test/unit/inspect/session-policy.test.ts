/**
 * Issue 9, item 11: whether a server accepts a plaintext login, learnt from its policy over TLS instead of
 * by sending the credentials in clear. The statements are the forms MariaDB 10.11 and MySQL 8 print for
 * SHOW CREATE USER (the password hash is dropped before the REQUIRE clause is read).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { plaintextPolicy, sslTypeOf } from '../../../src/inspect/session.js';

describe('sslTypeOf(SHOW CREATE USER)', () => {
  const cases: [string, ReturnType<typeof sslTypeOf>][] = [
    ["CREATE USER `a`@`%` IDENTIFIED BY PASSWORD '*D821809F681A40A6E379B50D0463EFAE20BDD122'", ''],
    ["CREATE USER `b`@`%` IDENTIFIED BY PASSWORD '*D8218' REQUIRE SSL", 'ANY'],
    ['CREATE USER `c`@`%` REQUIRE X509', 'X509'],
    ["CREATE USER `d`@`%` REQUIRE SUBJECT '/O=x/CN=d' AND ISSUER '/CN=ca'", 'SPECIFIED'],
    ["CREATE USER `e`@`%` REQUIRE ISSUER '/CN=ca'", 'SPECIFIED'],
    [
      "CREATE USER `f`@`%` IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$ REQUIRE X509 x' REQUIRE NONE PASSWORD EXPIRE DEFAULT",
      '',
    ],
    // A quoted hash or name that looks like a clause is not one.
    ["CREATE USER `g REQUIRE SSL`@`%` IDENTIFIED VIA ed25519 USING 'x REQUIRE SSL'", ''],
    ['SELECT 1', undefined],
  ];
  for (const [statement, expected] of cases) {
    it(`${statement.slice(0, 60)} -> ${JSON.stringify(expected)}`, () => {
      assert.equal(sslTypeOf(statement), expected);
    });
  }
});

describe('plaintextPolicy(require_secure_transport, ssl_type)', () => {
  const cases: [string | undefined, ReturnType<typeof sslTypeOf>, boolean | undefined][] = [
    ['OFF', '', false],
    ['ON', '', true],
    ['OFF', 'ANY', true],
    ['OFF', 'X509', true],
    ['OFF', 'SPECIFIED', true],
    ['ON', undefined, true],
    ['OFF', undefined, undefined],
    [undefined, '', undefined],
    [undefined, 'ANY', true],
  ];
  for (const [rst, sslType, refused] of cases) {
    it(`require_secure_transport ${rst ?? '?'}, ssl_type ${JSON.stringify(sslType)} -> refused ${refused}`, () => {
      const check = plaintextPolicy(rst, sslType);
      assert.equal(check.attempted, false);
      assert.equal(check.basis, 'policy');
      assert.equal(check.refused, refused);
    });
  }
});
