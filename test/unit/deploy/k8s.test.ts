/**
 * `k8s secrets`: which objects each mode gets (the requirement table, read from the ssl-mode model), the
 * names (overridable) and the values block with 'null' for what is unused, byte-identity with kubectl (live
 * when kubectl is installed, else the recorded output in test/fixtures/deploy/kubectl), the JKS built from
 * a key and certificate (keytool as oracle), a given keystore checked against its password, and the CLI.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { K8S_OBJECTS, k8sSecrets, UNUSED } from '../../../src/deploy/k8s.js';
import { parseYamlStream, toYaml } from '../../../src/deploy/yaml.js';
import { requiredMaterial } from '../../../src/tls/ssl-mode.js';
import { PROJECT_ROOT, runCli } from '../../harness/cli.js';
import { openssl, run, toolAvailable } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import {
  derOf,
  keytool,
  keytoolChain,
  keytoolExportCert,
  keytoolList,
} from '../../integration/keystore/keytool.js';

const FIX = path.join(PROJECT_ROOT, 'test/fixtures/deploy/kubectl');
const fix = (name: string) => fs.readFileSync(path.join(FIX, name));
/** The recorded files: keystore.jks is a real JKS (keytool) opened by keystore-password / key-password. */
const INPUT = () => ({
  ca: fix('ca.pem'),
  clientCert: fix('client-cert.pem'),
  clientKey: fix('client-key.pem'),
  keystore: fix('keystore.jks'),
  keystorePassword: fix('keystore-password').toString('utf8'),
  keyPassword: fix('key-password').toString('utf8'),
});
const ALL_NAMES = [
  'db-ca-configmap',
  'db-client-cert-configmap',
  'db-client-key-secret',
  'db-client-keystore-secret',
  'db-ssl-secret',
];

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

type Doc = { kind: string; metadata: { name: string }; data?: Record<string, string> };
const secretData = (objects: readonly unknown[], name: string) =>
  (objects as Doc[]).find((o) => o.metadata.name === name)!.data!;

/** kubectl's output for the same files (live), or the recording made with kubectl v1.32. */
async function kubectlDocs(): Promise<string[]> {
  if (!toolAvailable('kubectl')) {
    return fs.readFileSync(path.join(FIX, 'recorded-kubectl-v1.32.yaml'), 'utf8').split(/^---\n/m);
  }
  const f = (key: string, file: string) => `--from-file=${key}=${path.join(FIX, file)}`;
  const calls: string[][] = [
    ['configmap', 'db-ca-configmap', f('db-ca.pem', 'ca.pem'), '-n', 'shop'],
    ['configmap', 'db-client-cert-configmap', f('db-client-cert.pem', 'client-cert.pem'), '-n', 'shop'],
    ['secret', 'generic', 'db-client-key-secret', f('db-client-key.pem', 'client-key.pem'), '-n', 'shop'],
    [
      'secret',
      'generic',
      'db-client-keystore-secret',
      f('db-client-keystore.jks', 'keystore.jks'),
      '-n',
      'shop',
    ],
    [
      'secret',
      'generic',
      'db-ssl-secret',
      f('db-client-keystore-password', 'keystore-password'),
      f('db-client-key-password', 'key-password'),
      '-n',
      'shop',
    ],
    ['configmap', 'orders-ca-configmap', f('db-ca.pem', 'ca.der')],
  ];
  const docs: string[] = [];
  for (const args of calls) {
    const r = await run('kubectl', ['create', ...args, '--dry-run=client', '-o', 'yaml']);
    assert.equal(r.code, 0, r.stderr);
    docs.push(r.stdout);
  }
  return docs;
}

describe('k8s secrets', () => {
  let dir: string;
  let pki: TestPki;
  before(async () => {
    pki = await makeTestPki();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-k8s-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('each mode gets exactly the objects the requirement table lists, and the values say null for the rest', () => {
    const table = [
      ['disable', 'disable', []],
      ['trust', 'disable', []],
      ['verify-ca', 'disable', ['db-ca-configmap']],
      ['verify-ca', 'enable', ALL_NAMES],
      ['verify-full', 'disable', ['db-ca-configmap']],
      ['verify-full', 'enable', ALL_NAMES],
    ] as const;
    for (const [mode, mutualTls, names] of table) {
      const out = k8sSecrets({ mode, mutualTls, ...INPUT() });
      assert.deepEqual(
        out.objects.map((o) => o.metadata.name),
        names,
        `${mode} ${mutualTls}`,
      );
      assert.equal(out.objects.length, requiredMaterial(mode, mutualTls).length);
      const used = (name: string) => ((names as readonly string[]).includes(name) ? name : UNUSED);
      assert.deepEqual(out.values, {
        sslMode: mode,
        mutualTls,
        caConfigmap: used('db-ca-configmap'),
        sslSecret: used('db-ssl-secret'),
        clientCertConfigmap: used('db-client-cert-configmap'),
        clientKeySecret: used('db-client-key-secret'),
        clientKeystoreSecret: used('db-client-keystore-secret'),
      });
      // Material given but not needed is left out, and said so.
      if (mutualTls === 'disable')
        assert.ok(out.warnings.some((w) => /does not use the --cert given: left out/.test(w)));
    }
    assert.equal(
      toYaml(k8sSecrets({ mode: 'trust', mutualTls: 'disable' }).values, { quote: 'single' }),
      "caConfigmap: 'null'\nclientCertConfigmap: 'null'\nclientKeySecret: 'null'\nclientKeystoreSecret: 'null'\nmutualTls: disable\nsslMode: trust\nsslSecret: 'null'\n",
    );
  });

  it('names are overridable (--names), keys stay what charts expect', () => {
    const out = k8sSecrets({ mode: 'verify-full', mutualTls: 'enable', namePrefix: 'orders-db', ...INPUT() });
    assert.deepEqual(
      out.objects.map((o) => o.metadata.name),
      ALL_NAMES.map((n) => n.replace(/^db-/, 'orders-db-')),
    );
    assert.equal(out.values.sslSecret, 'orders-db-ssl-secret');
    assert.deepEqual(Object.keys(secretData(out.objects, 'orders-db-ssl-secret')).sort(), [
      'db-client-key-password',
      'db-client-keystore-password',
    ]);
    assert.deepEqual(Object.keys(secretData(out.objects, 'orders-db-client-keystore-secret')), [
      K8S_OBJECTS.clientKeystore.key,
    ]);
  });

  it('refuses what the model refuses, names what is missing, and checks the material', async () => {
    const cases: [string, Parameters<typeof k8sSecrets>[0]][] = [
      ['SSL_MODE_INVALID', { mode: 'trust', mutualTls: 'enable', ...INPUT() }],
      ['SSL_MODE_INVALID', { mode: 'preferred', mutualTls: 'disable' }],
      ['MATERIAL_MISSING', { mode: 'verify-full', mutualTls: 'disable' }],
      [
        'MATERIAL_MISSING',
        {
          ...INPUT(),
          mode: 'verify-ca',
          mutualTls: 'enable',
          keystore: undefined,
          keystorePassword: undefined,
        },
      ],
      ['KEY_MALFORMED', { ...INPUT(), mode: 'verify-ca', mutualTls: 'enable', clientKey: fix('ca.pem') }],
      [
        'KEYSTORE_PASSWORD_WRONG',
        { ...INPUT(), mode: 'verify-ca', mutualTls: 'enable', keystorePassword: 'nope' },
      ],
      [
        'KEYSTORE_PASSWORD_WRONG',
        { ...INPUT(), mode: 'verify-ca', mutualTls: 'enable', keyPassword: 'nope' },
      ],
      [
        'KEYSTORE_MALFORMED',
        {
          ...INPUT(),
          mode: 'verify-ca',
          mutualTls: 'enable',
          keystore: fix('keystore.jks').subarray(0, 100),
        },
      ],
      [
        'NAME_INVALID',
        { mode: 'verify-ca', mutualTls: 'disable', ca: fix('ca.pem'), namePrefix: 'Bad_Name' },
      ],
      [
        'NAMESPACE_INVALID',
        { mode: 'verify-ca', mutualTls: 'disable', ca: fix('ca.pem'), namespace: 'Shop' },
      ],
      ['CERT_MALFORMED', { mode: 'verify-ca', mutualTls: 'disable', ca: fix('client-key.pem') }],
    ];
    for (const [expected, input] of cases)
      assert.equal(
        code(() => k8sSecrets(input)),
        expected,
        expected,
      );
    const mismatch = {
      mode: 'verify-full' as const,
      mutualTls: 'enable' as const,
      ca: fs.readFileSync(pki.ca),
      clientCert: fs.readFileSync(pki.client.cert),
      clientKey: fs.readFileSync(pki.server.key),
      keystorePassword: 'pw-123456',
    };
    assert.equal(
      code(() => k8sSecrets(mismatch)),
      'KEY_MISMATCH',
    );
    // A truststore has no key: no use as the client keystore of mutual TLS.
    const trust = path.join(dir, 'trust.jks');
    fs.writeFileSync(path.join(dir, 'pw'), 'pw-123456\n');
    const r = await runCli([
      'export',
      'truststore',
      '--format',
      'jks',
      '--ca',
      pki.ca,
      '--password-file',
      path.join(dir, 'pw'),
      '--out',
      trust,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const noKey = {
      ...mismatch,
      clientKey: fs.readFileSync(pki.client.key),
      keystore: fs.readFileSync(trust),
    };
    assert.equal(
      code(() => k8sSecrets(noKey)),
      'KEYSTORE_NO_KEY',
    );
  });

  it('is byte-identical to kubectl create … --dry-run=client -o yaml for the same files', async () => {
    const expected = await kubectlDocs();
    const out = k8sSecrets({ mode: 'verify-full', mutualTls: 'enable', namespace: 'shop', ...INPUT() });
    const ours = out.objects.map((o) => toYaml(o));
    const der = k8sSecrets({
      mode: 'verify-ca',
      mutualTls: 'disable',
      namePrefix: 'orders',
      ca: fix('ca.der'),
    });
    ours.push(toYaml(der.objects[0]));
    assert.equal(ours.length, expected.length);
    for (let i = 0; i < ours.length; i++) assert.equal(ours[i], expected[i], `document ${i}`);
  });

  it('builds the JKS from key, certificate and CA when no keystore is given: keytool reads the whole chain', async () => {
    const out = k8sSecrets({
      mode: 'verify-full',
      mutualTls: 'enable',
      ca: Buffer.concat([fs.readFileSync(pki.otherCa), fs.readFileSync(pki.ca)]), // a bundle: only ours is used
      clientCert: fs.readFileSync(pki.client.cert),
      clientKey: fs.readFileSync(pki.client.key),
      keystorePassword: 'store-pw-1',
      keyPassword: 'key-pw-2',
    });
    assert.equal(out.keystoreBuilt, true);
    const jks = path.join(dir, 'built.jks');
    fs.writeFileSync(
      jks,
      Buffer.from(secretData(out.objects, 'db-client-keystore-secret')['db-client-keystore.jks']!, 'base64'),
    );
    const passwords = secretData(out.objects, 'db-ssl-secret');
    const pw = (key: string, file: string) => {
      fs.writeFileSync(path.join(dir, file), Buffer.from(passwords[key]!, 'base64'));
      return path.join(dir, file);
    };
    const storePw = pw('db-client-keystore-password', 'store.pw');
    const keyPw = pw('db-client-key-password', 'key.pw');
    assert.deepEqual(await keytoolList(jks, 'JKS', storePw), [
      { alias: 'client', type: 'PrivateKeyEntry', chain: 2 },
    ]);
    assert.deepEqual(await keytoolChain(jks, 'JKS', storePw, 'client'), derOf(pki.client.cert, pki.ca));
    assert.deepEqual(await keytoolExportCert(jks, 'JKS', storePw, 'client'), derOf(pki.client.cert)[0]);
    // The key password in the Secret is the one that recovers the key.
    const conv = await keytool([
      '-importkeystore',
      '-srckeystore',
      jks,
      '-srcstoretype',
      'JKS',
      '-srcstorepass:file',
      storePw,
      '-srcalias',
      'client',
      '-srckeypass:file',
      keyPw,
      '-destkeystore',
      path.join(dir, 'converted.p12'),
      '-deststoretype',
      'PKCS12',
      '-deststorepass:file',
      storePw,
      '-noprompt',
    ]);
    assert.equal(conv.code, 0, conv.stdout + conv.stderr);
  });

  it('a PKCS#12 keystore is accepted with a warning about keyStoreType', async () => {
    const p12 = path.join(dir, 'client.p12');
    const made = await openssl([
      'pkcs12',
      '-export',
      '-in',
      pki.client.cert,
      '-inkey',
      pki.client.key,
      '-passout',
      'pass:pw-123456',
      '-out',
      p12,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const out = k8sSecrets({
      mode: 'verify-ca',
      mutualTls: 'enable',
      ca: fs.readFileSync(pki.ca),
      clientCert: fs.readFileSync(pki.client.cert),
      clientKey: fs.readFileSync(pki.client.key),
      keystore: fs.readFileSync(p12),
      keystorePassword: 'pw-123456',
    });
    assert.equal(out.keystoreBuilt, false);
    assert.ok(out.warnings.some((w) => /keystore is PKCS#12[^\n]*keyStoreType=PKCS12/.test(w)));
  });
});

describe('k8s secrets CLI', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-k8s-cli-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const mtls = (...more: string[]) => [
    'k8s',
    'secrets',
    '--ssl-mode',
    'VERIFY_IDENTITY',
    '--mutual-tls',
    'enable',
    '--ca',
    path.join(FIX, 'ca.pem'),
    '--cert',
    path.join(FIX, 'client-cert.pem'),
    '--key',
    path.join(FIX, 'client-key.pem'),
    '--namespace',
    'shop',
    ...more,
  ];

  it('a YAML stream kubectl can apply, with the values block as comments', async () => {
    const pw = path.join(dir, 'pw');
    fs.writeFileSync(pw, 'cli-store-pw\n', { mode: 0o600 });
    const r = await runCli(mtls('--keystore-password-file', pw, '--names', 'orders'));
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /cli-store-pw/);
    const docs = parseYamlStream(r.stdout) as Doc[];
    assert.deepEqual(
      docs.map((d) => [d.kind, d.metadata.name]),
      [
        ['ConfigMap', 'orders-ca-configmap'],
        ['ConfigMap', 'orders-client-cert-configmap'],
        ['Secret', 'orders-client-key-secret'],
        ['Secret', 'orders-client-keystore-secret'],
        ['Secret', 'orders-ssl-secret'],
      ],
    );
    assert.equal(
      Buffer.from(docs[4]!.data!['db-client-keystore-password']!, 'base64').toString(),
      'cli-store-pw',
    );
    assert.match(r.stdout, /^# sslMode: verify-full$/m);
    assert.match(r.stdout, /^# clientKeySecret: orders-client-key-secret$/m);
    assert.match(r.stderr, /built the JKS keystore/);

    const values = path.join(dir, 'values.yaml');
    const v = await runCli(['k8s', 'secrets', '--ssl-mode', 'require', '--values-out', values]);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(fs.readFileSync(values, 'utf8').split('\n')[0], "caConfigmap: 'null'");
  });

  it('keystore password: from DBTLS_KEYSTORE_PASSWORD too; empty refused unless --allow-empty-password', async () => {
    const env = await runCli(mtls(), { env: { DBTLS_KEYSTORE_PASSWORD: 'from-env-pw' } });
    assert.equal(env.code, 0, env.stderr);
    assert.match(env.stdout, new RegExp(Buffer.from('from-env-pw').toString('base64')));
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '');
    const out = path.join(dir, 'out.yaml');
    const old = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: old\n'; // an earlier run's manifest
    fs.writeFileSync(out, old);
    const refused = await runCli(mtls('--keystore-password-file', empty, '--out', out));
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^error\[PASSWORD_EMPTY\][^\n]*\nhint: /m);
    assert.equal(fs.readFileSync(out, 'utf8'), old);
    const allowed = await runCli(
      mtls('--keystore-password-file', empty, '--allow-empty-password', '--out', out),
    );
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(fs.readFileSync(out, 'utf8'), /db-client-keystore-password: ""\n/);
  });

  it('errors exit 2 with a hint and write nothing', async () => {
    const out = path.join(dir, 'never.yaml');
    const cases: [string[], string][] = [
      [['k8s', 'secrets', '--ssl-mode', 'trust', '--mutual-tls', 'enable'], 'SSL_MODE_INVALID'],
      [['k8s', 'secrets', '--ssl-mode', 'preferred'], 'SSL_MODE_INVALID'],
      [['k8s', 'secrets', '--ssl-mode', 'verify-ca'], 'MATERIAL_MISSING'],
      [
        mtls(
          '--keystore',
          path.join(FIX, 'ca.pem'),
          '--keystore-password-file',
          path.join(FIX, 'keystore-password'),
        ),
        'KEYSTORE_MALFORMED',
      ],
      [
        mtls(
          '--keystore',
          path.join(FIX, 'keystore.jks'),
          '--keystore-password-file',
          path.join(FIX, 'key-password'),
        ),
        'KEYSTORE_PASSWORD_WRONG',
      ],
    ];
    for (const [args, expected] of cases) {
      const r = await runCli([...args, '--out', out]);
      assert.equal(r.code, 2, `${expected}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^error\\[${expected}\\]: could not [^\\n]+\\nhint: `, 'm'));
      assert.equal(fs.existsSync(out), false, expected);
    }
  });
});
