import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tls from 'node:tls';
import {
  candidateCiphers,
  cipherBits,
  cipherWeakness,
  hasForwardSecrecy,
  TLS13_SUITES,
} from '../../../src/inspect/ciphers.js';
import { versionFromNode } from '../../../src/tls/versions.js';

describe('cipherBits (what sslscan prints)', () => {
  const table: [string, number][] = [
    ['TLS_AES_128_GCM_SHA256', 128],
    ['TLS_AES_256_GCM_SHA384', 256],
    ['TLS_CHACHA20_POLY1305_SHA256', 256],
    ['TLS_AES_128_CCM_8_SHA256', 128],
    ['ECDHE-ECDSA-AES256-GCM-SHA384', 256],
    ['ECDHE-RSA-AES128-SHA', 128],
    ['AES256-SHA256', 256],
    ['ECDHE-ECDSA-CHACHA20-POLY1305', 256],
    ['DHE-RSA-CAMELLIA256-SHA', 256],
    ['ECDHE-ARIA128-GCM-SHA256', 128],
    ['DES-CBC3-SHA', 112],
    ['ECDHE-ECDSA-NULL-SHA', 0],
    ['NULL-SHA256', 0],
    ['RC4-SHA', 128],
  ];
  for (const [name, bits] of table) it(`${name} -> ${bits}`, () => assert.equal(cipherBits(name), bits));
});

describe('cipherWeakness', () => {
  const table: [string, string | undefined][] = [
    ['TLS_AES_128_GCM_SHA256', undefined],
    ['ECDHE-ECDSA-AES128-SHA', undefined],
    ['AES128-SHA', undefined],
    ['ECDHE-ECDSA-NULL-SHA', 'no encryption (NULL cipher)'],
    ['DES-CBC3-SHA', '3DES has a 64-bit block (Sweet32, CVE-2016-2183)'],
    ['RC4-MD5', 'RC4 is broken (RFC 7465)'],
    ['ADH-AES128-SHA', 'anonymous key exchange (no server authentication)'],
    ['AECDH-AES256-SHA', 'anonymous key exchange (no server authentication)'],
  ];
  for (const [name, why] of table)
    it(`${name} -> ${why ?? 'fine'}`, () => assert.equal(cipherWeakness(name), why));

  it('knows forward secrecy by key exchange', () => {
    assert.equal(hasForwardSecrecy('TLS_AES_256_GCM_SHA384'), true);
    assert.equal(hasForwardSecrecy('ECDHE-RSA-AES128-GCM-SHA256'), true);
    assert.equal(hasForwardSecrecy('DHE-RSA-AES256-SHA'), true);
    assert.equal(hasForwardSecrecy('AES256-GCM-SHA384'), false);
  });
});

describe('candidateCiphers', () => {
  it('offers every TLS 1.3 suite in sslscan order, minus the ones found', () => {
    assert.equal(candidateCiphers('TLSv1.3'), TLS13_SUITES.join(':'));
    assert.equal(
      candidateCiphers('TLSv1.3', ['TLS_AES_128_GCM_SHA256', 'TLS_AES_128_CCM_SHA256']),
      'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_8_SHA256',
    );
    assert.equal(candidateCiphers('TLSv1.3', TLS13_SUITES), undefined);
  });

  it('offers everything OpenSSL has for TLS 1.0-1.2 at security level 0, minus the ones found', () => {
    assert.equal(candidateCiphers('TLSv1.2'), 'ALL:COMPLEMENTOFALL:@SECLEVEL=0');
    assert.equal(candidateCiphers('TLSv1.0', ['AES128-SHA']), 'ALL:COMPLEMENTOFALL:!AES128-SHA:@SECLEVEL=0');
  });

  it('produces strings node accepts, and excluded suites are really gone', () => {
    const all = tls.createSecureContext({ ciphers: candidateCiphers('TLSv1.2') });
    assert.ok(all);
    const without = candidateCiphers('TLSv1.2', ['ECDHE-ECDSA-AES256-GCM-SHA384']) as string;
    assert.ok(tls.createSecureContext({ ciphers: without }));
    assert.doesNotThrow(() => tls.createSecureContext({ ciphers: candidateCiphers('TLSv1.3') }));
  });

  it('maps node protocol names back', () => {
    assert.equal(versionFromNode('TLSv1'), 'TLSv1.0');
    assert.equal(versionFromNode('TLSv1.3'), 'TLSv1.3');
    assert.equal(versionFromNode(null), undefined);
    assert.equal(versionFromNode('SSLv3'), undefined);
  });
});
