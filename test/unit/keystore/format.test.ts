/** Keystore formats, one vocabulary (src/keystore/format.ts, issue 11 item 5): the input aliases. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDbtlsError } from '../../../src/errors.js';
import {
  JAVA_STORE_TYPE,
  KEYSTORE_FORMAT_WORD,
  KEYSTORE_FORMATS,
  keystoreFormatOfFile,
  parseKeystoreFormat,
} from '../../../src/keystore/format.js';

describe('keystore formats', () => {
  const spellings: [string, string][] = [
    ['jks', 'jks'],
    ['JKS', 'jks'],
    ['p12', 'pkcs12'],
    ['P12', 'pkcs12'],
    ['pkcs12', 'pkcs12'],
    ['PKCS12', 'pkcs12'],
    ['pfx', 'pkcs12'],
    [' PKCS12 ', 'pkcs12'],
  ];
  for (const [text, format] of spellings) {
    it(`${JSON.stringify(text)} is ${format}`, () => assert.equal(parseKeystoreFormat(text), format));
  }

  it('anything else is a USAGE error naming the flag and the spellings', () => {
    for (const text of ['', 'pem', 'jceks', 'pkcs#12', 'PKCS-12']) {
      assert.throws(
        () => parseKeystoreFormat(text, '--format'),
        (err: unknown) =>
          isDbtlsError(err) &&
          err.code === 'USAGE' &&
          err.message === `could not use --format ${JSON.stringify(text)}: expected jks or p12`,
        text,
      );
    }
  });

  it('each format has one Java type and one CLI word, and the word reads back as the format', () => {
    assert.deepEqual(
      KEYSTORE_FORMATS.map((f) => [JAVA_STORE_TYPE[f], KEYSTORE_FORMAT_WORD[f]]),
      [
        ['JKS', 'jks'],
        ['PKCS12', 'p12'],
      ],
    );
    for (const f of KEYSTORE_FORMATS) {
      assert.equal(parseKeystoreFormat(KEYSTORE_FORMAT_WORD[f]), f);
      assert.equal(parseKeystoreFormat(JAVA_STORE_TYPE[f]), f);
    }
  });

  it('the format a file name implies', () => {
    assert.deepEqual(['/k.p12', '/k.PFX', '/k.jks', '/k.store', 'p12'].map(keystoreFormatOfFile), [
      'pkcs12',
      'pkcs12',
      'jks',
      'jks',
      'jks',
    ]);
  });
});
