/**
 * Downgrade-proof (DESIGN.md security rules; the BACKRONYM / Riddle class): in trust, verify-ca and
 * verify-full, no byte of the handshake response (user name, auth data) leaves the client unless TLS has
 * completed and passed the mode's checks.
 *
 * Two attackers: the harness relay that clears CLIENT_SSL in the greeting, and a TLS-terminating man in
 * the middle (below) that forwards the real greeting, accepts the SSLRequest and answers TLS with a
 * certificate from another CA, recording everything the client sends inside that TLS.
 * Controls prove each attacker works: preferred falls back to plaintext through the relay, and trust
 * hands its handshake response to the man in the middle.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import * as tls from 'node:tls';
import { connect } from '../../../src/client/connect.js';
import { DbtlsError } from '../../../src/errors.js';
import { parseTarget, type Target } from '../../../src/tls/settings.js';
import type { SslMode } from '../../../src/tls/ssl-mode.js';
import { DEFAULT_TLS_MIN } from '../../../src/tls/versions.js';
import { type Relay, startDowngradeRelay } from '../../harness/attacker.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { sClientStarttls } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

const USER = 'downgrade_victim';
const PASSWORD = 'Pw-never-on-the-wire-7731';
/** MySQL packet header (3-byte length + sequence id) and the 32-byte SSLRequest payload. */
const SSL_REQUEST_FRAME = 4 + 32;

let pki: TestPki;
let db: MariadbInstance;
let relay: Relay;
let mitm: Mitm;
let legacy: Mitm;

interface Mitm {
  port: number;
  /** What clients sent inside the attacker's TLS. */
  decrypted(): Buffer;
  close(): Promise<void>;
}

/**
 * Forwards the real greeting, takes the SSLRequest, then terminates TLS itself with `cert` (and, for a
 * version downgrade, only the TLS versions `tlsOptions` allow).
 */
function startTlsMitm(
  upstreamPort: number,
  cert: { cert: string; key: string },
  tlsOptions: tls.SecureContextOptions = {},
): Promise<Mitm> {
  const recorded: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('error', () => {});
    // Only the greeting comes from the real server; then the attacker speaks.
    upstream.once('data', (greeting: Buffer) => {
      client.write(greeting);
      upstream.destroy();
    });
    const inner = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        client.write(chunk, cb);
      },
    });
    let head = Buffer.alloc(0);
    let secure: tls.TLSSocket | undefined;
    client.on('data', (chunk: Buffer) => {
      if (secure) {
        inner.push(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      if (head.length < SSL_REQUEST_FRAME) return;
      secure = new tls.TLSSocket(inner, {
        isServer: true,
        cert: fs.readFileSync(cert.cert),
        key: fs.readFileSync(cert.key),
        ...tlsOptions,
      });
      secure.on('error', () => client.destroy());
      secure.on('data', (d: Buffer) => {
        recorded.push(Buffer.from(d));
        client.destroy();
      });
      if (head.length > SSL_REQUEST_FRAME) inner.push(head.subarray(SSL_REQUEST_FRAME));
    });
    client.on('close', () => inner.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        decrypted: () => Buffer.concat(recorded),
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

function target(port: number, mode: SslMode): Target {
  return {
    host: '127.0.0.1',
    port,
    user: USER,
    password: PASSWORD,
    tls: { mode, mutualTls: 'disable', ca: pki.ca, minVersion: DEFAULT_TLS_MIN },
  };
}

async function outcome(port: number, mode: SslMode): Promise<string> {
  try {
    const conn = await connect(target(port, mode), { connectTimeoutMs: 5000 });
    const encrypted = conn.session.encrypted;
    await conn.close();
    return encrypted ? 'tls' : 'plain';
  } catch (err) {
    if (err instanceof DbtlsError) return err.code;
    throw err;
  }
}

function assertNoCredentials(bytes: Buffer, what: string): void {
  assert.equal(bytes.includes(Buffer.from(USER)), false, `${what}: the user name left the client`);
  assert.equal(bytes.includes(Buffer.from(PASSWORD)), false, `${what}: the password left the client`);
}

before(async () => {
  pki = await makeTestPki();
  db = await startMariadb({
    tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
    users: [{ name: USER, password: PASSWORD }],
  });
  relay = await startDowngradeRelay({ port: db.port });
  mitm = await startTlsMitm(db.port, pki.otherServer);
  // The server's own, valid certificate, but only TLS 1.1 (RFC 8996 deprecated it; OpenSSL 3 needs
  // security level 0 for it).
  legacy = await startTlsMitm(db.port, pki.server, {
    minVersion: 'TLSv1.1',
    maxVersion: 'TLSv1.1',
    ciphers: 'DEFAULT:@SECLEVEL=0',
  });
});
after(async () => {
  await relay?.close();
  await mitm?.close();
  await legacy?.close();
  await db?.stop();
});

describe('a relay that clears CLIENT_SSL', () => {
  for (const mode of ['trust', 'verify-ca', 'verify-full'] as const) {
    it(`${mode}: TLS_NOT_OFFERED and not one byte sent`, async () => {
      const before = relay.clientBytes().length;
      assert.equal(await outcome(relay.port, mode), 'TLS_NOT_OFFERED');
      const sent = relay.clientBytes().subarray(before);
      assert.equal(sent.length, 0, `${mode} sent ${sent.length} bytes to a server without TLS`);
      assertNoCredentials(relay.clientBytes(), mode);
    });
  }

  it('control: preferred falls back to plaintext and the user name crosses the wire', async () => {
    const before = relay.clientBytes().length;
    assert.equal(await outcome(relay.port, 'preferred'), 'plain');
    assert.ok(relay.clientBytes().subarray(before).includes(Buffer.from(USER)));
  });

  it('the same server directly: every mode gets TLS', async () => {
    for (const mode of ['preferred', 'trust', 'verify-ca', 'verify-full'] as const)
      assert.equal(await outcome(db.port, mode), 'tls', mode);
  });
});

describe('a man in the middle terminating TLS with another CA', () => {
  for (const mode of ['verify-ca', 'verify-full'] as const) {
    it(`${mode}: CERT_UNTRUSTED and nothing sent inside the attacker's TLS`, async () => {
      const before = mitm.decrypted().length;
      assert.equal(await outcome(mitm.port, mode), 'CERT_UNTRUSTED');
      assert.equal(mitm.decrypted().length - before, 0);
      assertNoCredentials(mitm.decrypted(), mode);
    });
  }

  it('control: trust hands its handshake response (user name) to the attacker, which is why trust is unsafe', async () => {
    const before = mitm.decrypted().length;
    assert.notEqual(await outcome(mitm.port, 'trust'), 'tls');
    const got = mitm.decrypted().subarray(before);
    assert.ok(got.includes(Buffer.from(USER)), 'the attacker read the user name');
    assert.equal(got[3], 2, 'the handshake response inside TLS has sequence id 2');
  });
});

describe('a peer that offers only TLS 1.1 (a version downgrade), with the right certificate', () => {
  it('control: openssl completes a TLS 1.1 handshake with it, and no TLS 1.2 one', async () => {
    assert.equal((await sClientStarttls({ port: legacy.port, tlsVersion: '1.1' })).ok, true);
    assert.equal((await sClientStarttls({ port: legacy.port, tlsVersion: '1.2' })).ok, false);
  });

  for (const mode of ['trust', 'verify-ca', 'verify-full'] as const) {
    it(`${mode}: the default --tls-min (TLS 1.2) refuses it: TLS_HANDSHAKE_FAILED, nothing sent inside`, async () => {
      assert.equal(parseTarget(`127.0.0.1:${legacy.port}`, {}, {}).tls.minVersion, 'TLSv1.2', 'the default');
      const before = legacy.decrypted().length;
      assert.equal(await outcome(legacy.port, mode), 'TLS_HANDSHAKE_FAILED');
      assert.equal(legacy.decrypted().length - before, 0);
      assertNoCredentials(legacy.decrypted(), mode);
    });
  }
});
