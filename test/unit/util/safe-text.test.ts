import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  dsnSecrets,
  hasControlCharacter,
  masked,
  oneLine,
  peerText,
  printable,
  redactDsnPasswords,
  redactSecrets,
} from '../../../src/util/safe-text.js';

describe('printable', () => {
  const cases: [string, string, string][] = [
    ['ESC sequences', '10.11\x1b[2J\x1b]0;t\x07', '10.11\\x1b[2J\\x1b]0;t\\x07'],
    ['CR, DEL and C1', 'a\rb\x7fc\x9bd', 'a\\x0db\\x7fc\\x9bd'],
    ['bidi override and zero-width space', 'x\u202ey\u200bz', 'x\\u{202e}y\\u{200b}z'],
    [
      'isolates, Arabic letter mark, BOM',
      '\u2066a\u2069\u061c\ufeff',
      '\\u{2066}a\\u{2069}\\u{61c}\\u{feff}',
    ],
    ['line and paragraph separators', 'a\u2028b\u2029c', 'a\\u{2028}b\\u{2029}c'],
    [
      'word joiner, invisible operators, deprecated format',
      'a\u2060b\u2064c\u206ad',
      'a\\u{2060}b\\u{2064}c\\u{206a}d',
    ],
    ['newline and tab, one-line', 'a\nb\tc', 'a\\x0ab\\x09c'],
    ['plain text, accents kept', 'MariaDB ÄÖ 10.11', 'MariaDB ÄÖ 10.11'],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => assert.equal(printable(input), expected));
  }
  it('keeps newlines and tabs when asked, still escapes the rest', () => {
    assert.equal(printable('a\nb\tc\x1b', { keepLines: true }), 'a\nb\tc\\x1b');
  });
  it('keeps lines but still escapes the separators a viewer could break on', () => {
    assert.equal(printable('a\nb\u2028', { keepLines: true }), 'a\nb\\u{2028}');
  });
  it('oneLine escapes newlines and tabs too; masked puts ? for each unsafe character', () => {
    assert.equal(oneLine('a\nb\tc\u202e'), 'a\\x0ab\\x09c\\u{202e}');
    assert.equal(masked('a\x1b[2J\u202e\u2060\nb'), 'a?[2J???b');
    assert.equal(hasControlCharacter('alias\u2066'), true);
    assert.equal(hasControlCharacter('alias-ÄÖ'), false);
  });
  it('peerText bounds the length', () => {
    assert.equal(peerText('x'.repeat(400)).length, 301);
  });
});

describe('DSN passwords', () => {
  const cases: [string, string][] = [
    ['mysql://u:secret@h:3306/db', 'mysql://u:***@h:3306/db'],
    ['could not read "mariadb://u:p@ss@h": bad', 'could not read "mariadb://u:***@h": bad'],
    ['mysql://u:a/b@h', 'mysql://u:***@h'],
    ['mysql://:pw@h', 'mysql://:***@h'],
    ['mysql://u@h:3306', 'mysql://u@h:3306'],
    ['two: mysql://a:x@h and mysql://b:y@k', 'two: mysql://a:***@h and mysql://b:***@k'],
  ];
  for (const [input, expected] of cases) {
    it(`redacts ${input}`, () => assert.equal(redactDsnPasswords(input), expected));
  }
  it('collects the passwords of argv DSNs, raw, decoded, encoded and JSON-escaped', () => {
    const secrets = dsnSecrets(['connect', 'mysql://u:s%65c"r@h', '--json']);
    assert.ok(secrets.includes('s%65c"r'));
    assert.ok(secrets.includes('sec"r'));
    assert.ok(secrets.includes('s%65c\\"r'));
    assert.equal(redactSecrets('echo sec"r and s%65c\\"r', secrets), 'echo *** and ***');
    assert.deepEqual(dsnSecrets(['inspect', 'mysql://u@h', 'h:3306']), []);
  });
});
