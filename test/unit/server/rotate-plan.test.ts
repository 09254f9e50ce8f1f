/**
 * The names a rotation re-issues under, read from the parsed certificate (issue 10 item 6), and what an
 * interrupted rotation left in the index. Certificates are made by the openssl CLI, not by dbtls.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { IndexEntry } from '../../../src/ca/cert-index.js';
import { type CertificateInfo, parseCertificate } from '../../../src/pki/certificate.js';
import { leftovers, namesOf } from '../../../src/server/rotation/plan.js';
import { openssl } from '../../harness/oracles.js';

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-rotate-plan-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A self-signed certificate with this subject and SANs, made by openssl. */
async function cert(subject: string, san?: string): Promise<CertificateInfo> {
  const out = path.join(tmp, `${Math.random().toString(16).slice(2)}.pem`);
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  args.push('-keyout', `${out}.key`, '-out', out, '-days', '1', '-subj', subject);
  if (san) args.push('-addext', `subjectAltName=${san}`);
  const r = await openssl(args);
  assert.equal(r.code, 0, r.stderr);
  return parseCertificate(fs.readFileSync(out));
}

describe('namesOf: from the parsed subject and SANs', () => {
  it('a CN hidden inside another attribute is that attribute, not a name', async () => {
    const c = await cert('/O=x\\/CN=victim.example.com/CN=attack.example.com', 'DNS:attack.example.com');
    const names = namesOf(c);
    assert.equal(names.cn, 'attack.example.com');
    assert.deepEqual(names.dns, ['attack.example.com']);
    assert.deepEqual(names.subjectPrefix, [{ type: 'O', value: 'x/CN=victim.example.com' }]);
  });

  it('keeps every other attribute in order; the last CN is the CN', async () => {
    const c = await cert('/C=DE/O=Acme/OU=db/CN=db1.example.com', 'DNS:db1.example.com,IP:10.0.0.5');
    const names = namesOf(c);
    assert.deepEqual(
      names.subjectPrefix.map((a) => `${a.type}=${a.value}`),
      ['C=DE', 'O=Acme', 'OU=db'],
    );
    assert.deepEqual([names.cn, names.dns, names.ip], ['db1.example.com', ['db1.example.com'], ['10.0.0.5']]);
  });

  it('refuses a CN that is not among the SANs (re-issuing would add a name): CERT_NAMES_UNSAFE', async () => {
    const c = await cert('/CN=victim.example.com', 'DNS:attack.example.com');
    assert.throws(() => namesOf(c), { code: 'CERT_NAMES_UNSAFE' });
  });

  it('without a CN, the first SAN is the CN', async () => {
    const c = await cert('/O=Acme', 'DNS:db2.example.com');
    assert.equal(namesOf(c).cn, 'db2.example.com');
  });
});

describe('leftovers of an interrupted rotation', () => {
  const entry = (serial: string, status: IndexEntry['status'], renewedFrom?: string) =>
    ({ serial, status, ...(renewedFrom ? { renewedFrom } : {}) }) as IndexEntry;
  const leaf = { serial: 'b' } as CertificateInfo;
  it('voids what was issued from the served leaf and never installed; supersedes its valid predecessor', () => {
    const entries = [
      entry('a', 'valid'),
      entry('b', 'valid', 'a'),
      entry('c', 'valid', 'b'),
      entry('d', 'void', 'b'),
      entry('e', 'revoked', 'b'),
    ];
    assert.deepEqual(leftovers(entries, leaf), { orphans: ['c'], superseded: ['a'] });
  });
  it('nothing left: nothing to do', () => {
    assert.deepEqual(leftovers([entry('a', 'revoked'), entry('b', 'valid', 'a')], leaf), {
      orphans: [],
      superseded: [],
    });
  });
});
