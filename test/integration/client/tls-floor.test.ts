/**
 * Issue 9, item 14: the library's connect() keeps the TLS 1.2 floor whatever target it is handed. A real
 * MariaDB that speaks only TLS 1.0 and 1.1 (its OpenSSL allows them at @SECLEVEL=0; openssl s_client proves
 * it does) is refused with TLS_VERSION_INSECURE before a socket is opened when the caller asks for TLSv1,
 * and with TLS_HANDSHAKE_FAILED (no common version) with the default floor.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect } from '../../../src/client/connect.js';
import { DbtlsError } from '../../../src/errors.js';
import type { Target } from '../../../src/tls/settings.js';
import type { SecureTlsVersion } from '../../../src/tls/versions.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { sClientStarttls } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

const USER = { name: 'floor_app', password: 'floor-pw-1' };

let pki: TestPki;
let db: MariadbInstance;

before(async () => {
  pki = await makeTestPki();
  db = await startMariadb({
    tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
    tlsVersion: 'TLSv1.0,TLSv1.1',
    sslCipher: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:@SECLEVEL=0',
    users: [USER],
  });
});

after(() => db?.stop());

function target(minVersion: unknown, port = db.port): Target {
  return {
    host: db.host,
    port,
    user: USER.name,
    password: USER.password,
    tls: {
      mode: 'verify-full',
      mutualTls: 'disable',
      ca: pki.ca,
      minVersion: minVersion as SecureTlsVersion,
    },
  };
}

async function outcome(t: Target): Promise<string> {
  try {
    const c = await connect(t, { connectTimeoutMs: 20_000 });
    const protocol = c.session.protocol ?? '?';
    await c.close();
    return `connected over ${protocol}`;
  } catch (err) {
    assert.ok(err instanceof DbtlsError, String(err));
    return err.code;
  }
}

describe('connect() against a server that speaks only TLS 1.0 and 1.1', () => {
  it('the server really accepts TLS 1.0 and 1.1 (openssl s_client, the oracle)', async () => {
    for (const tlsVersion of ['1', '1.1'] as const) {
      const r = await sClientStarttls({ port: db.port, ca: pki.ca, tlsVersion });
      assert.equal(r.ok, true, `TLS ${tlsVersion}: ${r.stderr}`);
    }
    const r = await sClientStarttls({ port: db.port, ca: pki.ca, tlsVersion: '1.2' });
    assert.equal(r.ok, false, 'and refuses TLS 1.2');
  });

  it('refuses minVersion TLSv1 / TLSv1.1 with TLS_VERSION_INSECURE, before dialling', async () => {
    // A listener that counts: the refusal must come before any connection is opened.
    let accepted = 0;
    const listener = net.createServer((s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as net.AddressInfo;
    try {
      assert.equal(await outcome(target('TLSv1', port)), 'TLS_VERSION_INSECURE');
      assert.equal(await outcome(target('TLSv1.1', port)), 'TLS_VERSION_INSECURE');
      assert.equal(accepted, 0);
    } finally {
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
    assert.equal(await outcome(target('TLSv1')), 'TLS_VERSION_INSECURE');
  });

  it('fails the handshake with the default floor (TLS 1.2) and with none given', async () => {
    assert.equal(await outcome(target('TLSv1.2')), 'TLS_HANDSHAKE_FAILED');
    assert.equal(await outcome(target(undefined)), 'TLS_HANDSHAKE_FAILED');
  });
});
