/**
 * Certificates the inspector's findings are about, made with the openssl CLI (an oracle independent of
 * src/pki): one expiring soon, a self-signed one, one with a 1024-bit RSA key, and a faithful copy of the
 * certificate MariaDB 11.4+ generates for its zero-configuration TLS (no 11.4 server can be installed here:
 * Debian 12 ships 10.11, so a 10.11 server serves the copy).
 */
import { createPrivateKey, sign } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GENERATED_CERT_TRAITS } from '../../../src/inspect/zero-config.js';
import { openssl } from '../../harness/oracles.js';
import type { KeyPair, TestPki } from '../../harness/pki.js';

const CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[none]
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
`;

async function must(args: string[]): Promise<string> {
  const r = await openssl(args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
  return r.stdout;
}

async function newKey(file: string, algorithm: 'ec' | 'rsa-1024' | 'rsa-4096'): Promise<string> {
  const opts =
    algorithm === 'ec'
      ? ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']
      : ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${algorithm.slice(4)}`];
  await must(['genpkey', ...opts, '-out', file]);
  fs.chmodSync(file, 0o600);
  return file;
}

function configFile(dir: string): string {
  const file = path.join(dir, 'findings.cnf');
  if (!fs.existsSync(file)) fs.writeFileSync(file, CONFIG);
  return file;
}

/** A server leaf (SAN localhost + 127.0.0.1) signed by the test CA. */
export async function caSignedLeaf(
  dir: string,
  name: string,
  pki: TestPki,
  o: { days: number; key: 'ec' | 'rsa-1024' },
): Promise<KeyPair> {
  const key = await newKey(path.join(dir, `${name}.key`), o.key);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.pem`);
  const config = configFile(dir);
  await must(['req', '-new', '-config', config, '-key', key, '-subj', '/CN=localhost', '-out', csr]);
  await must(
    ['x509', '-req', '-in', csr, '-CA', pki.ca, '-CAkey', pki.caKey, '-sha256', '-days', String(o.days)]
      .concat(['-set_serial', String(1000 + o.days), '-extfile', config, '-extensions', 'leaf'])
      .concat(['-out', cert]),
  );
  return { cert, key };
}

/** A self-signed server certificate with the right names: trusted only by pinning it. */
export async function selfSignedLeaf(dir: string): Promise<KeyPair> {
  const key = await newKey(path.join(dir, 'self-signed.key'), 'ec');
  const cert = path.join(dir, 'self-signed.pem');
  await must(
    ['req', '-x509', '-new', '-config', configFile(dir), '-key', key, '-subj', '/CN=localhost'].concat([
      '-extensions',
      'leaf',
      '-sha256',
      '-days',
      '365',
      '-out',
      cert,
    ]),
  );
  return { cert, key };
}

// ---- the MariaDB 11.4+ generated certificate ----

/** DER: one tag-length-value at `offset`. */
function readTlv(der: Buffer, offset: number): { start: number; end: number; contentStart: number } {
  const first = der[offset + 1] ?? 0;
  const lengthBytes = first & 0x80 ? first & 0x7f : 0;
  const length = lengthBytes === 0 ? first : der.readUIntBE(offset + 2, lengthBytes);
  const contentStart = offset + 2 + lengthBytes;
  return { start: offset, end: contentStart + length, contentStart };
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length =
    n < 0x80
      ? Buffer.from([n])
      : Buffer.concat([Buffer.from([0x80 | Math.ceil(n.toString(16).length / 2)]), bigEndian(n)]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

function bigEndian(n: number): Buffer {
  const hex = n.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
}

const SEQUENCE = 0x30;
const BIT_STRING = 0x03;
/** `[0] EXPLICIT Version ::= v3 (2)` (RFC 5280 section 4.1). */
const VERSION_3 = Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]);

/**
 * The certificate MariaDB 11.4+ makes in memory (vio_gencert): RSA 4096, subject = issuer = CN=MariaDB
 * Server, serial 0, 3650 days from now, sha256WithRSAEncryption, X.509 v3 with no extensions at all. The
 * openssl CLI writes v1 when there are no extensions, so the version field is added and the certificate
 * re-signed with the same key.
 */
export async function mariadbGeneratedCertificate(dir: string): Promise<KeyPair> {
  const traits = GENERATED_CERT_TRAITS;
  const key = await newKey(path.join(dir, 'generated.key'), 'rsa-4096');
  const v1 = path.join(dir, 'generated-v1.pem');
  await must(
    ['req', '-x509', '-new', '-config', configFile(dir), '-extensions', 'none', '-key', key]
      .concat(['-subj', traits.name, '-set_serial', String(Number.parseInt(traits.serial, 16))])
      .concat(['-days', String(traits.validityDays), '-sha256', '-out', v1]),
  );
  const der = Buffer.from(
    fs
      .readFileSync(v1, 'utf8')
      .replace(/-----[^-]+-----/g, '')
      .replace(/\s+/g, ''),
    'base64',
  );
  const outer = readTlv(der, 0);
  const tbs = readTlv(der, outer.contentStart);
  const algorithm = readTlv(der, tbs.end);
  const tbsV3 = tlv(SEQUENCE, Buffer.concat([VERSION_3, der.subarray(tbs.contentStart, tbs.end)]));
  const signature = sign('sha256', tbsV3, createPrivateKey(fs.readFileSync(key)));
  const certificate = tlv(
    SEQUENCE,
    Buffer.concat([
      tbsV3,
      der.subarray(algorithm.start, algorithm.end),
      tlv(BIT_STRING, Buffer.concat([Buffer.from([0]), signature])),
    ]),
  );
  const cert = path.join(dir, 'generated.pem');
  const base64 = certificate.toString('base64').replace(/.{64}/g, '$&\n');
  fs.writeFileSync(cert, `-----BEGIN CERTIFICATE-----\n${base64.trimEnd()}\n-----END CERTIFICATE-----\n`);
  return { cert, key };
}
