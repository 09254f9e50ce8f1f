/**
 * Issue 14, items 11 and 13: `dbtls cert show` and `dbtls csr show` on certificates and requests made by
 * dbtls and by openssl, their human and --json output checked against openssl (the one-line subject as
 * the server computes it for REQUIRE SUBJECT: `-nameopt compat`, FACTS.md); one date format in human
 * output (`2026-12-04 17:20 UTC`), ISO 8601 in --json.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../../../src/cli/main.js';
import { dateText, dayText } from '../../../src/util/dates.js';
import { openssl } from '../../harness/oracles.js';
import { capture } from '../../unit/cli/capture.js';

let dir: string;
const at = (f: string) => path.join(dir, f);

async function ok(argv: string[]) {
  const { out, render } = capture();
  const code = await run(argv, render);
  assert.equal(code, 0, `${argv.join(' ')}: ${out.stderr}`);
  return out;
}

async function ossl(args: string[]): Promise<string> {
  const r = await openssl(args);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** What openssl says of a certificate, in the fields cert show reports. */
async function oracle(file: string) {
  const subject = (await ossl(['x509', '-in', file, '-noout', '-subject', '-nameopt', 'compat'])).replace(
    /^subject=/,
    '',
  );
  const issuer = (await ossl(['x509', '-in', file, '-noout', '-issuer', '-nameopt', 'compat'])).replace(
    /^issuer=/,
    '',
  );
  const end = (await ossl(['x509', '-in', file, '-noout', '-enddate'])).replace(/^notAfter=/, '');
  const fingerprint = (await ossl(['x509', '-in', file, '-noout', '-fingerprint', '-sha256']))
    .replace(/^.*=/, '')
    .replace(/:/g, '')
    .toLowerCase();
  const serial = (await ossl(['x509', '-in', file, '-noout', '-serial']))
    .replace(/^serial=/, '')
    .toLowerCase();
  return { subject, issuer, notAfter: new Date(end), fingerprint, serial };
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-cert-show-'));
  await ok(['ca', 'init', '--no-passphrase', '--ca-dir', at('ca')]);
  await ok([
    'issue',
    'server',
    '--cn',
    'db1.example.com',
    '--ip',
    '10.0.0.5',
    '--out',
    at('db1'),
    '--ca-dir',
    at('ca'),
  ]);
  await ok(['issue', 'client', '--cn', 'üser', '--out', at('user'), '--ca-dir', at('ca')]);
  // openssl's own: a multi-attribute subject with an escaped '/' and UTF-8, RSA, a SAN of its own.
  await ossl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    at('o.key'),
    '-out',
    at('o.pem'),
    '-days',
    '30',
    '-utf8',
    '-subj',
    '/C=DE/O=Gr\u00fcn \\/ Co/CN=app',
    '-addext',
    'subjectAltName=DNS:app.example.com',
    '-addext',
    'extendedKeyUsage=clientAuth',
  ]);
  await ossl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-384',
    '-nodes',
    '-keyout',
    at('r.key'),
    '-out',
    at('r.csr'),
    '-utf8',
    '-subj',
    '/O=Gr\u00fcn/CN=db2.example.com',
    '-addext',
    'subjectAltName=DNS:db2,IP:10.0.0.6',
  ]);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('dbtls cert show (issue 14, item 11)', () => {
  for (const [name, file] of [
    ['made by dbtls (server)', 'db1/cert.pem'],
    ['made by dbtls (client, UTF-8 CN)', 'user/cert.pem'],
    ['made by openssl (RSA, escaped /)', 'o.pem'],
  ] as const) {
    it(`${name}: --json and the human lines say what openssl says`, async () => {
      const o = await oracle(at(file));
      const json = JSON.parse((await ok(['cert', 'show', at(file), '--json'])).stdout);
      const [c] = json.certificates;
      assert.equal(c.subject, o.subject);
      assert.equal(c.issuer, o.issuer);
      assert.equal(c.serial.replace(/^0+/, ''), o.serial.replace(/^0+/, ''));
      assert.equal(c.fingerprint.replace(/:/g, '').toLowerCase(), o.fingerprint);
      assert.equal(c.notAfter, o.notAfter.toISOString(), '--json keeps ISO 8601');
      const human = (await ok(['cert', 'show', at(file)])).stdout;
      assert.ok(human.includes(`subject:      ${o.subject}   (REQUIRE SUBJECT '${o.subject}')\n`), human);
      assert.ok(human.includes(`issuer:       ${o.issuer}\n`), human);
      assert.match(
        human,
        new RegExp(
          `^valid: {8}\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC to ${dateText(o.notAfter)} \\(\\d+ days left\\)$`,
          'm',
        ),
      );
    });
  }

  it('names, usages and key of each', async () => {
    const db1 = JSON.parse((await ok(['cert', 'show', at('db1/cert.pem'), '--json'])).stdout).certificates[0];
    assert.deepEqual([db1.dnsNames, db1.ipAddresses], [['db1.example.com'], ['10.0.0.5']]);
    assert.deepEqual(db1.extendedKeyUsage, ['serverAuth']);
    assert.deepEqual(db1.key, { type: 'EC', bits: 256, curve: 'P-256' });
    const human = (await ok(['cert', 'show', at('db1/cert.pem')])).stdout;
    assert.match(human, /^names \(SAN\): {2}db1\.example\.com, 10\.0\.0\.5$/m);
    assert.match(human, /^key: {10}EC P-256, signed with /m);
    const user = JSON.parse((await ok(['cert', 'show', at('user/cert.pem'), '--json'])).stdout)
      .certificates[0];
    assert.equal(user.subject, '/O=dbtls/CN=\\xC3\\xBCser');
    assert.deepEqual(user.extendedKeyUsage, ['clientAuth']);
    const o = JSON.parse((await ok(['cert', 'show', at('o.pem'), '--json'])).stdout).certificates[0];
    assert.deepEqual(
      [o.dnsNames, o.extendedKeyUsage, o.key.type, o.key.bits, o.selfSigned],
      [['app.example.com'], ['clientAuth'], 'RSA', 2048, true],
    );
  });

  it('a chain: every certificate, leaf first', async () => {
    const human = (await ok(['cert', 'show', at('db1/chain.pem')])).stdout;
    const chain = JSON.parse((await ok(['cert', 'show', at('db1/chain.pem'), '--json'])).stdout).certificates;
    assert.equal(
      chain.length,
      (fs.readFileSync(at('db1/chain.pem'), 'utf8').match(/BEGIN CERTIFICATE/g) ?? []).length,
    );
    if (chain.length > 1) assert.match(human, /^certificate 1 of \d:$/m);
  });
});

describe('dbtls csr show (issue 14, item 11)', () => {
  it('a request made by openssl: subject as openssl prints it, names, key', async () => {
    const subject = (
      await ossl(['req', '-in', at('r.csr'), '-noout', '-subject', '-nameopt', 'compat'])
    ).replace(/^subject=/, '');
    assert.equal(subject, '/O=Gr\\xC3\\xBCn/CN=db2.example.com');
    const json = JSON.parse((await ok(['csr', 'show', at('r.csr'), '--json'])).stdout);
    assert.deepEqual(
      [json.subject, json.cn, json.dnsNames, json.ipAddresses, json.requestsCa],
      [subject, 'db2.example.com', ['db2'], ['10.0.0.6'], false],
    );
    const human = (await ok(['csr', 'show', at('r.csr')])).stdout;
    assert.ok(human.startsWith(`subject:      ${subject}   (`), human);
    assert.match(human, /^names \(SAN\): {2}db2, 10\.0\.0\.6$/m);
    assert.match(human, /^key: {10}EC P-384$/m);
    assert.match(human, /^signature: {4}valid$/m);
  });

  it('a request made by dbtls csr', async () => {
    await ok(['csr', '--cn', 'app_user', '--out', at('req')]);
    const json = JSON.parse((await ok(['csr', 'show', at('req/csr.pem'), '--json'])).stdout);
    const subject = (
      await ossl(['req', '-in', at('req/csr.pem'), '-noout', '-subject', '-nameopt', 'compat'])
    ).replace(/^subject=/, '');
    assert.deepEqual([json.subject, json.cn, json.dnsNames], [subject, 'app_user', []]);
    // One wording for the key in both commands: `EC P-256`, not OpenSSL's `prime256v1` for the CSR.
    assert.equal(json.key, 'EC P-256');
    const human = (await ok(['csr', 'show', at('req/csr.pem')])).stdout;
    assert.match(human, /^key: {10}EC P-256$/m);
    await ok([
      'sign',
      at('req/csr.pem'),
      '--profile',
      'client',
      '--out',
      at('req/cert.pem'),
      '--ca-dir',
      at('ca'),
    ]);
    const cert = (await ok(['cert', 'show', at('req/cert.pem')])).stdout;
    assert.match(cert, /^key: {10}EC P-256, signed with /m);
  });
});

describe('one date format in human output (issue 14, item 13)', () => {
  it('dateText: minutes, UTC, sortable; a non-date is shown as given', () => {
    assert.equal(dateText(new Date(Date.UTC(2026, 11, 4, 17, 20, 59))), '2026-12-04 17:20 UTC');
    assert.equal(dateText('2027-01-05T00:00:00.000Z'), '2027-01-05 00:00 UTC');
    assert.equal(dateText('not a date'), 'not a date');
    assert.equal(dayText('2027-01-05T23:59:00.000Z'), '2027-01-05');
  });

  it('issue, ca show and crl speak it; list columns its date part', async () => {
    const list = (await ok(['list', '--ca-dir', at('ca')])).stdout;
    assert.match(list, /\s\d{4}-\d\d-\d\d\s/);
    const show = (await ok(['ca', 'show', '--ca-dir', at('ca')])).stdout;
    assert.match(show, /valid from \d{4}-\d\d-\d\d \d\d:\d\d UTC to \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    const crl = (await ok(['crl', '--ca-dir', at('ca')])).stdout;
    assert.match(crl, /next update due \d{4}-\d\d-\d\d \d\d:\d\d UTC /);
    const issued = (
      await ok(['issue', 'client', '--cn', 'dated', '--out', at('dated'), '--ca-dir', at('ca')])
    ).stdout;
    assert.match(issued, /^It will expire on \d{4}-\d\d-\d\d \d\d:\d\d UTC\.$/m);
  });
});
