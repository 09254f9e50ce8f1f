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
