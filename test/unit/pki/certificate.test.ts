/**
 * The hand-written DER path (src/pki/der.ts, tbs.ts) against three independent readers: @peculiar/x509,
 * node's X509Certificate, and `openssl verify -x509_strict`.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as x509 from '@peculiar/x509';
import { parseCertificate, parseCertificates } from '../../../src/pki/certificate.js';
import { generateKeyMaterial, type KeyAlgorithm } from '../../../src/pki/keys.js';
import { encodeName } from '../../../src/pki/names.js';
import { PROFILES, type ProfileName } from '../../../src/pki/profiles.js';
import { keyIdentifier, profileExtensions, signCertificate } from '../../../src/pki/tbs.js';
import { openssl, opensslVerify } from '../../harness/oracles.js';

const NOW = new Date('2026-01-01T00:00:00Z');
const LATER = new Date('2046-01-01T00:00:00Z'); // past 2049 is GeneralizedTime; 2046 keeps UTCTime
const FAR = new Date('2051-06-01T00:00:00Z');

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-pki-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

let serialCounter = 0x10;
function make(
  profile: ProfileName,
  alg: KeyAlgorithm,
  cn: string,
  issuer?: { der: Buffer; key: ReturnType<typeof generateKeyMaterial> },
  san: { dns?: string[]; ip?: string[] } = {},
  notAfter = LATER,
) {
  const key = generateKeyMaterial(alg);
  const subject = encodeName([
    { type: 'O', value: 'dbtls test' },
    { type: 'CN', value: cn },
  ]);
  const issuerInfo = issuer ? parseCertificate(issuer.der) : undefined;
  const der = signCertificate(
    {
      serial: Buffer.from([0x7f, serialCounter++, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]),
      issuer: issuerInfo ? issuerInfo.subjectDer : subject,
      subject,
      notBefore: NOW,
      notAfter,
      spki: key.spki,
      extensions: profileExtensions({
        profile: PROFILES[profile],
        subjectSpki: key.spki,
        subjectIsRsa: alg.startsWith('rsa'),
        issuerKeyId: issuerInfo ? Buffer.from(issuerInfo.subjectKeyId!, 'hex') : keyIdentifier(key.spki),
        dnsNames: san.dns ?? [],
        ipAddresses: san.ip ?? [],
      }),
    },
    issuer ? issuer.key.privateKey : key.privateKey,
  );
  return { der, key };
}

function write(name: string, ...ders: Buffer[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, ders.map((d) => parseCertificate(d).pem).join(''));
  return file;
}

describe('hand-built certificates', () => {
  for (const alg of ['ec-p256', 'ec-p384'] as const) {
    test(`${alg}: root -> intermediate -> server/client verify with openssl -x509_strict`, async () => {
      const root = make('root', alg, 'Root');
      const inter = make('intermediate', alg, 'Inter', root);
      const server = make('server', alg, 'db1.example.com', inter, {
        dns: ['db1.example.com'],
        ip: ['127.0.0.1', 'fd00::5'],
      });
      const client = make('client', alg, 'app_user', inter);
      const direct = make('server', alg, 'db2.example.com', root, { dns: ['db2.example.com'] });
      const ca = write(`${alg}-root.pem`, root.der);
      const untrusted = write(`${alg}-inter.pem`, inter.der);
      const s = await opensslVerify({
        ca,
        untrusted,
        cert: write(`${alg}-s.pem`, server.der),
        purpose: 'sslserver',
        strict: true,
        hostname: 'db1.example.com',
      });
      assert.ok(s.ok, s.stderr + s.stdout);
      const ip = await opensslVerify({
        ca,
        untrusted,
        cert: write(`${alg}-s2.pem`, server.der),
        strict: true,
        ip: 'fd00::5',
      });
      assert.ok(ip.ok, ip.stderr);
      const c = await opensslVerify({
        ca,
        untrusted,
        cert: write(`${alg}-c.pem`, client.der),
        purpose: 'sslclient',
        strict: true,
      });
      assert.ok(c.ok, c.stderr);
      const d = await opensslVerify({
        ca,
        cert: write(`${alg}-d.pem`, direct.der),
        purpose: 'sslserver',
        strict: true,
        hostname: 'db2.example.com',
      });
      assert.ok(d.ok, d.stderr);
      // the client certificate is not a server certificate, and the wrong host does not match
      assert.equal(
        (
          await opensslVerify({
            ca,
            untrusted,
            cert: write(`${alg}-c2.pem`, client.der),
            purpose: 'sslserver',
            strict: true,
          })
        ).ok,
        false,
      );
      assert.equal(
        (
          await opensslVerify({
            ca,
            untrusted,
            cert: write(`${alg}-s3.pem`, server.der),
            hostname: 'other.example.com',
          })
        ).ok,
        false,
      );
    });
  }

  test('@peculiar/x509 and node read the same fields we wrote', async () => {
    const root = make('root', 'ec-p256', 'Root');
    const server = make(
      'server',
      'rsa-2048',
      'db1.example.com',
      root,
      { dns: ['db1.example.com', 'localhost'], ip: ['127.0.0.1', '::1'] },
      FAR,
    );
    const ours = parseCertificate(server.der);
    const node = new X509Certificate(server.der);
    const pec = new x509.X509Certificate(server.der);
    assert.equal(node.serialNumber.toLowerCase(), ours.serial);
    assert.equal(pec.serialNumber.toLowerCase(), ours.serial);
    assert.equal(node.fingerprint256.replace(/:/g, '').toLowerCase(), ours.fingerprint);
    assert.equal(new Date(node.validTo).getTime(), FAR.getTime()); // GeneralizedTime after 2049
    assert.equal(pec.notAfter.getTime(), FAR.getTime());
    assert.equal(pec.notBefore.getTime(), NOW.getTime());
    assert.equal(
      node.subjectAltName,
      'DNS:db1.example.com, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    const rsa = await opensslVerify({
      ca: write('rsa-root.pem', root.der),
      cert: write('rsa-leaf.pem', server.der),
      purpose: 'sslserver',
      strict: true,
      hostname: 'localhost',
    });
    assert.ok(rsa.ok, rsa.stderr);
    assert.ok(node.checkIssued(new X509Certificate(root.der)));
    assert.ok(node.verify(new X509Certificate(root.der).publicKey));
    assert.ok(
      await pec.verify({ publicKey: new x509.X509Certificate(root.der).publicKey, signatureOnly: true }),
    );
    const bc = pec.getExtension(x509.BasicConstraintsExtension)!;
    assert.equal(bc.ca, false);
    assert.equal(bc.critical, true);
    const ku = pec.getExtension(x509.KeyUsagesExtension)!;
    assert.equal(ku.usages, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
    assert.equal(ku.critical, true);
    assert.deepEqual([...pec.getExtension(x509.ExtendedKeyUsageExtension)!.usages], ['1.3.6.1.5.5.7.3.1']);
    assert.equal(pec.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId, ours.subjectKeyId);
    assert.equal(
      pec.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId,
      parseCertificate(root.der).subjectKeyId,
    );
    assert.deepEqual(
      {
        ca: ours.isCa,
        ku: ours.keyUsage,
        eku: ours.extendedKeyUsage,
        dns: ours.dnsNames,
        ip: ours.ipAddresses,
        kt: ours.keyType,
        bits: ours.keyBits,
        sig: ours.signatureAlgorithm,
      },
      {
        ca: false,
        ku: ['digitalSignature', 'keyEncipherment'],
        eku: ['serverAuth'],
        dns: ['db1.example.com', 'localhost'],
        ip: ['127.0.0.1', '::1'],
        kt: 'RSA',
        bits: 2048,
        sig: 'ecdsa-with-SHA256',
      },
    );
    const r = parseCertificate(root.der);
    assert.deepEqual(
      [r.isCa, r.pathLength, r.selfSigned, r.keyUsage, r.curve],
      [true, 1, true, ['keyCertSign', 'cRLSign'], 'P-256'],
    );
    assert.equal(r.authorityKeyId, r.subjectKeyId);
  });

  test('openssl reads our DER without complaint (asn1parse, x509 -text)', async () => {
    const root = make('root', 'ec-p384', 'Root');
    const file = write('p384.pem', root.der);
    const text = await openssl(['x509', '-in', file, '-noout', '-text']);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /Signature Algorithm: ecdsa-with-SHA384/);
    assert.match(text.stdout, /CA:TRUE, pathlen:1/);
    assert.equal((await openssl(['asn1parse', '-in', file])).code, 0);
  });
});

describe('parseCertificate', () => {
  test('reads every block of a chain in order; CERT_MALFORMED on garbage', () => {
    const root = make('root', 'ec-p256', 'Root');
    const inter = make('intermediate', 'ec-p256', 'Inter', root);
    const both = parseCertificate(inter.der).pem + parseCertificate(root.der).pem;
    assert.deepEqual(
      parseCertificates(both).map((c) => c.subject),
      ['/O=dbtls test/CN=Inter', '/O=dbtls test/CN=Root'],
    );
    assert.throws(() => parseCertificate(Buffer.from('30030201', 'hex')), { code: 'CERT_MALFORMED' });
    assert.throws(
      () => parseCertificate('-----BEGIN CERTIFICATE-----\nMIIB!!\n-----END CERTIFICATE-----\n'),
      { code: 'CERT_MALFORMED' },
    );
    assert.throws(() => parseCertificate('no pem here'), { code: 'CERT_MALFORMED' });
    const truncated = root.der.subarray(0, root.der.length - 10);
    assert.throws(() => parseCertificate(truncated), { code: 'CERT_MALFORMED' });
  });
});
