/**
 * `server enable | reload | status` against real MariaDB servers: one started with TLS at paths we control
 * (online reload, pid unchanged), one without TLS (first enablement needs a restart). The served
 * certificate is read with `openssl s_client -starttls mysql` as the oracle.
 */
import * as assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mariadbdPath } from '../../../src/sandbox/sandbox.js';
import { openAdminSession } from '../../../src/server/admin/session.js';
import { resolveAdminTarget } from '../../../src/server/admin/target.js';
import { enableTls } from '../../../src/server/tls/enable.js';
import { serverFilePaths, serverOwner } from '../../../src/server/tls/install.js';
import { readServerMaterial } from '../../../src/server/tls/material.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { sClientStarttls } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { opensslLeaf } from './openssl-leaf.js';

const fingerprint = (pem: string) =>
  new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();
const fileFingerprint = (file: string) => fingerprint(fs.readFileSync(file, 'utf8'));
const indented = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`);
/** mariadbd's own pid (its pid-file) and uptime: a restart would change the first and reset the second. */
async function serverProcess(server: MariadbInstance): Promise<{ pid: number; uptime: number }> {
  const pid = Number(fs.readFileSync(path.join(server.dir, 'mysqld.pid'), 'utf8').trim());
  const uptime = Number((await server.sql("SHOW GLOBAL STATUS LIKE 'Uptime'")).trim().split('\t')[1]);
  return { pid, uptime };
}

async function servedFingerprint(port: number, ca: string): Promise<string> {
  const probe = await sClientStarttls({ port, ca });
  assert.ok(probe.peerChainPem[0], `no certificate from s_client: ${probe.stderr}`);
  return fingerprint(probe.peerChainPem[0]!);
}

describe('server enable / reload / status on a MariaDB with TLS at stable paths', () => {
  let pki: TestPki;
  let work: string;
  let sslDir: string;
  let server: MariadbInstance;
  let passwordFile: string;
  let target: string;
  let admin: string[];

  before(async () => {
    pki = await makeTestPki();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-enable-'));
    sslDir = path.join(work, 'ssl');
    fs.mkdirSync(sslDir);
    const files = serverFilePaths(sslDir);
    fs.copyFileSync(pki.server.cert, files.cert);
    fs.copyFileSync(pki.server.key, files.key);
    fs.copyFileSync(pki.ca, files.ca);
    server = await startMariadb({ tls: { ca: files.ca, cert: files.cert, key: files.key } });
    passwordFile = path.join(work, 'admin.pw');
    fs.writeFileSync(passwordFile, `${server.admin.password}\n`, { mode: 0o600 });
    target = `127.0.0.1:${server.port}`;
    admin = ['--user', server.admin.user, '--password-file', passwordFile];
  });
  const configFile = () => path.join(work, 'conf.d', 'ssl-config.cnf');
  /** `dbtls server enable` with --cert/--key/--ca into sslDir, the admin session verified with the test CA. */
  const enable = (cert: string, key: string, ...extra: string[]) =>
    runCli([
      'server',
      'enable',
      target,
      ...admin,
      '--admin-ca',
      pki.ca,
      '--cert',
      cert,
      '--key',
      key,
      '--ca',
      pki.ca,
      '--dir',
      sslDir,
      '--config-file',
      configFile(),
      ...extra,
    ]);
  after(async () => {
    await server?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('status --json reports the settings, the served certificate and the accounts', async () => {
    const r = await runCli(['server', 'status', target, ...admin, '--ca', pki.ca, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const status = JSON.parse(r.stdout);
    assert.equal(status.server.flavor, 'mariadb');
    assert.equal(status.haveSsl, 'YES');
    assert.equal(status.sslCert, path.join(sslDir, 'server-cert.pem'));
    assert.equal(status.tlsVersion, 'TLSv1.2,TLSv1.3');
    assert.equal(status.requireSecureTransport, 'OFF');
    assert.equal(status.reloadStatement, 'FLUSH SSL');
    assert.equal(status.served.fingerprint, fileFingerprint(pki.server.cert));
    assert.equal(status.served.subject, '/O=dbtls test/CN=localhost');
    const total = Number(
      (
        await server.sql("SELECT COUNT(*) FROM mysql.global_priv WHERE JSON_VALUE(Priv, '$.is_role') IS NULL")
      ).trim(),
    );
    assert.equal(status.accounts.total, total);
    assert.equal(status.accounts.none, total);
  });

  it('the default verify-full admin session refuses to start without a CA', async () => {
    const r = await runCli(['server', 'status', target, ...admin]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error\[TLS_CA_REQUIRED\]/m);
    assert.match(r.stderr, /--ssl-mode disable/);
  });

  it('--dry-run prints files and statements, shows no key, and changes nothing', async () => {
    const fresh = await opensslLeaf(pki, work, 'dryrun', 'server');
    const before = fs.readdirSync(sslDir).map((f) => [f, fs.readFileSync(path.join(sslDir, f), 'utf8')]);
    const r = await enable(fresh.cert, fresh.key, '--require-secure-transport', '--dry-run');
    assert.equal(r.code, 0, r.stderr);
    // Every file (the key's content excepted) and every statement, exactly.
    const files = serverFilePaths(sslDir);
    assert.equal(
      r.stdout,
      [
        'Dry run: nothing was changed. `server enable` would:',
        '',
        `write ${files.key} (mode 600)`,
        '  (the private key, not shown)',
        `write ${files.cert} (mode 644)`,
        ...indented(fs.readFileSync(fresh.cert, 'utf8')),
        `write ${files.ca} (mode 644)`,
        ...indented(fs.readFileSync(pki.ca, 'utf8')),
        `write ${configFile()} (mode 644)`,
        '  # TLS for the database server, written by dbtls (`dbtls server enable`).',
        '  # The files are replaced atomically on rotation; the server re-reads them with FLUSH SSL /',
        '  # ALTER INSTANCE RELOAD TLS. Edit with dbtls, or remove this file to drop the settings.',
        '  [mysqld]',
        `  ssl_ca = ${files.ca}`,
        `  ssl_cert = ${files.cert}`,
        `  ssl_key = ${files.key}`,
        '  tls_version = TLSv1.2,TLSv1.3',
        '  require_secure_transport = ON',
        'run FLUSH SSL;',
        'run SET GLOBAL require_secure_transport = ON;',
        '',
        `then prove that sha256 ${fileFingerprint(fresh.cert)} is served`,
        '',
      ].join('\n'),
    );
    assert.ok(!r.stdout.includes('PRIVATE KEY'));
    const afterFiles = fs.readdirSync(sslDir).map((f) => [f, fs.readFileSync(path.join(sslDir, f), 'utf8')]);
    assert.deepEqual(afterFiles, before);
    assert.equal(fs.existsSync(configFile()), false);
    assert.equal((await server.sql('SELECT @@require_secure_transport')).trim(), '0');
    assert.equal(await servedFingerprint(server.port, pki.ca), fileFingerprint(pki.server.cert));
  });

  it('enable installs a new certificate, reloads online (same pid) and proves it is served', async () => {
    const fresh = await opensslLeaf(pki, work, 'rotated', 'server');
    const pid = server.pid;
    const before = await serverProcess(server);
    assert.equal(before.pid, pid);
    const r = await enable(fresh.cert, fresh.key, '--json');
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.restartPending, false);
    assert.deepEqual(result.plan.statements, ['FLUSH SSL']);
    assert.equal(result.served.fingerprint, fileFingerprint(fresh.cert));
    assert.equal(server.pid, pid);
    const after = await serverProcess(server);
    assert.equal(after.pid, before.pid, 'the same mariadbd process');
    assert.ok(after.uptime >= before.uptime, `uptime went from ${before.uptime} to ${after.uptime}`);
    assert.equal(await servedFingerprint(server.port, pki.ca), fileFingerprint(fresh.cert));
    const key = path.join(sslDir, 'server-key.pem');
    assert.equal(fs.statSync(key).mode & 0o777, 0o600);
    // As root, with a mysql system user, the key belongs to it (the server's user) and no one else.
    const owner = serverOwner();
    if (owner) assert.equal(fs.statSync(key).uid, owner.uid);
    assert.equal(fs.readFileSync(key, 'utf8'), fs.readFileSync(fresh.key, 'utf8'));
    const cnf = fs.readFileSync(configFile(), 'utf8');
    assert.match(cnf, /^\[mysqld\]$/m);
    assert.ok(cnf.includes(`ssl_key = ${key}\n`));
    assert.match(cnf, /^tls_version = TLSv1\.2,TLSv1\.3$/m);

    // A second identical run writes nothing and still proves the certificate.
    const again = await enable(fresh.cert, fresh.key);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already up to date/);
  });

  it('reload runs FLUSH SSL and checks the expected certificate', async () => {
    const ok = await runCli([
      'server',
      'reload',
      target,
      ...admin,
      '--ca',
      pki.ca,
      '--expect-cert',
      path.join(sslDir, 'server-cert.pem'),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^Ran FLUSH SSL; the server now serves sha256 [0-9a-f]{64} .*✓$/m);
    const wrong = await runCli([
      'server',
      'reload',
      target,
      ...admin,
      '--ca',
      pki.ca,
      '--expect-cert',
      pki.server.cert,
    ]);
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.match(wrong.stderr, /^error\[CERT_NOT_SERVED\]/m);
  });

  it('refuses a key that does not match, before writing anything', async () => {
    const before = fs.readFileSync(path.join(sslDir, 'server-cert.pem'), 'utf8');
    const r = await enable(pki.server.cert, pki.client.key);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error\[KEY_MISMATCH\]/m);
    assert.equal(fs.readFileSync(path.join(sslDir, 'server-cert.pem'), 'utf8'), before);
  });
  it('--issue takes a new server certificate from the dbtls CA (dry run first: the CA index is untouched)', async () => {
    const caDir = path.join(work, 'ca');
    const init = await runCli(['ca', 'init', '--ca-dir', caDir, '--no-passphrase', '--cn', 'enable test CA']);
    assert.equal(init.code, 0, init.stderr);
    const index = () => fs.readFileSync(path.join(caDir, 'index.jsonl'), 'utf8');
    const indexBefore = fs.existsSync(path.join(caDir, 'index.jsonl')) ? index() : '';
    const common = [
      'server',
      'enable',
      target,
      ...admin,
      '--admin-ca',
      pki.ca,
      '--issue',
      '--ca-dir',
      caDir,
      '--dir',
      sslDir,
      '--config-file',
      path.join(work, 'conf.d', 'ssl-config.cnf'),
    ];
    const dry = await runCli([...common, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(fs.existsSync(path.join(caDir, 'index.jsonl')) ? index() : '', indexBefore);
    const r = await runCli([...common, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const served = JSON.parse(r.stdout).served;
    assert.match(served.subject, /\/CN=127\.0\.0\.1$/);
    assert.equal(served.fingerprint, fileFingerprint(path.join(sslDir, 'server-cert.pem')));
    const caRoot = path.join(caDir, 'root.pem');
    assert.equal(await servedFingerprint(server.port, caRoot), served.fingerprint);
    // verify-full against the new CA works: the certificate carries the target's IP.
    const status = await runCli(['server', 'status', target, ...admin, '--ca', caRoot, '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.ok(index().includes(served.fingerprint));
  });
});

describe('server enable on a MariaDB without TLS (first enablement)', () => {
  let pki: TestPki;
  let work: string;
  let server: MariadbInstance;

  before(async () => {
    pki = await makeTestPki();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-enable1-'));
    server = await startMariadb();
  });
  after(async () => {
    await server?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('says a restart is needed (exit 1), then proves the certificate once restarted', async () => {
    const sslDir = path.join(work, 'ssl');
    const configFile = path.join(work, 'conf.d', 'ssl-config.cnf');
    const passwordFile = path.join(work, 'admin.pw');
    fs.writeFileSync(passwordFile, server.admin.password, { mode: 0o600 });
    const target = `127.0.0.1:${server.port}`;
    const status = await runCli([
      'server',
      'status',
      target,
      '--user',
      server.admin.user,
      '--password-file',
      passwordFile,
      '--ssl-mode',
      'disable',
      '--json',
    ]);
    assert.equal(status.code, 0, status.stderr);
    const facts = JSON.parse(status.stdout);
    assert.equal(facts.haveSsl, 'DISABLED');
    assert.equal(facts.served, undefined);
    assert.equal(facts.probeError, undefined);
    const enableArgs = [
      'server',
      'enable',
      target,
      '--user',
      server.admin.user,
      '--password-file',
      passwordFile,
      '--ssl-mode',
      'disable',
      '--cert',
      pki.server.cert,
      '--key',
      pki.server.key,
      '--ca',
      pki.ca,
      '--dir',
      sslDir,
      '--config-file',
      configFile,
    ];
    const dry = await runCli([...enableArgs, '--dry-run', '--restart-command', 'systemctl restart mariadb']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.ok(
      dry.stdout.endsWith(
        [
          '',
          'restart the server: TLS is off (have_ssl=DISABLED); ssl_* are read-only at run time',
          '  by running: systemctl restart mariadb',
          '',
          `then prove that sha256 ${fileFingerprint(pki.server.cert)} is served`,
          '',
        ].join('\n'),
      ),
      dry.stdout,
    );
    assert.equal(fs.existsSync(sslDir), false, 'the dry run wrote nothing');
    const failing = await runCli([...enableArgs, '--restart-command', 'echo cannot restart >&2; exit 3']);
    assert.equal(failing.code, 3, failing.stderr); // a runtime failure (issue 10 item 16), was 2
    assert.match(
      failing.stderr,
      /^error\[RESTART_FAILED\]: could not restart the server: `.*` exited with 3$/m,
    );
    assert.match(failing.stderr, /cannot restart/);
    const r = await runCli(enableArgs);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /not active until the server restarts: TLS is off \(have_ssl=DISABLED\)/);
    assert.match(r.stderr, /^error\[RESTART_REQUIRED\]/m);
    assert.match(r.stderr, /--restart-command/);
    assert.ok(fs.existsSync(path.join(sslDir, 'server-key.pem')));
    const pendingJson = await runCli([...enableArgs, '--json']);
    assert.equal(pendingJson.code, 1, pendingJson.stderr);
    assert.equal(JSON.parse(pendingJson.stdout).restartPending, true);

    assert.ok(
      fs.readFileSync(configFile, 'utf8').includes(`ssl_cert = ${path.join(sslDir, 'server-cert.pem')}`),
    );

    // The library path with a restart hook (the harness restart stands in for --restart-command).
    const files = serverFilePaths(sslDir);
    const session = await openAdminSession(
      resolveAdminTarget(target, {
        sslMode: 'disable',
        user: server.admin.user,
        password: server.admin.password,
      }),
    );
    let result: Awaited<ReturnType<typeof enableTls>>;
    try {
      result = await enableTls(
        session,
        {
          files,
          configFile,
          material: readServerMaterial(pki.server.cert, pki.server.key, pki.ca),
          tlsVersions: ['TLSv1.2', 'TLSv1.3'],
          requireSecureTransport: false,
        },
        { restart: () => server.restart({ tls: { ca: files.ca, cert: files.cert, key: files.key } }) },
      );
    } finally {
      await session.close().catch(() => undefined);
    }
    assert.equal(result.restarted, true);
    assert.equal(result.restartPending, false);
    assert.equal(result.served?.fingerprint, fileFingerprint(pki.server.cert));
    assert.equal(await servedFingerprint(server.port, pki.ca), fileFingerprint(pki.server.cert));
  });

  it('--restart-command restarts the server (a real mariadbd restart from the shell), then proves the certificate', async (t) => {
    const db = await startMariadb();
    // The restarted mariadbd is no longer the harness's child: stop it by its pid file, whatever happens.
    t.after(async () => {
      const pidFile = path.join(db.dir, 'mysqld.pid');
      const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) : 0;
      if (pid && pid !== db.pid) {
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 200 && fs.existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
      }
      await db.stop();
    });
    const dir = fs.mkdtempSync(path.join(work, 'restart-'));
    const passwordFile = path.join(dir, 'admin.pw');
    fs.writeFileSync(passwordFile, db.admin.password, { mode: 0o600 });
    const pidFile = path.join(db.dir, 'mysqld.pid');
    const oldPid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    // What a service manager does: stop the server, start it again with its config, which includes conf.d/.
    const restart = [
      `pid=$(cat '${pidFile}')`,
      'kill "$pid"',
      'while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done',
      `nohup '${mariadbdPath()}' --defaults-file='${db.configFile}' >/dev/null 2>&1 &`,
    ].join('; ');
    const r = await runCli([
      'server',
      'enable',
      `127.0.0.1:${db.port}`,
      '--user',
      db.admin.user,
      '--password-file',
      passwordFile,
      '--ssl-mode',
      'disable',
      '--cert',
      pki.server.cert,
      '--key',
      pki.server.key,
      '--ca',
      pki.ca,
      '--dir',
      path.join(dir, 'ssl'),
      '--config-file',
      path.join(db.dir, 'conf.d', 'ssl-config.cnf'),
      '--restart-command',
      restart,
    ]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const fp = fileFingerprint(pki.server.cert);
    assert.match(r.stdout, /^Restarted the server\.$/m);
    assert.ok(r.stdout.includes(`The server now serves sha256 ${fp} `), r.stdout);
    const newPid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    assert.notEqual(newPid, oldPid, 'a new mariadbd process');
    assert.equal(await servedFingerprint(db.port, pki.ca), fp);
    assert.equal((await db.sql('SELECT @@have_ssl')).trim(), 'YES');
  });
});
