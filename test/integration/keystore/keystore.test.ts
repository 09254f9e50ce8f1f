/**
 * Keystores written by `dbtls export`, read by the real JDK keytool and OpenSSL 3 (the oracles), and
 * keystores written by keytool read by `dbtls keystore show`. Every profile and format, with a chain of
 * two (leaf, root) and of three (leaf, intermediate, root).
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writePkcs12 } from '../../../src/keystore/pkcs12.js';
import { readKeystore } from '../../../src/keystore/read.js';
import { runCli } from '../../harness/cli.js';
import { openssl } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { type IntermediateChain, makeIntermediateChain } from '../../unit/keystore/intermediate.js';
import { derOf, keytool, keytoolChain, keytoolExportCert, keytoolList, type StoreType } from './keytool.js';

let pki: TestPki;
let chain3: IntermediateChain;
let dir: string;
let pw: string;
const STORE_PASSWORD = 'Store-Secret-1';
const f = (name: string) => path.join(dir, name);
const mode = (file: string) => fs.statSync(file).mode & 0o777;

before(async () => {
  pki = await makeTestPki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-keystore-'));
  chain3 = await makeIntermediateChain(pki, dir);
  pw = f('store.pw');
  fs.writeFileSync(pw, `${STORE_PASSWORD}\n`, { mode: 0o600 });
  fs.writeFileSync(f('key.pw'), 'Key-Secret-2\n', { mode: 0o600 });
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface ExportCase {
  readonly format: 'p12' | 'jks';
  readonly profile?: 'modern' | 'legacy';
  readonly depth: 2 | 3;
  /** JKS only: a key password of its own. */
  readonly keyPassword?: boolean;
}

const CASES: readonly ExportCase[] = [
  { format: 'p12', profile: 'modern', depth: 2 },
  { format: 'p12', profile: 'modern', depth: 3 },
  { format: 'p12', profile: 'legacy', depth: 2 },
  { format: 'p12', profile: 'legacy', depth: 3 },
  { format: 'jks', depth: 2 },
  { format: 'jks', depth: 3, keyPassword: true },
];

/** What `openssl pkcs12 -info` must report for each profile, and whether it needs -legacy. */
const OPENSSL_PROFILE = {
  modern: { legacy: false, mac: /MAC: sha256/, bag: /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/ },
  legacy: { legacy: true, mac: /MAC: sha1/, bag: /Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC/ },
} as const;

describe('dbtls export, read by keytool and openssl', () => {
  for (const c of CASES) {
    const label = `${c.format}${c.profile ? ` ${c.profile}` : ''}, chain of ${c.depth}${c.keyPassword ? ', own key password' : ''}`;
    it(label, async () => {
      const alias = 'mariadbclient';
      const out = f(`export-${c.format}-${c.profile ?? 'jks'}-${c.depth}.${c.format}`);
      const leaf = c.depth === 3 ? chain3.leaf : pki.client.cert;
      const key = c.depth === 3 ? chain3.leafKey : pki.client.key;
      // Chain files in the "wrong" order on purpose: dbtls orders by signature.
      const chainFiles = c.depth === 3 ? [pki.ca, chain3.intermediate] : [pki.ca];
      const r = await runCli([
        'export',
        c.format,
        '--cert',
        leaf,
        '--key',
        key,
        ...chainFiles.flatMap((file) => ['--chain', file]),
        '--alias',
        alias,
        '--password-file',
        pw,
        ...(c.profile ? ['--profile', c.profile] : []),
        ...(c.keyPassword ? ['--key-password-file', f('key.pw')] : []),
        '--out',
        out,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(mode(out), 0o600);
      const type: StoreType = c.format === 'jks' ? 'JKS' : 'PKCS12';
      const expected = c.depth === 3 ? derOf(leaf, chain3.intermediate, pki.ca) : derOf(leaf, pki.ca);

      assert.deepEqual(await keytoolList(out, type, pw), [
        { alias, type: 'PrivateKeyEntry', chain: c.depth },
      ]);
      assert.deepEqual(await keytoolChain(out, type, pw, alias), expected);
      assert.deepEqual(await keytoolExportCert(out, type, pw, alias), expected[0]);

      if (c.profile) {
        const spec = OPENSSL_PROFILE[c.profile];
        const args = ['pkcs12', '-info', '-nodes', '-in', out, '-passin', `file:${pw}`];
        const info = await openssl(spec.legacy ? ['pkcs12', '-legacy', ...args.slice(1)] : args);
        assert.equal(info.code, 0, info.stderr);
        assert.match(info.stderr, spec.mac);
        assert.match(info.stderr, spec.bag);
        assert.match(info.stdout, new RegExp(`friendlyName: ${alias}`));
        assert.match(info.stdout, /BEGIN PRIVATE KEY/);
        assert.equal(info.stdout.match(/BEGIN CERTIFICATE/g)?.length, c.depth);
      }
      if (c.keyPassword) {
        // keytool converts the entry only if it recovers the key with the key password: proves the protection.
        const conv = await keytool([
          '-importkeystore',
          '-srckeystore',
          out,
          '-srcstoretype',
          'JKS',
          '-srcstorepass:file',
          pw,
          '-srcalias',
          alias,
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
        // What Java wrote (PBES2 + HmacPBESHA256 PKCS#12) reads back with the whole chain.
        const javaP12 = readKeystore(fs.readFileSync(f('from-jks.p12')), STORE_PASSWORD);
        assert.deepEqual(
          javaP12.entries.map((e) => [e.alias, e.type, e.chain]),
          [[alias, 'PrivateKeyEntry', expected]],
        );
      }
    });
  }

  for (const format of ['jks', 'p12'] as const) {
    it(`${format} truststore: one trustedCertEntry per CA, each exported byte for byte`, async () => {
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
      assert.equal(mode(out), 0o600);
      const type: StoreType = format === 'jks' ? 'JKS' : 'PKCS12';
      const entries = await keytoolList(out, type, pw);
      assert.deepEqual(entries.map((e) => [e.alias, e.type]).sort(), [
        ['dbtls-other-root-ca', 'trustedCertEntry'],
        ['dbtls-test-root-ca', 'trustedCertEntry'],
      ]);
      assert.deepEqual(await keytoolExportCert(out, type, pw, 'dbtls-test-root-ca'), derOf(pki.ca)[0]);
      assert.deepEqual(await keytoolExportCert(out, type, pw, 'dbtls-other-root-ca'), derOf(pki.otherCa)[0]);
      if (format === 'p12') {
        const info = await openssl(['pkcs12', '-info', '-nokeys', '-in', out, '-passin', `file:${pw}`]);
        assert.equal(info.code, 0, info.stderr);
        assert.equal(info.stdout.match(/BEGIN CERTIFICATE/g)?.length, 2);
      }
    });
  }
});

describe('keystores written by Java, read by dbtls keystore show', () => {
  it('round trip: keytool converts our P12 to JKS, `keystore show` reads it', async () => {
    const src = f('rt.p12');
    fs.writeFileSync(
      src,
      writePkcs12({
        key: createPrivateKey(fs.readFileSync(pki.client.key)),
        chain: derOf(pki.client.cert, pki.ca),
        alias: 'rt',
        password: STORE_PASSWORD,
      }),
    );
    const conv = await keytool([
      '-importkeystore',
      '-srckeystore',
      src,
      '-srcstoretype',
      'PKCS12',
      '-srcstorepass:file',
      pw,
      '-destkeystore',
      f('rt.jks'),
      '-deststoretype',
      'JKS',
      '-deststorepass:file',
      pw,
      '-noprompt',
    ]);
    assert.equal(conv.code, 0, conv.stdout + conv.stderr);
    const r = await runCli(['keystore', 'show', f('rt.jks'), '--password-file', pw, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const shown = JSON.parse(r.stdout) as {
      format: string;
      entries: { alias: string; type: string; subject: string; chainLength: number }[];
    };
    assert.equal(shown.format, 'jks');
    assert.deepEqual(
      shown.entries.map((e) => [e.alias, e.type, e.subject, e.chainLength]),
      [['rt', 'PrivateKeyEntry', pki.client.subject, 2]],
    );
  });

  it('a truststore keytool made itself (-importcert) lists as trustedCertEntry, in text and JSON', async () => {
    const jks = f('keytool-trust.jks');
    const made = await keytool([
      '-importcert',
      '-noprompt',
      '-alias',
      'root',
      '-file',
      pki.ca,
      '-keystore',
      jks,
      '-storetype',
      'JKS',
      '-storepass:file',
      pw,
    ]);
    assert.equal(made.code, 0, made.stdout + made.stderr);
    const text = await runCli(['keystore', 'show', jks, '--password-file', pw]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /: JKS, 1 entry\n/);
    assert.match(text.stdout, /alias: {3}root\n {2}type: {4}trustedCertEntry\n/);
  });
});

describe('where the keystore password comes from', () => {
  const exportArgs = (out: string) => [
    'export',
    'p12',
    '--cert',
    pki.client.cert,
    '--key',
    pki.client.key,
    '--alias',
    'app',
    '--out',
    out,
  ];

  it('DBTLS_KEYSTORE_PASSWORD for export and show', async () => {
    const out = f('env.p12');
    const env = { DBTLS_KEYSTORE_PASSWORD: STORE_PASSWORD };
    const r = await runCli(exportArgs(out), { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await keytoolList(out, 'PKCS12', pw), [
      { alias: 'app', type: 'PrivateKeyEntry', chain: 1 },
    ]);
    const shown = await runCli(['keystore', 'show', out, '--json'], { env });
    assert.equal(shown.code, 0, shown.stderr);
  });

  it('an empty password is refused unless --allow-empty-password; then OpenSSL opens it with none', async () => {
    const refused = await runCli(exportArgs(f('empty-refused.p12')), {
      env: { DBTLS_KEYSTORE_PASSWORD: '' },
    });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^error\[PASSWORD_EMPTY\][^\n]*\nhint: [^\n]*--allow-empty-password/);
    assert.equal(fs.existsSync(f('empty-refused.p12')), false);

    const out = f('empty.p12');
    const r = await runCli([...exportArgs(out), '--allow-empty-password'], {
      env: { DBTLS_KEYSTORE_PASSWORD: '' },
    });
    assert.equal(r.code, 0, r.stderr);
    const info = await openssl(['pkcs12', '-info', '-nokeys', '-in', out, '-passin', 'pass:']);
    assert.equal(info.code, 0, info.stderr);
  });

  it('no password from a file or the environment: PASSWORD_REQUIRED, never a prompt or argv', async () => {
    const r = await runCli(['keystore', 'show', f('env.p12')], {
      env: { DBTLS_KEYSTORE_PASSWORD: undefined },
    });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^error\[PASSWORD_REQUIRED\][^\n]*\nhint: give --password-file FILE or set DBTLS_KEYSTORE_PASSWORD/,
    );
    const argv = await runCli([...exportArgs(f('argv.p12')), '--password', 'x']);
    assert.equal(argv.code, 2);
    assert.match(argv.stderr, /^error\[USAGE\]/);
  });
});
