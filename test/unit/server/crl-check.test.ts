/**
 * `server enable --crl`: the CRL file is checked against the CA certificates the server will know before
 * anything is installed (src/server/tls/crl-check.ts). Each gap would make the server refuse every client
 * certificate under one CA (FACTS.md; the integration test shows it with MariaDB), so each is refused
 * here, and what OpenSSL would use is accepted.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, type KeyObject, sign } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initCa } from '../../../src/ca/init.js';
import { generateCrls } from '../../../src/ca/revoke.js';
import type { Ca } from '../../../src/ca/store.js';
import { type CertificateInfo, parseCertificate } from '../../../src/pki/certificate.js';
import {
  bitString,
  boolean,
  explicit,
  octetString,
  oid,
  sequence,
  time,
  unsignedInteger,
} from '../../../src/pki/der.js';
import { pemBlocks, toPem } from '../../../src/pki/pem.js';
import { signatureAlgorithmFor } from '../../../src/pki/tbs.js';
import { checkCrlCoverage } from '../../../src/server/tls/crl-check.js';
import { openssl } from '../../harness/oracles.js';

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

const scope = () => ({ caPem: ca.caPem(), chainPem: ca.chainPem(), caDir: ca.dir });
const FILE = '/etc/mysql/ssl/crl.pem';
const FIX = () => `sign current ones: dbtls crl --out crl.pem --ca-dir ${ca.dir}, and pass --crl crl.pem`;
const LOCKOUT = 'the server would refuse every client certificate under that CA';

/** A CRL built field by field (RFC 5280 §5.1), with the given crlExtensions, signed by `key`. */
function craftedCrl(
  issuer: CertificateInfo,
  key: KeyObject,
  extensions: Buffer[],
  from = new Date(),
): string {
  const alg = signatureAlgorithmFor(key);
  const tbs = sequence(
    unsignedInteger(1),
    alg.der,
    issuer.subjectDer,
    time(new Date(Math.floor(from.getTime() / 1000) * 1000 - DAY)),
    time(new Date(Math.floor(from.getTime() / 1000) * 1000 + 30 * DAY)),
    explicit(0, sequence(...extensions)),
  );
  return toPem('X509 CRL', sequence(tbs, alg.der, bitString(sign(alg.hash, tbs, key))));
}
const crlNumber = sequence(oid('2.5.29.20'), octetString(unsignedInteger(7)));

describe('checkCrlCoverage', () => {
  it('passes what `dbtls crl` writes: one current CRL from the root and one from the intermediate', () => {
    const { pem } = generateCrls(ca);
    assert.equal(pemBlocks(pem).length, 2);
    checkCrlCoverage(pem, scope(), FILE);
  });

  it("only the intermediate's CRL: CRL_MISSING naming the root (MariaDB would refuse every client)", () => {
    const intermediateOnly = toPem('X509 CRL', pemBlocks(generateCrls(ca).pem)[0]!.der);
    assert.throws(() => checkCrlCoverage(intermediateOnly, scope(), FILE), {
      code: 'CRL_MISSING',
      message: `could not use the CRL "${FILE}": it holds no CRL signed by the CA "dbtls Root CA", which the server trusts (it holds CRLs of "/O=Acme/CN=Acme Intermediate CA"); with ssl_crl set, ${LOCKOUT}`,
      hint: FIX(),
    });
  });

  it("another CA's CRL: CRL_MISSING; without a dbtls CA directory the hint says what to put in the file", () => {
    assert.throws(() => checkCrlCoverage(generateCrls(other).pem, { caPem: ca.caPem() }, FILE), {
      code: 'CRL_MISSING',
      message:
        /no CRL signed by the CA "dbtls Root CA", which the server trusts \(it holds CRLs of "\/O=Other\/CN=dbtls Root CA"\)/,
      hint: 'put a current CRL signed by each CA the server trusts into the file (a dbtls CA writes them all with: dbtls crl --out crl.pem)',
    });
  });

  it('a CRL that names the CA but whose signature was altered: CRL_MISSING saying so', () => {
    const der = Buffer.from(pemBlocks(generateCrls(other).pem)[0]!.der);
    der[der.length - 5]! ^= 0x01; // inside the signature value
    assert.throws(() => checkCrlCoverage(toPem('X509 CRL', der), { caPem: other.caPem() }, FILE), {
      code: 'CRL_MISSING',
      message: `could not use the CRL "${FILE}": the CRL naming the CA "dbtls Root CA" as its issuer is not signed by that CA's key (or with an algorithm dbtls cannot check); with ssl_crl set, ${LOCKOUT}`,
    });
  });

  it('only CRLs that have run out: CRL_EXPIRED with the date', () => {
    const old = generateCrls(ca, { now: new Date(Date.now() - 40 * DAY), days: 30 }).pem;
    assert.throws(() => checkCrlCoverage(old, scope(), FILE), {
      code: 'CRL_EXPIRED',
      message: new RegExp(
        `^could not use the CRL "/etc/mysql/ssl/crl\\.pem": the CRL of the CA "dbtls Root CA" ran out on \\d{4}-\\d{2}-\\d{2} [\\d:]+ UTC; ${LOCKOUT}$`,
      ),
      hint: `${FIX()}; publish the next one before it runs out`,
    });
  });

  it('as OpenSSL chooses: a current CRL counts beside an expired one or one pre-published for later', () => {
    const old = generateCrls(ca, { now: new Date(Date.now() - 40 * DAY), days: 30 }).pem;
    const later = generateCrls(ca, { now: new Date(Date.now() + 20 * DAY) }).pem;
    const fresh = generateCrls(ca).pem;
    checkCrlCoverage(old + fresh, scope(), FILE);
    checkCrlCoverage(later + fresh, scope(), FILE);
  });

  it('only CRLs valid from tomorrow: CRL_NOT_YET_VALID', () => {
    const future = generateCrls(ca, { now: new Date(Date.now() + DAY) }).pem;
    assert.throws(() => checkCrlCoverage(future, scope(), FILE), {
      code: 'CRL_NOT_YET_VALID',
      message: new RegExp(`the CRL of the CA "dbtls Root CA" is valid only from .*; until then ${LOCKOUT}$`),
      hint: `check this machine's clock and the CA's; ${FIX()}`,
    });
  });

  it("a delta CRL is not the CA's CRL (OpenSSL uses deltas only when asked): CRL_MISSING", () => {
    const delta = craftedCrl(other.root, other.rootKey(), [
      crlNumber,
      sequence(oid('2.5.29.27'), boolean(true), octetString(unsignedInteger(6))),
    ]);
    assert.throws(() => checkCrlCoverage(delta, { caPem: other.caPem() }, FILE), {
      code: 'CRL_MISSING',
      message: `could not use the CRL "${FILE}": its only CRL from the CA "dbtls Root CA" is a delta CRL, which OpenSSL does not take as the CA's CRL; with ssl_crl set, ${LOCKOUT}`,
    });
    const plain = craftedCrl(other.root, other.rootKey(), [crlNumber]);
    checkCrlCoverage(plain, { caPem: other.caPem() }, FILE); // the same, without the indicator, counts
  });

  it('a critical extension OpenSSL does not handle: CRL_MISSING naming it', () => {
    const odd = craftedCrl(other.root, other.rootKey(), [
      crlNumber,
      sequence(oid('1.3.6.1.4.1.99999.1'), boolean(true), octetString(Buffer.from([5, 0]))),
    ]);
    assert.throws(() => checkCrlCoverage(odd, { caPem: other.caPem() }, FILE), {
      code: 'CRL_MISSING',
      message: `could not use the CRL "${FILE}": the CRL of the CA "dbtls Root CA" carries the critical extension 1.3.6.1.4.1.99999.1, which OpenSSL does not handle; ${LOCKOUT}`,
    });
  });

  it('a CA whose keyUsage lacks cRLSign: no CRL of it counts', async () => {
    const key = path.join(dir, 'no-crl-sign.key');
    const cert = path.join(dir, 'no-crl-sign.pem');
    const made = await openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '30',
      '-subj',
      '/CN=no crl sign',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const caPem = fs.readFileSync(cert, 'utf8');
    const crl = craftedCrl(parseCertificate(caPem), createPrivateKey(fs.readFileSync(key)), [crlNumber]);
    assert.throws(() => checkCrlCoverage(crl, { caPem }, FILE), {
      code: 'CRL_MISSING',
      message: `could not use the CRL "${FILE}": the CA "no crl sign" may not sign CRLs (its keyUsage lacks cRLSign), so no CRL of it counts; with ssl_crl set, ${LOCKOUT}`,
      hint: 'leave --crl out for this CA: revocation checking needs a CA whose certificate allows cRLSign',
    });
  });

  it("a CRL from `openssl ca -gencrl` (v2, a revoked entry with its reason, OpenSSL's own encoding) is read and counted", async () => {
    const d = fs.mkdtempSync(path.join(dir, 'openssl-ca-'));
    const at = (f: string) => path.join(d, f);
    fs.writeFileSync(at('index.txt'), '');
    fs.writeFileSync(at('crlnumber'), '1000\n');
    fs.writeFileSync(
      at('ca.cnf'),
      [
        '[ca]',
        'default_ca = own',
        '[own]',
        `database = ${at('index.txt')}`,
        `crlnumber = ${at('crlnumber')}`,
        'default_md = sha256',
        'default_crl_days = 30',
        'crl_extensions = crl_ext',
        '[crl_ext]',
        'authorityKeyIdentifier = keyid:always',
        '',
      ].join('\n'),
    );
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30'];
    const steps = [
      [
        'req',
        '-x509',
        ...ec,
        '-subj',
        '/O=Ossl/CN=ossl root',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-keyout',
        at('ca.key'),
        '-out',
        at('ca.pem'),
      ],
      ['req', '-x509', ...ec, '-subj', '/CN=revoked', '-keyout', at('leaf.key'), '-out', at('leaf.pem')],
      [
        'ca',
        '-config',
        at('ca.cnf'),
        '-keyfile',
        at('ca.key'),
        '-cert',
        at('ca.pem'),
        '-revoke',
        at('leaf.pem'),
        '-crl_reason',
        'keyCompromise',
      ],
      [
        'ca',
        '-config',
        at('ca.cnf'),
        '-keyfile',
        at('ca.key'),
        '-cert',
        at('ca.pem'),
        '-gencrl',
        '-out',
        at('crl.pem'),
      ],
    ];
    for (const args of steps) {
      const r = await openssl(args);
      assert.equal(r.code, 0, `openssl ${args[0]}: ${r.stderr}`);
    }
    const listed = await openssl(['crl', '-in', at('crl.pem'), '-noout', '-text']);
    assert.match(listed.stdout, /Key Compromise/); // the oracle: a revoked entry with its reason is in it
    checkCrlCoverage(
      fs.readFileSync(at('crl.pem'), 'utf8'),
      { caPem: fs.readFileSync(at('ca.pem'), 'utf8') },
      FILE,
    );
  });

  it('no CRL, or a block that is not one: CRL_MALFORMED', () => {
    assert.throws(() => checkCrlCoverage(ca.caPem(), scope(), FILE), {
      code: 'CRL_MALFORMED',
      message: `could not read the CRL "${FILE}": it holds no PEM CRL`,
    });
    const garbage = '-----BEGIN X509 CRL-----\nMAMCAQE=\n-----END X509 CRL-----\n';
    assert.throws(() => checkCrlCoverage(garbage, scope(), FILE), {
      code: 'CRL_MALFORMED',
      message: /^could not read the CRL "\/etc\/mysql\/ssl\/crl\.pem": its PEM block 1 is not a CRL \(/,
    });
  });
});
