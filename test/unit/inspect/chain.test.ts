import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { before, describe, it } from 'node:test';
import type { PeerCertificate } from 'node:tls';
import { judgeChain, summarizeCertificate } from '../../../src/inspect/chain.js';
import { openssl } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

const NOW = new Date('2026-06-01T12:00:00Z');
let pki: TestPki;

function der(file: string): Buffer {
  return Buffer.from(new X509Certificate(fs.readFileSync(file)).raw);
}

/** What a TLS socket hands checkServerIdentity: the legacy object with subject and subjectaltname. */
function peerOf(file: string): PeerCertificate {
  return new X509Certificate(fs.readFileSync(file)).toLegacyObject();
}

async function field(file: string, ...flags: string[]): Promise<string> {
  const r = await openssl(['x509', '-in', file, '-noout', ...flags, '-nameopt', 'compat']);
  return r.stdout.trim().replace(/^[a-zA-Z ]+=\s?/, '');
}

before(async () => {
  pki = await makeTestPki();
});

describe('summarizeCertificate (openssl as the oracle)', () => {
  it('describes the server certificate as openssl does, with days left on a fixed clock', async () => {
    const entry = summarizeCertificate(der(pki.server.cert), NOW);
    assert.equal(entry.subject, await field(pki.server.cert, '-subject'));
    assert.equal(entry.issuer, await field(pki.server.cert, '-issuer'));
    assert.equal(
      entry.serial,
      (await field(pki.server.cert, '-serial')).toLowerCase().replace(/^(00)+(?=.)/, ''),
    );
    const notAfter = new Date(await field(pki.server.cert, '-enddate'));
    assert.equal(entry.notAfter, notAfter.toISOString());
    assert.equal(entry.daysLeft, Math.floor((notAfter.getTime() - NOW.getTime()) / 86_400_000));
    const fp = await field(pki.server.cert, '-fingerprint', '-sha256');
    assert.equal(entry.fingerprint, fp.replace(/^.*=/, '').replace(/:/g, '').toLowerCase());
    assert.deepEqual(entry.sans, ['DNS:localhost', 'IP:127.0.0.1']);
    assert.deepEqual(
      [entry.keyType, entry.keyBits, entry.signatureAlgorithm],
      ['EC', 256, 'ecdsa-with-SHA256'],
    );
    assert.deepEqual([entry.selfSigned, entry.isCa], [false, false]);
  });

  it('knows a root by its self-signature, and an expired certificate by negative days', () => {
    const root = summarizeCertificate(der(pki.ca), NOW);
    assert.deepEqual([root.selfSigned, root.isCa], [true, true]);
    assert.ok(summarizeCertificate(der(pki.expired.cert), NOW).daysLeft < -365);
  });
});

describe('judgeChain', () => {
  const judge = (file: string, checkedName: string) =>
    judgeChain({
      chain: [der(file)],
      peer: peerOf(file),
      authorized: true,
      trustAnchor: 'ca-file',
      checkedName,
      now: NOW,
    });

  it('matches DNS and IP SANs (RFC 6125) and names the mismatch', () => {
    assert.equal(judge(pki.server.cert, 'localhost').hostnameMatch, true);
    assert.equal(judge(pki.server.cert, '127.0.0.1').hostnameMatch, true);
    const wrong = judge(pki.server.cert, 'db.example');
    assert.equal(wrong.hostnameMatch, false);
    assert.match(wrong.hostnameError ?? '', /db\.example/);
    assert.equal(judge(pki.wrongHost.cert, 'wrong.example').hostnameMatch, true);
    assert.equal(judge(pki.wrongHost.cert, '127.0.0.1').hostnameMatch, false);
  });
});
