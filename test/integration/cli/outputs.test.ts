/**
 * Issue 14, item 10: `--out -` is stdout wherever one text file is written (it was a file named `-`),
 * and refused where the output is a directory or binary; `k8s … --json` writes the files it was asked
 * to write; `k8s secrets --ssl-mode disable` writes no manifest kubectl would refuse; `k8s kubedb` checks
 * its issuer against the manifest `k8s cert-manager` wrote, validated against the CRDs without kubectl.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { run } from '../../../src/cli/main.js';
import { parseYamlStream } from '../../../src/deploy/yaml.js';
import { PROJECT_ROOT } from '../../harness/cli.js';
import { openssl } from '../../harness/oracles.js';
import { capture } from '../../unit/cli/capture.js';

let dir: string;
let home: string;

async function dbtls(argv: string[]) {
  const { out, render } = capture();
  const code = await run(argv, render);
  return { code, ...out };
}

async function ok(argv: string[]) {
  const r = await dbtls(argv);
  assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
  return r;
}

before(async () => {
  home = process.cwd();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-outputs-'));
  process.chdir(dir);
  await ok(['ca', 'init', '--no-passphrase']);
  await ok(['csr', '--cn', 'node2.example.com', '--out', 'node2']);
  fs.writeFileSync('pw', 'changeit\n');
});
after(() => {
  process.chdir(home);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('--out - is stdout (issue 14, item 10)', () => {
  it('for every command that writes one text file, and no file named "-" appears', async () => {
    const cases: [argv: string[], first: RegExp][] = [
      [['cloud-ca', 'rds', '--region', 'eu-west-3', '--out', '-'], /^-----BEGIN CERTIFICATE-----\n/],
      [['bundle', 'dbtls-ca/root.pem', '--out', '-'], /^-----BEGIN CERTIFICATE-----\n/],
      [['crl', '--out', '-'], /^-----BEGIN X509 CRL-----\n/],
      [['sign', 'node2/csr.pem', '--profile', 'server', '--out', '-'], /^-----BEGIN CERTIFICATE-----\n/],
      [['k8s', 'secrets', '--ssl-mode', 'verify-ca', '--ca', 'dbtls-ca/root.pem', '--out', '-'], /^---\n/],
      [['k8s', 'kubedb', '--name', 'orders', '--issuer', 'ca', '--out', '-'], /^---\n/],
      [['k8s', 'cert-manager', '--namespace', 'shop', '--server-dns', 'db', '--out', '-'], /^---\n/],
      [['k8s', 'proxy-sidecar', 'db:3306', '--secret', 's', '--image', 'i', '--out', '-'], /^# dbtls proxy/],
    ];
    for (const [argv, first] of cases) {
      const r = await ok(argv);
      assert.match(r.stdout, first, argv.join(' '));
      assert.doesNotMatch(r.stdout, /^Wrote /m, argv.join(' '));
      assert.equal(fs.existsSync('-'), false, `${argv.join(' ')} wrote a file named "-"`);
    }
    // What went to stdout is what a file would hold: the signed chain verifies against the CA.
    const signed = await ok(['sign', 'node2/csr.pem', '--profile', 'server', '--out', '-']);
    fs.writeFileSync('signed.pem', signed.stdout);
    const verify = await openssl(['verify', '-CAfile', 'dbtls-ca/root.pem', 'signed.pem']);
    assert.equal(verify.stdout.trim(), 'signed.pem: OK', verify.stderr);
    const crl = await ok(['crl', '--out', '-']);
    fs.writeFileSync('crl-out.pem', crl.stdout);
    const parsed = await openssl(['crl', '-in', 'crl-out.pem', '-noout', '-issuer']);
    assert.equal(parsed.code, 0, parsed.stderr);
  });

  it('is refused where the output is a directory or binary, and with --json', async () => {
    const cases: string[][] = [
      ['issue', 'client', '--cn', 'app', '--out', '-'],
      ['issue', 'server', '--cn', 'db1', '--out', '-'],
      ['csr', '--cn', 'x', '--out', '-'],
      ['renew', '--cn', 'node2.example.com', '--out', '-'],
      [
        'export',
        'truststore',
        '--format',
        'p12',
        '--ca',
        'dbtls-ca/root.pem',
        '--password-file',
        'pw',
        '--out',
        '-',
      ],
      ['cloud-ca', 'rds', '--out', '-', '--json'],
      ['k8s', 'kubedb', '--name', 'orders', '--issuer', 'ca', '--out', '-', '--json'],
      ['sign', 'node2/csr.pem', '--profile', 'server', '--out', '-', '--json'],
    ];
    for (const argv of cases) {
      const r = await dbtls(argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /^error\[USAGE\]: could not (write .* to stdout \(--out -\)|run with --json and --out -)/,
      );
      assert.equal(r.stdout, '');
      assert.equal(fs.existsSync('-'), false, argv.join(' '));
    }
  });
});

describe('sign --out FILE (issue 14, item 5)', () => {
  it('the Next: hint names the file written, not cert.pem', async () => {
    await ok(['csr', '--cn', 'app_user', '--out', 'appreq']);
    const r = await ok(['sign', 'appreq/csr.pem', '--profile', 'client', '--out', 'appreq/app-signed.pem']);
    assert.match(
      r.stdout,
      /^Next: require it for the user: dbtls require ADMIN_TARGET app_user@% --subject-of appreq\/app-signed\.pem --verify-cert appreq\/app-signed\.pem --verify-key appreq\/key\.pem {3}\(ADMIN_TARGET: the server, host\[:port\] or a DSN\)$/m,
    );
  });
});

describe('k8s … --json writes the files it was asked to write (issue 14, item 10)', () => {
  it('the same bytes as without --json, and the summary names them', async () => {
    const commands: string[][] = [
      ['k8s', 'secrets', '--ssl-mode', 'verify-ca', '--ca', 'dbtls-ca/root.pem', '--values-out', 'VALUES'],
      ['k8s', 'kubedb', '--name', 'orders', '--issuer', 'ca'],
      ['k8s', 'proxy-sidecar', 'db:3306', '--secret', 's', '--image', 'i'],
    ];
    for (const argv of commands) {
      await ok([...argv, '--out', 'plain.yaml'].map((a) => (a === 'VALUES' ? 'plain-values.yaml' : a)));
      const r = await ok(
        [...argv, '--out', 'json.yaml', '--json'].map((a) => (a === 'VALUES' ? 'json-values.yaml' : a)),
      );
      const summary = JSON.parse(r.stdout);
      assert.equal(summary.file, path.join(fs.realpathSync(dir), 'json.yaml'), argv.join(' '));
      assert.equal(
        fs.readFileSync('json.yaml', 'utf8'),
        fs.readFileSync('plain.yaml', 'utf8'),
        argv.join(' '),
      );
      assert.equal(fs.statSync('json.yaml').mode & 0o777, 0o600);
    }
    assert.equal(fs.readFileSync('json-values.yaml', 'utf8'), fs.readFileSync('plain-values.yaml', 'utf8'));
    // cert-manager makes a fresh keystore password each run; its objects are compared, not the bytes.
    const cm = [
      'k8s',
      'cert-manager',
      '--namespace',
      'shop',
      '--server-dns',
      'db',
      '--out',
      'cm-json.yaml',
      '--json',
    ];
    const summary = JSON.parse((await ok(cm)).stdout);
    assert.deepEqual(parseYamlStream(fs.readFileSync('cm-json.yaml', 'utf8')), summary.objects);
  });

  it('k8s secrets --ssl-mode disable writes no manifest kubectl would refuse, and says why', async () => {
    const r = await ok([
      'k8s',
      'secrets',
      '--ssl-mode',
      'disable',
      '--out',
      'none.yaml',
      '--values-out',
      'values.yaml',
    ]);
    assert.match(
      r.stderr,
      /^warning: ssl-mode disable needs no ConfigMap or Secret: none\.yaml was not written/m,
    );
    assert.equal(fs.existsSync('none.yaml'), false);
    assert.match(fs.readFileSync('values.yaml', 'utf8'), /^sslMode: disable$/m);
  });
});

describe('k8s kubedb --cert-manager FILE: the issuer checked without kubectl (issue 14, item 10)', () => {
  const crd = (file: string) =>
    new Ajv({ strict: false, allErrors: true }).compile(
      parseYaml(fs.readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/deploy/crds', file), 'utf8')),
    );

  it('takes the Issuer from the manifest, in one run of each command', async () => {
    for (const [extra, kind] of [
      [[], 'Issuer'],
      [['--cluster-issuer', '--issuer-name', 'fleet-ca'], 'ClusterIssuer'],
    ] as const) {
      await ok([
        'k8s',
        'cert-manager',
        '--namespace',
        'shop',
        '--server-dns',
        'db',
        ...extra,
        '--out',
        'cm.yaml',
      ]);
      const issuer = (
        parseYamlStream(fs.readFileSync('cm.yaml', 'utf8')) as { kind: string; metadata: { name: string } }[]
      ).find((o) => o.kind === kind)!;
      const r = await ok([
        'k8s',
        'kubedb',
        '--name',
        'orders',
        '--namespace',
        'shop',
        '--cert-manager',
        'cm.yaml',
        '--json',
      ]);
      const [db] = JSON.parse(r.stdout).objects;
      assert.deepEqual(db.spec.tls.issuerRef, {
        apiGroup: 'cert-manager.io',
        kind,
        name: issuer.metadata.name,
      });
      const validate = crd('kubedb.com_database.v1.yaml');
      assert.ok(validate(db), JSON.stringify(validate.errors));
      const issuerValid = crd('cert-manager.io_issuers.v1.yaml');
      assert.ok(issuerValid(issuer), JSON.stringify(issuerValid.errors));
      // change-issuer: the new issuer is checked the same way.
      const ops = await ok([
        'k8s',
        'kubedb',
        '--name',
        'orders',
        '--namespace',
        'shop',
        '--ops',
        'change-issuer',
        '--cert-manager',
        'cm.yaml',
        '--json',
      ]);
      assert.equal(JSON.parse(ops.stdout).objects[0].spec.tls.issuerRef.name, issuer.metadata.name);
    }
  });

  it('refuses a name, kind or namespace the manifest does not declare', async () => {
    await ok(['k8s', 'cert-manager', '--namespace', 'shop', '--server-dns', 'db', '--out', 'cm.yaml']);
    const kubedb = ['k8s', 'kubedb', '--name', 'orders', '--cert-manager', 'cm.yaml'];
    for (const [more, code, message] of [
      [['--namespace', 'shop', '--issuer', 'other'], 'ISSUER_NOT_FOUND', /declares Issuer dbtls-ca-issuer/],
      [['--namespace', 'shop', '--cluster-issuer'], 'ISSUER_MISMATCH', /as an Issuer, not a ClusterIssuer/],
      [['--namespace', 'orders'], 'ISSUER_MISMATCH', /in the namespace shop, the database in orders/],
    ] as const) {
      const r = await dbtls([...kubedb, ...more]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^error\\[${code}\\]: could not `));
      assert.match(r.stderr, message);
    }
    fs.writeFileSync('broken.yaml', 'kind: [unclosed\n');
    const broken = await dbtls(['k8s', 'kubedb', '--name', 'orders', '--cert-manager', 'broken.yaml']);
    assert.match(broken.stderr, /^error\[MANIFEST_INVALID\]/);
  });
});

describe('--out never replaces a file that is not what the command writes', () => {
  it('a CA key as --out of crl, bundle, cloud-ca and k8s: OUTPUT_EXISTS, exit 2, the key and the CA unchanged', async () => {
    const key = path.resolve('dbtls-ca/root.key.pem');
    const keyBytes = fs.readFileSync(key);
    const meta = fs.readFileSync('dbtls-ca/ca.json');
    for (const argv of [
      ['crl', '--out', key],
      ['bundle', 'dbtls-ca/root.pem', '--out', key],
      ['cloud-ca', 'rds', '--region', 'eu-west-3', '--out', key],
      ['k8s', 'secrets', '--ssl-mode', 'verify-ca', '--ca', 'dbtls-ca/root.pem', '--out', key],
      ['k8s', 'kubedb', '--name', 'orders', '--issuer', 'ca', '--out', key],
    ]) {
      const r = await dbtls(argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
      const error = r.stderr.split('\n').find((l) => l.startsWith('error['));
      assert.ok(
        error?.startsWith(`error[OUTPUT_EXISTS]: could not write ${key}: it exists and is not `),
        r.stderr,
      );
      assert.deepEqual(fs.readFileSync(key), keyBytes, argv.join(' '));
    }
    assert.deepEqual(fs.readFileSync('dbtls-ca/ca.json'), meta, 'crl used no CRL number');
  });

  it('publishing again replaces what the command wrote before (a CRL, a bundle, a manifest)', async () => {
    for (const argv of [
      ['crl', '--out', 'again.crl'],
      ['bundle', 'dbtls-ca/root.pem', '--out', 'again-bundle.pem'],
      ['k8s', 'kubedb', '--name', 'orders', '--issuer', 'ca', '--out', 'again.yaml'],
    ]) {
      await ok(argv);
      await ok(argv);
    }
  });

  it('a missing directory is OUTPUT_INVALID (exit 2) before any work; --out and --values-out on one file, OUTPUT_CONFLICT', async () => {
    const r = await dbtls(['bundle', 'dbtls-ca/root.pem', '--out', 'no-such-dir/b.pem']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^error\[OUTPUT_INVALID\]: could not write .*no-such-dir\/b\.pem: the directory .*no-such-dir does not exist\n/,
    );
    const same = await dbtls([
      'k8s',
      'secrets',
      '--ssl-mode',
      'verify-ca',
      '--ca',
      'dbtls-ca/root.pem',
      '--out',
      'same.yaml',
      '--values-out',
      'same.yaml',
    ]);
    assert.equal(same.code, 2, same.stderr);
    assert.match(
      same.stderr,
      /^error\[OUTPUT_CONFLICT\]: could not write .*same\.yaml: --out and --values-out name the same file\n/,
    );
    assert.equal(fs.existsSync('same.yaml'), false);
  });
});

describe('an --out that cannot be a file is said so, before any work', () => {
  it('sign and export to a directory: OUTPUT_NOT_A_FILE (not "exists, add --force"); sign into a missing directory: OUTPUT_INVALID', async () => {
    fs.mkdirSync('a-dir', { recursive: true });
    await ok(['sign', 'node2/csr.pem', '--profile', 'server', '--out', 'export-cert.pem']);
    const cases: [string[], string][] = [
      [['sign', 'node2/csr.pem', '--profile', 'server', '--out', 'a-dir'], 'OUTPUT_NOT_A_FILE'],
      [
        [
          'export',
          'p12',
          '--cert',
          'export-cert.pem',
          '--key',
          'node2/key.pem',
          '--alias',
          'a',
          '--password-file',
          'pw',
          '--out',
          'a-dir',
        ],
        'OUTPUT_NOT_A_FILE',
      ],
      [['sign', 'node2/csr.pem', '--profile', 'server', '--out', 'no-dir/x.pem'], 'OUTPUT_INVALID'],
      [['sign', 'node2/csr.pem', '--profile', 'server', '--out', 'new-dir/'], 'OUTPUT_NOT_A_FILE'],
    ];
    const index = fs.readFileSync('dbtls-ca/index.jsonl');
    for (const [argv, code] of cases) {
      const r = await dbtls(argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.startsWith(`error[${code}]: `), `${argv.join(' ')}: ${r.stderr}`);
    }
    assert.deepEqual(fs.readFileSync('dbtls-ca/index.jsonl'), index, 'nothing was signed');
    assert.equal(fs.existsSync('no-dir'), false);
    assert.equal(fs.existsSync('new-dir'), false);
  });
});
