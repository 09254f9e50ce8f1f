/**
 * What the dbtls proxy tests share: the upstream TLS settings (verify-full + mutual TLS with the test PKI),
 * a proxy on loopback (and optionally a unix socket), and the real clients as applications ship them, with
 * no TLS settings at all: PyMySQL (/usr/bin/python3), mysql2 and the mariadb CLI over the socket.
 */
import * as assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { type ProxyOptions, type RunningProxy, startProxy } from '../../src/proxy/proxy.js';
import type { TlsSettings } from '../../src/tls/settings.js';
import { run, type ToolResult } from './oracles.js';
import type { TestPki } from './pki.js';

export const SSL_VERSION_SQL = "SHOW STATUS LIKE 'Ssl_version'";
const PYTHON = '/usr/bin/python3';

/** The proxy's upstream leg: verify-full with the test CA and the test client certificate. */
export function proxyTls(pki: TestPki, over: Partial<TlsSettings> = {}): TlsSettings {
  return {
    mode: 'verify-full',
    mutualTls: 'enable',
    ca: pki.ca,
    cert: pki.client.cert,
    key: pki.client.key,
    minVersion: 'TLSv1.2',
    ...over,
  };
}

/** A proxy to 127.0.0.1:`port` listening on a free loopback port (and `socket`, 0660, when given). */
export function startTestProxy(
  pki: TestPki,
  port: number,
  o: Partial<ProxyOptions> & { socket?: string; tls?: Partial<TlsSettings> } = {},
): Promise<RunningProxy> {
  const { socket, tls, ...rest } = o;
  return startProxy({
    upstream: { host: '127.0.0.1', port, tls: proxyTls(pki, tls) },
    listen: [
      { kind: 'tcp', host: '127.0.0.1', port: 0 },
      ...(socket ? [{ kind: 'unix' as const, path: socket, mode: 0o660 }] : []),
    ],
    ...rest,
  });
}

/** The port of the proxy's TCP listener. */
export function tcpPort(p: RunningProxy): number {
  const a = p.listening.find((l) => l.kind === 'tcp');
  assert.ok(a?.kind === 'tcp');
  return a.port;
}

export type Where = { readonly port: number } | { readonly socket: string };

/** PyMySQL with no ssl argument, as the application ships. Prints Ssl_version, or `ERR <code> <message>`. */
export function pymysql(where: Where, user: string, password: string): Promise<ToolResult> {
  const script = `
import os, sys, pymysql
kw = dict(user=sys.argv[1], password=os.environ['PW'])
if sys.argv[2] == 'socket': kw['unix_socket'] = sys.argv[3]
else: kw.update(host='127.0.0.1', port=int(sys.argv[3]))
try:
    c = pymysql.connect(**kw)
except pymysql.err.MySQLError as e:
    print('ERR', e.args[0], e.args[1]); sys.exit(1)
cur = c.cursor(); cur.execute("${SSL_VERSION_SQL}"); print(cur.fetchone()[1]); c.close()
`;
  const args = 'socket' in where ? ['socket', where.socket] : ['tcp', String(where.port)];
  return run(PYTHON, ['-c', script, user, ...args], { env: { ...process.env, PW: password } });
}

/** A mysql2 login with no TLS settings. */
export function mysql2Login(where: Where, user: string, password: string): Promise<mysql.Connection> {
  return mysql.createConnection({
    ...('socket' in where ? { socketPath: where.socket } : { host: '127.0.0.1', port: where.port }),
    user,
    password,
  });
}

/** The server's Ssl_version for a mysql2 session with no TLS settings. */
export async function mysql2SslVersion(where: Where, user: string, password: string): Promise<string> {
  const conn = await mysql2Login(where, user, password);
  try {
    const [rows] = await conn.query(SSL_VERSION_SQL);
    return String((rows as { Value: string }[])[0]?.Value);
  } finally {
    await conn.end();
  }
}

/** The mariadb CLI over a unix socket (no TLS settings), running `sql`. */
export function mariadbSocket(socket: string, user: string, password: string, sql = SSL_VERSION_SQL) {
  return run(
    'mariadb',
    ['--no-defaults', `--socket=${socket}`, '--protocol=SOCKET', `--user=${user}`, '-N', '-B', '-e', sql],
    { env: { ...process.env, MYSQL_PWD: password }, timeoutMs: 20_000 },
  );
}

/** Polls `condition` every 20 ms, up to 30 s: the proxy opens and closes sockets asynchronously. */
export async function eventually(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
