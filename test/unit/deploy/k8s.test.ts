/**
 * `k8s secrets`: which objects each mode gets (the requirement table, read from the ssl-mode model), the
 * values block, byte-identity with kubectl (live when kubectl is installed, else the recorded output in
 * test/fixtures/deploy/kubectl), the JKS built from a key and certificate (keytool as oracle), and the CLI.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { k8sSecrets, UNUSED } from '../../../src/deploy/k8s.js';
import { parseYamlStream, toYaml } from '../../../src/deploy/yaml.js';
import { requiredMaterial } from '../../../src/tls/ssl-mode.js';
import { PROJECT_ROOT, runCli } from '../../harness/cli.js';
import { keytool, run, toolAvailable } from '../../harness/oracles.js';

const FIX = path.join(PROJECT_ROOT, 'test/fixtures/deploy/kubectl');
const fix = (name: string) => fs.readFileSync(path.join(FIX, name));
const INPUT = () => ({
  ca: fix('ca.pem'),
  clientCert: fix('client-cert.pem'),
  clientKey: fix('client-key.pem'),
  keystore: fix('keystore.jks'),
  keystorePassword: fix('keystore-password').toString('utf8'),
  keyPassword: fix('key-password').toString('utf8'),
});

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

/** kubectl's output for the same files (live), or the recording made with kubectl v1.32. */
async function kubectlDocs(): Promise<string[]> {
  if (!toolAvailable('kubectl')) {
    return fs.readFileSync(path.join(FIX, 'recorded-kubectl-v1.32.yaml'), 'utf8').split(/^---\n/m);
  }
  const calls: string[][] = [
    ['configmap', 'db-ca-configmap', '--from-file=db-ca.pem=ca.pem', '-n', 'shop'],
    ['configmap', 'db-client-cert-configmap', '--from-file=db-client-cert.pem=client-cert.pem', '-n', 'shop'],
    [
      'secret',
      'generic',
      'db-client-key-secret',
      '--from-file=db-client-key.pem=client-key.pem',
      '-n',
      'shop',
    ],
    [
      'secret',
      'generic',
      'db-client-keystore-secret',
      '--from-file=db-client-keystore.jks=keystore.jks',
      '-n',
      'shop',
    ],
    [
      'secret',
      'generic',
      'db-ssl-secret',
      '--from-file=db-client-keystore-password=keystore-password',
      '--from-file=db-client-key-password=key-password',
      '-n',
      'shop',
    ],
    ['configmap', 'orders-ca-configmap', '--from-file=db-ca.pem=ca.der'],
  ];
  const docs: string[] = [];
  for (const args of calls) {
    const r = await run('sh', [
      '-c',
      `cd "$1" && shift && exec kubectl create "$@" --dry-run=client -o yaml`,
      'sh',
      FIX,
      ...args,
    ]);
    assert.equal(r.code, 0, r.stderr);
    docs.push(r.stdout);
  }
  return docs;
}

describe('k8s secrets', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-k8s-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('each mode gets exactly the objects the requirement table lists, and the values say null for the rest', () => {
    const table = [
      ['disable', 'disable', []],
      ['trust', 'disable', []],
      ['verify-ca', 'disable', ['db-ca-configmap']],
      ['verify-full', 'disable', ['db-ca-configmap']],
      [
        'verify-full',
        'enable',
        [
          'db-ca-configmap',
          'db-client-cert-configmap',
          'db-client-key-secret',
          'db-client-keystore-secret',
          'db-ssl-secret',
        ],
      ],
    ] as const;
    for (const [mode, mutualTls, names] of table) {
      const out = k8sSecrets({ mode, mutualTls, ...INPUT() });
      assert.deepEqual(
        out.objects.map((o) => o.metadata.name),
        names,
        `${mode} ${mutualTls}`,
      );
      assert.equal(out.objects.length, requiredMaterial(mode, mutualTls).length);
      assert.equal(out.values.sslMode, mode);
      assert.equal(out.values.mutualTls, mutualTls);
      assert.equal(out.values.caConfigmap, names.length > 0 ? 'db-ca-configmap' : UNUSED);
      assert.equal(out.values.sslSecret, mutualTls === 'enable' ? 'db-ssl-secret' : UNUSED);
      assert.equal(
        out.values.clientKeystoreSecret,
        mutualTls === 'enable' ? 'db-client-keystore-secret' : UNUSED,
      );
      // Material given but not needed is left out, and said so.
      if (mutualTls === 'disable') assert.ok(out.warnings.length > 0);
    }
    assert.match(toYaml(k8sSecrets({ mode: 'trust', mutualTls: 'disable' }).values), /caConfigmap: 'null'/);
  });

  it('refuses what the model refuses, and names what is missing', () => {
    assert.equal(
      code(() => k8sSecrets({ mode: 'trust', mutualTls: 'enable', ...INPUT() })),
      'SSL_MODE_INVALID',
    );
    assert.equal(
      code(() => k8sSecrets({ mode: 'verify-full', mutualTls: 'disable' })),
      'MATERIAL_MISSING',
    );
    const { keystore: _k, keystorePassword: _p, ...noStore } = INPUT();
    assert.equal(
      code(() => k8sSecrets({ mode: 'verify-ca', mutualTls: 'enable', ...noStore })),
      'MATERIAL_MISSING',
    );
    assert.equal(
      code(() =>
        k8sSecrets({
          mode: 'verify-ca',
          mutualTls: 'enable',
          ...INPUT(),
          clientKey: fs.readFileSync(path.join(FIX, 'ca.pem')),
        }),
      ),
      'KEY_MALFORMED',
    );
    assert.equal(
      code(() => k8sSecrets({ mode: 'verify-ca', mutualTls: 'disable', namePrefix: 'Bad_Name' })),
      'NAME_INVALID',
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

  it('builds the JKS from the key and certificate when no keystore is given (keytool reads it)', async (t) => {
    const { keystore: _k, ...input } = INPUT();
    const out = k8sSecrets({ mode: 'verify-full', mutualTls: 'enable', ...input });
    assert.equal(out.keystoreBuilt, true);
    if (!toolAvailable('keytool')) return t.skip('keytool not installed');
    const secret = out.objects.find((o) => o.metadata.name === 'db-client-keystore-secret') as unknown as {
      data: Record<string, string>;
    };
    const jks = path.join(dir, 'built.jks');
    fs.writeFileSync(jks, Buffer.from(secret.data['db-client-keystore.jks']!, 'base64'));
    const listed = await keytool(['-list', '-v', '-keystore', jks, '-storetype', 'JKS'], {
      input: `${input.keystorePassword}\n`,
    });
    assert.equal(listed.code, 0, listed.stderr + listed.stdout);
    assert.match(listed.stdout, /Alias name: client/);
    assert.match(listed.stdout, /Entry type: PrivateKeyEntry/);
    assert.match(listed.stdout, /CN=fixture_client/);
  });

  it('CLI: a YAML stream kubectl can apply, with the values block as comments; errors exit 2', async () => {
    const pw = path.join(dir, 'pw');
    fs.writeFileSync(pw, 'cli-store-pw\n', { mode: 0o600 });
    const r = await runCli([
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
      '--keystore-password-file',
      pw,
      '--namespace',
      'shop',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /cli-store-pw/);
    const docs = parseYamlStream(r.stdout) as { kind: string; data?: Record<string, string> }[];
    assert.deepEqual(
      docs.map((d) => d.kind),
      ['ConfigMap', 'ConfigMap', 'Secret', 'Secret', 'Secret'],
    );
    assert.equal(
      Buffer.from(docs[4]!.data!['db-client-keystore-password']!, 'base64').toString(),
      'cli-store-pw',
    );
    assert.match(r.stdout, /^# sslMode: verify-full$/m);
    assert.match(r.stdout, /^# clientKeySecret: db-client-key-secret$/m);
    assert.match(r.stderr, /built the JKS keystore/);

    const bad = await runCli(['k8s', 'secrets', '--ssl-mode', 'trust', '--mutual-tls', 'enable']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error\[SSL_MODE_INVALID\]/m);
    const preferred = await runCli(['k8s', 'secrets', '--ssl-mode', 'preferred']);
    assert.equal(preferred.code, 2);
    assert.match(preferred.stderr, /^error\[SSL_MODE_INSECURE\]/m);
  });
});
