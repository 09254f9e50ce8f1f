/**
 * dbtls proxy when a side goes away at the wrong moment: a client that leaves while the upstream TLS
 * handshake is still running (against an upstream that fails a check), an upstream reset in the middle of
 * a query, and an upstream that closes after TLS but before the authentication OK. Each ends in a clear
 * outcome (an ERR while authentication lasts, a plain close once piping), a log line and a metric with
 * its own code, and never an uncaught error in the proxy's process.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as tls from 'node:tls';
import mysql from 'mysql2/promise';
import { type ProxyLogEntry, type RunningProxy, startProxy } from '../../../src/proxy/proxy.js';
import type { TlsSettings } from '../../../src/tls/settings.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { eventually, mysql2Login, proxyTls, tcpPort } from '../../harness/proxy.js';

const PASSWORD = 'lifecycle-pw-5150';
const USER = 'app_x509';

const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x80000;
/** The least a handshake response the proxy holds needs. */
const RESPONSE_CAPABILITIES = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION;
/** ER_HANDSHAKE_ERROR, the code of the proxy's ERR packets, and its SQL state. */
const ER_HANDSHAKE_ERROR = 1043;
const SQLSTATE_LINK = '08S01';

let pki: TestPki;
let db: MariadbInstance;

before(async () => {
  pki = await makeTestPki();
  db = await startMariadb({
    tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
    users: [{ name: USER, password: PASSWORD, require: 'X509' }],
  });
});

after(async () => {
  await db?.stop();
});

function frame(seq: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = seq;
  return Buffer.concat([header, payload]);
}

/** A handshake response for `user` with an empty auth response, framed as sequence id 1. */
function handshakeResponse(user: string): Buffer {
  const fixed = Buffer.alloc(32);
  fixed.writeUInt32LE(RESPONSE_CAPABILITIES, 0);
  fixed.writeUInt32LE(16 * 1024 * 1024, 4);
  fixed[8] = 33; // utf8_general_ci
  return frame(1, Buffer.concat([fixed, Buffer.from(`${user}\0`), Buffer.of(0)]));
}

/** A MySQL 8 style greeting (protocol 10) offering TLS, with a 20-byte scramble. */
function greeting(): Buffer {
  const caps = CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
  const fixed = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  fixed.writeUInt32LE(7, 0); // thread id
  fixed.fill(0x41, 4, 12); // scramble, first 8 bytes
  fixed.writeUInt16LE(caps & 0xffff, 13);
  fixed[15] = 33; // utf8_general_ci
  fixed.writeUInt16LE(2, 16); // SERVER_STATUS_AUTOCOMMIT
  fixed.writeUInt16LE(caps >>> 16, 18);
  fixed[20] = 21; // scramble length; 10 reserved zero bytes follow
  const rest = Buffer.concat([Buffer.alloc(12, 0x42), Buffer.from('\0mysql_native_password\0')]);
  return frame(0, Buffer.concat([Buffer.of(10), Buffer.from('8.0.36\0'), fixed, rest]));
}

/**
 * A fake upstream that greets offering TLS, completes TLS on the SSLRequest with the test server
 * certificate, and closes (or resets) as soon as the client's handshake response arrives inside TLS.
 */
async function startClosingUpstream(
  how: 'close' | 'reset',
): Promise<{ port: number; close: () => Promise<void> }> {
  const context = tls.createSecureContext({
    cert: fs.readFileSync(pki.server.cert),
    key: fs.readFileSync(pki.server.key),
  });
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.write(greeting());
    const upgrade = () => {
      // The SSLRequest is 4 + 32 bytes; the ClientHello follows it.
      if (!socket.read(36)) return;
      socket.off('readable', upgrade);
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
      secure.on('error', () => {});
      secure.once('data', () => (how === 'close' ? secure.destroy() : socket.resetAndDestroy()));
    };
    socket.on('readable', upgrade);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * A TCP relay in front of MariaDB; `reset()` sends a TCP RST to every client of the relay (the proxy),
 * as a crashed host, a firewall or a load balancer would.
 */
async function startResettingRelay(target: number) {
  const facingProxy = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(target, '127.0.0.1');
    for (const s of [down, up]) s.on('error', () => {});
    down.pipe(up);
    up.pipe(down);
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
    facingProxy.add(down);
    down.on('close', () => facingProxy.delete(down));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    reset: () => {
      for (const s of facingProxy) s.resetAndDestroy();
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Every packet the proxy sends until it closes, after a handshake response sent on its greeting. */
function loginPackets(port: number): Promise<{ seq: number; payload: Buffer }[]> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let sent = false;
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!sent && buf.length >= 4 && buf.length >= 4 + buf.readUIntLE(0, 3)) {
        sent = true;
        s.write(handshakeResponse(USER));
      }
    });
    s.on('error', reject);
    s.on('close', () => {
      const packets: { seq: number; payload: Buffer }[] = [];
      for (let off = 0; off + 4 <= buf.length; off += 4 + buf.readUIntLE(off, 3)) {
        const len = buf.readUIntLE(off, 3);
        packets.push({ seq: buf[off + 3]!, payload: buf.subarray(off + 4, off + 4 + len) });
      }
      resolve(packets);
    });
  });
}

/** Waits until the server runs a statement starting with `prefix`. */
async function untilRunning(prefix: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  const sql = `SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '${prefix}%'`;
  while (Number((await db.sql(sql)).trim()) === 0) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${prefix}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Reads the greeting, sends a handshake response and closes at once; resolves when the socket closed. */
function respondAndLeave(port: number, how: 'end' | 'destroy'): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = 0;
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got < 4) return;
      s.removeAllListeners('data');
      s.write(handshakeResponse(USER));
      if (how === 'end') s.end();
      else s.destroy();
    });
    s.on('error', () => {});
    s.on('close', () => resolve());
  });
}

async function proxyWith(
  over: Partial<TlsSettings>,
  log?: (e: ProxyLogEntry) => void,
  port = db.port,
): Promise<RunningProxy> {
  return startProxy({
    upstream: { host: '127.0.0.1', port, tls: proxyTls(pki, over) },
    listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
    http: { host: '127.0.0.1', port: 0 },
    timeoutMs: 5_000,
    ...(log ? { log } : {}),
  });
}

async function failureMetrics(p: RunningProxy): Promise<string[]> {
  const text = await (await fetch(`http://127.0.0.1:${p.http?.port}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith('dbtls_proxy_failures_total{'));
}

describe('a client that leaves while the upstream TLS handshake runs', () => {
  const cases: [string, () => Partial<TlsSettings>, string][] = [
    ['a wrong host name (servername)', () => ({ servername: 'wrong.example' }), 'HOSTNAME_MISMATCH'],
    ['an untrusted CA', () => ({ ca: pki.otherCa }), 'CERT_UNTRUSTED'],
  ];
  for (const [name, over, code] of cases) {
    it(`${name}: 20 such clients do not crash the proxy, which then answers a login with ${code}`, async () => {
      const codes: string[] = [];
      const p = await proxyWith(over(), (e) => {
        if (e.code) codes.push(e.code);
      });
      try {
        for (let i = 0; i < 20; i++) await respondAndLeave(tcpPort(p), i % 2 === 0 ? 'end' : 'destroy');
        await assert.rejects(
          mysql2Login({ port: tcpPort(p) }, USER, PASSWORD),
          (e: { errno?: number; message: string }) => {
            assert.equal(e.errno, 1043);
            assert.match(e.message, new RegExp(`\\(${code}\\); hint: `));
            return true;
          },
        );
        await eventually(() => p.open() === 0, 'every session to end');
        // The upstream handshake a leaving client cut short is not blamed on the server.
        assert.equal(codes.length, 21);
        for (const c of codes) assert.ok(c === code || c === 'PROXY_CLIENT_CLOSED', c);
      } finally {
        await p.shutdown(0);
      }
    });
  }
});

describe('the upstream going away after the TLS handshake', () => {
  for (const [how, cause] of [
    ['close', ''],
    ['reset', ' (read ECONNRESET)'],
  ] as const) {
    it(`${how} before the authentication OK: the client gets an ERR naming the cause (PROXY_UPSTREAM_CLOSED)`, async () => {
      const upstream = await startClosingUpstream(how);
      const codes: string[] = [];
      const p = await proxyWith(
        {},
        (e) => {
          if (e.code) codes.push(e.code);
        },
        upstream.port,
      );
      try {
        const packets = await loginPackets(tcpPort(p));
        assert.equal(packets.length, 2, 'the greeting, then one ERR');
        assert.equal(packets[1]?.seq, 2, 'the answer to the handshake response (sequence id 1)');
        const message = `dbtls proxy: could not relay the connection: the server closed it during authentication, after the TLS handshake${cause} (PROXY_UPSTREAM_CLOSED); hint: the server ended the login without an answer: check its error log (a restart, a KILL, or connect_timeout while the client was slow to answer), then retry`;
        const code = Buffer.alloc(2);
        code.writeUInt16LE(ER_HANDSHAKE_ERROR);
        assert.deepEqual(
          packets[1]?.payload.toString('latin1'),
          Buffer.concat([Buffer.of(0xff), code, Buffer.from(`#${SQLSTATE_LINK}${message}`)]).toString(
            'latin1',
          ),
        );
        assert.deepEqual(codes, ['PROXY_UPSTREAM_CLOSED']);
        assert.deepEqual(await failureMetrics(p), [
          'dbtls_proxy_failures_total{code="PROXY_UPSTREAM_CLOSED"} 1',
        ]);
      } finally {
        await p.shutdown(0);
        await upstream.close();
      }
    });
  }

  it('reset during a query: the client sees the connection close, no ERR of the proxy (PROXY_UPSTREAM_RESET)', async () => {
    const relay = await startResettingRelay(db.port);
    const logged: ProxyLogEntry[] = [];
    const p = await proxyWith({}, (e) => logged.push(e), relay.port);
    let conn: mysql.Connection | undefined;
    try {
      // mysql2 reads the socket; the test counts the same bytes alongside.
      const socket = net.connect(tcpPort(p), '127.0.0.1');
      let received = 0;
      socket.on('data', (d: Buffer) => {
        received += d.length;
      });
      conn = await mysql.createConnection({ stream: socket, user: USER, password: PASSWORD });
      const atQuery = received;
      const query = conn.query('SELECT SLEEP(30)');
      await untilRunning('SELECT SLEEP(30)');
      relay.reset();
      await assert.rejects(query, (e: { code?: string; errno?: number }) => {
        assert.equal(e.code, 'PROTOCOL_CONNECTION_LOST');
        assert.equal(e.errno, undefined, 'no server error number: no ERR packet');
        return true;
      });
      assert.equal(received, atQuery, 'not one byte from the proxy after the query: no ERR packet');
      await eventually(() => p.open() === 0, 'the session to end');
      const failures = logged.filter((e) => e.code !== undefined);
      assert.equal(failures.length, 1);
      assert.equal(failures[0]?.level, 'error');
      assert.match(
        failures[0]?.msg ?? '',
        /^dbtls proxy: could not relay the connection: the connection to the server broke after login: .*ECONNRESET.* \(PROXY_UPSTREAM_RESET\); hint: the client was disconnected and must reconnect/,
      );
      assert.deepEqual(await failureMetrics(p), [
        'dbtls_proxy_failures_total{code="PROXY_UPSTREAM_RESET"} 1',
      ]);
    } finally {
      conn?.destroy();
      await p.shutdown(0);
      await relay.close();
    }
  });
});
