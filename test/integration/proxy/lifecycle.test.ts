/**
 * dbtls proxy when a side goes away at the wrong moment: a client that leaves while the upstream TLS
 * handshake is still running (against an upstream that fails a check), an upstream reset in the middle of
 * a query, and an upstream that closes after TLS but before the authentication OK. Each ends in a clear
 * outcome (an ERR while authentication lasts, a plain close once piping), a log line and a metric with
 * its own code, and never an uncaught error in the proxy's process.
 */
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type ProxyLogEntry, type RunningProxy, startProxy } from '../../../src/proxy/proxy.js';
import type { TlsSettings } from '../../../src/tls/settings.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { eventually, mysql2Login, proxyTls, tcpPort } from '../../harness/proxy.js';

const PASSWORD = 'lifecycle-pw-5150';
const USER = 'app_x509';

/** CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION: the least a handshake response the proxy holds needs. */
const RESPONSE_CAPABILITIES = 0x200 | 0x8000;

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

/** A handshake response for `user` with an empty auth response, framed as sequence id 1. */
function handshakeResponse(user: string): Buffer {
  const fixed = Buffer.alloc(32);
  fixed.writeUInt32LE(RESPONSE_CAPABILITIES, 0);
  fixed.writeUInt32LE(16 * 1024 * 1024, 4);
  fixed[8] = 33; // utf8_general_ci
  const payload = Buffer.concat([fixed, Buffer.from(`${user}\0`), Buffer.of(0)]);
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = 1;
  return Buffer.concat([header, payload]);
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
): Promise<RunningProxy> {
  return startProxy({
    upstream: { host: '127.0.0.1', port: db.port, tls: proxyTls(pki, over) },
    listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
    timeoutMs: 5_000,
    ...(log ? { log } : {}),
  });
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
