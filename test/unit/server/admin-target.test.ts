import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DbtlsError } from '../../../src/errors.js';
import { parseAdminSslMode, resolveAdminTarget } from '../../../src/server/admin/target.js';

const code = (c: string) => (e: unknown) => e instanceof DbtlsError && e.code === c;

describe('resolveAdminTarget', () => {
  it('host:port with the safe default verify-full (needs --ca)', () => {
    assert.throws(() => resolveAdminTarget('db1:3307'), code('TLS_CA_REQUIRED'));
    const o = resolveAdminTarget('db1:3307', { ca: 'ca.pem' });
    assert.deepEqual(
      { host: o.host, port: o.port, user: o.user, tls: o.tls },
      {
        host: 'db1',
        port: 3307,
        user: 'root',
        tls: { mode: 'verify-full', ca: 'ca.pem', cert: undefined, key: undefined },
      },
    );
  });
  it('an explicit --ssl-mode disable, or the unix socket, needs no CA', () => {
    assert.equal(resolveAdminTarget('db1', { sslMode: 'DISABLED' }).tls.mode, 'disable');
    const o = resolveAdminTarget('localhost', { socket: '/run/mysqld/mysqld.sock' });
    assert.equal(o.socket, '/run/mysqld/mysqld.sock');
    assert.equal(o.port, 3306);
  });
  it('reads a DSN; flags win', () => {
    const o = resolveAdminTarget(
      'mysql://admin@[::1]:3310/?ssl-mode=VERIFY_CA&ssl-ca=/x/ca.pem&ssl_cert=c.pem&ssl-key=k.pem',
    );
    assert.deepEqual(
      { host: o.host, port: o.port, user: o.user, tls: o.tls },
      {
        host: '::1',
        port: 3310,
        user: 'admin',
        tls: { mode: 'verify-ca', ca: '/x/ca.pem', cert: 'c.pem', key: 'k.pem' },
      },
    );
    assert.equal(resolveAdminTarget('mariadb://a@h/?ssl-mode=trust', { user: 'b' }).user, 'b');
  });
  it('refuses a password in the DSN, preferred, and bad targets', () => {
    assert.throws(() => resolveAdminTarget('mysql://root:secret@h/'), code('TARGET_PASSWORD_IN_DSN'));
    assert.throws(() => resolveAdminTarget('h', { sslMode: 'preferred' }), code('SSL_MODE_INVALID'));
    assert.throws(() => parseAdminSslMode('sometimes'), code('SSL_MODE_UNKNOWN'));
    assert.throws(() => resolveAdminTarget('h:99999', { sslMode: 'disable' }), code('TARGET_INVALID'));
    assert.throws(() => resolveAdminTarget('a:b:c', { sslMode: 'disable' }), code('TARGET_INVALID'));
  });
});
