import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DbtlsError } from '../../../src/errors.js';
import { parseAdminSslMode, resolveAdminTarget } from '../../../src/server/admin/target.js';
import { greetingOffersTls, sslRequestPacket } from '../../../src/server/tls/reload.js';

const code = (c: string) => (e: unknown) => e instanceof DbtlsError && e.code === c;

/** A HandshakeV10 payload as MariaDB 10.11 sends it (fields as in its greeting; scramble zeroed). */
function greeting(capsLow: number): Buffer {
  return Buffer.concat([
    Buffer.from([10]),
    Buffer.from('5.5.5-10.11.19-MariaDB-0+deb12u1\0'),
    Buffer.from([0x05, 0x00, 0x00, 0x00]),
    Buffer.alloc(8),
    Buffer.from([0]),
    Buffer.from([capsLow & 0xff, capsLow >> 8]),
    Buffer.from([45, 0x02, 0x00, 0xff, 0x81, 21]),
    Buffer.alloc(6),
    Buffer.from([0x1d, 0x00, 0x00, 0x00]),
    Buffer.alloc(13),
    Buffer.from('mysql_native_password\0'),
  ]);
}

describe('greeting and SSLRequest (protocol, pure)', () => {
  it('sees CLIENT_SSL (0x0800) in the low capability flags', () => {
    assert.equal(greetingOffersTls(greeting(0xfffe)), true);
    assert.equal(greetingOffersTls(greeting(0xfffe & ~0x0800)), false);
  });
  it('names the field of a short or foreign greeting (PROTOCOL_MALFORMED)', () => {
    assert.throws(() => greetingOffersTls(Buffer.alloc(0)), code('PROTOCOL_MALFORMED'));
    assert.throws(() => greetingOffersTls(Buffer.from([9, 0])), code('PROTOCOL_MALFORMED'));
    assert.throws(() => greetingOffersTls(Buffer.from([10, 0x41, 0x42])), code('PROTOCOL_MALFORMED'));
    assert.throws(() => greetingOffersTls(greeting(0xffff).subarray(0, 40)), code('PROTOCOL_MALFORMED'));
  });
  it('reports an ERR packet instead of a greeting as SERVER_REFUSED', () => {
    const err = Buffer.concat([Buffer.from([0xff, 0x69, 0x04]), Buffer.from("Host '1.2.3.4' is blocked")]);
    assert.throws(
      () => greetingOffersTls(err),
      (e: unknown) => code('SERVER_REFUSED')(e) && /is blocked \(error 1129\)/.test((e as Error).message),
    );
  });
  it('writes the 32-byte SSLRequest with sequence id 1', () => {
    assert.equal(
      sslRequestPacket().toString('hex'),
      `200000${'01'}${'018a0000'}${'00000001'}${'2d'}${'00'.repeat(23)}`,
    );
  });
});

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
