/**
 * dbtls proxy under bad input and faults: garbage and oversized handshake responses, an upstream that is
 * down, silent or closes mid-session, --max-connections, hundreds of connects with no file descriptor
 * leaked (counted in /proc/self/fd), health and metrics (checked by promtool), and the CLI's refusals,
 * --run-connection-test and graceful SIGTERM in a real child process.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type mysql from 'mysql2/promise';
import { type ProxyLogEntry, type RunningProxy, startProxy } from '../../../src/proxy/proxy.js';
import { dbtlsCommand, runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { run } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { eventually, mysql2Login, proxyTls, tcpPort } from '../../harness/proxy.js';

const PASSWORD = 'faults-pw-1234';
const USER = 'app_x509';

let pki: TestPki;
let db: MariadbInstance;
let proxy: RunningProxy;
let dir: string;

const login = (port: number) => mysql2Login({ port }, USER, PASSWORD);

/** Connects, optionally writes `send` after the first packet, and returns every packet until close. */
function rawExchange(port: number, send?: Buffer): Promise<{ seq: number; payload: Buffer }[]> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let sent = false;
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!sent && send && buf.length >= 4 && buf.length >= 4 + buf.readUIntLE(0, 3)) {
        sent = true;
        s.write(send);
      }
    });
    s.on('error', reject);
    s.on('close', () => {
      const packets: { seq: number; payload: Buffer }[] = [];
      let off = 0;
      while (off + 4 <= buf.length) {
        const len = buf.readUIntLE(off, 3);
        packets.push({ seq: buf[off + 3]!, payload: buf.subarray(off + 4, off + 4 + len) });
        off += 4 + len;
      }
      resolve(packets);
    });
  });
}

function errOf(p: { payload: Buffer } | undefined): { code: number; message: string } {
  assert.ok(p, 'an ERR packet');
  assert.equal(p.payload[0], 0xff);
  const code = p.payload.readUInt16LE(1);
  const text = p.payload.subarray(3).toString('utf8');
  return { code, message: text.startsWith('#') ? text.slice(6) : text };
}

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

before(async () => {
  pki = await makeTestPki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-proxy-faults-'));
  db = await startMariadb({
    tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
    users: [{ name: USER, password: PASSWORD, require: 'X509' }],
  });
  proxy = await startProxy({
    upstream: { host: '127.0.0.1', port: db.port, tls: proxyTls(pki) },
    listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
    http: { host: '127.0.0.1', port: 0 },
    maxConnections: 3,
    timeoutMs: 5_000,
  });
});

after(async () => {
  await proxy?.shutdown(0);
  await db?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** The hint of every ERR about a client's bytes: the client is at fault, not the server. */
const CLIENT_HINT =
  '; hint: the client did not speak the MySQL protocol: point a MySQL client or driver at this port';

describe('bad clients: a clear ERR each, and the proxy keeps serving', () => {
  it('garbage instead of a handshake response (an HTTP request)', async () => {
    const packets = await rawExchange(tcpPort(proxy), Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.equal(packets[0]?.payload[0], 10, 'the greeting first');
    const err = errOf(packets[1]);
    assert.equal(err.code, 1043);
    assert.equal(
      err.message,
      `dbtls proxy: could not decode the authentication packet from the client: its length 5522759 exceeds 65536 bytes (PROTOCOL_MALFORMED)${CLIENT_HINT}`,
    );
  });

  it('a 16 MB handshake response is refused from its header, not buffered', async () => {
    const header = Buffer.from([0xff, 0xff, 0xff, 0x01]);
    const packets = await rawExchange(tcpPort(proxy), Buffer.concat([header, Buffer.alloc(64 * 1024, 0x41)]));
    assert.ok(
      errOf(packets[1]).message.endsWith(
        `its length 16777215 exceeds 65536 bytes (PROTOCOL_MALFORMED)${CLIENT_HINT}`,
      ),
    );
    const conn = await login(tcpPort(proxy));
    await conn.query('SELECT 1');
    await conn.end();
  });

  it('a handshake response too short to hold an SSLRequest', async () => {
    const packets = await rawExchange(tcpPort(proxy), Buffer.from([3, 0, 0, 1, 0x85, 0xa2, 0]));
    assert.equal(
      errOf(packets[1]).message,
      `dbtls proxy: could not decode the handshake response: its length is 3, at least 32 expected (PROTOCOL_MALFORMED)${CLIENT_HINT}`,
    );
  });

  it('an SSLRequest with no TLS after it (--listen-cert): PROXY_CLIENT_TIMEOUT, logged with a hint', async () => {
    const logged: ProxyLogEntry[] = [];
    const p = await startProxy({
      upstream: { host: '127.0.0.1', port: db.port, tls: proxyTls(pki) },
      listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
      listenTls: { cert: pki.server.cert, key: pki.server.key },
      timeoutMs: 300,
      log: (e) => logged.push(e),
    });
    try {
      // The 32-byte SSLRequest: CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION, then silence.
      const sslRequest = Buffer.alloc(36);
      sslRequest.writeUIntLE(32, 0, 3);
      sslRequest[3] = 1;
      sslRequest.writeUInt32LE(0x200 | 0x800 | 0x8000, 4);
      await rawExchange(tcpPort(p), sslRequest);
      await eventually(() => logged.some((e) => e.code === 'PROXY_CLIENT_TIMEOUT'), 'the timeout log line');
      assert.equal(
        logged.find((e) => e.code === 'PROXY_CLIENT_TIMEOUT')?.msg,
        'dbtls proxy: could not relay the connection: the client did not complete TLS within 300 ms (PROXY_CLIENT_TIMEOUT); hint: the client sent an SSLRequest but no TLS handshake followed: point a MySQL client at this port, or raise --connect-timeout for a slow link',
      );
    } finally {
      await p.shutdown(0);
    }
  });
});

describe('upstream faults', () => {
  it('an upstream that is down: ERR in place of the greeting, CONNECTION_REFUSED', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const p = await startProxy({
      upstream: { host: '127.0.0.1', port, tls: proxyTls(pki) },
      listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
    });
    try {
      const packets = await rawExchange(tcpPort(p));
      assert.equal(packets[0]?.seq, 0);
      const err = errOf(packets[0]);
      assert.equal(err.code, 1043);
      assert.match(
        err.message,
        /^dbtls proxy: could not connect to 127\.0\.0\.1:\d+: the connection was refused \(CONNECTION_REFUSED\); hint: /,
      );
      await assert.rejects(login(tcpPort(p)), (e: { errno?: number; message: string }) => {
        assert.equal(e.errno, 1043);
        assert.match(e.message, /CONNECTION_REFUSED/);
        return true;
      });
    } finally {
      await p.shutdown(0);
    }
  });

  it('a silent upstream: CONNECT_TIMEOUT after the deadline', async () => {
    const held: net.Socket[] = [];
    const silent = net.createServer((s) => held.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const p = await startProxy({
      upstream: { host: '127.0.0.1', port: (silent.address() as net.AddressInfo).port, tls: proxyTls(pki) },
      listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
      timeoutMs: 500,
    });
    try {
      const packets = await rawExchange(tcpPort(p));
      assert.match(
        errOf(packets[0]).message,
        /no answer within 500 ms while waiting for the server greeting \(CONNECT_TIMEOUT\)/,
      );
    } finally {
      await p.shutdown(0);
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('the upstream closing mid-session: that client sees the loss, others carry on', async () => {
    const victim = await login(tcpPort(proxy));
    const other = await login(tcpPort(proxy));
    const [rows] = await victim.query('SELECT CONNECTION_ID() AS id');
    const id = (rows as { id: number }[])[0]?.id;
    await db.sql(`KILL ${id}`);
    await assert.rejects(victim.query('SELECT 1'));
    victim.destroy();
    const [ok] = await other.query('SELECT 2 AS two');
    assert.equal((ok as { two: number }[])[0]?.two, 2);
    await other.end();
  });
});

describe('limits, descriptors, health and metrics', () => {
  it('--max-connections: the next client gets ERR 1040 naming the limit; readiness drops', async () => {
    const httpPort = proxy.http?.port;
    // The sessions of the tests before must be gone, or the limit is reached early.
    await eventually(() => proxy.open() === 0, 'the earlier sessions to close');
    const held: mysql.Connection[] = [];
    try {
      for (let i = 0; i < 3; i++) held.push(await login(tcpPort(proxy)));
      await assert.rejects(login(tcpPort(proxy)), (e: { errno?: number; message: string }) => {
        assert.equal(e.errno, 1040);
        assert.match(
          e.message,
          /dbtls proxy: could not accept the connection: 3 connections are open \(--max-connections\) \(PROXY_MAX_CONNECTIONS\)/,
        );
        return true;
      });
      const ready = await fetch(`http://127.0.0.1:${httpPort}/readiness`);
      assert.equal(ready.status, 503);
    } finally {
      for (const c of held) await c.end();
    }
    await eventually(() => proxy.open() === 0, 'the sessions to close');
    assert.equal((await fetch(`http://127.0.0.1:${httpPort}/readiness`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${httpPort}/liveness`)).status, 200);
  });

  it('/metrics is valid Prometheus text (promtool) with the dbtls_proxy_ series', async () => {
    const text = await (await fetch(`http://127.0.0.1:${proxy.http?.port}/metrics`)).text();
    const lint = await run('promtool', ['check', 'metrics'], { input: text });
    assert.equal(lint.code, 0, lint.stdout + lint.stderr);
    assert.match(text, /^dbtls_proxy_connections_open 0$/m);
    assert.match(text, /^dbtls_proxy_connections_total \d+$/m);
    assert.match(text, /^dbtls_proxy_upstream_handshake_seconds_count [1-9]\d*$/m);
    assert.match(text, /^dbtls_proxy_failures_total\{code="PROXY_MAX_CONNECTIONS"\} 1$/m);
    assert.match(text, /^dbtls_proxy_failures_total\{code="PROTOCOL_MALFORMED"\} [1-9]$/m);
    assert.match(text, /^dbtls_proxy_bytes_total\{direction="upstream_to_client"\} [1-9]\d*$/m);
    assert.match(text, /^dbtls_proxy_upstream_certificate_expiry_seconds [1-9][\d.e+]*$/m);
    assert.match(text, /^dbtls_proxy_client_certificate_expiry_seconds [1-9][\d.e+]*$/m);
  });

  it('400 connects (logins, early closes, garbage) leak no file descriptor', async () => {
    await eventually(() => proxy.open() === 0, 'idle');
    const before = openFds();
    for (let round = 0; round < 100; round++) {
      await Promise.all([
        rawExchange(tcpPort(proxy), Buffer.from('garbage!')),
        new Promise<void>((resolve) => {
          const s = net.connect(tcpPort(proxy), '127.0.0.1', () => s.destroy());
          s.on('close', () => resolve());
        }),
        rawExchange(tcpPort(proxy), Buffer.from([0xff, 0xff, 0xff, 0x01])),
        round % 10 === 0 ? login(tcpPort(proxy)).then((c) => c.end()) : Promise.resolve(),
      ]);
    }
    await eventually(() => proxy.open() === 0, 'every session to end');
    await eventually(() => openFds() <= before, `fds back to ${before} (now ${openFds()})`);
  });
});

describe('the CLI', () => {
  it('refuses a plaintext listener off loopback, a missing CA and a key that does not match (exit 2)', async () => {
    const base = [`127.0.0.1:${db.port}`, '--ca', pki.ca, '--cert', pki.client.cert, '--key', pki.client.key];
    const remote = await runCli(['proxy', ...base, '--listen', '0.0.0.0:0']);
    assert.equal(remote.code, 2);
    assert.match(
      remote.stderr,
      /error\[LISTEN_NOT_LOOPBACK\]: could not listen on 0\.0\.0\.0:0: the client leg is plaintext/,
    );
    const noCa = await runCli([
      'proxy',
      `127.0.0.1:${db.port}`,
      '--ca',
      path.join(dir, 'absent.pem'),
      '--listen',
      '127.0.0.1:0',
    ]);
    assert.equal(noCa.code, 2);
    assert.match(noCa.stderr, /absent\.pem/);
    const mismatch = await runCli([
      'proxy',
      ...base.slice(0, 5),
      '--key',
      pki.otherServer.key,
      '--listen',
      '127.0.0.1:0',
    ]);
    assert.equal(mismatch.code, 2);
    assert.match(mismatch.stderr, /error\[KEY_MISMATCH\]/);
    assert.doesNotMatch(remote.stderr + noCa.stderr + mismatch.stderr, /\n\s+at /, 'no stack trace');
  });

  it('--run-connection-test fails with exit 1 against an untrusted server', async () => {
    const r = await runCli([
      'proxy',
      `127.0.0.1:${db.port}`,
      '--ca',
      pki.otherCa,
      '--listen',
      '127.0.0.1:0',
      '--run-connection-test',
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error\[CERT_UNTRUSTED\]/);
  });

  it('SIGTERM: no new connections, the open session finishes within --max-sigterm-delay, exit 0', async () => {
    const [cmd, ...prefix] = dbtlsCommand();
    const args = [
      ...prefix,
      'proxy',
      `127.0.0.1:${db.port}`,
      '--ca',
      pki.ca,
      '--cert',
      pki.client.cert,
      '--key',
      pki.client.key,
    ];
    const child = spawn(
      cmd!,
      [
        ...args,
        '--listen',
        '127.0.0.1:0',
        '--max-sigterm-delay',
        '60s',
        '--run-connection-test',
        '--json-logs',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    try {
      await eventually(() => /listening on 127\.0\.0\.1:\d+/.test(out), 'the proxy to listen');
      const lines = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { msg: string; level: string; time: string });
      assert.match(
        lines[0]!.msg,
        /^connection test passed: 127\.0\.0\.1:\d+ .* verified as verify-full over TLSv1\.[23]/,
      );
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
      const session = await login(port);
      child.kill('SIGTERM');
      await eventually(() => /SIGTERM: no new connections/.test(out), 'the SIGTERM log line');
      await assert.rejects(login(port), /ECONNREFUSED/);
      const [rows] = await session.query('SELECT 7 AS seven');
      assert.equal((rows as { seven: number }[])[0]?.seven, 7);
      await session.end();
      assert.equal(await exited, 0);
      assert.match(out, /"msg":"stopped"/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
