/**
 * An intermediate CA under the harness root, and a client certificate under it, made with the openssl CLI
 * (an oracle, independent of src/pki): for chains of three.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openssl } from '../../harness/oracles.js';
import type { TestPki } from '../../harness/pki.js';

export interface IntermediateChain {
  readonly intermediate: string;
  readonly intermediateKey: string;
  readonly leaf: string;
  readonly leafKey: string;
}

const CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[intermediate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

async function must(args: string[]): Promise<void> {
  const r = await openssl(args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

export async function makeIntermediateChain(pki: TestPki, dir: string): Promise<IntermediateChain> {
  const f = (name: string) => path.join(dir, name);
  fs.writeFileSync(f('ext.cnf'), CONFIG);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await must([
    'req',
    ...ec,
    '-keyout',
    f('int.key'),
    '-out',
    f('int.csr'),
    '-subj',
    '/O=dbtls test/CN=dbtls test intermediate',
    '-config',
    f('ext.cnf'),
  ]);
  await must([
    'x509',
    '-req',
    '-in',
    f('int.csr'),
    '-CA',
    pki.ca,
    '-CAkey',
    pki.caKey,
    '-set_serial',
    '0x1001',
    '-days',
    '30',
    '-extfile',
    f('ext.cnf'),
    '-extensions',
    'intermediate',
    '-out',
    f('int.pem'),
  ]);
  await must([
    'req',
    ...ec,
    '-keyout',
    f('leaf.key'),
    '-out',
    f('leaf.csr'),
    '-subj',
    '/O=dbtls test/CN=chain3_client',
    '-config',
    f('ext.cnf'),
  ]);
  await must([
    'x509',
    '-req',
    '-in',
    f('leaf.csr'),
    '-CA',
    f('int.pem'),
    '-CAkey',
    f('int.key'),
    '-set_serial',
    '0x1002',
    '-days',
    '10',
    '-extfile',
    f('ext.cnf'),
    '-extensions',
    'client',
    '-out',
    f('leaf.pem'),
  ]);
  return {
    intermediate: f('int.pem'),
    intermediateKey: f('int.key'),
    leaf: f('leaf.pem'),
    leafKey: f('leaf.key'),
  };
}

/** A self-signed root CA (EC P-256, 30 days) with the subject given: twins share a name, not a key. */
export async function makeRoot(
  dir: string,
  name: string,
  subject: string,
): Promise<{ cert: string; key: string }> {
  const f = (file: string) => path.join(dir, file);
  fs.writeFileSync(f('ext.cnf'), CONFIG);
  await must([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    f(`${name}.key`),
    '-out',
    f(`${name}.pem`),
    '-subj',
    subject,
    '-days',
    '30',
    '-config',
    f('ext.cnf'),
    '-extensions',
    'root',
  ]);
  return { cert: f(`${name}.pem`), key: f(`${name}.key`) };
}

/** A root CA that expired in 2021 (`openssl ca -selfsign` with fixed dates: no clock makes it valid). */
export async function makeExpiredCa(dir: string): Promise<string> {
  const f = (file: string) => path.join(dir, file);
  fs.mkdirSync(f('expired-db'), { recursive: true });
  fs.writeFileSync(f('expired-db/index.txt'), '');
  fs.writeFileSync(f('expired-db/serial'), '2001\n');
  fs.writeFileSync(
    f('expired-ca.cnf'),
    `${CONFIG}[ca]
default_ca = own
[own]
database = ${f('expired-db/index.txt')}
new_certs_dir = ${f('expired-db')}
serial = ${f('expired-db/serial')}
default_md = sha256
policy = any
unique_subject = no
email_in_dn = no
[any]
commonName = supplied
organizationName = optional
`,
  );
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await must([
    'req',
    ...ec,
    '-keyout',
    f('expired-ca.key'),
    '-out',
    f('expired-ca.csr'),
    '-subj',
    '/O=dbtls test/CN=dbtls expired CA',
    '-config',
    f('expired-ca.cnf'),
  ]);
  await must([
    'ca',
    '-batch',
    '-config',
    f('expired-ca.cnf'),
    '-selfsign',
    '-keyfile',
    f('expired-ca.key'),
    '-in',
    f('expired-ca.csr'),
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20210101000000Z',
    '-extensions',
    'root',
    '-notext',
    '-out',
    f('expired-ca.pem'),
  ]);
  return f('expired-ca.pem');
}
