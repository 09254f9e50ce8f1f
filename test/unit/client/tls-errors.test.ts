import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tlsError } from '../../../src/client/upgrade.js';
import type { TlsSettings } from '../../../src/tls/settings.js';

const SETTINGS: TlsSettings = {
  mode: 'verify-full',
  mutualTls: 'disable',
  ca: '/ca.pem',
  minVersion: 'TLSv1.2',
};

function nodeError(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

describe('node TLS failures -> the error codes the mode contract names', () => {
  const rows: [string, string][] = [
    ['CERT_HAS_EXPIRED', 'CERT_EXPIRED'],
    ['CERT_NOT_YET_VALID', 'CERT_EXPIRED'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_UNTRUSTED'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'CERT_UNTRUSTED'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_UNTRUSTED'],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH'],
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'CLIENT_CERT_REJECTED'],
    ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'CLIENT_CERT_REJECTED'],
    ['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'TLS_HANDSHAKE_FAILED'],
    ['ECONNRESET', 'TLS_HANDSHAKE_FAILED'],
  ];
  for (const [nodeCode, want] of rows) {
    it(`${nodeCode} -> ${want}`, () => {
      const err = tlsError(nodeError(nodeCode), SETTINGS, 'db.example.com', 3306);
      assert.equal(err.code, want);
      assert.equal(err.kind, 'check');
      assert.match(err.message, /^could not (verify|complete) .*db\.example\.com:3306/);
      assert.ok(err.hint && err.hint.length > 0);
    });
  }

  it('HOSTNAME_MISMATCH names the name checked (--servername when given)', () => {
    const err = tlsError(
      nodeError('ERR_TLS_CERT_ALTNAME_INVALID'),
      { ...SETTINGS, servername: 'db.internal' },
      '10.0.0.5',
      3306,
    );
    assert.match(err.message, /for the name db\.internal/);
    assert.equal(err.details?.expectedName, 'db.internal');
  });

  it('no common TLS version: the cause in words instead of the OpenSSL dump, the node code kept', () => {
    for (const nodeCode of ['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'ERR_SSL_UNSUPPORTED_PROTOCOL']) {
      const dump = `80DC8F4AB57F0000:error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 70\n`;
      const err = tlsError(nodeError(nodeCode, dump), SETTINGS, 'db.example.com', 3306);
      assert.equal(err.code, 'TLS_HANDSHAKE_FAILED');
      assert.equal(
        err.message,
        `could not complete the TLS handshake with db.example.com:3306: the server and this side have no TLS version in common (${nodeCode})`,
      );
      assert.equal(err.details?.nodeCode, nodeCode);
      assert.match(String(err.hint), /--tls-min/);
    }
  });
});
