/**
 * `secure` run by a least-privilege admin against a real MariaDB: SUPER (SET GLOBAL) is asked for only
 * when the run sets require_secure_transport. With it, an account holding RELOAD, CREATE USER and SELECT on
 * the grant tables is refused before anything changes, naming SUPER; with requireSecureTransport off the
 * same account secures the server and require_secure_transport stays OFF. An --account that is the
 * admin's own is refused first, before anything changes.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { DbtlsError } from '../../../src/errors.js';
import type { SessionOptions } from '../../../src/server/admin/session.js';
import { type SecureOptions, secure } from '../../../src/server/secure/secure.js';
import { type MariadbInstance, startMariadb, type UserSpec } from '../../harness/mariadb.js';

const USERS: UserSpec[] = [
  { name: 'app', password: 'app-pw', grants: 'SELECT ON mysql.*' },
  { name: 'ops', password: 'ops-pw', grants: 'RELOAD, CREATE USER ON *.*' },
];

const GRANT_TABLES = "GRANT SELECT ON mysql.* TO 'ops'@'%';";

let tmp: string;
let db: MariadbInstance;
let admin: SessionOptions;
let options: SecureOptions;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-secure-least-'));
  const configFile = path.join(tmp, 'conf.d', 'ssl-config.cnf');
  const start = async () => {
    const server = await startMariadb({ users: USERS, extra: { [`!include ${configFile}`]: true } });
    await server.sql(GRANT_TABLES);
    return server;
  };
  db = await start();
  admin = { host: db.host, port: db.port, user: 'ops', password: 'ops-pw', tls: { mode: 'verify-full' } };
  options = {
    caDir: path.join(tmp, 'ca'),
    passphrase: 'least-privilege-passphrase',
    users: [{ user: 'app', host: '%' }],
    requirement: 'X509',
    out: path.join(tmp, 'clients'),
    dir: path.join(tmp, 'ssl'),
    configFile,
    requireSecureTransport: true,
    passwords: new Map([['app', 'app-pw']]),
    // The harness sets the accounts up again after a restart: the grant on the grant tables goes with them.
    restart: async () => {
      await db.restart({ users: USERS, extra: { [`!include ${configFile}`]: true } });
      await db.sql(GRANT_TABLES);
    },
  };
});

after(async () => {
  await db?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test("an --account that is the admin's own is refused before anything changes (it was found at the require step, after the CA, certificates and TLS)", async () => {
  await assert.rejects(
    secure(admin, { ...options, users: [...options.users, { user: 'ops', host: '%' }] }),
    (err: unknown) => {
      assert.ok(err instanceof DbtlsError);
      assert.equal(err.code, 'ADMIN_ACCOUNT_PROTECTED');
      assert.equal(err.message, "could not change 'ops'@'%': it is the account this admin session uses");
      return true;
    },
  );
  assert.equal(fs.existsSync(options.caDir), false);
  assert.equal(fs.existsSync(path.join(tmp, 'ssl')), false);
  assert.equal(await db.sql('SELECT @@have_ssl, @@require_secure_transport'), 'DISABLED\t0\n');
});

test('with require_secure_transport to set, an admin without SUPER is refused before anything changes', async () => {
  await assert.rejects(secure(admin, options), (err: unknown) => {
    assert.ok(err instanceof DbtlsError);
    assert.equal(err.code, 'PRIVILEGES_MISSING');
    assert.deepEqual(
      (err.details as { missing: { privilege: string }[] }).missing.map((m) => m.privilege),
      ['SUPER'],
    );
    return true;
  });
  assert.equal(fs.existsSync(options.caDir), false);
  assert.equal(fs.existsSync(path.join(tmp, 'ssl')), false);
  assert.equal(await db.sql('SELECT @@have_ssl, @@require_secure_transport'), 'DISABLED\t0\n');
});

test('without require_secure_transport the same admin secures the server; the variable stays OFF', async () => {
  const result = await secure(admin, { ...options, requireSecureTransport: false });
  assert.equal(result.pending, false);
  assert.equal(
    result.steps.some((s) => s.step === 'require-secure-transport'),
    false,
  );
  assert.equal(await db.sql('SELECT @@have_ssl, @@require_secure_transport'), 'YES\t0\n');
  assert.match(await db.sql("SELECT ssl_type FROM mysql.user WHERE user = 'app'"), /^X509\n$/);
});
