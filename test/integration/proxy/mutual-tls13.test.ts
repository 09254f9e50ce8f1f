/**
 * The proxy's upstream leg prefers TLS 1.3 with mutual TLS, as dbtls's client does (client/mutual.ts,
 * proxy/upstream.ts): against real MariaDB servers (TLS 1.2 + 1.3, and TLS 1.2 only) with a REQUIRE X509
 * account, reached through a wiretap that keeps every byte the proxy sends. Towards the 1.3 server the
 * client certificate's DER never appears in clear and sessions still resume on the shared context; towards
 * the 1.2-only one it does (the documented residue), only after a certificate-less handshake verified that
 * server; an attacker that refuses TLS 1.3 is TLS_DOWNGRADE_DETECTED and gets no certificate.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { connectionTest, type RunningProxy } from '../../../src/proxy/proxy.js';
import type { TlsSettings } from '../../../src/tls/settings.js';
import type { MariadbInstance } from '../../harness/mariadb.js';
import type { TestPki } from '../../harness/pki.js';
import { proxyTls, startTestProxy, tcpPort } from '../../harness/proxy.js';
import { startTls13Servers, type Tls13Servers } from '../../harness/tls13-servers.js';
import { startVersionRefuser } from '../../harness/version-refuser.js';
import { type RecordingRelay, startRecordingRelay } from '../inspect/recording-relay.js';

const USER = { name: 'mtls_proxy', password: 'mtls-proxy-pw-2' };

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

/** The proxy's upstream settings here: verify-full + mutual TLS, the certificate's name given. */
const mutual = (): TlsSettings => proxyTls(pki, { servername: 'localhost' });

const inClear = (bytes: Buffer) => bytes.indexOf(clientDer) !== -1;

async function withProxy<T>(
  port: number,
  fn: (proxyPort: number, p: RunningProxy) => Promise<T>,
): Promise<T> {
  const p = await startTestProxy(pki, port, { tls: { servername: 'localhost' }, watch: false });
  try {
    return await fn(tcpPort(p), p);
  } finally {
    await p.shutdown(0);
  }
}

/** Logs in through the proxy in plaintext (the application as it ships); the upstream leg's TLS version. */
async function upstreamVersion(proxyPort: number): Promise<string> {
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: proxyPort,
    user: USER.name,
    password: USER.password,
  });
  try {
    const [rows] = await conn.query("SHOW STATUS LIKE 'Ssl_version'");
    return String((rows as { Value: string }[])[0]?.Value);
  } finally {
    await conn.end();
  }
}

async function loginError(proxyPort: number): Promise<string> {
  try {
    await upstreamVersion(proxyPort);
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('the login went through');
}

async function withRelay<T>(db: MariadbInstance, fn: (relay: RecordingRelay) => Promise<T>): Promise<T> {
  const relay = await startRecordingRelay({ host: db.host, port: db.port });
  try {
    return await fn(relay);
  } finally {
    await relay.close();
  }
}

describe('the proxy prefers TLS 1.3 for mutual TLS upstream', () => {
  it('a server with TLS 1.3: TLS 1.3, the certificate never in clear, the second session resumed', async () => {
    await withRelay(both, async (relay) =>
      withProxy(relay.port, async (port, p) => {
        assert.equal(await upstreamVersion(port), 'TLSv1.3');
        assert.equal(await upstreamVersion(port), 'TLSv1.3');
        assert.equal(relay.connections().length, 2);
        assert.equal(inClear(Buffer.concat(relay.connections())), false);
        assert.equal((await p.metrics.resumed.get()).values[0]?.value, 1);
      }),
    );
  });

  it('a TLS 1.2-only server: the first session fails without a certificate sent, then TLS 1.2 with it', async () => {
    await withRelay(only12, async (relay) =>
      withProxy(relay.port, async (port) => {
        assert.match(await loginError(port), /TLS_HANDSHAKE_FAILED/);
        const [attempt, verification] = relay.connections();
        assert.equal(relay.connections().length, 2);
        assert.equal(
          inClear(attempt ?? Buffer.alloc(0)),
          false,
          'the refused TLS 1.3 attempt sent no certificate',
        );
        assert.equal(
          inClear(verification ?? Buffer.alloc(0)),
          false,
          'the verification handshake sends none',
        );
        assert.equal(await upstreamVersion(port), 'TLSv1.2');
        assert.equal(
          inClear(relay.connections()[2] ?? Buffer.alloc(0)),
          true,
          'the documented residue of 1.2',
        );
      }),
    );
  });

  it('--run-connection-test against a TLS 1.2-only server passes after the verification', async () => {
    const r = await connectionTest({ host: '127.0.0.1', port: only12.port, tls: mutual() });
    assert.equal(r.protocol, 'TLSv1.2');
  });

  it('--run-connection-test waits for the TLS 1.3 verdict on its client certificate: one from another CA fails', async () => {
    const ok = await connectionTest({ host: '127.0.0.1', port: both.port, tls: mutual() });
    assert.equal(ok.protocol, 'TLSv1.3');
    const foreign = { ...mutual(), cert: pki.otherClient.cert, key: pki.otherClient.key };
    await assert.rejects(connectionTest({ host: '127.0.0.1', port: both.port, tls: foreign }), (err) => {
      assert.equal((err as { code?: string }).code, 'CLIENT_CERT_REJECTED');
      return true;
    });
  });

  it('an attacker that refuses TLS 1.3 to force TLS 1.2 is detected: TLS_DOWNGRADE_DETECTED', async () => {
    const attacker = await startVersionRefuser({ host: both.host, port: both.port });
    try {
      await withProxy(attacker.port, async (port) => {
        assert.match(await loginError(port), /TLS_DOWNGRADE_DETECTED/);
      });
      assert.equal(inClear(attacker.clientBytes()), false);
    } finally {
      await attacker.close();
    }
  });
});
