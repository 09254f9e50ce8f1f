/**
 * `require` off the happy path, against a real MariaDB (issue 10 items 9, 10): a SIGKILL between ALTER USER
 * and the check login (injected by strace into the real CLI) leaves a journal, and the next dbtls command
 * on that server reverts the unproved requirement; a --subject-of certificate that the --verify-cert does
 * not match is refused before anything changes; 'localhost' accounts are checked over the unix socket.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.js';
import { dbtlsKilledAt, dbtlsUnderStrace } from '../../harness/kill-points.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { mariadbClient, run } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

describe('require: journal, local refusals, localhost accounts', () => {
  let pki: TestPki;
  let work: string;
  let server: MariadbInstance;
  let adminFlags: string[];
  let appPassword: string;
  let env: NodeJS.ProcessEnv;
  const stateDir = () => path.join(work, 'state');

  /** The account as the server has it: the global_priv JSON, byte for byte. */
  const priv = async (user: string, host = '%') =>
    (await server.sql(`SELECT Priv FROM mysql.global_priv WHERE User='${user}' AND Host='${host}'`)).trim();
  const sslType = async (user: string, host = '%') => JSON.parse(await priv(user, host)).ssl_type as number;
  const requireArgs = (account: string, ...args: string[]) => [
    'require',
    `127.0.0.1:${server.port}`,
    account,
    ...adminFlags,
    '--ca',
    pki.ca,
    '--verify-password-file',
    appPassword,
    ...args,
  ];

  before(async () => {
    pki = await makeTestPki();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-require-safety-'));
    server = await startMariadb({
      tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
      users: [
        { name: 'app', password: 'app secret' },
        { name: 'local', host: 'localhost', password: 'app secret' },
      ],
    });
    const adminPassword = path.join(work, 'admin.pw');
    fs.writeFileSync(adminPassword, server.admin.password, { mode: 0o600 });
    appPassword = path.join(work, 'app.pw');
    fs.writeFileSync(appPassword, 'app secret\n', { mode: 0o600 });
    adminFlags = ['--user', server.admin.user, '--password-file', adminPassword];
    env = { DBTLS_STATE_DIR: stateDir() };
  });
  after(async () => {
    await server?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('SIGKILL between ALTER USER and the check login: the next dbtls command reverts the unproved requirement', async () => {
    const before = await priv('app');
    // connect #1 is the admin session, #2 the check login, which comes after ALTER USER.
    const killed = await dbtlsKilledAt(
      { syscall: 'connect', n: 2 },
      requireArgs("'app'@'%'", '--x509', '--verify-cert', pki.client.cert, '--verify-key', pki.client.key),
      { env, timeoutMs: 60_000 },
    );
    assert.equal(killed.code, 137, killed.stderr);
    // The lockout the issue describes: X509 applied, never checked, and the password alone no longer works.
    assert.equal(await sslType('app'), 2);
    const locked = await mariadbClient({
      port: server.port,
      user: 'app',
      password: 'app secret',
      ssl: { ca: pki.ca, verifyServerCert: true },
      sql: 'SELECT 1',
    });
    assert.notEqual(locked.code, 0);
    const journals = fs.readdirSync(stateDir());
    assert.equal(journals.length, 1, journals.join(' '));
    assert.equal(fs.statSync(path.join(stateDir(), journals[0]!)).mode & 0o777, 0o600);

    // The next dbtls command on this server (any: here `users`) settles it, and says so.
    const next = await runCli(['users', `127.0.0.1:${server.port}`, ...adminFlags, '--ca', pki.ca], { env });
    assert.equal(next.code, 0, next.stderr);
    assert.match(
      next.stderr,
      /^warning: an interrupted `dbtls require` \(pid \d+, [^)]+\) left 'app'@'%' requiring X509 without a check login: reverted it to none$/m,
    );
    assert.equal(await priv('app'), before, 'the account is exactly as before');
    assert.deepEqual(fs.readdirSync(stateDir()), []);
    const back = await mariadbClient({
      port: server.port,
      user: 'app',
      password: 'app secret',
      ssl: { ca: pki.ca, verifyServerCert: true },
      sql: 'SELECT 1',
    });
    assert.equal(back.code, 0, back.stderr);
    // Settled once: the command after that has nothing to say.
    const quiet = await runCli(['users', `127.0.0.1:${server.port}`, ...adminFlags, '--ca', pki.ca], { env });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /interrupted/);
  });

  it('a revert that fails (the admin session killed during the check) exits 3 naming the state and the statement; the journal stays until settled', async () => {
    // The check login's connect (#2) waits 10 s (generous under load): time to kill the admin session once ALTER USER is applied.
    const running = dbtlsUnderStrace(
      ['-e', 'trace=connect', '-e', 'inject=connect:delay_enter=10000000:when=2'],
      requireArgs(
        "'app'@'%'",
        '--x509',
        '--verify-cert',
        pki.otherClient.cert,
        '--verify-key',
        pki.otherClient.key,
      ),
      { env, timeoutMs: 60_000 },
    );
    const deadline = Date.now() + 30_000;
    while ((await sslType('app')) !== 2) {
      assert.ok(Date.now() < deadline, 'ALTER USER was applied');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const ids = (
      await server.sql(`SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '${server.admin.user}'`)
    )
      .trim()
      .split('\n');
    assert.equal(ids.length, 1, 'one admin session');
    await server.sql(`KILL CONNECTION ${ids[0]};`);
    const r = await running;
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /^error\[REVERT_FAILED\]: could not revert 'app'@'%' after a failed login check: .+; 'app'@'%' is left requiring X509 \(it required none\), and the check login as 'app'@'%' failed: .+\nhint: run this as an admin now to restore it: ALTER USER 'app'@'%' REQUIRE NONE;\n$/m,
    );
    assert.equal(await sslType('app'), 2, 'left as the message says');
    assert.equal(fs.readdirSync(stateDir()).length, 1, 'the journal stays');
    // The statement from the hint restores it; the next command then only clears the journal.
    const statement = /run this as an admin now to restore it: (ALTER USER [^;]+);/.exec(r.stderr)?.[1];
    await server.sql(`${statement};`);
    assert.equal(await sslType('app'), 0);
    const next = await runCli(['users', `127.0.0.1:${server.port}`, ...adminFlags, '--ca', pki.ca], { env });
    assert.equal(next.code, 0, next.stderr);
    assert.match(
      next.stderr,
      /left a journal for 'app'@'%', which requires none as before it: nothing to revert$/m,
    );
    assert.deepEqual(fs.readdirSync(stateDir()), []);
  });

  it('a --subject-of certificate that is not the --verify-cert is refused locally, before anything changes', async () => {
    const before = await priv('app');
    const r = await runCli(
      requireArgs(
        "'app'@'%'",
        '--subject-of',
        pki.client.cert,
        '--verify-cert',
        pki.otherClient.cert,
        '--verify-key',
        pki.otherClient.key,
      ),
      { env },
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^error\[VERIFY_CERT_MISMATCH\]: could not require SUBJECT "[^"]+" of 'app'@'%': the --verify-cert \S+ has the subject "[^"]+", so the check login could never pass; nothing was changed$/m,
    );
    const noCert = await runCli(requireArgs("'app'@'%'", '--x509'), { env });
    assert.equal(noCert.code, 2, noCert.stderr);
    assert.match(noCert.stderr, /^error\[VERIFY_CERT_REQUIRED\]/m);
    assert.equal(await priv('app'), before);
    assert.deepEqual(fs.existsSync(stateDir()) ? fs.readdirSync(stateDir()) : [], []);
  });

  it("a 'localhost' account is checked over the unix socket (with TLS, as its clients log in), also when the admin uses TCP", async () => {
    const x509 = await runCli(
      requireArgs(
        "'local'@'localhost'",
        '--x509',
        '--verify-cert',
        pki.client.cert,
        '--verify-key',
        pki.client.key,
      ),
      { env },
    );
    assert.equal(x509.code, 0, x509.stderr);
    assert.equal(
      x509.stdout,
      "'local'@'localhost' now requires X509 (was none).\n" +
        "Checked: a new session logged in as 'local'@'localhost' over TLSv1.3 ✓\n",
    );
    assert.equal(await sslType('local', 'localhost'), 2);
    // The mariadb client over the socket agrees: with the certificate it gets in, without it does not.
    const socketClient = (...ssl: string[]) =>
      run(
        'mariadb',
        [
          '--no-defaults',
          `--socket=${server.socket}`,
          '--user=local',
          '-N',
          '-B',
          ...ssl,
          '-e',
          'SELECT CURRENT_USER()',
        ],
        { env: { ...process.env, MYSQL_PWD: 'app secret' } },
      );
    const withCert = await socketClient(
      '--ssl',
      `--ssl-ca=${pki.ca}`,
      `--ssl-cert=${pki.client.cert}`,
      `--ssl-key=${pki.client.key}`,
    );
    assert.equal(withCert.code, 0, withCert.stderr);
    assert.equal(withCert.stdout.trim(), 'local@localhost');
    const without = await socketClient('--skip-ssl');
    assert.notEqual(without.code, 0);
    assert.match(without.stderr, /Access denied for user 'local'@'localhost'/);
    // A certificate the server does not trust: the socket login fails, and the change is reverted.
    const bad = await runCli(
      requireArgs(
        "'local'@'localhost'",
        '--ssl',
        '--verify-cert',
        pki.otherClient.cert,
        '--verify-key',
        pki.otherClient.key,
      ),
      { env },
    );
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(
      bad.stderr,
      /^error\[LOCKOUT_PREVENTED\]: could not log in as 'local'@'localhost' after REQUIRE SSL: .*; reverted it to X509$/m,
    );
    assert.equal(await sslType('local', 'localhost'), 2);
    const none = await runCli(requireArgs("'local'@'localhost'", '--none'), { env });
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /Checked: a new session logged in as 'local'@'localhost' over TLSv1\.3 ✓/);
    assert.equal(await sslType('local', 'localhost'), 0);
  });
});
