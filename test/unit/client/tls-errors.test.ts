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
});
