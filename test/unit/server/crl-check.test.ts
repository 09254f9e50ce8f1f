/**
 * `server enable --crl`: the CRL file is checked against the CA certificates the server will know before
 * anything is installed (src/server/tls/crl-check.ts). Each gap would make the server refuse every client
 * certificate under one CA (FACTS.md; the integration test shows it with MariaDB), so each is refused here.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initCa } from '../../../src/ca/init.js';
import { generateCrls } from '../../../src/ca/revoke.js';
import type { Ca } from '../../../src/ca/store.js';
import { pemBlocks, toPem } from '../../../src/pki/pem.js';
import { checkCrlCoverage } from '../../../src/server/tls/crl-check.js';

const DAY = 86_400_000;
let dir: string;
let ca: Ca; // root + intermediate
let other: Ca;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-crl-check-'));
  ca = initCa(path.join(dir, 'ca'), { passphrase: undefined, intermediate: true, org: 'Acme' });
  other = initCa(path.join(dir, 'other'), { passphrase: undefined, org: 'Other' });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const server = () => ({ caPem: ca.caPem(), chainPem: ca.chainPem() });
const FILE = '/etc/mysql/ssl/crl.pem';
const HINT =
  "the file needs one CRL from each CA of the server's chain; sign them again with the CA that issued the clients' certificates: dbtls crl --out crl.pem";

describe('checkCrlCoverage', () => {
  it('passes what `dbtls crl` writes: one current CRL from the root and one from the intermediate', () => {
    const { pem } = generateCrls(ca);
    assert.equal(pemBlocks(pem).length, 2);
    assert.equal(checkCrlCoverage(pem, server(), FILE), pem);
  });

  it("only the intermediate's CRL: CRL_MISSING naming the root (MariaDB would refuse every client)", () => {
    const blocks = pemBlocks(generateCrls(ca).pem);
    const intermediateOnly = toPem('X509 CRL', blocks[0]!.der);
    assert.throws(() => checkCrlCoverage(intermediateOnly, server(), FILE), {
      code: 'CRL_MISSING',
      message: `could not use the CRL "${FILE}": it holds no CRL signed by the CA "dbtls Root CA", which the server trusts; with ssl_crl set, the server would refuse every client certificate under that CA (the file holds CRLs of /O=Acme/CN=Acme Intermediate CA)`,
      hint: HINT,
    });
  });

  it("another CA's CRL: CRL_MISSING naming the first CA without one", () => {
    assert.throws(() => checkCrlCoverage(generateCrls(other).pem, server(), FILE), {
      code: 'CRL_MISSING',
      message:
        /no CRL signed by the CA "dbtls Root CA", .*\(the file holds CRLs of \/O=Other\/CN=dbtls Root CA\)$/,
    });
  });

  it('a CRL whose signature was altered is not counted as signed by its CA', () => {
    const der = Buffer.from(pemBlocks(generateCrls(other).pem)[0]!.der);
    der[der.length - 5]! ^= 0x01; // inside the signature value
    const altered = toPem('X509 CRL', der);
    assert.throws(() => checkCrlCoverage(altered, { caPem: other.caPem() }, FILE), { code: 'CRL_MISSING' });
  });

  it('a CRL that has run out: CRL_EXPIRED with its date', () => {
    const old = generateCrls(ca, { now: new Date(Date.now() - 40 * DAY), days: 30 }).pem;
    assert.throws(() => checkCrlCoverage(old, server(), FILE), {
      code: 'CRL_EXPIRED',
      message:
        /^could not use the CRL "\/etc\/mysql\/ssl\/crl\.pem": the CRL of the CA "dbtls Root CA" ran out on \d{4}-\d{2}-\d{2}.*; the server would refuse every client certificate under that CA$/,
    });
  });

  it('a newer CRL beside an expired one of the same CA counts (OpenSSL takes the newest)', () => {
    const old = generateCrls(ca, { now: new Date(Date.now() - 40 * DAY), days: 30 }).pem;
    const fresh = generateCrls(ca).pem;
    assert.equal(checkCrlCoverage(old + fresh, server(), FILE), old + fresh);
  });

  it('a CRL valid only from tomorrow: CRL_NOT_YET_VALID', () => {
    const future = generateCrls(ca, { now: new Date(Date.now() + DAY) }).pem;
    assert.throws(() => checkCrlCoverage(future, server(), FILE), { code: 'CRL_NOT_YET_VALID' });
  });

  it('no CRL, or a block that is not one: CRL_MALFORMED', () => {
    assert.throws(() => checkCrlCoverage(ca.caPem(), server(), FILE), {
      code: 'CRL_MALFORMED',
      message: `could not read the CRL "${FILE}": it holds no PEM CRL`,
    });
    const garbage = '-----BEGIN X509 CRL-----\nMAMCAQE=\n-----END X509 CRL-----\n';
    assert.throws(() => checkCrlCoverage(garbage, server(), FILE), {
      code: 'CRL_MALFORMED',
      message: /^could not read the CRL "\/etc\/mysql\/ssl\/crl\.pem": its CRL number 1 is not a CRL \(/,
    });
  });
});
