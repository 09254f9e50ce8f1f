/**
 * The fragment is edited, not rewritten (issue 10, item 13), and a cipher list that cannot be used with the
 * key is named: table-driven over the exact text.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { editConfig, renderConfig, type ServerTlsConfig } from '../../../src/server/tls/config.js';
import { cipherWarnings } from '../../../src/server/tls/enable.js';

const CONFIG: ServerTlsConfig = {
  ca: '/s/ca.pem',
  cert: '/s/server-cert.pem',
  key: '/s/server-key.pem',
  tlsVersions: ['TLSv1.2', 'TLSv1.3'],
  requireSecureTransport: false,
};

test('editConfig: no fragment yet gives the rendered one, and editing it again changes nothing', () => {
  const text = renderConfig(CONFIG);
  assert.equal(editConfig(undefined, CONFIG), text);
  assert.equal(editConfig(text, CONFIG), text);
});

test('editConfig keeps what it does not manage and replaces what it does, in place', () => {
  const existing = [
    '# by hand',
    '[client]',
    'ssl_cert = /client/cert.pem',
    '[mysqld]',
    'ssl-cert = /old/cert.pem',
    'ssl_crl = /s/crl.pem',
    'require_secure_transport = ON',
    'ssl_cert = /older/cert.pem',
    '',
    '[mariadb]',
    'max_connections = 10',
    '',
  ].join('\n');
  assert.equal(
    editConfig(existing, CONFIG),
    [
      '# by hand',
      '[client]',
      'ssl_cert = /client/cert.pem',
      '[mysqld]',
      'ssl_cert = /s/server-cert.pem',
      'ssl_crl = /s/crl.pem',
      'require_secure_transport = ON',
      'ssl_ca = /s/ca.pem',
      'ssl_key = /s/server-key.pem',
      'tls_version = TLSv1.2,TLSv1.3',
      '',
      '[mariadb]',
      'max_connections = 10',
      '',
    ].join('\n'),
  );
});

test('editConfig adds a [mysqld] group when the file has none, and sets ssl_crl and the cipher when given', () => {
  const out = editConfig('[client]\nuser = x\n', {
    ...CONFIG,
    crl: '/s/crl.pem',
    cipher: 'TLS_AES_128_GCM_SHA256',
  });
  assert.equal(
    out,
    '[client]\nuser = x\n[mysqld]\nssl_ca = /s/ca.pem\nssl_cert = /s/server-cert.pem\nssl_key = /s/server-key.pem\nssl_crl = /s/crl.pem\ntls_version = TLSv1.2,TLSv1.3\nssl_cipher = TLS_AES_128_GCM_SHA256\n',
  );
});

test('cipherWarnings: only a list of concrete names none of which fits the key', () => {
  const rsaOnly = 'ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA';
  const cases: [string | undefined, string | undefined, number][] = [
    [rsaOnly, 'ec', 1],
    [rsaOnly, 'rsa', 0],
    ['ECDHE-ECDSA-AES128-GCM-SHA256', 'rsa', 1],
    ['ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256', 'ec', 0],
    ['HIGH:!aNULL', 'ec', 0],
    ['TLS_AES_128_GCM_SHA256', 'ec', 0],
    [undefined, 'ec', 0],
    [rsaOnly, undefined, 0],
  ];
  for (const [cipher, key, n] of cases)
    assert.equal(cipherWarnings(cipher, key).length, n, `${cipher} ${key}`);
});
