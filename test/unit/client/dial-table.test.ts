/**
 * One connection layer (issue 11 item 1): the same unhealthy peers, fed to every caller that reaches a
 * server, give one error code per case. The peers are small local TCP servers, which is what these cases
 * are on the wire: a closed port, a silent one, an ERR packet in place of the greeting (MariaDB's 1129
 * "host blocked"), an HTTP banner, an oversized greeting, a close before any byte.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect } from '../../../src/client/connect.js';
import { DbtlsError } from '../../../src/errors.js';
import { inspect } from '../../../src/inspect/inspect.js';
import { encodeErrPacket } from '../../../src/protocol/err-packet.js';
import { framePacket } from '../../../src/protocol/packet.js';
import { connectionTest } from '../../../src/proxy/proxy.js';
import { probeServedCertificate } from '../../../src/server/tls/reload.js';
import type { TlsSettings } from '../../../src/tls/settings.js';

const TIMEOUT_MS = 300;
const TRUST: TlsSettings = { mode: 'trust', mutualTls: 'disable', minVersion: 'TLSv1.2' };

/** What a peer does with each accepted socket. */
type Behaviour = ((socket: net.Socket) => void) | 'closed-port';

const CASES: readonly { name: string; peer: Behaviour; code: string; text: RegExp }[] = [
  { name: 'a closed port', peer: 'closed-port', code: 'CONNECTION_REFUSED', text: /refused/ },
  { name: 'a silent peer', peer: () => {}, code: 'CONNECT_TIMEOUT', text: /no answer within 300 ms/ },
  {
    name: 'an ERR packet in place of the greeting (1129, host blocked)',
    peer: (s) =>
      s.end(framePacket(0, encodeErrPacket({ code: 1129, message: "Host '127.0.0.1' is blocked" }))),
    code: 'SERVER_REFUSED',
    text: /error 1129 \(unauthenticated, sent before TLS\): Host '127\.0\.0\.1' is blocked/,
  },
  {
    name: 'an HTTP banner',
    peer: (s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'),
    code: 'PROTOCOL_MALFORMED',
    text: /not a MySQL server \(it sent "HTTP\/1\.1 400 Bad Request\\r\\n\\r\\n"\)/,
  },
  {
    // A binary length field of 16 MiB - 1: no greeting is near that; the bytes are never buffered.
    name: 'an oversized greeting',
    peer: (s) => s.write(Buffer.from([0xff, 0xff, 0xff, 0x00, 0x0a])),
    code: 'PROTOCOL_MALFORMED',
    text: /its length 16777215 exceeds 16384 bytes/,
  },
  {
    name: 'a close before any byte',
    peer: (s) => s.end(),
    code: 'CONNECTION_CLOSED',
    text: /closed the connection before its greeting/,
  },
];

/** Every caller that dials a MySQL server, each with its own options and the same deadline. */
const CALLERS: readonly { name: string; run: (port: number) => Promise<unknown> }[] = [
  {
    name: 'connect',
    run: (port) =>
      connect(
        { host: '127.0.0.1', port, user: 'u', password: 'p', tls: TRUST },
        { connectTimeoutMs: TIMEOUT_MS },
      ),
  },
  { name: 'inspect', run: (port) => inspect({ host: '127.0.0.1', port }, { timeoutMs: TIMEOUT_MS }) },
  {
    name: 'server status / reload probe',
    run: (port) => probeServedCertificate('127.0.0.1', port, TIMEOUT_MS),
  },
  {
    name: 'proxy upstream',
    run: (port) => connectionTest({ host: '127.0.0.1', port, tls: TRUST }, TIMEOUT_MS),
  },
];

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
const ports = new Map<string, number>();

async function listen(peer: Behaviour): Promise<number> {
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    if (peer !== 'closed-port') peer(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  if (peer === 'closed-port') await new Promise((resolve) => server.close(resolve));
  else servers.push(server);
  return port;
}

before(async () => {
  for (const c of CASES) ports.set(c.name, await listen(c.peer));
});

after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

for (const c of CASES) {
  describe(c.name, () => {
    for (const caller of CALLERS) {
      it(`${caller.name}: ${c.code}`, async () => {
        const port = ports.get(c.name) ?? 0;
        const started = performance.now();
        await assert.rejects(caller.run(port), (err: unknown) => {
          assert.ok(err instanceof DbtlsError, String(err));
          assert.equal(err.code, c.code, err.message);
          assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
          assert.match(err.message, c.text);
          assert.ok(err.hint, 'a hint');
          return true;
        });
        // Every stage has the caller's deadline: nothing waits longer than one (plus scheduling).
        assert.ok(performance.now() - started < TIMEOUT_MS + 1000);
      });
    }
  });
}
