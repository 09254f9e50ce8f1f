/**
 * readIndex keeps what it parsed and, while the index only grows, parses just the lines appended since
 * (src/ca/store.ts). Every other change to the file must be seen exactly as a first read would see it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { appendIndex, type IndexEntry, readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import { type Ca, caPath } from '../../../src/ca/store.js';
import { isDbtlsError } from '../../../src/errors.js';

let dir: string;
let ca: Ca;
let first: IndexEntry;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-index-read-'));
  ca = initCa(path.join(dir, 'ca'), { passphrase: undefined });
  first = issueCertificate(ca, { profile: 'client', cn: 'index_a' }).entry;
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const file = () => caPath(ca.dir, 'index');
/** What a process that never read this index would parse: each non-blank line as JSON. */
const fresh = (): unknown[] =>
  fs
    .readFileSync(file(), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
const entry = (serial: string, cn: string): IndexEntry => ({ ...first, serial, cn });

describe('readIndex: incremental reads equal a first read', () => {
  test('lines appended after a read are returned by the next read, after the ones read before', () => {
    const before = readIndex(ca.dir);
    appendIndex(ca.dir, [entry('7a01', 'index_b'), entry('7a02', 'index_c')]);
    const now = readIndex(ca.dir);
    assert.deepEqual(
      now.map((e) => e.serial),
      [...before.map((e) => e.serial), '7a01', '7a02'],
    );
    assert.deepEqual(now, fresh());
  });

  test('a rewrite of bytes already read (same size) is read whole again', () => {
    readIndex(ca.dir);
    const text = fs.readFileSync(file(), 'utf8');
    assert.ok(text.includes('"cn":"index_b"'));
    fs.writeFileSync(file(), text.replace('"cn":"index_b"', '"cn":"index_x"')); // same length, same inode
    const now = readIndex(ca.dir);
    assert.equal(now.find((e) => e.serial === '7a01')?.cn, 'index_x');
    assert.deepEqual(now, fresh());
  });

  test('a shorter file (lines removed) is read whole again', () => {
    readIndex(ca.dir);
    const lines = fs.readFileSync(file(), 'utf8').split('\n');
    fs.writeFileSync(file(), `${lines.slice(0, 1).join('\n')}\n`);
    assert.deepEqual(
      readIndex(ca.dir).map((e) => e.serial),
      [first.serial],
    );
  });

  test('a torn last line is left out, then read once an append has completed it or cut it off', () => {
    readIndex(ca.dir);
    const torn = JSON.stringify(entry('7a03', 'index_torn'));
    fs.appendFileSync(file(), torn.slice(0, 40));
    assert.deepEqual(
      readIndex(ca.dir).map((e) => e.serial),
      [first.serial],
    );
    appendIndex(ca.dir, [entry('7a04', 'index_d')]); // cuts the torn line off (it is not JSON)
    assert.deepEqual(
      readIndex(ca.dir).map((e) => e.serial),
      [first.serial, '7a04'],
    );
    fs.appendFileSync(file(), torn); // a whole line without its newline: JSON, so it is an entry
    assert.deepEqual(
      readIndex(ca.dir).map((e) => e.serial),
      [first.serial, '7a04', '7a03'],
    );
    appendIndex(ca.dir, [entry('7a05', 'index_e')]); // ends that line first
    assert.deepEqual(
      readIndex(ca.dir).map((e) => e.serial),
      [first.serial, '7a04', '7a03', '7a05'],
    );
    assert.deepEqual(readIndex(ca.dir), fresh());
  });

  test('a line that is not JSON is named by its number in the whole file, also when only new lines are parsed', () => {
    const lines = readIndex(ca.dir).length; // one line per entry in this index
    fs.appendFileSync(file(), 'not json\n{"serial":"7a06"}\n');
    assert.throws(
      () => readIndex(ca.dir),
      (err: unknown) =>
        isDbtlsError(err) &&
        err.code === 'CA_CORRUPT' &&
        err.message.endsWith(`line ${lines + 1} is not JSON`),
    );
  });

  test('a line that is JSON but no entry (null, a number, an array) is CA_CORRUPT, not a crash', () => {
    for (const odd of ['null', '42', '[]']) {
      fs.writeFileSync(file(), `${JSON.stringify(first)}\n${odd}\n${JSON.stringify(first)}\n`);
      assert.throws(
        () => readIndex(ca.dir),
        (err: unknown) =>
          isDbtlsError(err) &&
          err.code === 'CA_CORRUPT' &&
          err.message.endsWith('line 2 is not an index entry'),
        odd,
      );
    }
  });

  test('entries are shared read-only: changing one throws instead of changing the next read', () => {
    fs.writeFileSync(file(), `${JSON.stringify(first)}\n`);
    const [e] = readIndex(ca.dir);
    assert.throws(() => {
      (e as { status: string }).status = 'revoked';
    }, TypeError);
    assert.throws(() => (e!.dnsNames as string[]).push('x'), TypeError);
    assert.equal(readIndex(ca.dir)[0]!.status, 'valid');
  });

  test('another CA read in between does not confuse the two', () => {
    const other = initCa(path.join(dir, 'other'), { passphrase: undefined });
    issueCertificate(other, { profile: 'client', cn: 'other_a' });
    assert.deepEqual(
      readIndex(other.dir).map((e) => e.cn),
      ['other_a'],
    );
    assert.deepEqual(
      readIndex(ca.dir).map((e) => e.cn),
      [first.cn],
    );
  });
});
