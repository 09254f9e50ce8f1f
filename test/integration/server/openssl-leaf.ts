/**
 * Extra leaves signed by the harness CA with the openssl CLI (an oracle independent of src/pki): a second
 * server certificate for `server enable`, client certificates with awkward subjects for `require`.
 */
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openssl } from '../../harness/oracles.js';
import type { KeyPair, TestPki } from '../../harness/pki.js';

const EXTENSIONS = {
  server: 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  client: 'extendedKeyUsage=clientAuth\n',
} as const;

/**
 * A leaf for `subject` (OpenSSL's `-subj` form, UTF-8 allowed), EC P-256, signed by the harness CA,
 * valid 30 days. Files are DIR/NAME.pem and DIR/NAME.key.
 */
export async function opensslLeaf(
  pki: TestPki,
  dir: string,
  name: string,
  profile: keyof typeof EXTENSIONS,
  subject = `/O=dbtls test/CN=${name}`,
): Promise<KeyPair> {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.pem`);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(ext, `${EXTENSIONS[profile]}basicConstraints=critical,CA:FALSE\n`);
  const request = ['req', '-new', '-utf8', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  const steps = [
    [...request, '-nodes', '-keyout', key, '-subj', subject, '-out', csr],
    ['x509', '-req', '-in', csr, '-CA', pki.ca, '-CAkey', pki.caKey, '-days', '30', '-extfile', ext].concat([
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-out',
      cert,
    ]),
  ];
  for (const args of steps) {
    const r = await openssl(args);
    assert.equal(r.code, 0, r.stderr);
  }
  return { cert, key };
}

/** What `openssl x509 -noout -subject|-issuer -nameopt compat` prints: X509_NAME_oneline (FACTS.md). */
export async function opensslOneLine(cert: string, which: 'subject' | 'issuer'): Promise<string> {
  const r = await openssl(['x509', '-in', cert, '-noout', `-${which}`, '-nameopt', 'compat']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trimEnd().replace(new RegExp(`^${which}=`), '');
}
