/**
 * `--json` on the writing commands (export p12|jks|truststore, bundle, cloud-ca rds): one JSON document on
 * stdout describing exactly what was written, checked against the file itself.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { readKeystore } from '../../../src/keystore/read.js';
import { runCli } from '../../harness/cli.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

let pki: TestPki;
let dir: string;
let pw: string;
const f = (name: string) => path.join(dir, name);

before(async () => {
  pki = await makeTestPki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-json-'));
  pw = f('store.pw');
  fs.writeFileSync(pw, 'Store-Secret-1\n', { mode: 0o600 });
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function json(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout) as Record<string, unknown>;
}

test('export p12 and jks --json: file, format, profile, mode and the entry written', async () => {
  for (const format of ['p12', 'jks'] as const) {
    const out = f(`client.${format}`);
    const r = await runCli([
      'export',
      format,
      '--cert',
      pki.client.cert,
      '--key',
      pki.client.key,
      '--chain',
      pki.ca,
      '--alias',
      'mariadbclient',
      '--password-file',
      pw,
      '--out',
      out,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json(r.stdout), {
      file: out,
      format: format === 'p12' ? 'pkcs12' : 'jks',
      ...(format === 'p12' ? { profile: 'modern' } : {}),
      mode: '0600',
      entries: [{ alias: 'mariadbclient', type: 'PrivateKeyEntry', chainLength: 2 }],
    });
    const written = readKeystore(fs.readFileSync(out), 'Store-Secret-1', { skipKeys: true });
    assert.equal(written.format, format === 'p12' ? 'pkcs12' : 'jks', 'the same word keystore show uses');
    assert.equal(fs.statSync(out).mode & 0o777, 0o600);
  }
});

test('export truststore --json lists the trusted CAs by one-line subject', async () => {
  const out = f('trust.jks');
  const r = await runCli([
    'export',
    'truststore',
    '--format',
    'jks',
    '--ca',
    pki.ca,
    '--ca',
    pki.otherCa,
    '--password-file',
    pw,
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = json(r.stdout);
  assert.equal(doc.file, out);
  assert.equal(doc.format, 'jks');
  assert.equal(doc.mode, '0600');
  const trusted = doc.trusted as { subject: string; fingerprint: string }[];
  assert.deepEqual(
    trusted.map((t) => t.subject),
    ['/O=dbtls test/CN=dbtls Test Root CA', '/O=dbtls test/CN=dbtls Other Root CA'],
  );
  assert.ok(trusted.every((t) => /^[0-9a-f]{64}$/.test(t.fingerprint)));
});

test('bundle --json and cloud-ca rds --json describe the bundle written', async () => {
  const out = f('bundle.pem');
  const r = await runCli(['bundle', pki.ca, pki.otherCa, '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = json(r.stdout);
  assert.equal(doc.file, out);
  assert.equal(doc.complete, true);
  assert.equal((doc.certificates as unknown[]).length, 2);
  const show = await runCli(['bundle', 'show', out, '--json']);
  assert.deepEqual(json(show.stdout), doc, 'bundle --json equals bundle show --json of the file written');

  const rds = f('rds.pem');
  const cloud = await runCli(['cloud-ca', 'rds', '--region', 'eu-west-1', '--out', rds, '--json']);
  assert.equal(cloud.code, 0, cloud.stderr);
  const rdsDoc = json(cloud.stdout);
  assert.equal(rdsDoc.region, 'eu-west-1');
  const certs = rdsDoc.certificates as { subject: string }[];
  assert.equal(certs.length, (fs.readFileSync(rds, 'latin1').match(/BEGIN CERTIFICATE/g) ?? []).length);
  assert.ok(certs.some((c) => c.subject.includes('eu-west-1')));
});
