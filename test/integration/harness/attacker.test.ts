/**
 * The downgrade relay: it clears CLIENT_SSL in the real server's greeting, passes everything else through,
 * and records the client's bytes, so a client that merely prefers TLS is seen falling back to plaintext.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, test } from 'node:test';
import { type Relay, startDowngradeRelay } from '../../harness/attacker.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { mariadbClient } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

/** CLIENT_SSL in the lower capability flags (MySQL protocol, Protocol::HandshakeV10). */
const CLIENT_SSL = 0x0800;

let db: MariadbInstance;
let pki: TestPki;
let relay: Relay;

before(async () => {
  pki = await makeTestPki();
  db = await startMariadb({ tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key } });
  relay = await startDowngradeRelay({ port: db.port });
});

after(async () => {
  await relay?.close();
  await db?.stop();
});

/** The lower 16 capability bits of the greeting read from `port` (payload offsets per HandshakeV10). */
function greetingCapabilities(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (data.length < 4 || data.length < 4 + data.readUIntLE(0, 3)) return;
      socket.destroy();
      const versionEnd = data.indexOf(0, 5);
      resolve(data.readUInt16LE(versionEnd + 1 + 4 + 8 + 1));
    });
  });
}

test('the relay clears CLIENT_SSL in the greeting and nothing else', async () => {
  const direct = await greetingCapabilities(db.port);
  const relayed = await greetingCapabilities(relay.port);
  assert.equal(direct & CLIENT_SSL, CLIENT_SSL);
  assert.equal(relayed, direct & ~CLIENT_SSL);
});

test('the mariadb client with --ssl and no verification falls back to plaintext through the relay', async () => {
  const before = relay.clientBytes().length;
  const result = await mariadbClient({
    port: relay.port,
    user: db.admin.user,
    password: db.admin.password,
    ssl: { ca: pki.ca, verifyServerCert: false },
    sql: "SHOW STATUS LIKE 'Ssl_cipher'",
  });
  assert.equal(result.stdout, 'Ssl_cipher\t\n', result.stderr);
  // The handshake response went out in clear: the user name is readable in what the client sent.
  const sent = relay.clientBytes().subarray(before);
  assert.ok(sent.includes(Buffer.from(db.admin.user)));
  assert.ok(sent.includes(Buffer.from("SHOW STATUS LIKE 'Ssl_cipher'")));
});

test('the mariadb client that verifies the server certificate refuses the downgraded server', async () => {
  const before = relay.clientBytes().length;
  const result = await mariadbClient({
    port: relay.port,
    user: db.admin.user,
    password: db.admin.password,
    ssl: { ca: pki.ca, verifyServerCert: true },
    sql: 'SELECT 1',
  });
  assert.equal(result.ok, false);
  assert.match(result.stderr, /ERROR 2026/);
  assert.equal(relay.clientBytes().subarray(before).includes(Buffer.from(db.admin.user)), false);
});
