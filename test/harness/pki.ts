/**
 * An independent test PKI made with the openssl CLI. It is an oracle: it must not use dbtls's own src/pki,
 * so a bug there cannot hide itself. Keys are EC P-256 (PKCS#8, unencrypted, 0600). Generated once per
 * process (and per directory when one is given); a temp directory is removed on process exit.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openssl } from './oracles.js';

export interface KeyPair {
  cert: string;
  key: string;
}
export interface TestPki {
  dir: string;
  /** Root CA certificate (PEM file). */
  ca: string;
  caKey: string;
  /** Signed by `ca`; SAN DNS:localhost, IP:127.0.0.1; EKU serverAuth. */
  server: KeyPair;
  /** Signed by `ca`; CN=dbtls_client, O=dbtls test; EKU clientAuth; `subject` in OpenSSL's one-line form. */
  client: KeyPair & { subject: string };
  /** A second, unrelated root CA. */
  otherCa: string;
  /** Signed by `otherCa`; CN/SAN localhost + 127.0.0.1. */
  otherServer: KeyPair;
  /** Signed by `ca`; SAN only DNS:wrong.example. */
  wrongHost: KeyPair;
  /** Signed by `ca`; SAN only IP:127.0.0.1 (no DNS name). */
  ipOnly: KeyPair;
  /** Signed by `ca`; SAN only DNS:localhost (no IP address). */
  localhostOnly: KeyPair;
  /** Signed by `ca`; expired (2020-2021); SAN localhost + 127.0.0.1. */
  expired: KeyPair;
  /** Signed by `otherCa`; CN=dbtls_client, EKU clientAuth. */
  otherClient: KeyPair;
}

/** The extension profiles, as an OpenSSL config file (RFC 5280 4.2.1.x). */
const CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost, IP:127.0.0.1
[wrong_host]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:wrong.example
[ip_only]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = IP:127.0.0.1
[localhost_only]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
# openssl ca (used for the expired certificate only)
[ca]
default_ca = expired_ca
[expired_ca]
database = $ENV::PKI_DIR/ca-db/index.txt
new_certs_dir = $ENV::PKI_DIR/ca-db
serial = $ENV::PKI_DIR/ca-db/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
[policy_any]
commonName = supplied
organizationName = optional
`;

/** Validity of the expired certificate: long past, so no clock skew makes it valid. */
const EXPIRED_START = '20200101000000Z';
const EXPIRED_END = '20210101000000Z';
const DAYS = '3650';

const cache = new Map<string, Promise<TestPki>>();
let tempDirs: string[] | undefined;

async function must(args: string[], dir: string): Promise<string> {
  const result = await openssl(args, { env: { ...process.env, PKI_DIR: dir } });
  if (result.code !== 0) {
    throw new Error(`harness: openssl ${args.join(' ')} failed (${result.code}):\n${result.stderr}`);
  }
  return result.stdout;
}

async function newKey(dir: string, name: string): Promise<string> {
  const key = path.join(dir, `${name}.key`);
  await must(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], dir);
  fs.chmodSync(key, 0o600);
  return key;
}

async function makeRoot(dir: string, name: string, cn: string): Promise<{ cert: string; key: string }> {
  const key = await newKey(dir, name);
  const cert = path.join(dir, `${name}.pem`);
  const config = path.join(dir, 'openssl.cnf');
  await must(
    [
      'req',
      '-config',
      config,
      '-new',
      '-x509',
      '-key',
      key,
      '-sha256',
      '-days',
      DAYS,
      '-subj',
      `/O=dbtls test/CN=${cn}`,
    ].concat(['-extensions', 'root', '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-out', cert]),
    dir,
  );
  return { cert, key };
}

async function makeCsr(dir: string, name: string, subject: string): Promise<{ csr: string; key: string }> {
  const key = await newKey(dir, name);
  const csr = path.join(dir, `${name}.csr`);
  await must(
    ['req', '-config', path.join(dir, 'openssl.cnf'), '-new', '-key', key, '-subj', subject, '-out', csr],
    dir,
  );
  return { csr, key };
}

async function makeLeaf(
  dir: string,
  name: string,
  subject: string,
  profile: 'server' | 'wrong_host' | 'ip_only' | 'localhost_only' | 'client',
  issuer: { cert: string; key: string },
): Promise<KeyPair> {
  const { csr, key } = await makeCsr(dir, name, subject);
  const cert = path.join(dir, `${name}.pem`);
  await must(
    ['x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key, '-sha256', '-days', DAYS]
      .concat(['-set_serial', `0x${randomBytes(16).toString('hex')}`])
      .concat(['-extfile', path.join(dir, 'openssl.cnf'), '-extensions', profile, '-out', cert]),
    dir,
  );
  return { cert, key };
}

/** `openssl x509 -req` (3.0) cannot set a start date: `openssl ca` with -startdate/-enddate can. */
async function makeExpired(dir: string, issuer: { cert: string; key: string }): Promise<KeyPair> {
  const { csr, key } = await makeCsr(dir, 'expired', '/O=dbtls test/CN=localhost');
  const db = path.join(dir, 'ca-db');
  fs.mkdirSync(db, { recursive: true });
  fs.writeFileSync(path.join(db, 'index.txt'), '');
  fs.writeFileSync(path.join(db, 'serial'), `${randomBytes(16).toString('hex').replace(/^0/, '1')}\n`);
  const cert = path.join(dir, 'expired.pem');
  await must(
    ['ca', '-batch', '-notext', '-preserveDN', '-config', path.join(dir, 'openssl.cnf'), '-in', csr]
      .concat([
        '-cert',
        issuer.cert,
        '-keyfile',
        issuer.key,
        '-startdate',
        EXPIRED_START,
        '-enddate',
        EXPIRED_END,
      ])
      .concat(['-extfile', path.join(dir, 'openssl.cnf'), '-extensions', 'server', '-out', cert]),
    dir,
  );
  return { cert, key };
}

async function generate(dir: string): Promise<TestPki> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'openssl.cnf'), CONFIG);
  const [root, otherRoot] = await Promise.all([
    makeRoot(dir, 'ca', 'dbtls Test Root CA'),
    makeRoot(dir, 'other-ca', 'dbtls Other Root CA'),
  ]);
  const [server, client, otherServer, otherClient, wrongHost, expired, ipOnly, localhostOnly] =
    await Promise.all([
      makeLeaf(dir, 'server', '/O=dbtls test/CN=localhost', 'server', root),
      makeLeaf(dir, 'client', '/O=dbtls test/CN=dbtls_client', 'client', root),
      makeLeaf(dir, 'other-server', '/O=dbtls other/CN=localhost', 'server', otherRoot),
      makeLeaf(dir, 'other-client', '/O=dbtls other/CN=dbtls_client', 'client', otherRoot),
      makeLeaf(dir, 'wrong-host', '/O=dbtls test/CN=wrong.example', 'wrong_host', root),
      makeExpired(dir, root),
      makeLeaf(dir, 'ip-only', '/O=dbtls test/CN=ip-only', 'ip_only', root),
      makeLeaf(dir, 'localhost-only', '/O=dbtls test/CN=localhost-only', 'localhost_only', root),
    ]);
  // What MariaDB's REQUIRE SUBJECT compares with, byte for byte (FACTS.md).
  const subjectLine = await must(
    ['x509', '-in', client.cert, '-noout', '-subject', '-nameopt', 'compat'],
    dir,
  );
  const subject = subjectLine.trim().replace(/^subject=\s*/, '');
  return {
    dir,
    ca: root.cert,
    caKey: root.key,
    server,
    client: { ...client, subject },
    otherCa: otherRoot.cert,
    otherServer,
    wrongHost,
    ipOnly,
    localhostOnly,
    expired,
    otherClient,
  };
}

/**
 * A further client certificate from the test CA (EKU clientAuth), with the openssl CLI, written into
 * `dir` as `<name>.pem` and `<name>.key`: for tests that rotate to a new client identity.
 */
export async function makeClientCertificate(
  pki: TestPki,
  dir: string,
  name: string,
  subject: string,
): Promise<KeyPair> {
  fs.copyFileSync(path.join(pki.dir, 'openssl.cnf'), path.join(dir, 'openssl.cnf'));
  return makeLeaf(dir, name, subject, 'client', { cert: pki.ca, key: pki.caKey });
}

/**
 * The test PKI in `dir`, or in a temp directory removed at process exit. Generated once per process and
 * directory: tests must not modify its files (copy them first).
 */
export function makeTestPki(dir?: string): Promise<TestPki> {
  const key = dir === undefined ? '' : path.resolve(dir);
  let pki = cache.get(key);
  if (pki === undefined) {
    let target = key;
    if (target === '') {
      target = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-pki-'));
      if (tempDirs === undefined) {
        const dirs: string[] = [];
        tempDirs = dirs;
        process.on('exit', () => {
          for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
        });
      }
      tempDirs.push(target);
    }
    pki = generate(target);
    pki.catch(() => cache.delete(key));
    cache.set(key, pki);
  }
  return pki;
}
