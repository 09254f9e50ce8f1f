/**
 * Issue 9, item 15: with mutual TLS, dbtls's client prefers TLS 1.3, where the client certificate travels
 * encrypted. Two real MariaDB servers (TLS 1.2 + 1.3, and TLS 1.2 only) with a REQUIRE X509 account, reached
 * through a passive wiretap that keeps every client byte: the client certificate's DER must never appear in
 * clear towards the 1.3 server; towards the 1.2-only one it does (the documented residue), but only after a
 * certificate-less handshake verified that server. An active attacker that refuses TLS 1.3 to force the
 * fallback is detected (TLS_DOWNGRADE_DETECTED) and gets no certificate. openssl s_client over TLS 1.2 with
 * the same certificate shows the wiretap can see it (the check can fail).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '../../../src/client/connect.js';
import { DbtlsError } from '../../../src/errors.js';
import type { Target } from '../../../src/tls/settings.js';
import type { MariadbInstance } from '../../harness/mariadb.js';
import { sClientStarttls } from '../../harness/oracles.js';
import type { TestPki } from '../../harness/pki.js';
import { startTls13Servers, type Tls13Servers } from '../../harness/tls13-servers.js';
import { startVersionRefuser } from '../../harness/version-refuser.js';
import { type RecordingRelay, startRecordingRelay } from '../inspect/recording-relay.js';

const USER = { name: 'mtls_app', password: 'mtls-pw-1' };

let pki: TestPki;
let both: MariadbInstance;
let only12: MariadbInstance;
let clientDer: Buffer;

let servers: Tls13Servers | undefined;

before(async () => {
  servers = await startTls13Servers(USER);
  ({ pki, both, only12, clientDer } = servers);
});

after(async () => {
  await servers?.stop();
});

function target(port: number): Target {
  return {
    host: '127.0.0.1',
    port,
    user: USER.name,
    password: USER.password,
    tls: {
      mode: 'verify-full',
      mutualTls: 'enable',
      ca: pki.ca,
      cert: pki.client.cert,
      key: pki.client.key,
      minVersion: 'TLSv1.2',
    },
  };
}

async function withRelay<T>(db: MariadbInstance, fn: (relay: RecordingRelay) => Promise<T>): Promise<T> {
  const relay = await startRecordingRelay({ host: db.host, port: db.port });
  try {
    return await fn(relay);
  } finally {
    await relay.close();
  }
}

const inClear = (bytes: Buffer) => bytes.indexOf(clientDer) !== -1;

describe('mutual TLS prefers TLS 1.3', () => {
  it('the wiretap sees a client certificate sent over TLS 1.2 (openssl s_client, the oracle)', async () => {
    await withRelay(both, async (relay) => {
      const r = await sClientStarttls({
        port: relay.port,
        ca: pki.ca,
        tlsVersion: '1.2',
        cert: pki.client.cert,
        key: pki.client.key,
      });
      assert.equal(r.ok, true, r.stderr);
      assert.equal(inClear(Buffer.concat(relay.connections())), true);
    });
  });

  it('a server with TLS 1.3: one connection, TLS 1.3, the certificate never in clear', async () => {
    await withRelay(both, async (relay) => {
      const c = await connect(target(relay.port));
      try {
        assert.equal(c.session.protocol, 'TLSv1.3');
        assert.equal(c.session.mutualTls, true);
        const [row] = await c.query('SELECT CURRENT_USER() AS u');
        assert.equal(row?.u, `${USER.name}@%`);
      } finally {
        await c.close();
      }
      assert.equal(relay.connections().length, 1);
      assert.equal(inClear(Buffer.concat(relay.connections())), false);
    });
  });

  it('a TLS 1.2-only server: verified first without a certificate, then TLS 1.2 with it', async () => {
    await withRelay(only12, async (relay) => {
      const c = await connect(target(relay.port));
      try {
        assert.equal(c.session.protocol, 'TLSv1.2');
        const [row] = await c.query('SELECT CURRENT_USER() AS u');
        assert.equal(row?.u, `${USER.name}@%`);
      } finally {
        await c.close();
      }
      const [tls13Attempt, verification, login] = relay.connections();
      assert.equal(relay.connections().length, 3);
      assert.equal(inClear(tls13Attempt!), false, 'the refused TLS 1.3 attempt sent no certificate');
      assert.equal(inClear(verification!), false, 'the verification handshake sends none');
      assert.equal(inClear(login!), true, 'the documented residue: TLS 1.2 sends it in clear');
    });
  });

  it('a TLS 1.2-only server that fails verification gets no certificate at all', async () => {
    await withRelay(only12, async (relay) => {
      const wrong = target(relay.port);
      const t: Target = { ...wrong, tls: { ...wrong.tls, ca: pki.otherCa } };
      await assert.rejects(connect(t), (err) => err instanceof DbtlsError && err.code === 'CERT_UNTRUSTED');
      assert.equal(inClear(Buffer.concat(relay.connections())), false);
    });
  });

  it('an attacker that refuses TLS 1.3 to force TLS 1.2 is detected: TLS_DOWNGRADE_DETECTED', async () => {
    const attacker = await startVersionRefuser({ host: both.host, port: both.port });
    try {
      await assert.rejects(
        connect(target(attacker.port)),
        (err) => err instanceof DbtlsError && err.code === 'TLS_DOWNGRADE_DETECTED',
      );
      assert.equal(inClear(attacker.clientBytes()), false);
    } finally {
      await attacker.close();
    }
  });

  it('--tls-min TLSv1.3 never falls back: a 1.2-only server is TLS_HANDSHAKE_FAILED after one connection', async () => {
    await withRelay(only12, async (relay) => {
      const t = target(relay.port);
      await assert.rejects(
        connect({ ...t, tls: { ...t.tls, minVersion: 'TLSv1.3' } }),
        (err) => err instanceof DbtlsError && err.code === 'TLS_HANDSHAKE_FAILED',
      );
      assert.equal(relay.connections().length, 1);
    });
  });
});
