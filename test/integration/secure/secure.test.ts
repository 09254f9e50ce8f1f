/**
 * `dbtls secure` against a real MariaDB with TLS off: the harness restarts the server when secure asks
 * (the restart callback), the final inspect finds nothing above info, the mariadb client (an oracle) logs
 * in with the client certificate and is refused without it, a second run (through the CLI) changes
 * nothing at all, and --undo puts the server back.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { readIndex } from '../../../src/ca/cert-index.js';
import { inspect } from '../../../src/inspect/inspect.js';
import type { SessionOptions } from '../../../src/server/admin/session.js';
import { type SecureOptions, secure } from '../../../src/server/secure/secure.js';
import { undoSecure } from '../../../src/server/secure/undo.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb, type UserSpec } from '../../harness/mariadb.js';
import { mariadbClient } from '../../harness/oracles.js';

const USERS: UserSpec[] = [{ name: 'app', password: 'app-pw', grants: 'SELECT ON mysql.*' }];
const PASSPHRASE = 'secure-test-passphrase';

let tmp: string;
let db: MariadbInstance;
let admin: SessionOptions;
let options: SecureOptions;

/** Every file under `dir` with its mtime and content: the proof that a run changed nothing. */
function snapshot(dirs: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else out.set(f, `${fs.statSync(f).mtimeMs} ${fs.readFileSync(f).toString('base64')}`);
    }
  };
  for (const d of dirs) walk(d);
  return out;
}

/** The server's counters of the statements secure could run (SET GLOBAL shows as Com_set_option, which
 * every session's own SET SESSION also counts, so require_secure_transport is read directly). */
async function changeCounters(server: MariadbInstance): Promise<string> {
  return server.sql(
    "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('COM_ALTER_USER', 'COM_FLUSH', 'COM_GRANT', 'COM_CREATE_USER') UNION ALL SELECT 'require_secure_transport', @@require_secure_transport",
  );
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-secure-'));
  const configFile = path.join(tmp, 'conf.d', 'ssl-config.cnf');
  // The server's option file names the fragment (a missing !include is skipped at start): secure checks that
  // the server reads it before changing anything.
  db = await startMariadb({ users: USERS, extra: { [`!include ${configFile}`]: true } });
  admin = {
    host: db.host,
    port: db.port,
    user: db.admin.user,
    password: db.admin.password,
    tls: { mode: 'verify-full' },
  };
  options = {
    caDir: path.join(tmp, 'ca'),
    passphrase: PASSPHRASE,
    users: [{ user: 'app', host: '%' }],
    requirement: 'X509',
    out: path.join(tmp, 'clients'),
    dir: path.join(tmp, 'ssl'),
    configFile,
    requireSecureTransport: true,
    passwords: new Map([['app', 'app-pw']]),
    // What a service manager does: start the server again with its config, which now includes the fragment.
    restart: () => db.restart({ users: USERS, extra: { [`!include ${configFile}`]: true } }),
  };
});

after(async () => {
  await db?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('secure takes a TLS-off server to verified mutual TLS, and the final inspect finds nothing above info', async () => {
  assert.equal(await db.sql('SELECT @@have_ssl'), 'DISABLED\n');
  const result = await secure(admin, options);
  const status = Object.fromEntries(result.steps.map((s) => [s.step, s.status]));
  assert.deepEqual(status, {
    ca: 'done',
    'server-certificate': 'done',
    enable: 'done',
    'client-certificate app': 'done',
    "require 'app'@'%'": 'done',
    'require-secure-transport': 'done',
    inspect: 'done',
  });
  assert.equal(result.pending, false);
  assert.ok(result.report);
  assert.deepEqual(
    result.report.findings.filter((f) => f.severity !== 'info'),
    [],
  );
  assert.equal(await db.sql('SELECT @@have_ssl, @@require_secure_transport'), 'YES\t1\n');

  // An independent inspect, with the client's credentials: verified chain, host name, plaintext refused.
  const clientDir = path.join(tmp, 'clients', 'app');
  const report = await inspect(
    { host: db.host, port: db.port },
    {
      ca: result.caFile,
      credentials: {
        user: 'app',
        password: 'app-pw',
        cert: path.join(clientDir, 'cert.pem'),
        key: path.join(clientDir, 'key.pem'),
      },
    },
  );
  assert.equal(report.certificate?.verified, true);
  assert.equal(report.certificate?.hostnameMatch, true);
  assert.equal(report.session?.plaintextLogin.refused, true);
  assert.deepEqual(
    report.findings.filter((f) => f.severity !== 'info'),
    [],
  );

  // The mariadb client as the oracle: with the certificate it gets in over TLS; without, it is refused.
  const ssl = { ca: result.caFile, verifyServerCert: true };
  const withCert = await mariadbClient({
    port: db.port,
    user: 'app',
    password: 'app-pw',
    ssl: { ...ssl, cert: path.join(clientDir, 'cert.pem'), key: path.join(clientDir, 'key.pem') },
    sql: "SHOW STATUS LIKE 'Ssl_version'",
  });
  assert.ok(withCert.ok, withCert.stderr);
  assert.match(withCert.stdout, /TLSv1\.[23]/);
  const withoutCert = await mariadbClient({
    port: db.port,
    user: 'app',
    password: 'app-pw',
    ssl,
    sql: 'SELECT 1',
  });
  assert.equal(withoutCert.ok, false);
  const plaintext = await mariadbClient({
    port: db.port,
    user: 'app',
    password: 'app-pw',
    ssl: false,
    sql: 'SELECT 1',
  });
  assert.equal(plaintext.ok, false);
});

test('a second secure (through the CLI) is a no-op: every step says nothing to do, no file or index line changes', async () => {
  const dirs = [
    path.join(tmp, 'ca'),
    path.join(tmp, 'ssl'),
    path.join(tmp, 'clients'),
    path.join(tmp, 'conf.d'),
  ];
  const before = snapshot(dirs);
  const indexBefore = readIndex(path.join(tmp, 'ca')).length;
  const pid = db.pid;
  const statementsBefore = await changeCounters(db);
  const pwFile = path.join(tmp, 'admin.pw');
  const appPw = path.join(tmp, 'app.pw');
  fs.writeFileSync(pwFile, db.admin.password);
  fs.writeFileSync(appPw, 'app-pw');
  const res = await runCli(
    [
      'secure',
      `mysql://${db.admin.user}@127.0.0.1:${db.port}`,
      '--user',
      "'app'@'%'",
      '--verify-password-file',
      `app=${appPw}`,
      '--password-file',
      pwFile,
      '--ca-dir',
      path.join(tmp, 'ca'),
      '--out',
      path.join(tmp, 'clients'),
      '--dir',
      path.join(tmp, 'ssl'),
      '--config-file',
      path.join(tmp, 'conf.d', 'ssl-config.cnf'),
    ],
    { env: { DBTLS_CA_PASSPHRASE: PASSPHRASE } },
  );
  assert.equal(res.code, 0, res.stderr + res.stdout);
  for (const step of [
    'ca',
    'server-certificate',
    'enable',
    'client-certificate app',
    "require 'app'@'%'",
    'require-secure-transport',
  ]) {
    assert.match(
      res.stdout,
      new RegExp(`· ${step.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+nothing to do`),
      res.stdout,
    );
  }
  assert.match(res.stdout, /Nothing to do: the server was already secured as asked\./);
  assert.deepEqual(snapshot(dirs), before);
  assert.equal(readIndex(path.join(tmp, 'ca')).length, indexBefore);
  assert.equal(db.pid, pid);
  // Not one changing statement reached the server: no ALTER USER, no FLUSH SSL, no SET GLOBAL.
  assert.deepEqual(await changeCounters(db), statementsBefore);
});

test('secure --undo --remove-ca puts the server back as it was (REQUIRE, secure transport, files, CA)', async () => {
  // The CA goes only with the explicit flag (issue 10, item 1; this test used to expect it without).
  const result = await undoSecure(admin, {
    caDir: options.caDir,
    removeCa: true,
    restart: () => db.restart({ users: USERS }),
  });
  assert.equal(result.pending, false);
  assert.equal(
    await db.sql("SELECT JSON_VALUE(Priv, '$.ssl_type') FROM mysql.global_priv WHERE User = 'app'"),
    '0\n',
  );
  assert.equal(await db.sql('SELECT @@have_ssl, @@require_secure_transport'), 'DISABLED\t0\n');
  assert.equal(fs.existsSync(options.caDir), false);
  assert.equal(fs.existsSync(path.join(tmp, 'clients', 'app')), false);
  assert.equal(fs.existsSync(path.join(tmp, 'conf.d', 'ssl-config.cnf')), false);
  assert.equal(fs.existsSync(path.join(tmp, 'ssl', 'server-key.pem')), false);
});

test('dbtls secure without a restart command stops at the restart, and the same command finishes after it', async (t) => {
  const dir = path.join(tmp, 'cli');
  const configFile = path.join(dir, 'ssl-config.cnf');
  const db2 = await startMariadb({ users: USERS, extra: { [`!include ${configFile}`]: true } });
  t.after(() => db2.stop());
  const pwFile = path.join(tmp, 'admin2.pw');
  const appPw = path.join(tmp, 'app2.pw');
  fs.writeFileSync(pwFile, db2.admin.password);
  fs.writeFileSync(appPw, 'app-pw');
  const args = [
    'secure',
    `127.0.0.1:${db2.port}`,
    '--admin-user',
    db2.admin.user,
    '--password-file',
    pwFile,
    '--user',
    'app@%',
    '--verify-password-file',
    appPw,
    '--ca-dir',
    path.join(dir, 'ca'),
    '--no-passphrase',
    '--out',
    path.join(dir, 'clients'),
    '--dir',
    path.join(dir, 'ssl'),
    '--config-file',
    configFile,
  ];
  const first = await runCli(args);
  assert.equal(first.code, 1, first.stderr + first.stdout);
  assert.match(first.stdout, /! enable +files and .* written; restart the server to load them \(TLS is off/);
  assert.match(first.stdout, /- require 'app'@'%' +waits for the restart/);
  assert.match(
    first.stdout,
    /Restart the server \(or pass --restart-command CMD\), then run the same dbtls secure again/,
  );
  assert.equal(await db2.sql('SELECT @@have_ssl'), 'DISABLED\n');

  await db2.restart({ users: USERS, extra: { [`!include ${configFile}`]: true } });
  const second = await runCli(args);
  assert.equal(second.code, 0, second.stderr + second.stdout);
  assert.match(second.stdout, /· enable +nothing to do: the server serves/);
  assert.match(second.stdout, /✓ require 'app'@'%' +REQUIRE X509 \(was none\)/);
  assert.match(second.stdout, /✓ require-secure-transport +ON now/);
  assert.equal(await db2.sql('SELECT @@have_ssl, @@require_secure_transport'), 'YES\t1\n');

  // dbtls secure --undo through the CLI: without a restart command, it says the restart is left to do.
  const undo = await runCli([
    'secure',
    `127.0.0.1:${db2.port}`,
    '--undo',
    '--admin-user',
    db2.admin.user,
    '--password-file',
    pwFile,
    '--ca-dir',
    path.join(dir, 'ca'),
    '--remove-ca',
  ]);
  assert.equal(undo.code, 1, undo.stderr + undo.stdout);
  assert.equal(
    undo.stdout,
    [
      `Undoing dbtls secure on 127.0.0.1:${db2.port}:`,
      "  ✓ require 'app'@'%'         back to REQUIRE none",
      '  ✓ require-secure-transport  back to OFF',
      `  ✓ client-certificate        removed ${path.join(dir, 'clients', 'app')}`,
      `  ✓ file                      removed ${configFile}`,
      `  ✓ file                      removed ${path.join(dir, 'ssl', 'ca.pem')}`,
      `  ✓ file                      removed ${path.join(dir, 'ssl', 'server-cert.pem')}`,
      `  ✓ file                      removed ${path.join(dir, 'ssl', 'server-key.pem')}`,
      `  ✓ directory                 removed ${path.join(dir, 'clients')}`,
      `  ✓ directory                 removed ${path.join(dir, 'ssl')}`,
      `  ✓ ca                        removed the CA secure created in ${path.join(dir, 'ca')}`,
      '  ! restart                   restart the server to drop the TLS settings (ssl_* are read-only at run time)',
      '',
    ].join('\n'),
  );
  assert.equal(
    await db2.sql(
      "SELECT JSON_VALUE(Priv, '$.ssl_type'), @@require_secure_transport FROM mysql.global_priv WHERE User = 'app'",
    ),
    '0\t0\n',
  );
  await db2.restart({ users: USERS });
  assert.equal(await db2.sql('SELECT @@have_ssl'), 'DISABLED\n');
  // Everything secure made is gone; only the directory the test made for it is left, empty.
  assert.deepEqual(fs.readdirSync(dir), []);
});
