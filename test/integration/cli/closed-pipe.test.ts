/**
 * A reader that goes away (`dbtls list | head -1`) ends dbtls quietly: exit 0, nothing on stderr, no
 * stack trace (issue 14, item 7). The read end of stdout is closed before dbtls writes its first byte,
 * for every command that reports.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dbtlsCommand, runCli } from '../../harness/cli.js';

/** Runs dbtls with its stdout closed from the start; resolves with the exit code and stderr. */
function withClosedStdout(
  args: readonly string[],
  cwd: string,
): Promise<{ code: number | null; stderr: string }> {
  const [cmd, ...prefix] = dbtlsCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, [...prefix, ...args], {
      cwd,
      env: {
        ...process.env,
        DBTLS_CA_PASSPHRASE: undefined,
        MYSQL_PWD: undefined,
        DBTLS_PROFILE: undefined,
        XDG_CONFIG_HOME: path.join(cwd, 'no-config-home'), // no user profile: `config show` reads none
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

let dir: string;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-pipe-'));
  const steps = [
    ['ca', 'init', '--no-passphrase'],
    ['issue', 'server', '--cn', 'db1.example.com', '--out', 'db1'],
    ['csr', '--cn', 'node2.example.com', '--out', 'node2'],
  ];
  for (const s of steps) {
    const r = await runCli(s, { cwd: dir });
    assert.equal(r.code, 0, `${s.join(' ')}: ${r.stderr}`);
  }
  fs.writeFileSync(path.join(dir, 'pw'), 'changeit\n');
  const p12 = await runCli(
    [
      'export',
      'p12',
      '--cert',
      'db1/cert.pem',
      '--key',
      'db1/key.pem',
      '--alias',
      'db1',
      '--password-file',
      'pw',
      '--out',
      'db1.p12',
    ],
    { cwd: dir },
  );
  assert.equal(p12.code, 0, p12.stderr);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Every command that reports on stdout, with arguments that make it succeed in the fixture directory. */
const REPORTING: readonly string[][] = [
  [],
  ['--help'],
  ['issue', 'server', '--help'],
  ['--version'],
  ['list'],
  ['list', '--json'],
  ['ca', 'show'],
  ['ca', 'show', '--json'],
  ['bundle', 'show', 'db1/chain.pem'],
  ['keystore', 'show', 'db1.p12', '--password-file', 'pw'],
  ['snippet', '--for', 'mariadb-cli', 'db1:3306', '--ssl-mode', 'verify-full', '--ca', 'db1/ca.pem'],
  ['k8s', 'secrets', '--ssl-mode', 'verify-full', '--ca', 'db1/ca.pem'],
  [
    'proxysql',
    '--frontend-ca',
    'db1/ca.pem',
    '--frontend-cert',
    'db1/cert.pem',
    '--frontend-key',
    'db1/key.pem',
  ],
  ['cloud-ca', 'rds', '--out', '-'],
  ['cert', 'show', 'db1/cert.pem'],
  ['csr', 'show', 'node2/csr.pem'],
  ['completion', 'bash'],
  ['completion', 'zsh'],
  ['completion', 'fish'],
  ['config', 'show'],
  ['k8s', 'cert-manager', '--namespace', 'shop', '--server-dns', 'db1.example.com'],
  ['k8s', 'kubedb', '--name', 'orders', '--issuer', 'dbtls-ca', '--require-ssl'],
  ['k8s', 'proxy-sidecar', 'db1.example.com:3306', '--secret', 'app-db-tls', '--image', 'dbtls:0.1.0'],
  // Files written to stdout with `--out -`.
  ['crl', '--out', '-'],
  ['bundle', 'db1/ca.pem', '--out', '-'],
  ['sign', 'node2/csr.pem', '--profile', 'server', '--out', '-'],
];

/** The one warning a command gives on stderr before its report, whoever reads it. */
const WARNING: Readonly<Record<string, RegExp>> = {
  'k8s cert-manager': /^warning: the Secret dbtls-ca holds the CA private key unencrypted [^\n]*\n$/,
};

describe('a closed stdout', () => {
  for (const args of REPORTING) {
    it(`dbtls ${args.join(' ')}: exits 0 quietly`, async () => {
      const r = await withClosedStdout(args, dir);
      const warning = WARNING[args.slice(0, 2).join(' ')];
      if (warning) assert.match(r.stderr, warning);
      else assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
    });
  }
});
