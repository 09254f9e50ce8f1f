/**
 * Each finding of issue 4 that a certificate or a server setting causes, produced by a real MariaDB
 * serving a real certificate (made with the openssl CLI), and the exit code `--fail-on` gives for it.
 * Each case asserts the exact list of findings, so a finding that appears where it should not fails too.
 * (TLS not offered, hostname mismatch, weak ciphers, expired and plaintext logins: inspect.test.ts.)
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from '../../../src/inspect/inspect.js';
import type { InspectReport } from '../../../src/inspect/report.js';
import { GENERATED_CERT_TRAITS } from '../../../src/inspect/zero-config.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { openssl, sClientStarttls, sslscan } from '../../harness/oracles.js';
import { type KeyPair, makeTestPki, type TestPki } from '../../harness/pki.js';
import { caSignedLeaf, mariadbGeneratedCertificate, selfSignedLeaf } from './certificates.js';

const MS_PER_DAY = 86_400_000;

let pki: TestPki;
let db: MariadbInstance;
let dir: string;
let expiring: KeyPair;
let selfSigned: KeyPair;
let rsa1024: KeyPair;
let generated: KeyPair;

function ep() {
  return { host: db.host, port: db.port };
}

function byId(report: InspectReport, id: string) {
  const found = report.findings.find((f) => f.id === id);
  assert.ok(found, `${id} in ${ids(report).join(', ')}`);
  return found;
}

function ids(report: InspectReport): string[] {
  return report.findings.map((f) => `${f.id}:${f.severity}`);
}

async function opensslField(cert: string, option: string): Promise<string> {
  const r = await openssl(['x509', '-in', cert, '-noout', option]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().replace(/^[^=]+=/, '');
}

async function assertEqualsSslscan(report: InspectReport): Promise<void> {
  const oracle = await sslscan({ host: db.host, port: db.port });
  assert.deepEqual(report.tls.versions, oracle.versions);
  assert.deepEqual(
    report.tls.ciphers.map((c) => `${c.version} ${c.name} ${c.bits}`),
    oracle.ciphers.map((c) => `${c.version} ${c.name} ${c.bits}`),
  );
}

function serve(cert: KeyPair, extra: { sslCipher?: string; tlsVersion?: string } = {}) {
  return db.restart({ tls: { ca: pki.ca, cert: cert.cert, key: cert.key }, ...extra });
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-findings-'));
  pki = await makeTestPki();
  [expiring, selfSigned, rsa1024, generated, db] = await Promise.all([
    caSignedLeaf(dir, 'expiring', pki, { days: 10, key: 'ec' }),
    selfSignedLeaf(dir),
    caSignedLeaf(dir, 'rsa1024', pki, { days: 365, key: 'rsa-1024' }),
    mariadbGeneratedCertificate(dir),
    startMariadb({}),
  ]);
});

after(async () => {
  await db?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('certificate expires in less than 30 days', () => {
  it('is cert-expiring (medium), with the days left counted from the inspection time', async () => {
    await serve(expiring);
    const report = await inspect(ep(), { ca: pki.ca });
    assert.deepEqual(ids(report), ['cert-expiring:medium']);
    const notAfter = new Date(await opensslField(expiring.cert, '-enddate'));
    const daysLeft = Math.floor((notAfter.getTime() - Date.parse(report.inspectedAt)) / MS_PER_DAY);
    assert.equal(daysLeft, 9, 'issued for 10 days a moment ago');
    assert.equal(report.certificate?.chain[0]?.daysLeft, daysLeft);
    assert.equal(
      report.findings[0]?.message,
      `the server certificate expires in 9 day(s) (${notAfter.toISOString()})`,
    );
    assert.equal(report.target, `${db.host}:${db.port}`);
    assert.equal(
      report.findings[0]?.fix,
      `dbtls rotate ${report.target} (re-issues and reloads online), or dbtls renew --cn localhost, install the new files at the same paths, then dbtls server reload ${report.target}`,
    );
  });

  it('--fail-on: exit 1 at or below medium, 0 above it (default high); 2 for an unknown severity', async () => {
    const target = `${db.host}:${db.port}`;
    const table: [string[], number][] = [
      [['--fail-on', 'info'], 1],
      [['--fail-on', 'low'], 1],
      [['--fail-on', 'MEDIUM'], 1],
      [['--fail-on', 'high'], 0],
      [['--fail-on', 'critical'], 0],
      [[], 0],
      [['--fail-on', 'warning'], 2],
    ];
    const got: string[] = [];
    for (const [args] of table) {
      const r = await runCli(['inspect', target, '--ca', pki.ca, '--json', ...args]);
      got.push(`${args.join(' ') || '(default)'} -> ${r.code}`);
    }
    assert.deepEqual(
      got,
      table.map(([args, code]) => `${args.join(' ') || '(default)'} -> ${code}`),
    );
  });
});

describe('self-signed certificate', () => {
  // Issue 9 item 10: this test expected cert-self-signed:medium alone with --ca given, the defect.
  it('is cert-untrusted (high) when --ca does not hold it, and cert-self-signed (medium)', async () => {
    await serve(selfSigned);
    const report = await inspect(ep(), { ca: pki.ca });
    assert.deepEqual(ids(report), ['cert-untrusted:high', 'cert-self-signed:medium']);
    assert.equal(report.certificate?.verified, false);
    assert.equal(report.certificate?.verifyError, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.equal(report.certificate?.hostnameMatch, true);
    const leaf = report.certificate?.chain[0];
    assert.equal(leaf?.selfSigned, true);
    assert.equal(leaf?.subject, '/CN=localhost');
    assert.equal(leaf?.issuer, '/CN=localhost');
  });

  it('fails the CLI at the default --fail-on high when --ca does not hold it (a verifying client refuses it too)', async () => {
    const target = `${db.host}:${db.port}`;
    const r = await runCli(['inspect', target, '--ca', pki.ca, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as InspectReport;
    assert.equal(byId(report, 'cert-untrusted').severity, 'high');
    assert.match(
      byId(report, 'cert-untrusted').message,
      /does not verify against the given --ca \(DEPTH_ZERO_SELF_SIGNED_CERT\)/,
    );
    const oracle = await sClientStarttls({ port: db.port, ca: pki.ca });
    assert.equal(oracle.ok, false, 'openssl s_client refuses the chain against the same CA');
  });

  it('is only info when --ca pins it (openssl agrees that it verifies against itself)', async () => {
    const pinned = await inspect(ep(), { ca: selfSigned.cert });
    assert.deepEqual(ids(pinned), ['cert-self-signed:info']);
    assert.equal(pinned.certificate?.verified, true);
    const verify = await openssl(['verify', '-CAfile', selfSigned.cert, selfSigned.cert]);
    assert.equal(verify.code, 0, verify.stderr);
  });
});

describe('RSA key shorter than 2048 bits', () => {
  // Debian's OpenSSL (security level 2) makes MariaDB refuse a 1024-bit key at start-up ("Unable to get
  // certificate"); a DBA who lowered the level in ssl_cipher gets a server that serves it, as here.
  it('is rsa-key-small (high), with the size openssl reads; versions and suites equal sslscan', async () => {
    await serve(rsa1024, {
      sslCipher: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:@SECLEVEL=1',
    });
    const report = await inspect(ep(), { ca: pki.ca });
    assert.deepEqual(ids(report), ['rsa-key-small:high']);
    const text = (await openssl(['x509', '-in', rsa1024.cert, '-noout', '-text'])).stdout;
    assert.match(text, /Public-Key: \(1024 bit\)/);
    assert.equal(report.certificate?.chain[0]?.keyType, 'RSA');
    assert.equal(report.certificate?.chain[0]?.keyBits, 1024);
    assert.equal(report.findings[0]?.message, 'the server certificate has a 1024-bit RSA key (minimum 2048)');
    await assertEqualsSslscan(report);
  });
});

describe('TLS 1.0 and 1.1 accepted', () => {
  it('is tls-legacy-versions (high); versions and suites equal sslscan', async () => {
    await serve(pki.server, {
      tlsVersion: 'TLSv1.0,TLSv1.1,TLSv1.2,TLSv1.3',
      sslCipher: 'DEFAULT:@SECLEVEL=0',
    });
    const report = await inspect(ep(), { ca: pki.ca });
    assert.deepEqual(ids(report), ['tls-legacy-versions:high']);
    assert.equal(
      report.findings[0]?.message,
      'the server accepts TLSv1.0 and TLSv1.1, deprecated by RFC 8996 (no modern AEAD ciphers, downgrade risks)',
    );
    assert.match(report.findings[0]?.fix ?? '', /^set tls_version = TLSv1\.2,TLSv1\.3 under \[mysqld\]/);
    await assertEqualsSslscan(report);
  });
});

describe('the certificate MariaDB 11.4+ generates for zero-configuration TLS (a copy, served by 10.11)', () => {
  // Its RSA key lets the default suite list include RSA key exchange, hence no-forward-secrecy too: what a
  // real 11.4 with default settings serves.
  const expected = ['hostname-mismatch:high', 'server-generated-cert:medium', 'no-forward-secrecy:low'];

  it('is server-generated-cert (medium), not also cert-self-signed; cert-untrusted (high) against --ca', async () => {
    await serve(generated);
    const report = await inspect(ep(), { ca: pki.ca });
    // Issue 9 item 10: cert-untrusted was suppressed for the generated certificate, the defect.
    assert.deepEqual(ids(report), ['cert-untrusted:high', ...expected]);
    const leaf = report.certificate?.chain[0];
    assert.ok(leaf);
    assert.equal(report.certificate?.chain.length, 1);
    assert.equal(leaf.subject, GENERATED_CERT_TRAITS.name);
    assert.equal(leaf.issuer, GENERATED_CERT_TRAITS.name);
    assert.equal(leaf.serial, GENERATED_CERT_TRAITS.serial);
    assert.equal(leaf.keyType, GENERATED_CERT_TRAITS.keyType);
    assert.equal(leaf.keyBits, GENERATED_CERT_TRAITS.keyBits);
    assert.equal(
      (Date.parse(leaf.notAfter) - Date.parse(leaf.notBefore)) / MS_PER_DAY,
      GENERATED_CERT_TRAITS.validityDays,
    );
    assert.deepEqual(leaf.sans, []);
    assert.equal(leaf.selfSigned, true);
    assert.equal(leaf.signatureAlgorithm, 'sha256WithRSAEncryption');
    // The copy is what the source builds: v3, serial 0, no extensions at all.
    const text = (await openssl(['x509', '-in', generated.cert, '-noout', '-text'])).stdout;
    assert.match(text, /Version: 3 \(0x2\)/);
    assert.match(text, /Serial Number: 0 \(0x0\)/);
    assert.doesNotMatch(text, /X509v3 extensions/);
    assert.match(byId(report, 'server-generated-cert').message, /password-derived fingerprint/);
    await assertEqualsSslscan(report);
  });

  it('is still reported when --ca pins it: a new one is made at every restart', async () => {
    const report = await inspect(ep(), { ca: generated.cert });
    assert.equal(report.certificate?.verified, true);
    assert.deepEqual(ids(report), expected);
    assert.match(byId(report, 'server-generated-cert').message, /a new one is made at every restart/);
  });
});
