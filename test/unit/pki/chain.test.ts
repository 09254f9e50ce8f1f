/**
 * src/pki/chain.ts against certificates made by the openssl CLI (test/harness/pki.ts, a root, an
 * intermediate and a leaf under it, and an unrelated root): paths by who signed whom, duplicates, key
 * matching, reading PEM/DER, and the names messages use. node's X509Certificate is the fingerprint oracle.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CertificateInfo } from '../../../src/pki/certificate.js';
import {
  buildPath,
  certificateName,
  checkKeyPair,
  checkPemKeyPair,
  dedupe,
  isSelfSigned,
  issuedBy,
  issuerIn,
  issuerName,
  keyMatches,
  orderLeafToRoot,
  readCertificates,
} from '../../../src/pki/chain.js';
import { commonName } from '../../../src/pki/names.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { type IntermediateChain, makeIntermediateChain } from '../keystore/intermediate.js';

let pki: TestPki;
let chain: IntermediateChain;
let dir: string;
let root: CertificateInfo;
let other: CertificateInfo;
let intermediate: CertificateInfo;
let leaf: CertificateInfo;

before(async () => {
  pki = await makeTestPki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-pki-chain-'));
  chain = await makeIntermediateChain(pki, dir);
  const one = (file: string) => readCertificates(fs.readFileSync(file), file)[0]!;
  root = one(pki.ca);
  other = one(pki.otherCa);
  intermediate = one(chain.intermediate);
  leaf = one(chain.leaf);
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('pki/chain', () => {
  test('issuedBy checks names and signature; a root is self-signed, a leaf is not', () => {
    assert.equal(issuedBy(leaf, intermediate), true);
    assert.equal(issuedBy(intermediate, root), true);
    assert.equal(issuedBy(leaf, root), false);
    assert.equal(issuedBy(intermediate, other), false);
    assert.equal(isSelfSigned(root), true);
    assert.equal(isSelfSigned(leaf), false);
  });

  test('buildPath follows the signatures whatever the order of the pool, and returns the rest', () => {
    const names = (cs: readonly CertificateInfo[]) => cs.map(certificateName);
    const full = buildPath(leaf, [root, other, leaf, intermediate]);
    assert.deepEqual(names(full.path), ['chain3_client', 'dbtls test intermediate', 'dbtls Test Root CA']);
    assert.deepEqual(names(full.unused), ['dbtls Other Root CA']);
    const gap = buildPath(leaf, [root]);
    assert.deepEqual(names(gap.path), ['chain3_client']);
    assert.deepEqual(names(gap.unused), ['dbtls Test Root CA']);
  });

  test('issuerIn finds the issuer in a set; orderLeafToRoot puts each certificate before its issuer', () => {
    assert.equal(issuerIn(leaf, [root, other, intermediate]), intermediate);
    assert.equal(issuerIn(root, []), root);
    assert.equal(issuerIn(leaf, [root, other]), undefined);
    const names = (cs: readonly CertificateInfo[]) => cs.map(certificateName);
    assert.deepEqual(names(orderLeafToRoot([root, leaf, intermediate])), [
      'chain3_client',
      'dbtls test intermediate',
      'dbtls Test Root CA',
    ]);
    // Two chains: depth first, then the given order (stable), whatever the order of the input.
    assert.deepEqual(names(orderLeafToRoot([other, root, intermediate])), [
      'dbtls test intermediate',
      'dbtls Other Root CA',
      'dbtls Test Root CA',
    ]);
  });

  test('dedupe keeps the first of equal certificates (by SHA-256 of the DER)', () => {
    const again = readCertificates(fs.readFileSync(pki.ca), 'again')[0]!;
    assert.notEqual(again, root);
    const kept = dedupe([root, intermediate, again, root]);
    assert.equal(kept.length, 2);
    assert.equal(kept[0], root);
    assert.equal(
      root.fingerprint,
      new X509Certificate(root.der).fingerprint256.replaceAll(':', '').toLowerCase(),
    );
  });

  test('keyMatches takes a private or a public key, and refuses another key', () => {
    const key = createPrivateKey(fs.readFileSync(chain.leafKey));
    assert.equal(keyMatches(leaf, key), true);
    assert.equal(keyMatches(leaf, createPublicKey(key)), true);
    assert.equal(keyMatches(leaf, createPrivateKey(fs.readFileSync(pki.server.key))), false);
  });

  test('checkKeyPair and checkPemKeyPair: KEY_MISMATCH for another key; unreadable PEM is left to the caller', () => {
    const certPem = fs.readFileSync(chain.leaf);
    const keyPem = fs.readFileSync(chain.leafKey);
    const other = fs.readFileSync(pki.server.key);
    const refused = { code: 'KEY_MISMATCH', message: 'could not x: y', hint: 'z' };
    checkKeyPair(leaf, createPrivateKey(keyPem), 'could not x: y', 'z');
    assert.throws(() => checkKeyPair(leaf, createPrivateKey(other), 'could not x: y', 'z'), refused);
    checkPemKeyPair(certPem, keyPem, 'could not x: y', 'z');
    assert.throws(() => checkPemKeyPair(certPem, other, 'could not x: y', 'z'), refused);
    checkPemKeyPair('not PEM', other, 'could not x: y', 'z');
    checkPemKeyPair(certPem, 'not PEM', 'could not x: y', 'z');
  });

  test('readCertificates: every PEM block in order, a DER file, CERT_MALFORMED naming the input', () => {
    const pem = [chain.leaf, chain.intermediate, pki.ca].map((f) => fs.readFileSync(f, 'utf8')).join('');
    assert.deepEqual(
      readCertificates(pem, 'the chain').map((c) => c.fingerprint),
      [leaf.fingerprint, intermediate.fingerprint, root.fingerprint],
    );
    assert.equal(readCertificates(root.der, 'a DER file')[0]!.fingerprint, root.fingerprint);
    assert.throws(() => readCertificates(fs.readFileSync(pki.caKey), 'key.pem'), {
      code: 'CERT_MALFORMED',
      message: 'could not read key.pem: it holds no PEM certificate',
    });
    const cut = `${fs.readFileSync(pki.ca, 'utf8').slice(0, 200)}\n-----END CERTIFICATE-----\n`;
    assert.throws(() => readCertificates(cut, 'cut.pem'), {
      code: 'CERT_MALFORMED',
      message: /^could not read cut\.pem: /,
    });
  });

  test('the names in messages: the CN, else the one-line subject; the CN of a one-line name', () => {
    assert.equal(certificateName(intermediate), 'dbtls test intermediate');
    assert.equal(issuerName(leaf), 'dbtls test intermediate');
    assert.equal(commonName('/O=dbtls test/CN=a\\/b'), 'a/b');
    assert.equal(commonName('/O=no common name'), undefined);
    assert.equal(commonName('(unreadable certificate)'), undefined);
  });

  test("node's certificate model stays in pki/: no source file outside it names X509Certificate", () => {
    const files = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        return e.isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
      });
    const outside = files(path.resolve('src')).filter((f) => !f.startsWith(path.resolve('src/pki')));
    assert.ok(outside.length > 100, `only ${outside.length} files found: run from the repository root`);
    const leaks = outside.filter((f) =>
      /X509Certificate|nodeCertificate|key values mismatch/i.test(fs.readFileSync(f, 'utf8')),
    );
    assert.deepEqual(leaks, []);
  });
});
