import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDbtlsError } from '../../../src/errors.js';
import {
  type FleetEntry,
  inspectFleet,
  parseTargetList,
  summarizeFleet,
} from '../../../src/inspect/fleet.js';
import type { Finding, InspectReport, Severity } from '../../../src/inspect/report.js';

describe('parseTargetList', () => {
  const table: [string, string, [number, string][]][] = [
    [
      'one per line',
      'db1\ndb2:3307\n',
      [
        [1, 'db1'],
        [2, 'db2:3307'],
      ],
    ],
    ['blank lines and whole-line comments', '# fleet\n\n  \ndb1\n   # old: db9\n', [[4, 'db1']]],
    [
      'a comment after the target',
      'db1:3306   # primary\ndb2\t# replica\n',
      [
        [1, 'db1:3306'],
        [2, 'db2'],
      ],
    ],
    [
      'CRLF line ends',
      'db1\r\ndb2\r\n',
      [
        [1, 'db1'],
        [2, 'db2'],
      ],
    ],
    [
      'indentation',
      '   db1  \n\tdb2\n',
      [
        [1, 'db1'],
        [2, 'db2'],
      ],
    ],
    [
      'a # inside a word is not a comment',
      'mysql://app@db1/x?ssl-ca=/etc/ca#1.pem\n',
      [[1, 'mysql://app@db1/x?ssl-ca=/etc/ca#1.pem']],
    ],
    [
      'DSNs and IPv6',
      'mysql://app@db1:3306/shop?ssl-mode=verify-ca\n[::1]:3306\n',
      [
        [1, 'mysql://app@db1:3306/shop?ssl-mode=verify-ca'],
        [2, '[::1]:3306'],
      ],
    ],
    ['nothing at all', '', []],
    ['only comments', '# a\n#b\n', []],
    ['no final newline', 'db1', [[1, 'db1']]],
  ];
  for (const [name, text, expected] of table) {
    it(name, () => {
      assert.deepEqual(
        parseTargetList(text, 'f.txt'),
        expected.map(([line, target]) => ({ line, text: target })),
      );
    });
  }

  it('refuses two words on a line, naming the line but never echoing it', () => {
    assert.throws(
      () => parseTargetList('db1\nmysql://u:hunter2@db2 db3\n', 'fleet.txt'),
      (err) => {
        assert.ok(isDbtlsError(err));
        assert.equal(err.code, 'TARGETS_INVALID');
        assert.equal(err.message, 'could not read the targets in fleet.txt: line 2 holds more than one word');
        assert.equal(err.exitCode, 2);
        assert.ok(!err.message.includes('hunter2'));
        return true;
      },
    );
  });
});

function report(target: string, severities: Severity[]): InspectReport {
  const findings: Finding[] = severities.map((severity, i) => ({
    id: `f${i}`,
    severity,
    message: 'm',
    fix: 'f',
  }));
  return {
    target,
    inspectedAt: '2026-01-01T00:00:00.000Z',
    server: {
      version: '10.11.19-MariaDB',
      flavor: 'mariadb',
      tlsOffered: true,
      authPlugin: '',
      connectionId: 1,
    },
    tls: {
      versions: { 'TLSv1.0': false, 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': true },
      ciphers: [],
      probes: 1,
    },
    certificate: null,
    findings,
  };
}

const failed = (target: string): FleetEntry => ({
  target,
  error: { code: 'CONNECTION_REFUSED', message: 'could not connect', hint: 'h' },
});

describe('summarizeFleet', () => {
  const fleet: FleetEntry[] = [
    report('a:3306', []),
    report('b:3306', ['high', 'info']),
    failed('c:3306'),
    report('d:3306', ['medium']),
    report('e:3306', ['info']),
  ];

  it('counts targets by their worst finding and lists the failing ones in input order', () => {
    assert.deepEqual(summarizeFleet(fleet, 'high'), {
      targets: 5,
      inspected: 4,
      notInspected: 1,
      worstSeverity: 'high',
      byWorstSeverity: { critical: 0, high: 1, medium: 1, low: 0, info: 1, none: 1 },
      failOn: 'high',
      failing: ['b:3306', 'c:3306'],
    });
  });

  it('--fail-on moves only the failing list; a target not inspected fails at every threshold', () => {
    const failing = (failOn: Severity) => summarizeFleet(fleet, failOn).failing;
    assert.deepEqual(failing('critical'), ['c:3306']);
    assert.deepEqual(failing('medium'), ['b:3306', 'c:3306', 'd:3306']);
    assert.deepEqual(failing('info'), ['b:3306', 'c:3306', 'd:3306', 'e:3306']);
  });

  it('an empty fleet, and one without findings', () => {
    assert.deepEqual(summarizeFleet([], 'high'), {
      targets: 0,
      inspected: 0,
      notInspected: 0,
      worstSeverity: null,
      byWorstSeverity: { critical: 0, high: 0, medium: 0, low: 0, info: 0, none: 0 },
      failOn: 'high',
      failing: [],
    });
    assert.equal(summarizeFleet([report('a:1', [])], 'info').worstSeverity, null);
  });
});

describe('inspectFleet input', () => {
  it('refuses a bound below 1, or not whole', async () => {
    for (const concurrency of [0, -1, 1.5]) {
      await assert.rejects(inspectFleet([{ host: 'db', port: 3306 }], { concurrency }), {
        code: 'FLEET_CONCURRENCY_INVALID',
      });
    }
  });

  it('refuses bad options of any target before connecting to any (the hosts here do not exist)', async () => {
    await assert.rejects(
      inspectFleet([
        { host: 'db1.invalid', port: 3306 },
        { host: 'db2.invalid', port: 3306, options: { ca: '/nonexistent/ca.pem' } },
      ]),
      { code: 'FILE_NOT_FOUND' },
    );
    await assert.rejects(
      inspectFleet([{ host: 'db1.invalid', port: 3306 }], {
        inspect: { sslMode: 'disable', credentials: { user: 'app' } },
      }),
      { code: 'SSL_MODE_INVALID' },
    );
  });

  it('a target option left undefined keeps the fleet value', async () => {
    // The fleet's unreadable CA reaches the target although the target lists ca: undefined.
    await assert.rejects(
      inspectFleet([{ host: 'db1.invalid', port: 3306, options: { ca: undefined } }], {
        inspect: { ca: '/nonexistent/fleet-ca.pem' },
      }),
      /fleet-ca\.pem/,
    );
  });

  it('no targets: an empty report', async () => {
    const fleet = await inspectFleet([]);
    assert.deepEqual(fleet.targets, []);
    assert.equal(fleet.summary.targets, 0);
  });
});
