/**
 * `dbtls secure` before it changes anything (issue 10, items 11, 12 and 14), against real MariaDB servers:
 * a fragment the server's option files do not read is refused with the exact `!includedir` line and where
 * to add it, and nothing is made; a failure half-way prints the steps already done; without --dir the
 * files go where the server's @@ssl_cert lives (never /etc/mysql/ssl) and the fragment into a directory the
 * server includes; --dry-run on secure and on --undo changes no file, no account and no variable.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { SessionOptions } from '../../../src/server/admin/session.js';
import { secure } from '../../../src/server/secure/secure.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb, type UserSpec } from '../../harness/mariadb.js';
import { makeTestPki } from '../../harness/pki.js';

const USERS: UserSpec[] = [{ name: 'app', password: 'app-pw', grants: 'SELECT ON mysql.*' }];

let tmp: string;
const started: MariadbInstance[] = [];

async function start(options: Parameters<typeof startMariadb>[0]): Promise<MariadbInstance> {
  const db = await startMariadb(options);
  started.push(db);
  return db;
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-safety-'));
});

after(async () => {
  await Promise.all(started.map((db) => db.stop()));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Every file under `dir` (and whether `dir` exists) with the hash of its content and its mode. */
function hashes(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) {
        out.set(f, 'dir');
        walk(f);
      } else if (e.isFile()) {
        const st = fs.statSync(f);
        out.set(f, `${st.mode.toString(8)} ${createHash('sha256').update(fs.readFileSync(f)).digest('hex')}`);
      }
    }
  };
  walk(dir);
  return out;
}

/** What a writing statement would change: accounts, global variables, and the counters of writing statements. */
async function serverState(db: MariadbInstance): Promise<string> {
  return [
    await db.sql('SELECT User, Host, Priv FROM mysql.global_priv ORDER BY User, Host'),
    await db.sql('SHOW GLOBAL VARIABLES'),
    await db.sql(
      "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('COM_ALTER_USER', 'COM_FLUSH', 'COM_GRANT', 'COM_CREATE_USER', 'COM_DROP_USER')",
    ),
  ].join('\n');
}

function cliAdmin(db: MariadbInstance, name: string): string[] {
  const pwFile = path.join(tmp, `${name}.admin-pw`);
  fs.writeFileSync(pwFile, db.admin.password, { mode: 0o600 });
  return [`127.0.0.1:${db.port}`, '--admin-user', db.admin.user, '--password-file', pwFile];
}

test('a fragment the server does not read is refused before any change, with the !includedir line and where', async () => {
  const db = await start({ users: USERS });
  const base = path.join(tmp, 'not-read');
  fs.mkdirSync(base);
  const fragment = path.join(base, 'elsewhere', 'ssl-config.cnf');
  const before = await serverState(db);
  const res = await runCli([
    'secure',
    ...cliAdmin(db, 'not-read'),
    '--user',
    'app@%',
    '--ca-dir',
    path.join(base, 'ca'),
    '--no-passphrase',
    '--dir',
    path.join(base, 'ssl'),
    '--out',
    path.join(base, 'clients'),
    '--config-file',
    fragment,
  ]);
  assert.equal(res.code, 2, res.stderr + res.stdout);
  assert.match(
    res.stderr,
    /error\[CONFIG_NOT_INCLUDED\]: could not use the config fragment .*: the server does not read it/,
  );
  assert.ok(
    res.stderr.includes(
      `hint: add the line \`!includedir ${path.dirname(fragment)}\` at the end of ${db.configFile}`,
    ),
    res.stderr,
  );
  // Nothing was made: no CA, no certificate, no file, no statement.
  assert.deepEqual(fs.readdirSync(base), []);
  assert.equal(await serverState(db), before);
});

test('a failure half-way prints the steps done so far; the restart command does not inherit the secrets', async () => {
  const base = path.join(tmp, 'half');
  const fragment = path.join(base, 'conf.d', 'ssl-config.cnf');
  const envFile = path.join(tmp, 'restart-env');
  const db = await start({ users: USERS, extra: { [`!include ${fragment}`]: true } });
  const res = await runCli(
    [
      'secure',
      ...cliAdmin(db, 'half'),
      '--user',
      'app@%',
      '--ca-dir',
      path.join(base, 'ca'),
      '--dir',
      path.join(base, 'ssl'),
      '--out',
      path.join(base, 'clients'),
      '--config-file',
      fragment,
      '--restart-command',
      `env > '${envFile}'; echo cannot restart here >&2; exit 3`,
    ],
    { env: { DBTLS_CA_PASSPHRASE: 'the-ca-passphrase-value', MYSQL_PWD: 'the-admin-password-value' } },
  );
  assert.notEqual(res.code, 0, res.stderr + res.stdout);
  assert.match(res.stderr, /error\[RESTART_FAILED\]: could not restart the server: .* exited with 3/);
  assert.match(res.stdout, /^Securing 127\.0\.0\.1:\d+: stopped after these steps:$/m);
  assert.match(res.stdout, /✓ ca +created a new CA in /);
  assert.match(res.stdout, /✓ server-certificate +issued for /);
  const env = fs.readFileSync(envFile, 'utf8');
  assert.match(env, /^PATH=/m);
  assert.doesNotMatch(env, /DBTLS_CA_PASSPHRASE|the-ca-passphrase-value|MYSQL_PWD|the-admin-password-value/);
});

test('without --dir and --config-file: the files go where @@ssl_cert lives, the fragment where the server reads it', async () => {
  const pki = await makeTestPki();
  const served = path.join(tmp, 'served');
  fs.mkdirSync(served);
  const tls = {
    ca: path.join(served, 'old-ca.pem'),
    cert: path.join(served, 'old-cert.pem'),
    key: path.join(served, 'old-key.pem'),
  };
  fs.copyFileSync(pki.ca, tls.ca);
  fs.copyFileSync(pki.server.cert, tls.cert);
  fs.copyFileSync(pki.server.key, tls.key);
  const db = await start({ users: USERS, tls });
  const etcBefore = hashes('/etc/mysql');
  const admin: SessionOptions = {
    host: db.host,
    port: db.port,
    user: db.admin.user,
    password: db.admin.password,
    tls: { mode: 'verify-full', ca: pki.ca },
  };
  const result = await secure(admin, {
    caDir: path.join(tmp, 'served-ca'),
    users: [{ user: 'app', host: '%' }],
    requirement: 'X509',
    out: path.join(tmp, 'served-clients'),
    requireSecureTransport: false,
    passwords: new Map([['app', 'app-pw']]),
    inspect: false,
    restart: () => db.restart({ users: USERS, tls }),
  });
  assert.equal(result.pending, false, JSON.stringify(result.steps));
  const fragment = path.join(db.dir, 'conf.d', 'ssl-config.cnf');
  assert.match(fs.readFileSync(fragment, 'utf8'), new RegExp(`ssl_cert = ${served}/server-cert\\.pem`));
  assert.equal(
    await db.sql('SELECT @@ssl_cert, @@ssl_key, @@ssl_ca'),
    `${served}/server-cert.pem\t${served}/server-key.pem\t${served}/ca.pem\n`,
  );
  // The machine's /etc/mysql is untouched.
  assert.deepEqual(hashes('/etc/mysql'), etcBefore);
});

test('--dry-run on secure and on secure --undo changes no file, no account and no variable', async () => {
  const base = path.join(tmp, 'dry');
  const fragment = path.join(base, 'conf.d', 'ssl-config.cnf');
  const extra = { [`!include ${fragment}`]: true };
  const db = await start({ users: USERS, extra });
  fs.mkdirSync(base);
  const args = [
    ...cliAdmin(db, 'dry'),
    '--ca-dir',
    path.join(base, 'ca'),
    '--dir',
    path.join(base, 'ssl'),
    '--out',
    path.join(base, 'clients'),
    '--config-file',
    fragment,
  ];
  let files = hashes(tmp);
  let state = await serverState(db);
  const plan = await runCli(['secure', ...args, '--user', 'app@%', '--no-passphrase', '--dry-run']);
  assert.equal(plan.code, 0, plan.stderr + plan.stdout);
  assert.match(plan.stdout, /^Dry run: nothing was changed\. Securing 127\.0\.0\.1:\d+ would:$/m);
  for (const line of [
    /\+ ca +would create a new CA in /,
    /\+ server-certificate +would issue one from the new CA for /,
    /\+ enable +would write .*server-key\.pem, .*server-cert\.pem, .*ca\.pem and .*ssl-config\.cnf, then restart the server \(by you: no --restart-command\): TLS is off/,
    /\+ client-certificate app +would issue one into /,
    /- require 'app'@'%' +waits for the restart/,
  ]) {
    assert.match(plan.stdout, line);
  }
  assert.deepEqual(hashes(tmp), files);
  assert.equal(await serverState(db), state);

  // Secured for real, then the dry run of the undo.
  const admin: SessionOptions = {
    host: db.host,
    port: db.port,
    user: db.admin.user,
    password: db.admin.password,
    tls: { mode: 'verify-full' },
  };
  await secure(admin, {
    caDir: path.join(base, 'ca'),
    users: [{ user: 'app', host: '%' }],
    requirement: 'X509',
    out: path.join(base, 'clients'),
    dir: path.join(base, 'ssl'),
    configFile: fragment,
    requireSecureTransport: true,
    passwords: new Map([['app', 'app-pw']]),
    inspect: false,
    restart: () => db.restart({ users: USERS, extra }),
  });
  // An account the DBA made that needs TLS: the plan warns about it as the undo would.
  await db.sql("CREATE USER 'tlsonly'@'%' IDENTIFIED BY 'pw' REQUIRE X509");
  files = hashes(tmp);
  state = await serverState(db);
  const undoPlan = await runCli(['secure', ...args, '--undo', '--dry-run']);
  assert.equal(undoPlan.code, 0, undoPlan.stderr + undoPlan.stdout);
  assert.match(
    undoPlan.stdout,
    /^Dry run: nothing was changed\. Undoing dbtls secure on 127\.0\.0\.1:\d+ would:$/m,
  );
  for (const line of [
    /\+ require 'app'@'%' +would run ALTER USER 'app'@'%' REQUIRE NONE/,
    /\+ require-secure-transport +would run SET GLOBAL require_secure_transport = OFF/,
    /\+ file +would remove .*ssl-config\.cnf/,
    /\+ ca +would revoke the 2 certificate\(s\) secure issued: /,
    /\+ account 'tlsonly'@'%' +would warn that REQUIRE X509 cannot be met once the server runs without TLS: it will be locked out; to let it in without TLS run ALTER USER 'tlsonly'@'%' REQUIRE NONE/,
  ]) {
    assert.match(undoPlan.stdout, line);
  }
  assert.deepEqual(hashes(tmp), files);
  assert.equal(await serverState(db), state);

  // The undo itself, without --remove-ca: the CA secure created stays, and undo says how to delete it.
  const undo = await runCli(['secure', ...args, '--undo']);
  assert.equal(undo.code, 1, undo.stderr + undo.stdout);
  assert.match(undo.stdout, /- ca +kept the CA in .*: pass --remove-ca to delete it/);
  assert.ok(fs.existsSync(path.join(base, 'ca', 'root.pem')));
});
