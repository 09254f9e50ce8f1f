/** Pure parts of the proxy: listen addresses, the handshake response decoder, ERR frames, the RSA path. */
import * as assert from 'node:assert/strict';
import { constants, publicEncrypt } from 'node:crypto';
import { describe, it } from 'node:test';
import { DbtlsError } from '../../../src/errors.js';
import {
  authPluginSpan,
  decodeAuthSwitch,
  decodeHandshakeResponse,
} from '../../../src/protocol/handshake-response.js';
import { checkListen, parseListen } from '../../../src/proxy/listen.js';
import { startProxy } from '../../../src/proxy/proxy.js';
import { generateProxyRsaKey, recoverPassword } from '../../../src/proxy/sha2.js';
import { errFrame, printable } from '../../../src/proxy/wire-errors.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DbtlsError);
    return err.code;
  }
  return 'no error';
};

describe('--listen', () => {
  it('parses TCP, IPv6 and unix addresses', () => {
    assert.deepEqual(parseListen('127.0.0.1:3307'), { kind: 'tcp', host: '127.0.0.1', port: 3307 });
    assert.deepEqual(parseListen('[::1]:0'), { kind: 'tcp', host: '::1', port: 0 });
    assert.deepEqual(parseListen('unix:/run/db.sock'), { kind: 'unix', path: '/run/db.sock', mode: 0o660 });
    assert.deepEqual(parseListen('unix:/run/db.sock:0600'), {
      kind: 'unix',
      path: '/run/db.sock',
      mode: 0o600,
    });
    for (const bad of ['3307', 'unix:relative.sock', 'host:99999', '::1:3307', '']) {
      assert.equal(
        code(() => parseListen(bad)),
        'LISTEN_INVALID',
        bad,
      );
    }
  });

  it('refuses plaintext off loopback unless allowed', () => {
    assert.equal(
      code(() => checkListen(parseListen('0.0.0.0:3307'), false)),
      'LISTEN_NOT_LOOPBACK',
    );
    assert.equal(
      code(() => checkListen(parseListen('10.0.0.5:3307'), false)),
      'LISTEN_NOT_LOOPBACK',
    );
    assert.equal(
      code(() => checkListen(parseListen('0.0.0.0:3307'), true)),
      'no error',
    );
    for (const ok of ['127.0.0.1:1', '127.9.9.9:1', '[::1]:1', 'localhost:1', 'unix:/x.sock']) {
      assert.equal(
        code(() => checkListen(parseListen(ok), false)),
        'no error',
        ok,
      );
    }
    assert.equal(
      code(() => checkListen(parseListen('[::ffff:127.0.0.1]:3307'), false)),
      'no error',
    );
  });

  it('`:PORT` is every interface (the exporter reads --listen with this parser), refused off loopback', () => {
    assert.deepEqual(parseListen(':9442'), { kind: 'tcp', host: '0.0.0.0', port: 9442 });
    assert.equal(
      code(() => checkListen(parseListen(':3307'), false)),
      'LISTEN_NOT_LOOPBACK',
    );
  });

  it('names an IPv6 listener in brackets', () => {
    assert.throws(
      () => checkListen(parseListen('[fd00::5]:3307'), false),
      (e) => e instanceof DbtlsError && /^could not listen on \[fd00::5\]:3307: /.test(e.message),
    );
  });
});

describe('decodeHandshakeResponse', () => {
  /** A HandshakeResponse41 as mysql2 sends it (PLUGIN_AUTH_LENENC, CONNECT_WITH_DB, PLUGIN_AUTH). */
  const response = (caps: number) =>
    Buffer.concat([
      Buffer.from([caps & 0xff, (caps >>> 8) & 0xff, (caps >>> 16) & 0xff, caps >>> 24]),
      Buffer.alloc(28),
      Buffer.from('app\0'),
      Buffer.from([20]),
      Buffer.alloc(20, 7),
      Buffer.from('db\0caching_sha2_password\0'),
    ]);
  it('returns capabilities and the plugin, never the user or auth data', () => {
    const caps = 0x200 | 0x8000 | 0x8 | 0x80000 | 0x200000;
    assert.deepEqual(decodeHandshakeResponse(response(caps)), {
      capabilities: caps,
      authPluginName: 'caching_sha2_password',
    });
  });
  it('refuses short, pre-4.1 and truncated responses with PROTOCOL_MALFORMED', () => {
    assert.equal(
      code(() => decodeHandshakeResponse(Buffer.alloc(31))),
      'PROTOCOL_MALFORMED',
    );
    assert.equal(
      code(() => decodeHandshakeResponse(response(0x8000))),
      'PROTOCOL_MALFORMED',
    );
    assert.equal(
      code(() => decodeHandshakeResponse(response(0x200 | 0x200000).subarray(0, 40))),
      'PROTOCOL_MALFORMED',
    );
  });
  it('locates the auth plugin name for the prewarm fallback, or none without CLIENT_PLUGIN_AUTH', () => {
    const withDb = response(0x200 | 0x8000 | 0x8 | 0x80000 | 0x200000);
    const span = authPluginSpan(withDb);
    assert.ok(span);
    assert.equal(withDb.subarray(span[0], span[1]).toString(), 'caching_sha2_password');
    assert.equal(withDb[span[1]], 0, 'the NUL stays out of the span');
    // Without CLIENT_CONNECT_WITH_DB the database field is not skipped: "db" is read as the plugin.
    const noDb = response(0x200 | 0x8000 | 0x80000 | 0x200000);
    const s2 = authPluginSpan(noDb);
    assert.ok(s2);
    assert.equal(noDb.subarray(s2[0], s2[1]).toString(), 'db');
    assert.equal(authPluginSpan(response(0x200 | 0x8000 | 0x8 | 0x200000)), undefined);
    assert.equal(
      code(() => authPluginSpan(Buffer.alloc(31))),
      'PROTOCOL_MALFORMED',
    );
  });

  it('decodes an auth switch request', () => {
    const sw = decodeAuthSwitch(
      Buffer.concat([Buffer.of(0xfe), Buffer.from('client_ed25519\0'), Buffer.alloc(32, 1), Buffer.of(0)]),
    );
    assert.equal(sw.pluginName, 'client_ed25519');
    assert.equal(sw.data.length, 32);
  });
});

describe('ERR frames', () => {
  it('name cause and fix; 1043 with SQL state, none before the greeting; 1040 for the limit', () => {
    const err = new DbtlsError('HOSTNAME_MISMATCH', 'could not verify x', { hint: 'pass --servername' });
    const f = errFrame(2, err);
    assert.equal(f.readUIntLE(0, 3), f.length - 4);
    assert.equal(f[3], 2);
    assert.equal(
      f.subarray(4).toString('latin1'),
      '\xff\x13\x04#08S01dbtls proxy: could not verify x (HOSTNAME_MISMATCH); hint: pass --servername',
    );
    assert.equal(errFrame(0, err).subarray(4, 8).toString('latin1'), '\xff\x13\x04d');
    const max = errFrame(0, new DbtlsError('PROXY_MAX_CONNECTIONS', 'too many'));
    assert.equal(max.readUInt16LE(5), 1040);
  });
  it('never carries control characters and stays bounded', () => {
    assert.equal(printable('a\x1b[31mb\nc\u00e9'), 'a?[31mb?c?');
    assert.equal(printable('x'.repeat(900)).length, 500);
  });
});

describe('the caching_sha2 RSA path', () => {
  const key = generateProxyRsaKey();
  const scramble = Buffer.from('0123456789abcdefghij');
  const blob = (password: string, padding: number) => {
    const plain = Buffer.from(`${password}\0`);
    for (let i = 0; i < plain.length; i++) plain[i]! ^= scramble[i % scramble.length]!;
    return publicEncrypt({ key: key.publicPem, padding, oaepHash: 'sha1' }, plain);
  };
  it('recovers the password (with its NUL) from an OAEP blob', () => {
    assert.match(key.publicPem.toString(), /^-----BEGIN PUBLIC KEY-----\n/);
    assert.equal(
      recoverPassword(key, blob('s3cret', constants.RSA_PKCS1_OAEP_PADDING), scramble).toString(),
      's3cret\0',
    );
  });
  it('refuses PKCS#1 v1.5 and a blob of the wrong length', () => {
    assert.equal(
      code(() => recoverPassword(key, blob('s3cret', constants.RSA_PKCS1_PADDING), scramble)),
      'PROXY_AUTH_MALFORMED',
    );
    assert.equal(
      code(() => recoverPassword(key, Buffer.alloc(300), scramble)),
      'PROXY_AUTH_MALFORMED',
    );
  });
});

describe('--prewarm', () => {
  it('is refused above 32 (max_connect_errors) and below 0 with USAGE, before anything listens', async () => {
    for (const prewarm of [33, -1, 1.5]) {
      await assert.rejects(
        startProxy({
          upstream: {
            host: '127.0.0.1',
            port: 1,
            tls: { mode: 'trust', mutualTls: 'disable', minVersion: 'TLSv1.2' },
          },
          listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
          prewarm,
        }),
        (err: unknown) => err instanceof DbtlsError && err.code === 'USAGE' && /--prewarm/.test(err.message),
        String(prewarm),
      );
    }
  });
});
