/**
 * The independent test PKI, judged by `openssl verify` and keytool: each certificate is what its name says
 * (trusted, wrong host, expired, other CA), so tests built on it fail for the right reason.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { keytool, openssl, opensslVerify, run, toolAvailable } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

let pki: TestPki;
let dir: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-pki-test-'));
  pki = await makeTestPki(path.join(dir, 'pki'));
});

after(() => {
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
});

test('makeTestPki is generated once per directory', async () => {
  assert.equal(await makeTestPki(path.join(dir, 'pki')), pki);
  assert.equal(pki.dir, path.join(dir, 'pki'));
  for (const key of [pki.caKey, pki.server.key, pki.client.key, pki.expired.key]) {
    assert.equal(fs.statSync(key).mode & 0o777, 0o600, key);
  }
});

test('openssl verify accepts the server and client for their purposes, strictly, with names', async () => {
  const server = await opensslVerify({
    ca: pki.ca,
    cert: pki.server.cert,
    purpose: 'sslserver',
    strict: true,
    hostname: 'localhost',
  });
  assert.equal(server.ok, true, server.stderr);
  assert.equal((await opensslVerify({ ca: pki.ca, cert: pki.server.cert, ip: '127.0.0.1' })).ok, true);
  const client = await opensslVerify({
    ca: pki.ca,
    cert: pki.client.cert,
    purpose: 'sslclient',
    strict: true,
  });
  assert.equal(client.ok, true, client.stderr);
  const other = await opensslVerify({ ca: pki.otherCa, cert: pki.otherServer.cert, hostname: 'localhost' });
  assert.equal(other.ok, true, other.stderr);
});

test('openssl verify refuses each broken certificate for its own reason', async () => {
  const cases = [
    {
      name: 'wrong host',
      o: { ca: pki.ca, cert: pki.wrongHost.cert, hostname: 'localhost' },
      why: /hostname mismatch/,
    },
    { name: 'expired', o: { ca: pki.ca, cert: pki.expired.cert }, why: /certificate has expired/ },
    { name: 'other CA', o: { ca: pki.ca, cert: pki.otherServer.cert }, why: /unable to get local issuer/ },
    {
      name: 'client as server',
      o: { ca: pki.ca, cert: pki.client.cert, purpose: 'sslserver' as const },
      why: /unsuitable certificate purpose/,
    },
  ];
  for (const c of cases) {
    const result = await opensslVerify(c.o);
    assert.equal(result.ok, false, c.name);
    assert.match(result.stderr + result.stdout, c.why, c.name);
  }
});

test('the client subject is what OpenSSL prints in its one-line compat form', async () => {
  const printed = await openssl(['x509', '-in', pki.client.cert, '-noout', '-subject', '-nameopt', 'compat']);
  assert.equal(printed.stdout, `subject=${pki.client.subject}\n`);
  assert.equal(pki.client.subject, '/O=dbtls test/CN=dbtls_client');
});

test('keytool reads the CA certificate', { skip: !toolAvailable('/usr/bin/keytool') }, async () => {
  const result = await keytool(['-printcert', '-file', pki.ca]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /Owner: CN=dbtls Test Root CA, O=dbtls test/);
});

test('run() feeds stdin, reports the exit code and kills a tool past its timeout', async () => {
  assert.deepEqual(await run('cat', [], { input: 'abc' }), { code: 0, stdout: 'abc', stderr: '' });
  assert.equal((await run('sh', ['-c', 'exit 3'])).code, 3);
  assert.equal((await run('sleep', ['10'], { timeoutMs: 100 })).code, 137);
  assert.equal(toolAvailable('openssl'), true);
  assert.equal(toolAvailable('no-such-tool-dbtls'), false);
});
