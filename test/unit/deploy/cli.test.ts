/** The deploy commands as a user runs them: `k8s cert-manager` from a CA directory, `k8s kubedb`, `snippet`. */
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initCa } from '../../../src/ca/init.js';
import { openCa } from '../../../src/ca/store.js';
import { parseYamlStream } from '../../../src/deploy/yaml.js';
import { runCli } from '../../harness/cli.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

type Doc = {
  kind: string;
  metadata: { name: string };
  stringData?: Record<string, string>;
  spec?: Record<string, unknown>;
};

describe('deploy CLI', () => {
  let dir: string;
  let caDir: string;
  let passFile: string;
  let pki: TestPki;

  before(async () => {
    pki = await makeTestPki();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-deploy-cli-'));
    caDir = path.join(dir, 'ca');
    passFile = path.join(dir, 'passphrase');
    fs.writeFileSync(passFile, 'ca pass phrase\n', { mode: 0o600 });
    // A real dbtls CA with an intermediate: cert-manager gets the intermediate and its key.
    initCa(caDir, { passphrase: 'ca pass phrase', intermediate: true, org: 'dbtls' });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('k8s cert-manager: decrypts the CA key for cert-manager, warns, and prints REQUIRE SUBJECT', async () => {
    const r = await runCli([
      'k8s',
      'cert-manager',
      '--namespace',
      'shop',
      '--server-dns',
      'mysql.shop.svc',
      '--client-cn',
      'orders',
      '--client-org',
      'dbtls',
      '--ca-dir',
      caDir,
      '--passphrase-file',
      passFile,
      '--trust-bundle',
      pki.otherCa,
      pki.ca,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: the Secret dbtls-ca holds the CA private key unencrypted/);
    assert.match(r.stdout, /^# orders: ALTER USER 'orders'@'%' REQUIRE SUBJECT '\/O=dbtls\/CN=orders';/m);
    const docs = parseYamlStream(r.stdout) as Doc[];
    const caSecret = docs[0]!;
    assert.equal(caSecret.metadata.name, 'dbtls-ca');
    const key = createPrivateKey(caSecret.stringData!['tls.key']!);
    const ca = openCa(caDir, 'ca pass phrase');
    // tls.crt: the intermediate (whose key this is), then the root.
    assert.equal(caSecret.stringData!['tls.crt'], ca.intermediate!.pem + ca.root.pem);
    assert.ok(new X509Certificate(caSecret.stringData!['tls.crt']!).checkPrivateKey(key));
    assert.doesNotMatch(caSecret.stringData!['tls.key']!, /ENCRYPTED/);
    const bundle = docs.find((d) => d.metadata.name === 'dbtls-ca-bundle') as unknown as {
      data: Record<string, string>;
    };
    assert.equal(
      bundle.data['ca-bundle.pem'],
      fs.readFileSync(pki.otherCa, 'utf8') + fs.readFileSync(pki.ca, 'utf8'),
    );

    const wrong = path.join(dir, 'wrong');
    fs.writeFileSync(wrong, 'not it\n');
    const bad = await runCli([
      'k8s',
      'cert-manager',
      '--namespace',
      'shop',
      '--server-dns',
      'x',
      '--ca-dir',
      caDir,
      '--passphrase-file',
      wrong,
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error\[KEY_PASSPHRASE_WRONG\]/m);

    // The rollover bundle goes through the bundle rules: a leaf is no trust anchor.
    const leaf = await runCli([
      'k8s',
      'cert-manager',
      '--namespace',
      'shop',
      '--server-dns',
      'x',
      '--ca-dir',
      caDir,
      '--passphrase-file',
      passFile,
      '--trust-bundle',
      pki.server.cert,
    ]);
    assert.equal(leaf.code, 2);
    assert.match(leaf.stderr, /^error\[CERT_NOT_CA\][^\n]*\nhint: /m);

    // A rollover bundle of one CA (or the same CA twice) trusts one side only: refused before the CA opens,
    // so no passphrase is asked and nothing is written.
    const out = path.join(dir, 'one-ca.yaml');
    for (const files of [[pki.ca], [pki.ca, pki.ca]]) {
      const one = await runCli([
        'k8s',
        'cert-manager',
        '--namespace',
        'shop',
        '--server-dns',
        'x',
        '--ca-dir',
        path.join(dir, 'no-such-ca'),
        '--trust-bundle',
        ...files,
        '--out',
        out,
      ]);
      assert.equal(one.code, 2, one.stderr);
      assert.match(
        one.stderr,
        /^error\[USAGE\]: could not make the trust bundle: it holds one CA certificate, and a rollover needs the old and the new\nhint: give both: --trust-bundle OLD_CA\.pem NEW_CA\.pem /m,
      );
      assert.equal(fs.existsSync(out), false);
    }
  });

  it('k8s kubedb: a version that names no catalog object and a storage size that is no quantity are refused', async () => {
    const kubedb = (...extra: string[]) =>
      runCli(['k8s', 'kubedb', '--name', 'orders', '--issuer', 'dbtls-ca-issuer', ...extra]);
    for (const version of ['8.0; rm -rf /', '8.0.35 ', 'V8', '']) {
      const r = await kubedb('--version', version);
      assert.equal(r.code, 2, `${version}: ${r.stderr}`);
      assert.match(r.stderr, /^error\[(NAME_INVALID|USAGE)\]/m, version);
      assert.equal(r.stdout, '');
    }
    for (const storage of ['lots', '0', '0Gi', '1gi', '10 Gi', '1GiB', '.']) {
      const r = await kubedb('--storage', storage);
      assert.equal(r.code, 2, `${storage}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /^error\[STORAGE_INVALID\]: could not use the storage size "[^"]*": it is not a Kubernetes quantity above zero\nhint: /m,
      );
      assert.equal(r.stdout, '');
    }
    for (const [storage, shown] of [
      ['20Gi', '20Gi'],
      ['500M', '500M'],
      ['1.5', '"1.5"'],
      ['0.5Ti', '0.5Ti'],
    ] as const) {
      const r = await kubedb('--storage', storage, '--version', '8.0.35-v1');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^ +storage: ${shown.replace('.', '\\.')}$`, 'm'));
      assert.match(r.stdout, /^ {2}version: 8\.0\.35-v1$/m);
    }
  });

  it('k8s kubedb: the database resource, and ops requests that need what they need', async () => {
    const db = await runCli([
      'k8s',
      'kubedb',
      '--name',
      'orders',
      '--namespace',
      'shop',
      '--flavor',
      'mariadb',
      '--issuer',
      'dbtls-ca-issuer',
      '--require-ssl',
    ]);
    assert.equal(db.code, 0, db.stderr);
    const [doc] = parseYamlStream(db.stdout) as Doc[];
    assert.equal(doc!.kind, 'MariaDB');
    assert.equal(doc!.spec!.requireSSL, true);
    const missing = await runCli(['k8s', 'kubedb', '--name', 'orders', '--ops', 'change-issuer']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error\[ISSUER_REQUIRED\]/m);
    const tls: Record<string, unknown> = {
      rotate: { rotateCertificates: true },
      'change-issuer': {
        issuerRef: { apiGroup: 'cert-manager.io', kind: 'ClusterIssuer', name: 'dbtls-ca-2' },
      },
      remove: { remove: true },
    };
    for (const op of Object.keys(tls)) {
      const r = await runCli([
        'k8s',
        'kubedb',
        '--name',
        'orders',
        '--flavor',
        'mariadb',
        '--ops',
        op,
        '--new-issuer',
        'dbtls-ca-2',
        '--cluster-issuer',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`warning: KubeDB restarts the database pods to apply the ${op} request`),
      );
      const [req] = parseYamlStream(r.stdout) as Doc[];
      assert.equal(req!.kind, 'MariaDBOpsRequest');
      assert.deepEqual(req!.spec, { type: 'ReconfigureTLS', databaseRef: { name: 'orders' }, tls: tls[op] });
    }
  });

  it('snippet: refuses what a client cannot say, prints JSON with the mode it enforces', async () => {
    const refused = await runCli(['snippet', '--for', 'mariadb-cli', '127.0.0.1', '--ssl-mode', 'REQUIRED']);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /^error\[SNIPPET_MODE_UNSUPPORTED\]: could not write the mariadb-cli snippet for ssl-mode trust:/m,
    );
    const r = await runCli([
      'snippet',
      '--for',
      'mariadb-cli',
      'db.example:3307',
      '--ssl-mode',
      'verify-ca',
      '--ca',
      pki.ca,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { effectiveMode: string; warnings: string[]; text: string };
    assert.equal(s.effectiveMode, 'verify-full');
    assert.match(s.warnings[0]!, /cannot verify the chain without the host name/);
    assert.match(s.text, /--ssl-verify-server-cert/);
    // A DSN target gives the mode, the files, the user and the database; flags would win.
    const dsn = await runCli([
      'snippet',
      '--for',
      'jdbc-mariadb',
      'mysql://orders@db.example:3307/shop?ssl-mode=VERIFY_IDENTITY&ssl-ca=/etc/db/ca.pem',
    ]);
    assert.equal(dsn.code, 0, dsn.stderr);
    assert.equal(
      dsn.stdout.split('\n')[0],
      // useSsl=true, not sslMode: Connector/J 2.x ignores sslMode and connects in plaintext (issue 9 item 1).
      'jdbc:mariadb://db.example:3307/shop?useSsl=true&serverSslCert=/etc/db/ca.pem&enabledSslProtocolSuites=TLSv1.2,TLSv1.3',
    );
  });

  it('snippet: --cert/--key mean mutual TLS; with --mutual-tls disable, or one without the other, an error (item 7)', async () => {
    const base = [
      'snippet',
      '--for',
      'mariadb-cli',
      '127.0.0.1:3307',
      '--ssl-mode',
      'verify-full',
      '--ca',
      pki.ca,
    ];
    const implied = await runCli([...base, '--cert', pki.client.cert, '--key', pki.client.key, '--json']);
    assert.equal(implied.code, 0, implied.stderr);
    const s = JSON.parse(implied.stdout) as { mutualTls: string; text: string };
    assert.equal(s.mutualTls, 'enable');
    assert.ok(s.text.includes(`--ssl-cert=${pki.client.cert}`), s.text);
    assert.ok(s.text.includes(`--ssl-key=${pki.client.key}`), s.text);
    const conflict = await runCli([
      ...base,
      '--mutual-tls',
      'disable',
      '--cert',
      pki.client.cert,
      '--key',
      pki.client.key,
    ]);
    assert.equal(conflict.code, 2);
    assert.match(
      conflict.stderr,
      /^error\[USAGE\]: could not write the snippet with --mutual-tls disable: --cert and --key would be left out$/m,
    );
    assert.equal(conflict.stdout, '');
    const half = await runCli([...base, '--cert', pki.client.cert]);
    assert.equal(half.code, 2);
    assert.match(
      half.stderr,
      /^error\[USAGE\]: could not use --cert alone: a client certificate needs both --cert and --key$/m,
    );
    // trust with a certificate: mutual TLS is only for the verifying modes, said, not dropped.
    const trust = await runCli([
      'snippet',
      '--for',
      'go',
      '127.0.0.1',
      '--ssl-mode',
      'trust',
      '--cert',
      pki.client.cert,
      '--key',
      pki.client.key,
    ]);
    assert.equal(trust.code, 2);
    assert.match(trust.stderr, /^error\[SSL_MODE_INVALID\]/m);
    // The usage says --ssl-mode is required, as it is.
    const usage = await runCli(['snippet', '--for', 'go', '127.0.0.1']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--ssl-mode is required/);
    assert.match(usage.stderr, / TARGET --ssl-mode M /);
  });

  it('snippet: a control character in a value is refused with nothing printed (item 6)', async () => {
    const r = await runCli([
      'snippet',
      '--for',
      'my.cnf',
      '127.0.0.1',
      '--ssl-mode',
      'verify-full',
      '--ca',
      '/x\ninit-command=DROP DATABASE prod',
    ]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^error\[SNIPPET_VALUE_INVALID\]: could not write the my\.cnf snippet: --ca "\/x\\ninit-command=DROP DATABASE prod" holds a control character$/m,
    );
  });
});
