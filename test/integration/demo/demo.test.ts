/**
 * `dbtls demo` end to end, as a user runs it: a real throwaway MariaDB, inspect before (TLS not offered,
 * plaintext login accepted), secure, inspect after (nothing above info), a verify-full + mutual TLS
 * session; and without mariadbd, a clear MARIADB_NOT_INSTALLED.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { dbtlsCommand, PROJECT_ROOT, runCli } from '../../harness/cli.js';

/** The demo's one temp dir, as it announces it in its first line. */
function demoDir(stdout: string): string {
  const dir = /in (\S+) \(removed at the end\)/.exec(stdout)?.[1];
  assert.ok(dir?.startsWith(os.tmpdir()), stdout);
  return dir!;
}

test('dbtls demo runs end to end and cleans up after itself', async () => {
  const started = Date.now();
  const res = await runCli(['demo'], { timeoutMs: 60_000 });
  const wallSeconds = (Date.now() - started) / 1000;
  assert.equal(res.code, 0, res.stderr + res.stdout);
  // Issue 5: under 30 s on this machine, measured from outside (process start to exit), not only as it says.
  assert.ok(wallSeconds < 30, `the demo took ${wallSeconds} s from start to exit`);
  for (const line of [
    /critical tls-not-offered/,
    /plaintext-login-accepted: 'app' logged in without TLS/,
    /✓ ca +created a new CA/,
    /✓ enable +installed in .*restarted the server/,
    /✓ require 'app'@'%' +REQUIRE X509 \(was none\); a login as 'app'@'%' over TLSv1\.[23] worked/,
    /✓ require-secure-transport +ON now/,
    /Nothing above info: TLS is verified, and plaintext logins are refused\./,
    /Ssl_version +TLSv1\.[23]/,
    /Ssl_cipher +\S+/,
    /\/O=dbtls\/CN=127\.0\.0\.1 +\(issuer \/O=dbtls\/CN=dbtls demo CA/,
    /Without its certificate, 'app' is refused/,
    /Done in [\d.]+ s\./,
    /^On your own server: dbtls secure ADMIN_TARGET --account app@% --restart-command 'systemctl restart mariadb' {3}\(ADMIN_TARGET: the server, host\[:port\] or a DSN\)$/m,
  ]) {
    assert.match(res.stdout, line);
  }
  const seconds = Number(/Done in ([\d.]+) s\./.exec(res.stdout)?.[1]);
  assert.ok(seconds < 30, `the demo took ${seconds} s`);
  assert.equal(fs.existsSync(demoDir(res.stdout)), false, 'no temp dir is left behind');
  assert.equal(res.stderr.includes('passphrase'), false);
});

test('dbtls demo --json: one report of every step, nothing else on stdout', async () => {
  const res = await runCli(['demo', '--json'], { timeoutMs: 60_000 });
  assert.equal(res.code, 0, res.stderr + res.stdout);
  const report = JSON.parse(res.stdout);
  assert.equal(report.server.flavor, 'mariadb');
  assert.match(report.server.version, /^10\.|^1[1-9]\./);
  assert.deepEqual(
    report.before.findings.map((f: { id: string; severity: string }) => `${f.severity} ${f.id}`),
    ['critical tls-not-offered'],
  );
  assert.equal(report.before.plaintextLoginAccepted, true);
  assert.deepEqual(
    report.secure.steps.map((s: { step: string; status: string }) => `${s.step} ${s.status}`),
    [
      'ca done',
      'server-certificate done',
      'enable done',
      'client-certificate app done',
      "require 'app'@'%' done",
      'require-secure-transport done',
    ],
  );
  assert.deepEqual(report.after, { findings: [], aboveInfo: 0 });
  assert.match(report.session.protocol, /^TLSv1\.[23]$/);
  assert.equal(report.session.verifiedAs, 'verify-full');
  assert.equal(report.session.chain[0].subject, '/O=dbtls/CN=127.0.0.1');
  assert.equal(report.refusedWithoutCertificate, true);
  assert.ok(report.seconds > 0 && report.seconds < 30, `seconds: ${report.seconds}`);
});

test('dbtls demo without MariaDB installed says how to install it', async () => {
  const res = await runCli(['demo'], { env: { PATH: '/nonexistent' } });
  assert.equal(res.code, 3); // a runtime failure (issue 10 item 16), was 2
  assert.match(
    res.stderr,
    /^error\[MARIADB_NOT_INSTALLED\]: could not start a sandbox MariaDB: mariadbd is not installed$/m,
  );
  assert.match(res.stderr, /^hint: .*apt-get install mariadb-server/m);
});

test('Ctrl-C in the middle of dbtls demo stops the sandbox and removes its files', async () => {
  const [cmd, ...args] = dbtlsCommand();
  const child = spawn(cmd!, [...args, 'demo'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = /on 127\.0\.0\.1:(\d+), as it ships/.exec(stdout);
      if (m) resolve(Number(m[1]));
    });
    child.on('close', () =>
      reject(new Error(`the demo ended before starting its sandbox:\n${stdout}${stderr}`)),
    );
  });
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted \(SIGINT\); the sandbox and \S+ are removed/);
  assert.equal(fs.existsSync(demoDir(stdout)), false, 'no temp dir is left behind');
  const refused = await new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
  assert.equal(refused, true, 'the sandbox mariadbd is gone');
});

/** Whether a TCP connection to 127.0.0.1:port is refused (nothing listens). */
function refusedAt(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

test('dbtls demo killed with SIGKILL does not leave its mariadbd running, nor its files', async () => {
  const [cmd, ...args] = dbtlsCommand();
  const child = spawn(cmd!, [...args, 'demo'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = /on 127\.0\.0\.1:(\d+), as it ships/.exec(stdout);
      if (m) resolve(Number(m[1]));
    });
    child.on('close', () => reject(new Error(`the demo ended before starting its sandbox:\n${stdout}`)));
  });
  const dir = demoDir(stdout);
  const sandboxDir = fs.readdirSync(dir).find((n) => n.startsWith('mariadb-'));
  const pid = Number(fs.readFileSync(path.join(dir, sandboxDir!, 'mysqld.pid'), 'utf8').trim());
  assert.ok(pid > 0);
  // SIGKILL runs no handler in the demo: only the sandbox's watchdog can stop mariadbd now.
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('close', resolve));
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  // Poll for the outcome (a generous deadline on a loaded machine; no fixed sleep decides anything).
  const deadline = Date.now() + 60_000;
  while ((alive() || fs.existsSync(dir)) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  assert.equal(alive(), false, `mariadbd ${pid} still runs`);
  // The freed port may be taken at once by a server another test file starts meanwhile (CI runs them in
  // parallel; seen once): the dead pid is the proof, the port is checked only while nothing took it.
  if (!(await refusedAt(port))) assert.equal(alive(), false, `mariadbd ${pid} listens on ${port} again`);
  assert.equal(fs.existsSync(dir), false, 'no temp dir is left behind');
});
