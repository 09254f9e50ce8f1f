/**
 * The privilege preflight, table-driven over SHOW GRANTS lines as MariaDB 10.11 prints them (captured) and
 * as the MySQL 8.0/8.4 manual shows them (static privileges on one line, dynamic ones on another).
 */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  grantStatements,
  missingPrivileges,
  parseGrants,
  privilegeNeeds,
} from '../../../src/server/admin/preflight.js';
import { capabilitiesOf } from '../../../src/server/flavor.js';

const mariadb = capabilitiesOf('10.11.19-MariaDB-0+deb12u1');
const mysql84 = capabilitiesOf('8.4.2');
const missing = (caps: typeof mariadb, op: Parameters<typeof privilegeNeeds>[1], lines: string[]) =>
  missingPrivileges(parseGrants(lines), privilegeNeeds(caps, op)).map((m) => `${m.privilege} ON ${m.on}`);

describe('privilege preflight', () => {
  const cases: [string, typeof mariadb, Parameters<typeof privilegeNeeds>[1], string[], string[]][] = [
    [
      'MariaDB root: ALL PRIVILEGES covers everything',
      mariadb,
      'secure',
      [
        "GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED VIA mysql_native_password USING 'invalid' OR unix_socket WITH GRANT OPTION",
        "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION",
      ],
      [],
    ],
    [
      'MariaDB operator with SELECT on mysql.* only: rotate lacks RELOAD',
      mariadb,
      'rotate',
      [
        "GRANT USAGE ON *.* TO `ops`@`%` IDENTIFIED BY PASSWORD '*5CB4DA8D1C3C0C7D2F3F0C4F2EE5C8B3F0B0E7F1'",
        'GRANT SELECT ON `mysql`.* TO `ops`@`%`',
      ],
      ['RELOAD ON *.*'],
    ],
    [
      'MariaDB: a table grant on mysql.global_priv reads accounts; CREATE USER is still missing for require',
      mariadb,
      'require',
      ['GRANT RELOAD ON *.* TO `ops`@`%`', 'GRANT SELECT ON `mysql`.`global_priv` TO `ops`@`%`'],
      ['CREATE USER ON *.*'],
    ],
    [
      'MariaDB: a column grant does not read the whole table',
      mariadb,
      'users',
      [
        'GRANT USAGE ON *.* TO `ops`@`%`',
        'GRANT SELECT (`User`, `Host`) ON `mysql`.`global_priv` TO `ops`@`%`',
      ],
      ['SELECT ON mysql.global_priv'],
    ],
    [
      'MariaDB: a grant on another database does not count',
      mariadb,
      'users',
      ['GRANT ALL PRIVILEGES ON `app`.* TO `ops`@`%`'],
      ['SELECT ON mysql.global_priv'],
    ],
    [
      'MySQL 8.4: ALTER INSTANCE RELOAD TLS needs CONNECTION_ADMIN, a dynamic privilege on its own line',
      mysql84,
      'rotate',
      [
        'GRANT RELOAD, PROCESS ON *.* TO `ops`@`%`',
        'GRANT BACKUP_ADMIN,SYSTEM_VARIABLES_ADMIN ON *.* TO `ops`@`%`',
      ],
      ['CONNECTION_ADMIN ON *.*'],
    ],
    [
      'MySQL 8.4: CONNECTION_ADMIN granted',
      mysql84,
      'enable',
      [
        'GRANT USAGE ON *.* TO `ops`@`%`',
        'GRANT CONNECTION_ADMIN,SYSTEM_VARIABLES_ADMIN ON *.* TO `ops`@`%`',
      ],
      [],
    ],
    [
      'MySQL: deprecated SUPER still grants CONNECTION_ADMIN and SYSTEM_VARIABLES_ADMIN',
      capabilitiesOf('8.0.36'),
      'secure',
      ['GRANT SELECT, RELOAD, CREATE USER, SUPER ON *.* TO `ops`@`%`'],
      [],
    ],
    [
      'MySQL: requirements are read from mysql.user',
      mysql84,
      'require',
      ['GRANT SELECT ON `mysql`.`global_priv` TO `ops`@`%`'],
      ['SELECT ON mysql.user', 'CREATE USER ON *.*'],
    ],
  ];
  for (const [name, caps, op, lines, expected] of cases) {
    it(name, () => assert.deepEqual(missing(caps, op, lines), expected));
  }

  it('a run that leaves require_secure_transport alone needs no SUPER / SYSTEM_VARIABLES_ADMIN', () => {
    const grants = parseGrants([
      'GRANT RELOAD, CREATE USER ON *.* TO `ops`@`%`',
      'GRANT SELECT ON `mysql`.`global_priv` TO `ops`@`%`',
    ]);
    assert.deepEqual(missingPrivileges(grants, privilegeNeeds(mariadb, 'secure', { setsGlobal: false })), []);
    assert.deepEqual(missingPrivileges(grants, privilegeNeeds(mariadb, 'enable', { setsGlobal: false })), []);
    assert.deepEqual(
      missingPrivileges(grants, privilegeNeeds(mariadb, 'secure')).map((m) => m.privilege),
      ['SUPER'],
    );
  });

  it('MySQL 8.0.16+ enable persists ssl_* (SET PERSIST): SYSTEM_VARIABLES_ADMIN even without require_secure_transport', () => {
    const grants = parseGrants([
      'GRANT USAGE ON *.* TO `ops`@`%`',
      'GRANT CONNECTION_ADMIN ON *.* TO `ops`@`%`',
    ]);
    for (const caps of [mysql84, capabilitiesOf('8.0.16')]) {
      const lacking = missingPrivileges(grants, privilegeNeeds(caps, 'enable', { setsGlobal: false }));
      assert.deepEqual(
        lacking.map((m) => [m.privilege, m.why]),
        [['SYSTEM_VARIABLES_ADMIN', 'SET PERSIST ssl_*']],
      );
    }
    // Before 8.0.16 the ssl_* are read-only (a restart, no SET PERSIST): the reload privilege alone.
    assert.deepEqual(
      privilegeNeeds(capabilitiesOf('8.0.15'), 'enable', { setsGlobal: false }).map((n) => n.privilege),
      [capabilitiesOf('8.0.15').reloadPrivilege],
    );
    // A plan that persists nothing (the paths are already the server's: the reload alone) needs no more.
    assert.deepEqual(
      privilegeNeeds(mysql84, 'enable', { setsGlobal: false, persists: false }).map((n) => n.privilege),
      ['CONNECTION_ADMIN'],
    );
    // With require_secure_transport too, SYSTEM_VARIABLES_ADMIN is asked for once.
    assert.deepEqual(
      privilegeNeeds(mysql84, 'secure').map((n) => n.privilege),
      ['CONNECTION_ADMIN', 'SELECT', 'CREATE USER', 'SYSTEM_VARIABLES_ADMIN'],
    );
  });

  it('one GRANT statement per object, with the account quoted', () => {
    const needs = privilegeNeeds(mariadb, 'secure');
    assert.deepEqual(grantStatements(needs, { user: "o'ps", host: '%' }), [
      "GRANT RELOAD, CREATE USER, SUPER ON *.* TO 'o''ps'@'%'",
      "GRANT SELECT ON mysql.global_priv TO 'o''ps'@'%'",
    ]);
  });
});
