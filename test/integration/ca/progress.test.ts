/**
 * Long key generation shows progress on a terminal, and only there. The terminal is a real pty made by
 * util-linux `script`; without one (a pipe) stderr stays empty.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { dbtlsCommand, runCli } from '../../harness/cli.js';
import { opensslVerify } from '../../harness/oracles.js';

const hasScript = spawnSync('script', ['--version']).status === 0;
let dir: string;
let passphraseFile: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-progress-'));
  passphraseFile = path.join(dir, 'pp');
  fs.writeFileSync(passphraseFile, 'a long enough passphrase\n', { mode: 0o600 });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs dbtls on a pty; returns everything the terminal showed. */
function onTerminal(args: readonly string[]): Promise<{ code: number; screen: string }> {
  const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
  const command = [...dbtlsCommand(), ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.on('data', (d) => {
      screen += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, screen }));
  });
}

test('ca init --key rsa-3072 --intermediate ticks "generating 2 RSA-3072 keys" on a TTY, then clears it', {
  skip: !hasScript && 'util-linux script is not installed',
}, async () => {
  const caDir = path.join(dir, 'tty-ca');
  const r = await onTerminal([
    'ca',
    'init',
    '--key',
    'rsa-3072',
    '--intermediate',
    '--ca-dir',
    caDir,
    '--passphrase-file',
    passphraseFile,
  ]);
  assert.equal(r.code, 0, r.screen);
  assert.match(r.screen, /^\rgenerating 2 RSA-3072 keys… 0\.0 s\r/);
  assert.match(r.screen, /\r\x1b\[2KCreated a new local CA in /);
  assert.match(r.screen, /Root: \/O=dbtls\/CN=dbtls Root CA \(RSA 3072\)/);
  const verified = await opensslVerify({
    ca: path.join(caDir, 'root.pem'),
    cert: path.join(caDir, 'intermediate.pem'),
    strict: true,
  });
  assert.equal(verified.ok, true, verified.stdout + verified.stderr);
});

test('issue server --key rsa-2048 without a TTY prints no progress, and writes a 0600 key that matches', async () => {
  const caDir = path.join(dir, 'pipe-ca');
  const init = await runCli(['ca', 'init', '--ca-dir', caDir, '--no-passphrase']);
  assert.equal(init.code, 0, init.stderr);
  const out = path.join(dir, 'db1');
  const r = await runCli([
    'issue',
    'server',
    '--cn',
    'db1.example.com',
    '--key',
    'rsa-2048',
    '--out',
    out,
    '--ca-dir',
    caDir,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(fs.statSync(path.join(out, 'key.pem')).mode & 0o777, 0o600);
  const cert = new X509Certificate(fs.readFileSync(path.join(out, 'cert.pem')));
  const key = createPrivateKey(fs.readFileSync(path.join(out, 'key.pem')));
  assert.equal(cert.checkPrivateKey(key), true);
  assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
});
