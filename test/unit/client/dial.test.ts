/**
 * What the client says when the peer is not a healthy MySQL server, against small in-process TCP peers:
 * refused, silent, an ERR instead of a greeting, garbage, bytes injected after the greeting.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { connect } from '../../../src/client/connect.js';
import { DbtlsError } from '../../../src/errors.js';
import { encodeErrPacket } from '../../../src/protocol/err-packet.js';
import { framePacket } from '../../../src/protocol/packet.js';
import type { Target } from '../../../src/tls/settings.js';
import { PROJECT_ROOT } from '../../harness/cli.js';

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
});

/** A TCP peer that writes `bytes` on accept (nothing when undefined) and records what it receives. */
function peer(
  bytes: Buffer | undefined,
  closeAfter?: number,
): Promise<{ port: number; received: () => Buffer }> {
  const got: Buffer[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('data', (d) => {
      got.push(d);
      if (closeAfter !== undefined && Buffer.concat(got).length > closeAfter) socket.destroy();
    });
    if (bytes) socket.write(bytes);
  });
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ port: (server.address() as net.AddressInfo).port, received: () => Buffer.concat(got) }),
    ),
  );
}

/** Long enough that it cannot turn up by chance in a ClientHello's random bytes (a 2-byte name did, once in CI). */
const USER = 'dbtls_user_that_must_stay_inside_tls';

function target(port: number): Target {
  return {
    host: '127.0.0.1',
    port,
    user: USER,
    password: 'p',
    tls: { mode: 'trust', mutualTls: 'disable', minVersion: 'TLSv1.2' },
  };
}

async function failure(port: number, timeoutMs = 5000): Promise<DbtlsError> {
  try {
    const conn = await connect(target(port), { connectTimeoutMs: timeoutMs });
    await conn.close();
  } catch (err) {
    assert.ok(err instanceof DbtlsError, String(err));
    return err;
  }
  assert.fail('expected the connection to fail');
}

const TLS_GREETING = fs.readFileSync(
  path.join(PROJECT_ROOT, 'test/fixtures/protocol/mariadb-10.11-tls-greeting.bin'),
);

describe('connect to peers that are not healthy MySQL servers', () => {
  it('a closed port: CONNECTION_REFUSED', async () => {
    const { port } = await peer(undefined);
    const server = servers.pop();
    await new Promise((done) => server?.close(done));
    const err = await failure(port);
    assert.equal(err.code, 'CONNECTION_REFUSED');
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  });

  it('a silent peer: CONNECT_TIMEOUT while waiting for the greeting', async () => {
    const { port } = await peer(undefined);
    const err = await failure(port, 200);
    assert.equal(err.code, 'CONNECT_TIMEOUT');
    assert.match(err.message, /waiting for the server greeting/);
  });

  it('an ERR instead of a greeting: SERVER_REFUSED with the server error', async () => {
    const { port } = await peer(
      framePacket(0, encodeErrPacket({ code: 1129, message: "Host '127.0.0.1' is blocked" })),
    );
    const err = await failure(port);
    assert.equal(err.code, 'SERVER_REFUSED');
    assert.match(
      err.message,
      /error 1129 \(unauthenticated, sent before TLS\): Host '127\.0\.0\.1' is blocked/,
    );
  });

  it('garbage: PROTOCOL_MALFORMED', async () => {
    const { port } = await peer(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'));
    assert.equal((await failure(port)).code, 'PROTOCOL_MALFORMED');
  });

  it('bytes injected after the greeting: PROTOCOL_MALFORMED and nothing sent', async () => {
    const { port, received } = await peer(Buffer.concat([TLS_GREETING, Buffer.from('injected')]));
    assert.equal((await failure(port)).code, 'PROTOCOL_MALFORMED');
    assert.equal(received().length, 0);
  });

  it('a greeting offering TLS, then silence: CONNECT_TIMEOUT in the TLS handshake', async () => {
    const { port } = await peer(TLS_GREETING);
    const err = await failure(port, 300);
    assert.equal(err.code, 'CONNECT_TIMEOUT');
    assert.match(err.message, /in the TLS handshake/);
  });

  it('a greeting offering TLS, then a peer that cannot do TLS: TLS_HANDSHAKE_FAILED, only the SSLRequest sent', async () => {
    const { port, received } = await peer(TLS_GREETING, 36);
    assert.equal((await failure(port)).code, 'TLS_HANDSHAKE_FAILED');
    const sent = received();
    // SSLRequest frame (36 bytes, sequence id 1), then the TLS ClientHello (record type 0x16).
    assert.equal(sent.readUIntLE(0, 3), 32);
    assert.equal(sent[3], 1);
    assert.equal(sent[36], 0x16);
    assert.equal(sent.includes(Buffer.from(USER)), false);
    // Everything after the SSLRequest is TLS records (handshake, type 0x16), each as long as its header says
    // (the peer hangs up once the ClientHello arrives, so the last record may be cut short).
    let at = 36;
    while (at < sent.length) {
      assert.equal(sent[at], 0x16);
      at += 5 + sent.readUInt16BE(at + 3);
    }
    assert.ok(at >= sent.length);
  });
});
