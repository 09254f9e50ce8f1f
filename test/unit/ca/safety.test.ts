/**
 * The pieces behind the CA's safety off the happy path (issue 10 items 3, 4, 5): directory names from
 * CNs, passphrases over OpenSSL's 1,024 bytes, the repair of a half CA, and the journal's settlement of
 * an issuance that a torn index append half-recorded.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { appendIndex, readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import { beginJournal, recoverJournal, stagingFor } from '../../../src/ca/journal.js';
import { dirNameFor } from '../../../src/ca/leaf-files.js';
import { revoke } from '../../../src/ca/revoke.js';
import { caExists, INIT_MARKER } from '../../../src/ca/store.js';
import { readPrivateKey } from '../../../src/pki/keys.js';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-ca-safety-unit-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('dirNameFor: a CN is never a path', () => {
  const table: [cn: string, expected: string][] = [
    ['app_user', 'app_user'],
    ['db1.example.com', 'db1.example.com'],
    ['../../x', 'x'],
    ['/abs', 'abs'],
    ['/CN=x/O=evil', 'CN_x_O_evil'],
    ['..hidden', 'hidden'],
    ['.', 'client'],
    ['..', 'client'],
    ['-rf', 'rf'],
    ['a\nb\x1b[31m', 'a_b_31m'],
    ['C:\\Windows', 'C_Windows'],
    ['josé', 'josé'],
    ['x'.repeat(80), 'x'.repeat(64)],
  ];
  for (const [cn, expected] of table) {
    test(JSON.stringify(cn), () => assert.equal(dirNameFor(cn, 'client'), expected));
  }
});

describe('passphrases over 1,024 bytes', () => {
  test('initCa refuses before creating anything', () => {
    const target = path.join(dir, 'long');
    assert.throws(() => initCa(target, { passphrase: 'p'.repeat(1025) }), {
      code: 'PASSPHRASE_TOO_LONG',
      message: /1025 bytes, more than the 1024 OpenSSL uses/,
    });
    assert.equal(fs.existsSync(target), false);
  });

  test('a key an older dbtls encrypted with a long passphrase still opens with it (its first 1,024 bytes)', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const long = `${'q'.repeat(1024)}tail beyond OpenSSL's buffer`;
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: long });
    assert.equal(readPrivateKey(pem, long).asymmetricKeyType, 'ec');
    assert.throws(() => readPrivateKey(pem, `x${long}`), { code: 'KEY_PASSPHRASE_WRONG' });
  });
});

test('a half CA (marker present) is no CA, and initCa repairs it keeping unrelated files', () => {
  const target = path.join(dir, 'half');
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(target, 'README.txt'), 'mine\n');
  fs.writeFileSync(path.join(target, INIT_MARKER), '');
  fs.writeFileSync(path.join(target, 'ca.json'), '{"half": true}\n');
  fs.writeFileSync(path.join(target, '.root.key.pem.0123456789ab.tmp'), 'a key in the making');
  assert.equal(caExists(target), false);
  assert.throws(() => readIndex(target), { code: 'CA_NOT_FOUND', message: /was interrupted/ });
  const ca = initCa(target, { passphrase: undefined });
  assert.equal(caExists(target), true);
  assert.equal(fs.readFileSync(path.join(target, 'README.txt'), 'utf8'), 'mine\n');
  assert.deepEqual(
    fs.readdirSync(target).filter((f) => f.startsWith('.')),
    [],
    'marker and temp files gone',
  );
  assert.equal(ca.meta.format, 1);
  assert.throws(() => initCa(target, { passphrase: undefined }), { code: 'CA_EXISTS' });
});

test('journal: a torn append that recorded part of an issuance voids it and removes its staged files', () => {
  const ca = initCa(path.join(dir, 'torn'), { passphrase: undefined });
  const a = issueCertificate(ca, { profile: 'client', cn: 'torn_a' }).entry;
  const out = path.join(dir, 'torn-out');
  const { stage, whole } = stagingFor(out);
  assert.equal(whole, true);
  const serials = ['11'.repeat(16), '22'.repeat(16)];
  beginJournal(ca.dir, {
    format: 1,
    serials,
    stage,
    overwrite: false,
    moves: [{ from: stage, to: out, serials }],
  });
  fs.writeFileSync(path.join(stage, 'key.pem'), 'staged key', { mode: 0o600 });
  assert.equal(fs.statSync(stage).mode & 0o777, 0o700);
  // only the first of the two lines reached the index before the crash
  appendIndex(ca.dir, [{ ...a, serial: serials[0]!, cn: 'torn_b' }]);
  const settled = recoverJournal(ca.dir);
  assert.equal(settled?.completed, false);
  assert.deepEqual(settled?.voided, [serials[0]]);
  assert.equal(fs.existsSync(stage), false);
  assert.equal(fs.existsSync(out), false);
  assert.equal(fs.existsSync(path.join(ca.dir, 'pending.json')), false);
  const entry = readIndex(ca.dir).find((e) => e.serial === serials[0]);
  assert.equal(entry?.status, 'void');
  assert.throws(() => revoke(ca.dir, { serial: serials[0]! }), { code: 'CERT_NOT_FOUND', message: /void/ });
  assert.equal(recoverJournal(ca.dir), undefined, 'settled once');
});
