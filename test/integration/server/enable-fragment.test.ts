/**
 * `server enable` and `crl --install` against real MariaDB servers (issue 10, item 13): the fragment is
 * edited, not rewritten (require_secure_transport set by secure survives), `--crl` installs a CRL and says
 * "restart needed" when ssl_crl (read-only) changes, after which the mariadb client with a revoked
 * certificate is refused and `crl --install` reloads online with FLUSH SSL; an RSA-only cipher list on an
 * EC key is warned about, and sslscan shows that such a server indeed accepts no TLS 1.2 (the inspector's
 * tls12-not-accepted finding).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { caPath } from '../../../src/ca/store.js';
import { inspect } from '../../../src/inspect/inspect.js';
import { openAdminSession } from '../../../src/server/admin/session.js';
import { secure } from '../../../src/server/secure/secure.js';
import { DEFAULT_TLS_VERSIONS } from '../../../src/server/tls/config.js';
import { enableTls } from '../../../src/server/tls/enable.js';
import { serverFilePaths } from '../../../src/server/tls/install.js';
import { readServerMaterial } from '../../../src/server/tls/material.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb, type UserSpec } from '../../harness/mariadb.js';
import { mariadbClient, sslscan } from '../../harness/oracles.js';
import { makeTestPki } from '../../harness/pki.js';

const USERS: UserSpec[] = [{ name: 'app', password: 'app-pw', grants: 'SELECT ON mysql.*' }];

let tmp: string;
const started: MariadbInstance[] = [];

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-enable-frag-'));
});

after(async () => {
  await Promise.all(started.map((db) => db.stop()));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('enable --crl keeps the fragment, says restart needed for ssl_crl; then a revoked client is refused and crl --install reloads online', async () => {
  const fragment = path.join(tmp, 'conf.d', 'ssl-config.cnf');
  const extra = { [`!include ${fragment}`]: true };
  const db = await startMariadb({ users: USERS, extra });
  started.push(db);
  const caDir = path.join(tmp, 'ca');
  const sslDir = path.join(tmp, 'ssl');
  const admin = {
    host: db.host,
    port: db.port,
    user: db.admin.user,
    password: db.admin.password,
    tls: { mode: 'verify-full' as const },
  };
  await secure(admin, {
    caDir,
    newCa: {},
    users: [{ user: 'app', host: '%' }],
    requirement: 'X509',
    out: path.join(tmp, 'clients'),
    dir: sslDir,
    configFile: fragment,
    requireSecureTransport: true,
    passwords: new Map([['app', 'app-pw']]),
    inspect: false,
    restart: () => db.restart({ users: USERS, extra }),
  });
  // A hand-added line, as a DBA would.
  fs.appendFileSync(fragment, 'max_connect_errors = 1000000\n');
  const revoked = await runCli(['revoke', '--cn', 'app', '--ca-dir', caDir, '--reason', 'keyCompromise']);
  assert.equal(revoked.code, 0, revoked.stderr);
  const pwFile = path.join(tmp, 'admin-pw');
  fs.writeFileSync(pwFile, db.admin.password, { mode: 0o600 });
  const adminArgs = ['--user', db.admin.user, '--password-file', pwFile, '--admin-ca', caPath(caDir, 'root')];

  // The server does not read a CRL yet: installed, and the answer is "restart needed", not "reloaded".
  const first = await runCli(['crl', '--ca-dir', caDir, '--install', `127.0.0.1:${db.port}`, ...adminArgs]);
  assert.equal(first.code, 1, first.stderr + first.stdout);
  const crlFile = path.join(sslDir, 'crl.pem');
  assert.ok(first.stdout.includes(`Installed it as ${crlFile}.`), first.stdout);
  assert.match(
    first.stdout,
    /Restart needed: the server's ssl_crl is \(none\), not .*crl\.pem; it is read-only at run time/,
  );
  assert.ok(fs.existsSync(crlFile));

  // server enable --crl through the CLI: ssl_crl changes, which needs a restart; it says so and exits 1.
  const files = serverFilePaths(sslDir);
  const enable = await runCli([
    'server',
    'enable',
    `127.0.0.1:${db.port}`,
    ...adminArgs,
    '--cert',
    files.cert,
    '--key',
    files.key,
    '--ca',
    files.ca,
    '--dir',
    sslDir,
    '--config-file',
    fragment,
    '--crl',
    crlFile,
  ]);
  assert.equal(enable.code, 1, enable.stderr + enable.stdout);
  assert.match(
    enable.stdout,
    /not active until the server restarts: ssl_crl is \(none\), wanted .*crl\.pem; it is read-only at run time/,
  );
  assert.match(enable.stderr, /error\[RESTART_REQUIRED\]/);
  assert.doesNotMatch(enable.stdout, /Reloaded online/);
  // Edited, not rewritten: what secure and the DBA put there is still there, with the CRL added.
  const text = fs.readFileSync(fragment, 'utf8');
  assert.match(text, /^require_secure_transport = ON$/m);
  assert.match(text, /^max_connect_errors = 1000000$/m);
  assert.ok(text.includes(`ssl_crl = ${crlFile}\n`), text);
  assert.equal(text.match(/^ssl_cert = /gm)?.length, 1);

  // The restart (as a service manager would do it), through the library with the harness's restart.
  const session = await openAdminSession({
    ...admin,
    tls: { mode: 'verify-full', ca: caPath(caDir, 'root') },
  });
  const result = await enableTls(
    session,
    {
      files,
      configFile: fragment,
      material: readServerMaterial(files.cert, files.key, files.ca),
      crlPem: fs.readFileSync(crlFile, 'utf8'),
      tlsVersions: DEFAULT_TLS_VERSIONS,
      requireSecureTransport: false,
    },
    { restart: () => db.restart({ users: USERS, extra }) },
  );
  assert.equal(result.restarted, true);
  assert.equal(await db.sql('SELECT @@ssl_crl, @@require_secure_transport'), `${crlFile}\t1\n`);
  // The oracle: the revoked client certificate no longer gets in.
  const clientDir = path.join(tmp, 'clients', 'app');
  const login = await mariadbClient({
    port: db.port,
    user: 'app',
    password: 'app-pw',
    ssl: {
      ca: caPath(caDir, 'root'),
      cert: path.join(clientDir, 'cert.pem'),
      key: path.join(clientDir, 'key.pem'),
      verifyServerCert: true,
    },
    sql: 'SELECT 1',
  });
  assert.equal(login.ok, false, login.stdout);

  // Now the server reads that path: the next crl --install reloads online.
  const second = await runCli(['crl', '--ca-dir', caDir, '--install', `127.0.0.1:${db.port}`, ...adminArgs]);
  assert.equal(second.code, 0, second.stderr + second.stdout);
  assert.match(second.stdout, /Reloaded online: FLUSH SSL\./);
});

test('an RSA-only cipher list on an EC key: enable warns, and sslscan shows such a server accepts no TLS 1.2', async () => {
  const pki = await makeTestPki();
  const cipher = 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384';
  const db = await startMariadb({
    tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
    sslCipher: cipher,
    tlsVersion: 'TLSv1.2,TLSv1.3',
  });
  started.push(db);
  const scan = await sslscan({ port: db.port });
  assert.equal(scan.versions['TLSv1.2'], false);
  assert.equal(scan.versions['TLSv1.3'], true);
  // The inspector says so too (a low finding: TLS 1.3-only can be a choice).
  const report = await inspect({ host: db.host, port: db.port }, { ca: pki.ca });
  assert.ok(
    report.findings.some((f) => f.id === 'tls12-not-accepted' && f.severity === 'low'),
    JSON.stringify(report.findings),
  );
  const pwFile = path.join(tmp, 'cipher-pw');
  fs.writeFileSync(pwFile, db.admin.password, { mode: 0o600 });
  const res = await runCli([
    'server',
    'enable',
    `127.0.0.1:${db.port}`,
    '--user',
    db.admin.user,
    '--password-file',
    pwFile,
    '--admin-ca',
    pki.ca,
    '--cert',
    pki.server.cert,
    '--key',
    pki.server.key,
    '--ca',
    pki.ca,
    '--dir',
    path.join(tmp, 'cipher-ssl'),
    '--config-file',
    path.join(tmp, 'cipher-ssl-config.cnf'),
    '--cipher',
    cipher,
    '--dry-run',
  ]);
  assert.equal(res.code, 0, res.stderr + res.stdout);
  assert.ok(
    res.stderr.includes(
      `warning: no TLS 1.2 cipher of --cipher can be used with the server's EC key (${cipher} need an RSA key): TLS 1.2 clients will fail`,
    ),
    res.stderr,
  );
  // The fragment named is not one the server reads: said before anything (a dry run here) is done.
  assert.ok(
    res.stderr.includes(
      `warning: could not use the config fragment ${path.join(tmp, 'cipher-ssl-config.cnf')}: the server does not read it`,
    ),
    res.stderr,
  );
  assert.equal(fs.existsSync(path.join(tmp, 'cipher-ssl')), false);
});
