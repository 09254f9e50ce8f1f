/**
 * One host[:port] grammar and one spelling back (issue 11): parseHostPort reads what the snippets and the
 * exporter's probe requests name, address() writes every host:port in messages, URLs and DSNs, and
 * isLoopback is the one answer to "is this host this machine".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DbtlsError } from '../../../src/errors.js';
import { address, isLoopback, parseHostPort } from '../../../src/tls/dsn.js';
import { parseAdminTarget } from '../../../src/tls/settings.js';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DbtlsError, String(err));
    return `${err.code}: ${err.message}`;
  }
  return 'no error';
}

describe('parseHostPort', () => {
  const read: [string, { host: string; port: number }][] = [
    ['db.example.com', { host: 'db.example.com', port: 3306 }],
    ['10.0.0.5:3307', { host: '10.0.0.5', port: 3307 }],
    ['[::1]:3308', { host: '::1', port: 3308 }],
    ['[::1]', { host: '::1', port: 3306 }],
    ['::1', { host: '::1', port: 3306 }],
    ['db_1:03306', { host: 'db_1', port: 3306 }],
  ];
  for (const [text, want] of read) {
    it(`reads ${text}`, () => assert.deepEqual(parseHostPort(text), want));
  }

  const refused: [string, string][] = [
    ['db:x', 'TARGET_INVALID: could not read the target "db:x": port "x" is not 1-65535'],
    ['db:0', 'TARGET_INVALID: could not read the target "db:0": port "0" is not 1-65535'],
    ['[::1]:65536', 'TARGET_INVALID: could not read the target "[::1]:65536": port "65536" is not 1-65535'],
    ['db:', 'TARGET_INVALID: could not read the target "db:": expected host[:port]'],
    ['a:b:c', 'TARGET_INVALID: could not read the target "a:b:c": expected host[:port]'],
    ['', 'TARGET_INVALID: could not read the target "": expected host[:port]'],
    // No host holds a blank or a control character: refused before the resolver sees it.
    ['db x:3306', 'TARGET_INVALID: could not read the target "db x:3306": expected host[:port]'],
    ['db\t1', 'TARGET_INVALID: could not read the target "db\\t1": expected host[:port]'],
    [
      'db\u001b[2J.example',
      'TARGET_INVALID: could not read the target "db\\u001b[2J.example": expected host[:port]',
    ],
    ['[::1\n]:3306', 'TARGET_INVALID: could not read the target "[::1\\n]:3306": expected host[:port]'],
    ['db\u202e1', 'TARGET_INVALID: could not read the target "db\\u{202e}1": expected host[:port]'],
    [
      'mysql://u:secret@db',
      'TARGET_INVALID: could not read the target "mysql://u:***@db": expected host[:port]',
    ],
  ];
  for (const [text, want] of refused) {
    it(`refuses ${JSON.stringify(text)}`, () =>
      assert.equal(
        refusal(() => parseHostPort(text)),
        want,
      ));
  }

  /** A caller's own words, as the exporter's probe request has them. */
  const rules = {
    form: () => new DbtlsError('TARGET_INVALID', 'form'),
    port: (port: string) => new DbtlsError('TARGET_INVALID', `port ${port}`),
  };

  it('words a refusal in the caller voice, with the port as written', () => {
    assert.equal(
      refusal(() => parseHostPort('db:70000', rules)),
      'TARGET_INVALID: port 70000',
    );
    assert.equal(
      refusal(() => parseHostPort('mysql://db', rules)),
      'TARGET_INVALID: form',
    );
    assert.equal(
      refusal(() => parseHostPort('a:b:c', rules)),
      'TARGET_INVALID: form',
    );
  });

  it('strict (text from the network): only DNS characters or a bracketed IPv6 address', () => {
    const strict = { ...rules, strict: true };
    assert.deepEqual(parseHostPort('[::1]:3307', strict), { host: '::1', port: 3307 });
    assert.deepEqual(parseHostPort('db-1.example.com', strict), { host: 'db-1.example.com', port: 3306 });
    for (const text of ['::1', '::1:3306', 'db!1', 'a/b', '[db]:3306']) {
      assert.notEqual(parseHostPort(text).host, '', `${text}: read without strict`);
      assert.equal(
        refusal(() => parseHostPort(text, strict)),
        'TARGET_INVALID: form',
        text,
      );
    }
  });
});

describe('address', () => {
  const table: [string, number | string, string][] = [
    ['db.example.com', 3306, 'db.example.com:3306'],
    ['10.0.0.5', 3307, '10.0.0.5:3307'],
    ['::1', 3306, '[::1]:3306'],
    ['fe80::1%eth0', '3306', '[fe80::1%eth0]:3306'],
  ];
  for (const [host, port, want] of table) {
    it(`${host} ${port} -> ${want}`, () => assert.equal(address(host, port), want));
  }

  it('an IPv6 admin target reads [::1]:3306 in its message, not ::1:3306', () => {
    assert.equal(
      refusal(() => parseAdminTarget('[::1]', { mode: 'verify-full' }, {})),
      'TLS_CA_REQUIRED: could not connect to [::1]:3306 with ssl-mode verify-full: no CA certificate given',
    );
  });
});

describe('isLoopback', () => {
  const table: [string, boolean][] = [
    ['localhost', true],
    ['LocalHost', true],
    ['127.0.0.1', true],
    ['127.9.9.9', true],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['128.0.0.1', false],
    ['10.0.0.1', false],
    ['::', false],
    ['::ffff:10.0.0.1', false],
    ['0.0.0.0', false],
    ['db.example.com', false],
    ['localhost.example.com', false],
    ['[::1]', false],
  ];
  for (const [host, want] of table) {
    it(`${host}: ${want}`, () => assert.equal(isLoopback(host), want));
  }
});
