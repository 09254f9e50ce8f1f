import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DbtlsError } from '../../../src/errors.js';
import {
  ANY_FLAVOR_TLS_VARIABLES,
  atLeast,
  capabilitiesOf,
  haveSslOf,
  parseServerVersion,
  tlsVariableNames,
} from '../../../src/server/flavor.js';

describe('parseServerVersion', () => {
  const cases: [string, string, number, number, number][] = [
    ['5.5.5-10.11.19-MariaDB-0+deb12u1', 'mariadb', 10, 11, 19],
    ['10.11.6-MariaDB', 'mariadb', 10, 11, 6],
    ['10.3.39-MariaDB-log', 'mariadb', 10, 3, 39],
    ['8.0.36', 'mysql', 8, 0, 36],
    ['8.0.35-27', 'mysql', 8, 0, 35],
    ['8.0.28-log', 'mysql', 8, 0, 28],
    ['5.7.44-0ubuntu0.18.04.1', 'mysql', 5, 7, 44],
    ['8.4.2', 'mysql', 8, 4, 2],
  ];
  for (const [text, flavor, major, minor, patch] of cases) {
    it(text, () => {
      const v = parseServerVersion(text);
      assert.deepEqual([v.flavor, v.major, v.minor, v.patch, v.text], [flavor, major, minor, patch, text]);
    });
  }
  it('takes the greeting flavor as a hint for version strings without the MariaDB suffix', () => {
    assert.equal(parseServerVersion('5.5.5-10.6.1', 'mariadb').major, 10);
  });
  it('refuses garbage with SERVER_VERSION_UNKNOWN', () => {
    assert.throws(
      () => parseServerVersion('ProxySQL'),
      (e: unknown) => e instanceof DbtlsError && e.code === 'SERVER_VERSION_UNKNOWN',
    );
  });
  it('atLeast compares major, minor, patch', () => {
    const v = parseServerVersion('8.0.16');
    assert.equal(atLeast(v, 8, 0, 16), true);
    assert.equal(atLeast(v, 8, 0, 17), false);
    assert.equal(atLeast(v, 5, 7, 99), true);
    assert.equal(atLeast(v, 8, 1), false);
  });
});

describe('serverCapabilities (MySQL rows from the MySQL 8.0 manual, MariaDB from its KB)', () => {
  const table: {
    version: string;
    reload: string | undefined;
    dynamic: boolean;
    rst: boolean;
    where: string;
    tls: string;
  }[] = [
    {
      version: '5.7.7',
      reload: undefined,
      dynamic: false,
      rst: false,
      where: 'mysql.user',
      tls: 'TLSv1,TLSv1.1,TLSv1.2',
    },
    {
      version: '5.7.8',
      reload: undefined,
      dynamic: false,
      rst: true,
      where: 'mysql.user',
      tls: 'TLSv1,TLSv1.1,TLSv1.2',
    },
    {
      version: '8.0.15',
      reload: undefined,
      dynamic: false,
      rst: true,
      where: 'mysql.user',
      tls: 'TLSv1,TLSv1.1,TLSv1.2',
    },
    {
      version: '8.0.16',
      reload: 'ALTER INSTANCE RELOAD TLS',
      dynamic: true,
      rst: true,
      where: 'mysql.user',
      tls: 'TLSv1,TLSv1.1,TLSv1.2,TLSv1.3',
    },
    {
      version: '8.0.27',
      reload: 'ALTER INSTANCE RELOAD TLS',
      dynamic: true,
      rst: true,
      where: 'mysql.user',
      tls: 'TLSv1,TLSv1.1,TLSv1.2,TLSv1.3',
    },
    {
      version: '8.0.28',
      reload: 'ALTER INSTANCE RELOAD TLS',
      dynamic: true,
      rst: true,
      where: 'mysql.user',
      tls: 'TLSv1.2,TLSv1.3',
    },
    {
      version: '8.4.0',
      reload: 'ALTER INSTANCE RELOAD TLS',
      dynamic: true,
      rst: true,
      where: 'mysql.user',
      tls: 'TLSv1.2,TLSv1.3',
    },
    {
      version: '10.3.39-MariaDB',
      reload: undefined,
      dynamic: false,
      rst: false,
      where: 'mysql.user',
      tls: 'TLSv1,TLSv1.1,TLSv1.2,TLSv1.3',
    },
    {
      version: '10.4.0-MariaDB',
      reload: 'FLUSH SSL',
      dynamic: false,
      rst: false,
      where: 'mysql.user',
      tls: 'TLSv1,TLSv1.1,TLSv1.2,TLSv1.3',
    },
    {
      version: '10.4.1-MariaDB',
      reload: 'FLUSH SSL',
      dynamic: false,
      rst: false,
      where: 'mysql.global_priv',
      tls: 'TLSv1,TLSv1.1,TLSv1.2,TLSv1.3',
    },
    {
      version: '10.5.1-MariaDB',
      reload: 'FLUSH SSL',
      dynamic: false,
      rst: false,
      where: 'mysql.global_priv',
      tls: 'TLSv1,TLSv1.1,TLSv1.2,TLSv1.3',
    },
    {
      version: '10.5.2-MariaDB',
      reload: 'FLUSH SSL',
      dynamic: false,
      rst: true,
      where: 'mysql.global_priv',
      tls: 'TLSv1,TLSv1.1,TLSv1.2,TLSv1.3',
    },
    {
      version: '5.5.5-10.11.19-MariaDB-0+deb12u1',
      reload: 'FLUSH SSL',
      dynamic: false,
      rst: true,
      where: 'mysql.global_priv',
      tls: 'TLSv1,TLSv1.1,TLSv1.2,TLSv1.3',
    },
  ];
  for (const row of table) {
    it(row.version, () => {
      const c = capabilitiesOf(row.version);
      assert.equal(c.reloadStatement, row.reload);
      assert.equal(c.sslVariablesDynamic, row.dynamic);
      assert.equal(c.tlsVersionDynamic, row.dynamic);
      assert.equal(c.requireSecureTransport, row.rst);
      assert.equal(c.requirementsIn, row.where);
      assert.equal(c.tlsVersions.join(','), row.tls);
      assert.equal(c.checksClientEku, c.version.flavor === 'mysql');
      assert.ok(Object.isFrozen(c));
    });
  }
  it('tls_version exists from MySQL 5.7.10 and MariaDB 10.4.6', () => {
    assert.equal(capabilitiesOf('5.7.9').tlsVersionVariable, false);
    assert.equal(capabilitiesOf('5.7.10').tlsVersionVariable, true);
    assert.equal(capabilitiesOf('10.4.5-MariaDB').tlsVersionVariable, false);
    assert.equal(capabilitiesOf('10.4.6-MariaDB').tlsVersionVariable, true);
  });
});

describe('have_ssl is read through flavor.ts alone (MySQL 8.4 has none: issue 11 item 7)', () => {
  it("haveSslOf: the server's value where it tells liveness by it, 'unknown' elsewhere", () => {
    const vars = new Map([['have_ssl', 'DISABLED']]);
    assert.deepEqual(
      ['10.11.19-MariaDB', '8.0.20', '8.4.2'].map((v) => haveSslOf(capabilitiesOf(v), vars)),
      ['DISABLED', 'DISABLED', 'unknown'],
    );
    assert.equal(haveSslOf(capabilitiesOf('10.11.19-MariaDB'), new Map()), 'unknown');
  });

  it("the inspector's names, asked before the version is known, cover every flavor's", () => {
    for (const v of ['10.11.19-MariaDB', '10.3.39-MariaDB', '8.0.20', '8.4.2', '5.7.9']) {
      const missing = tlsVariableNames(capabilitiesOf(v)).filter(
        (n) => !ANY_FLAVOR_TLS_VARIABLES.includes(n),
      );
      assert.deepEqual(missing, [], v);
    }
  });
});
