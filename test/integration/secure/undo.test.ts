/**
 * `dbtls secure --undo` off the happy path (issue 10, items 1 and 2), against real MariaDB servers restarted
 * by the harness: two servers secured with one --ca-dir, undo on the first keeps the CA (it issued other
 * certificates), revokes only the first run's certificates through the CA, keeps a directory the server's
 * option file includes so that the server restarts, and names the account left needing TLS; the second
 * server still works and can be undone in turn. A CA goes only with --remove-ca.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { readIndex } from '../../../src/ca/cert-index.js';
import type { SessionOptions } from '../../../src/server/admin/session.js';
import { type SecureOptions, secure } from '../../../src/server/secure/secure.js';
import { readSecureState } from '../../../src/server/secure/state.js';
import { undoSecure } from '../../../src/server/secure/undo.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb, type UserSpec } from '../../harness/mariadb.js';
import { mariadbClient } from '../../harness/oracles.js';

const USERS: UserSpec[] = [{ name: 'app', password: 'app-pw', grants: 'SELECT ON mysql.*' }];
const PASSPHRASE = 'undo-test-passphrase';

interface Server {
  db: MariadbInstance;
  /** The [mysqld] extras its option file has (the harness rewrites my.cnf at every restart). */
  extra: Record<string, boolean>;
  options: SecureOptions;
  admin: SessionOptions;
}

let tmp: string;
let caDir: string;
const servers: Server[] = [];

async function server(name: string): Promise<Server> {
  const base = path.join(tmp, name);
  const configFile = path.join(base, 'conf.d', 'ssl-config.cnf');
  // The fragment is named by the option file before it exists (a missing !include is skipped at start).
  const extra: Record<string, boolean> = { [`!include ${configFile}`]: true };
  const db = await startMariadb({ users: USERS, extra });
  const s: Server = {
    db,
    extra,
    admin: {
      host: db.host,
      port: db.port,
      user: db.admin.user,
      password: db.admin.password,
      tls: { mode: 'verify-full' },
    },
    options: {
      caDir,
      passphrase: PASSPHRASE,
      users: [{ user: 'app', host: '%' }],
      requirement: 'X509',
      out: path.join(base, 'clients'),
      dir: path.join(base, 'ssl'),
      configFile,
      requireSecureTransport: true,
      passwords: new Map([['app', 'app-pw']]),
      inspect: false,
      restart: () => db.restart({ users: USERS, extra: s.extra }),
    },
  };
  servers.push(s);
  return s;
}

const issuedBy = (s: Server) => readSecureState(caDir).servers[`${s.db.host}:${s.db.port}`]?.issued ?? [];
const statusOf = (serial: string) => readIndex(caDir).find((e) => e.serial === serial);

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-undo-'));
  caDir = path.join(tmp, 'ca');
});

after(async () => {
  await Promise.all(servers.map((s) => s.db.stop()));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('two servers on one CA: undo on the first keeps the CA, its included directory and a server that starts; the second still works and can be undone', async () => {
  const [one, two] = await Promise.all([server('one'), server('two')]);
  await secure(one!.admin, one!.options);
  await secure(two!.admin, two!.options);
  // A certificate issued from the same CA by hand, as `dbtls issue` users do.
  const passFile = path.join(tmp, 'ca-pass');
  fs.writeFileSync(passFile, PASSPHRASE, { mode: 0o600 });
  const issued = await runCli([
    'issue',
    'client',
    '--cn',
    'reporting',
    '--out',
    path.join(tmp, 'reporting'),
    '--ca-dir',
    caDir,
    '--passphrase-file',
    passFile,
  ]);
  assert.equal(issued.code, 0, issued.stderr);
  const oneSerials = issuedBy(one!);
  const twoSerials = issuedBy(two!);
  assert.equal(oneSerials.length, 2);
  assert.equal(twoSerials.length, 2);

  // Later, the DBA makes the server read the whole directory secure made, and adds an account that needs TLS.
  const confDir = path.join(tmp, 'one', 'conf.d');
  one!.extra[`!includedir ${confDir}`] = true;
  await one!.db.restart({ users: USERS, extra: one!.extra });
  await one!.db.sql("CREATE USER 'certuser'@'%' IDENTIFIED BY 'pw' REQUIRE SUBJECT '/CN=certuser'");

  // A file of the user's own next to the client certificate: undo removes only what secure wrote.
  const appDir = path.join(tmp, 'one', 'clients', 'app');
  fs.writeFileSync(path.join(appDir, 'notes.txt'), 'mine');
  const undo = await undoSecure(one!.admin, { caDir, restart: one!.options.restart });
  const lines = undo.steps.map((s) => `${s.status} ${s.step}: ${s.detail}`);
  // The server restarted (the restart callback would have thrown on "Fatal error in defaults handling").
  assert.ok(lines.includes('done restart: restarted the server with its old settings'), lines.join('\n'));
  assert.equal(await one!.db.sql('SELECT @@have_ssl, @@require_secure_transport'), 'DISABLED\t0\n');
  assert.ok(fs.existsSync(confDir));
  assert.ok(
    lines.includes(`skipped directory: kept ${confDir}: ${one!.db.configFile} includes it (!includedir)`),
    lines.join('\n'),
  );
  assert.deepEqual(fs.readdirSync(appDir), ['notes.txt']);
  assert.ok(
    lines.includes(
      `done client-certificate: removed cert.pem, key.pem, chain.pem, ca.pem from ${appDir}, kept the directory (other files are in it)`,
    ),
    lines.join('\n'),
  );
  // Only the files secure wrote are gone.
  assert.deepEqual(fs.readdirSync(confDir), []);
  assert.equal(fs.existsSync(path.join(tmp, 'one', 'ssl')), false);
  // The account that cannot log in without TLS is named, with the statement that lets it in.
  assert.ok(
    lines.includes(
      "pending account 'certuser'@'%': REQUIRE SUBJECT '/CN=certuser' cannot be met once the server runs without TLS: it will be locked out; to let it in without TLS run ALTER USER 'certuser'@'%' REQUIRE NONE",
    ),
    lines.join('\n'),
  );
  assert.equal(undo.pending, true);
  // The CA stays: it issued the second server's two certificates and the hand-issued one.
  assert.ok(fs.existsSync(path.join(caDir, 'root.key.pem')));
  assert.ok(
    lines.includes(
      `skipped ca: kept the CA in ${caDir}: it issued 3 other certificate(s) and secures ${two!.db.host}:${two!.db.port}`,
    ),
    lines.join('\n'),
  );
  for (const serial of oneSerials) {
    assert.equal(statusOf(serial)?.status, 'revoked');
    assert.equal(statusOf(serial)?.revocationReason, 'cessationOfOperation');
  }
  for (const serial of twoSerials) assert.equal(statusOf(serial)?.status, 'valid');
  assert.equal(readIndex(caDir).find((e) => e.cn === 'reporting')?.status, 'valid');

  // The second server is untouched: its client logs in with its certificate, verified against the CA.
  const clientDir = path.join(tmp, 'two', 'clients', 'app');
  const login = await mariadbClient({
    port: two!.db.port,
    user: 'app',
    password: 'app-pw',
    ssl: {
      ca: path.join(caDir, 'root.pem'),
      cert: path.join(clientDir, 'cert.pem'),
      key: path.join(clientDir, 'key.pem'),
      verifyServerCert: true,
    },
    sql: "SHOW STATUS LIKE 'Ssl_version'",
  });
  assert.ok(login.ok, login.stderr);
  assert.match(login.stdout, /TLSv1\.[23]/);

  // …and can be undone in turn; --remove-ca does not delete a CA that issued something else (the first
  // server's two, revoked, and the hand-issued one).
  const undoTwo = await undoSecure(two!.admin, { caDir, restart: two!.options.restart, removeCa: true });
  assert.equal(undoTwo.pending, false, undoTwo.steps.map((s) => s.detail).join('\n'));
  assert.equal(await two!.db.sql('SELECT @@have_ssl'), 'DISABLED\n');
  assert.ok(
    undoTwo.steps.some((s) => s.detail === `kept the CA in ${caDir}: it issued 3 other certificate(s)`),
    undoTwo.steps.map((s) => s.detail).join('\n'),
  );
  for (const serial of twoSerials) assert.equal(statusOf(serial)?.status, 'revoked');
  assert.equal(readIndex(caDir).find((e) => e.cn === 'reporting')?.status, 'valid');
});

test('undo after a rotation: the generations rotate kept beside the certificate go too, and the server starts', async () => {
  const three = await server('three');
  await secure(three.admin, three.options);
  const passFile = path.join(tmp, 'ca-pass-three');
  fs.writeFileSync(passFile, PASSPHRASE, { mode: 0o600 });
  const pwFile = path.join(tmp, 'admin-pw-three');
  fs.writeFileSync(pwFile, three.db.admin.password ?? '', { mode: 0o600 });
  const rotated = await runCli([
    'rotate',
    `127.0.0.1:${three.db.port}`,
    '--ca-dir',
    caDir,
    '--passphrase-file',
    passFile,
    '--user',
    three.db.admin.user,
    '--password-file',
    pwFile,
  ]);
  assert.equal(rotated.code, 0, rotated.stderr);
  const sslDir = path.join(tmp, 'three', 'ssl');
  const layouts = fs.readdirSync(sslDir).filter((n) => n.startsWith('dbtls-'));
  assert.equal(
    layouts.length,
    1,
    `rotate keeps its generations beside the certificate: ${fs.readdirSync(sslDir)}`,
  );

  const undo = await undoSecure(three.admin, { caDir, restart: three.options.restart });
  const lines = undo.steps.map((s) => `${s.status} ${s.step}: ${s.detail}`);
  assert.ok(lines.includes('done restart: restarted the server with its old settings'), lines.join('\n'));
  assert.ok(
    lines.includes(`done file: removed ${path.join(sslDir, layouts[0]!)} (the generations rotate kept)`),
    lines.join('\n'),
  );
  assert.equal(
    fs.existsSync(sslDir),
    false,
    'the ssl directory secure made is gone, nothing of dbtls left in it',
  );
  assert.equal(await three.db.sql('SELECT @@have_ssl'), 'DISABLED\n');
});
