/**
 * One target resolver (issue 11 item 2): ADMIN_TARGET goes through parseTarget with the admin profile, so
 * the same DSN, option file and environment give the same server, user and TLS settings under
 * `dbtls connect` and `dbtls server status`; only the admin profile's own rules differ.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { DbtlsError } from '../../../src/errors.js';
import { resolveAdminTarget } from '../../../src/server/admin/target.js';
import { parseAdminTarget, parseTarget } from '../../../src/tls/settings.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-admin-target-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DbtlsError, String(err));
    return err.code;
  }
  return undefined;
}

/** What a connection is made of, whichever command resolved it. */
const essence = (t: { host: string; port: number; user?: string | undefined; tls: object }) => {
  const tls = t.tls as Record<string, unknown>;
  return { host: t.host, port: t.port, user: t.user, mode: tls.mode, ca: tls.ca, cert: tls.cert };
};

describe('the same DSN under connect and the server commands', () => {
  const cnf = path.join(dir, 'my.cnf');
  fs.writeFileSync(cnf, '[client]\nuser=fromcnf\nssl-ca=/cnf/ca.pem\nsocket=/cnf/mysqld.sock\n');
  const cases: [string, string, NodeJS.ProcessEnv][] = [
    ['host:port', 'db1:3307', { DBTLS_SSL_CA: '/env/ca.pem' }],
    [
      'DSN with ssl keys',
      'mysql://admin@[::1]:3310/?ssl-mode=VERIFY_CA&sslCa=/x/ca.pem&ssl_cert=c&ssl-key=k',
      {},
    ],
    ['DSN keys in any spelling', 'mariadb://a@h/?SSL_MODE=trust&tls-min=1.3', {}],
    ['environment layer', 'h', { DBTLS_USER: 'envuser', DBTLS_SSL_MODE: 'trust' }],
    ['option file layer', 'h:3311', { DBTLS_DEFAULTS_FILE: cnf }],
  ];
  for (const [name, text, env] of cases) {
    it(name, () => {
      const client = parseTarget(text, {}, env);
      const admin = resolveAdminTarget(text, {}, env);
      assert.deepEqual(essence(admin), { ...essence(client), user: client.user ?? 'root' });
      assert.equal(admin.tls.minVersion ?? 'TLSv1.2', client.tls.minVersion);
    });
  }
  it('flags win over the DSN in both', () => {
    const text = 'mysql://a@h:3312/?ssl-mode=trust';
    const flags = { mode: 'disable', user: 'b' };
    assert.deepEqual(
      essence(resolveAdminTarget(text, { sslMode: 'disable', user: 'b' }, {})),
      essence(parseTarget(text, flags, {})),
    );
  });
  it('one code per failure in both', () => {
    for (const text of ['mysql://u:pw@h/', 'h:0', 'ftp://h', 'mysql://h/?ssl-mod=trust', 'mysql://h/%zz']) {
      const c = code(() => parseTarget(text, { mode: 'disable' }, {}));
      assert.ok(c, text);
      assert.equal(
        code(() => resolveAdminTarget(text, { sslMode: 'disable' }, {})),
        c,
        text,
      );
    }
  });
});

describe('the admin profile', () => {
  it('user root by default, below every layer that names one', () => {
    assert.equal(parseAdminTarget('h', { mode: 'disable' }, {}).user, 'root');
    assert.equal(parseAdminTarget('h', { mode: 'disable' }, {}).sources?.user, 'default');
    assert.equal(parseAdminTarget('h', { mode: 'disable' }, { DBTLS_USER: 'ops' }).user, 'ops');
    assert.equal(parseTarget('h', {}, {}).user, undefined);
  });
  it('takes the socket from the flag or the option file; a client target has none', () => {
    const cnf = path.join(dir, 'socket.cnf');
    fs.writeFileSync(cnf, '[client]\nsocket=/cnf/mysqld.sock\n');
    assert.equal(parseAdminTarget('localhost', { defaultsFile: cnf }, {}).socket, '/cnf/mysqld.sock');
    assert.equal(parseAdminTarget('localhost', { defaultsFile: cnf, socket: '/s' }, {}).socket, '/s');
    assert.equal(parseTarget('localhost', { defaultsFile: cnf }, {}).socket, undefined);
  });
  it('refuses preferred from any layer, and verify-* over TCP without a CA (naming the flag)', () => {
    assert.equal(
      code(() => parseAdminTarget('mysql://h/?ssl-mode=PREFERRED', {}, {})),
      'SSL_MODE_INVALID',
    );
    assert.equal(
      code(() => parseAdminTarget('h', {}, { DBTLS_SSL_MODE: 'preferred' })),
      'SSL_MODE_INVALID',
    );
    assert.equal(parseTarget('h', {}, { DBTLS_SSL_MODE: 'preferred' }).tls.mode, 'preferred');
    assert.throws(
      () => parseAdminTarget('h', {}, {}, '--admin-ca'),
      (e: unknown) =>
        e instanceof DbtlsError && e.code === 'TLS_CA_REQUIRED' && /pass --admin-ca FILE/.test(e.hint ?? ''),
    );
    assert.equal(parseAdminTarget('h', { socket: '/s' }, {}).tls.mode, 'verify-full');
  });
  it('an empty password read from a file is a password, not "unset" (MYSQL_PWD does not replace it)', () => {
    assert.equal(parseAdminTarget('h', { mode: 'disable', password: '' }, { MYSQL_PWD: 'x' }).password, '');
  });
});
