/**
 * Keystores written by `dbtls export`, read by the real JDK keytool and OpenSSL 3 (the oracles), and
 * keystores written by keytool read by `dbtls keystore show`.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { writePkcs12 } from '../../../src/keystore/pkcs12.js';
import { readKeystore } from '../../../src/keystore/read.js';
import { runCli } from '../../harness/cli.js';
import { openssl, keytool as runKeytool } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { type IntermediateChain, makeIntermediateChain } from '../../unit/keystore/intermediate.js';

let pki: TestPki;
let chain3: IntermediateChain;
let dir: string;
let pw: string;
const f = (name: string) => path.join(dir, name);
/** A JVM that starts in half the CPU time (C1 only, serial GC): the machine's 2 cores are shared. */
const JVM_QUICK_START = ['-J-XX:TieredStopAtLevel=1', '-J-XX:+UseSerialGC'];
const keytool = (args: string[]) => runKeytool([...JVM_QUICK_START, ...args]);

before(async () => {
  pki = await makeTestPki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-keystore-'));
  chain3 = await makeIntermediateChain(pki, dir);
  pw = f('store.pw');
  fs.writeFileSync(pw, 'Store-Secret-1\n', { mode: 0o600 });
  fs.writeFileSync(f('key.pw'), 'Key-Secret-2\n', { mode: 0o600 });
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** keytool -list -v as structured entries: alias, type, chain length. */
async function keytoolList(file: string, type: 'PKCS12' | 'JKS', passwordFile = pw) {
  const r = await keytool([
    '-list',
    '-v',
    '-keystore',
    file,
    '-storetype',
    type,
    '-storepass:file',
    passwordFile,
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout
    .split(/\*{20,}/)
    .filter((block) => block.includes('Alias name:'))
    .map((block) => ({
      alias: /Alias name: (.*)/.exec(block)![1],
      type: /Entry type: (.*)/.exec(block)![1],
      chain: Number(/Certificate chain length: (\d+)/.exec(block)?.[1] ?? 1),
    }));
}

async function exportCertDer(file: string, type: 'PKCS12' | 'JKS', alias: string): Promise<Buffer> {
  const out = f(`${path.basename(file)}.${alias}.der`);
  const r = await keytool([
    '-exportcert',
    '-keystore',
    file,
    '-storetype',
    type,
    '-storepass:file',
    pw,
    '-alias',
    alias,
    '-file',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return fs.readFileSync(out);
}

const derOf = (pemFile: string) => new X509Certificate(fs.readFileSync(pemFile)).raw;
const mode = (file: string) => fs.statSync(file).mode & 0o777;

test('modern PKCS#12: keytool sees the PrivateKeyEntry, OpenSSL 3 reads it without -legacy', async () => {
  const out = f('client.p12');
  const r = await runCli([
    'export',
    'p12',
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
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(mode(out), 0o600);
  assert.deepEqual(await keytoolList(out, 'PKCS12'), [
    { alias: 'mariadbclient', type: 'PrivateKeyEntry', chain: 2 },
  ]);
  assert.deepEqual(await exportCertDer(out, 'PKCS12', 'mariadbclient'), derOf(pki.client.cert));
  const info = await openssl(['pkcs12', '-info', '-nodes', '-in', out, '-passin', `file:${pw}`]);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stderr, /MAC: sha256/);
  assert.match(info.stderr, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);
  assert.match(info.stdout, /friendlyName: mariadbclient/);
  assert.match(info.stdout, /BEGIN PRIVATE KEY/);
});

test('legacy PKCS#12 with an intermediate: chain of 3 for keytool, OpenSSL reads it with -legacy', async () => {
  const out = f('legacy.p12');
  const r = await runCli([
    'export',
    'p12',
    '--profile',
    'legacy',
    '--cert',
    chain3.leaf,
    '--key',
    chain3.leafKey,
    '--chain',
    pki.ca,
    '--chain',
    chain3.intermediate,
    '--alias',
    'app',
    '--password-file',
    pw,
    '--out',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await keytoolList(out, 'PKCS12'), [{ alias: 'app', type: 'PrivateKeyEntry', chain: 3 }]);
  const info = await openssl(['pkcs12', '-legacy', '-info', '-nodes', '-in', out, '-passin', `file:${pw}`]);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stderr, /MAC: sha1/);
  assert.match(info.stderr, /Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC/);
});

test('JKS with an intermediate and its own key password: keytool lists it and gives our certificate back', async () => {
  const out = f('client.jks');
  const r = await runCli([
    'export',
    'jks',
    '--cert',
    chain3.leaf,
    '--key',
    chain3.leafKey,
    '--chain',
    chain3.intermediate,
    '--chain',
    pki.ca,
    '--alias',
    'app',
    '--password-file',
    pw,
    '--key-password-file',
    f('key.pw'),
    '--out',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(mode(out), 0o600);
  assert.deepEqual(await keytoolList(out, 'JKS'), [{ alias: 'app', type: 'PrivateKeyEntry', chain: 3 }]);
  assert.deepEqual(await exportCertDer(out, 'JKS', 'app'), derOf(chain3.leaf));
  // keytool can only convert the entry if it recovers the key with the key password: proves the protection.
  const conv = await keytool([
    '-importkeystore',
    '-srckeystore',
    out,
    '-srcstoretype',
    'JKS',
    '-srcstorepass:file',
    pw,
    '-srcalias',
    'app',
    '-srckeypass:file',
    f('key.pw'),
    '-destkeystore',
    f('from-jks.p12'),
    '-deststoretype',
    'PKCS12',
    '-deststorepass:file',
    pw,
    '-noprompt',
  ]);
  assert.equal(conv.code, 0, conv.stdout + conv.stderr);
  // And what Java wrote (PBES2 + HmacPBESHA256 PKCS#12) reads back with the chain of 3.
  const javaP12 = readKeystore(fs.readFileSync(f('from-jks.p12')), 'Store-Secret-1');
  assert.deepEqual(
    javaP12.entries.map((e) => [e.alias, e.type, e.chain.length]),
    [['app', 'PrivateKeyEntry', 3]],
  );
  assert.deepEqual(javaP12.entries[0]!.chain[0], derOf(chain3.leaf));
});

test('JKS with the password from DBTLS_KEYSTORE_PASSWORD', async () => {
  const out = f('env.jks');
  const r = await runCli(
    [
      'export',
      'jks',
      '--cert',
      pki.server.cert,
      '--key',
      pki.server.key,
      '--chain',
      pki.ca,
      '--alias',
      'server',
      '--out',
      out,
    ],
    {
      env: { DBTLS_KEYSTORE_PASSWORD: 'Store-Secret-1' },
    },
  );
  assert.equal(r.code, 0, r.stderr);
  const entries = readKeystore(fs.readFileSync(out), 'Store-Secret-1').entries;
  assert.deepEqual(
    entries.map((e) => [e.alias, e.type, e.chain.length, e.key?.asymmetricKeyType]),
    [['server', 'PrivateKeyEntry', 2, 'ec']],
  );
});

for (const format of ['jks', 'p12'] as const) {
  test(`${format} truststore: one trustedCertEntry per CA`, async () => {
    const out = f(`trust.${format}`);
    const r = await runCli([
      'export',
      'truststore',
      '--format',
      format,
      '--ca',
      pki.ca,
      '--ca',
      pki.otherCa,
      '--password-file',
      pw,
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const entries = await keytoolList(out, format === 'jks' ? 'JKS' : 'PKCS12');
    assert.deepEqual(
      entries.map((e) => e.type),
      ['trustedCertEntry', 'trustedCertEntry'],
    );
    const alias = entries.find((e) => e.alias === 'dbtls-test-root-ca')!.alias!;
    assert.deepEqual(await exportCertDer(out, format === 'jks' ? 'JKS' : 'PKCS12', alias), derOf(pki.ca));
  });
}

test('round trip: keytool converts our P12 to JKS, `keystore show` reads it', async () => {
  const src = f('rt.p12');
  fs.writeFileSync(
    src,
    writePkcs12({
      key: createPrivateKey(fs.readFileSync(pki.client.key)),
      chain: [derOf(pki.client.cert), derOf(pki.ca)],
      alias: 'rt',
      password: 'Store-Secret-1',
    }),
  );
  const dest = f('rt.jks');
  const conv = await keytool([
    '-importkeystore',
    '-srckeystore',
    src,
    '-srcstoretype',
    'PKCS12',
    '-srcstorepass:file',
    pw,
    '-destkeystore',
    dest,
    '-deststoretype',
    'JKS',
    '-deststorepass:file',
    pw,
    '-noprompt',
  ]);
  assert.equal(conv.code, 0, conv.stdout + conv.stderr);
  const r = await runCli(['keystore', 'show', dest, '--password-file', pw, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const shown = JSON.parse(r.stdout) as {
    format: string;
    entries: { alias: string; type: string; subject: string; chainLength: number }[];
  };
  assert.equal(shown.format, 'jks');
  assert.deepEqual(
    shown.entries.map((e) => [e.alias, e.type, e.chainLength]),
    [['rt', 'PrivateKeyEntry', 2]],
  );
  assert.match(shown.entries[0]!.subject, /CN=dbtls_client/);
});

test('wrong password, truncated and corrupted keystores: error code, exit 2', async () => {
  fs.writeFileSync(f('wrong.pw'), 'not-it\n');
  const wrong = await runCli(['keystore', 'show', f('client.p12'), '--password-file', f('wrong.pw')]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /^error\[KEYSTORE_PASSWORD_WRONG\]/);
  const bytes = fs.readFileSync(f('client.jks'));
  fs.writeFileSync(f('truncated.jks'), bytes.subarray(0, bytes.length - 100));
  const truncated = await runCli(['keystore', 'show', f('truncated.jks'), '--password-file', pw]);
  assert.equal(truncated.code, 2);
  assert.match(truncated.stderr, /^error\[KEYSTORE_MALFORMED\]/);
  const corrupted = Buffer.from(fs.readFileSync(f('client.p12')));
  corrupted[200]! ^= 0xff;
  fs.writeFileSync(f('corrupted.p12'), corrupted);
  const bad = await runCli(['keystore', 'show', f('corrupted.p12'), '--password-file', pw]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error\[KEYSTORE_(PASSWORD_WRONG|MALFORMED)\]/);
});

test('mismatched key, broken chain, empty or missing password: refused, nothing written', async () => {
  const cases: [string[], string][] = [
    [
      [
        'export',
        'p12',
        '--cert',
        pki.client.cert,
        '--key',
        pki.server.key,
        '--alias',
        'a',
        '--password-file',
        pw,
      ],
      'KEY_CERT_MISMATCH',
    ],
    [
      [
        'export',
        'jks',
        '--cert',
        pki.client.cert,
        '--key',
        pki.client.key,
        '--chain',
        pki.otherCa,
        '--alias',
        'a',
        '--password-file',
        pw,
      ],
      'CHAIN_BROKEN',
    ],
    [
      [
        'export',
        'p12',
        '--cert',
        pki.client.cert,
        '--key',
        pki.client.key,
        '--alias',
        'a',
        '--password-file',
        '/dev/null',
      ],
      'PASSWORD_EMPTY',
    ],
    [['export', 'truststore', '--format', 'jks', '--ca', pki.ca], 'PASSWORD_REQUIRED'],
  ];
  for (const [args, code] of cases) {
    const out = f(`refused-${code}.ks`);
    const r = await runCli([...args, '--out', out]);
    assert.equal(r.code, 2, `${code}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^error\\[${code}\\]`));
    assert.match(r.stderr, /\nhint: /);
    assert.equal(fs.existsSync(out), false);
  }
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')),
    [],
  );
});
