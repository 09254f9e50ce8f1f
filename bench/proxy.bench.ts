/**
 * Issue 12: what `dbtls proxy` costs, against the same MariaDB in one run, with sysbench 1.0.20 (Debian):
 *
 *   direct TLS   sysbench --mysql-ssl=on straight to MariaDB (libmariadb TLS, client certificate)
 *   bare relay   sysbench --mysql-ssl=on through a 20-line Node TCP relay (the floor of any Node hop)
 *   proxy        sysbench in plaintext to `dbtls proxy` (upstream verify-full + mutual TLS), a child process
 *
 * pooled: `oltp_point_select` at 1 and 16 threads; connect-per-query: a sysbench Lua script that opens a
 * connection, runs one point select and closes, per event; then connect-per-query once more through a
 * second proxy with `--prewarm 4`, against direct TLS measured right before it. Also: upstream TLS sessions resumed (the proxy's
 * /metrics), the proxy's RSS with 500 open sessions, and its open file descriptors before and after 10,000
 * connects (/proc/PID/fd). Prints figures and ratios; never fails a build.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import mysql from 'mysql2/promise';
import { SSL_REQUEST_CAPABILITIES } from '../src/client/upgrade.js';
import { framePacket } from '../src/protocol/packet.js';
import { encodeSslRequest, SSL_REQUEST_SEQUENCE_ID } from '../src/protocol/ssl-request.js';
import { dbtlsCommand } from '../test/harness/cli.js';
import { startMariadb } from '../test/harness/mariadb.js';
import { run } from '../test/harness/oracles.js';
import { makeTestPki } from '../test/harness/pki.js';

const SECONDS = Number(process.env.DBTLS_BENCH_SECONDS ?? 8);
const USER = 'bench_x509';
const TABLE_SIZE = 10_000;
const CONNECTS = 10_000;
const OPEN_SESSIONS = 500;
/** Pre-handshaken upstream connections of the --prewarm cell: one per sysbench thread. */
const PREWARM = 4;
/** Alternating rounds of the connect-per-query comparison with --prewarm. */
const ROUNDS = 3;

const CONNECT_PER_QUERY_LUA = `
function thread_init() drv = sysbench.sql.driver() end
function event()
  local con = drv:connect()
  con:query("SELECT c FROM sbtest1 WHERE id=" .. sysbench.rand.default(1, ${TABLE_SIZE}))
  con:disconnect()
end
`;

/** The bare relay: bytes both ways, nothing else (TLS passes through it end to end). */
const RELAY_JS = `
const net = require('node:net');
const [port] = process.argv.slice(1).map(Number);
const server = net.createServer({ noDelay: true }, (c) => {
  const u = net.connect({ port, host: '127.0.0.1', noDelay: true });
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

interface Started {
  readonly child: ChildProcess;
  readonly port: number;
}

function startChild(
  cmd: string,
  args: readonly string[],
  portOf: (line: string) => number | undefined,
): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      for (const line of out.split('\n')) {
        const port = portOf(line);
        if (port) {
          child.stdout!.removeAllListeners('data');
          child.stdout!.resume();
          resolve({ child, port });
          return;
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`${cmd} exited with ${code}: ${out}`)));
  });
}

async function sysbench(
  cwd: string,
  port: number,
  ssl: boolean,
  threads: number,
  script: string,
): Promise<number> {
  const r = await run(
    'sh',
    [
      '-c',
      `cd "$0" && exec sysbench "$1" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port=$2 --mysql-user=${USER} --mysql-db=sbtest --mysql-ssl=$3 --tables=1 --table-size=${TABLE_SIZE} --threads=$4 --time=${SECONDS} run`,
      cwd,
      script,
      String(port),
      ssl ? 'on' : 'off',
      String(threads),
    ],
    { timeoutMs: (SECONDS + 60) * 1000 },
  );
  const m =
    /queries:\s+\d+\s+\(([\d.]+) per sec\.\)/.exec(r.stdout) ??
    /events\/s \(eps\):\s+([\d.]+)/.exec(r.stdout);
  if (r.code !== 0 || !m?.[1])
    throw new Error(`sysbench failed (${r.code}): ${r.stdout.slice(-400)} ${r.stderr.slice(-400)}`);
  return Number(m[1]);
}

function procStatus(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN);
}

/** CPU seconds (user + system) a process has used so far (/proc/PID/stat fields 14 and 15). */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const fds = (pid: number) => fs.readdirSync(`/proc/${pid}/fd`).length;
const ratio = (a: number, b: number) => (a / b).toFixed(2);

async function metric(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return Number(new RegExp(`^${name} ([\\d.e+]+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
}

export async function bench(): Promise<void> {
  const pki = await makeTestPki();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-bench-proxy-'));
  // sysbench --mysql-ssl=on reads these names from its working directory (it has no certificate options).
  fs.copyFileSync(pki.client.cert, path.join(dir, 'client-cert.pem'));
  fs.copyFileSync(pki.client.key, path.join(dir, 'client-key.pem'));
  fs.copyFileSync(pki.ca, path.join(dir, 'cacert.pem'));
  fs.writeFileSync(path.join(dir, 'per-query.lua'), CONNECT_PER_QUERY_LUA);
  const db = await startMariadb({
    tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
    // A throwaway server: the bench account has no password, so no secret goes on sysbench's argv.
    users: [{ name: USER, password: '', require: 'X509' }],
    extra: { max_connections: OPEN_SESSIONS + 100 },
  });
  const children: ChildProcess[] = [];
  try {
    await db.sql('CREATE DATABASE sbtest');
    const prep = await run(
      'sh',
      [
        '-c',
        'cd "$0" && exec sysbench "$@"',
        dir,
        'oltp_point_select',
        '--db-driver=mysql',
        '--mysql-host=127.0.0.1',
        `--mysql-port=${db.port}`,
        `--mysql-user=${USER}`,
        '--mysql-ssl=on',
        '--tables=1',
        `--table-size=${TABLE_SIZE}`,
        'prepare',
      ],
      { timeoutMs: 120_000 },
    );
    if (prep.code !== 0) throw new Error(`sysbench prepare: ${prep.stdout} ${prep.stderr}`);
    const relay = await startChild(
      process.execPath,
      ['-e', RELAY_JS, String(db.port)],
      (l) => Number(l.trim()) || undefined,
    );
    children.push(relay.child);
    const [cmd, ...prefix] = dbtlsCommand();
    const startProxyChild = async (extra: readonly string[]) => {
      const httpPort = await freePort();
      const started = await startChild(
        cmd!,
        [
          ...prefix,
          'proxy',
          `127.0.0.1:${db.port}`,
          '--ca',
          pki.ca,
          '--cert',
          pki.client.cert,
          '--key',
          pki.client.key,
          '--listen',
          '127.0.0.1:0',
          '--http',
          `127.0.0.1:${httpPort}`,
          ...extra,
        ],
        (l) => Number(/listening on 127\.0\.0\.1:(\d+)/.exec(l)?.[1]) || undefined,
      );
      children.push(started.child);
      return { ...started, httpPort };
    };
    const proxy = await startProxyChild([]);
    const httpPort = proxy.httpPort;
    const pid = proxy.child.pid!;

    // 500 open sessions: the resident memory of a fresh proxy (a heap grown by the runs below stays grown).
    const rssBefore = procStatus(pid, 'VmRSS');
    const open: mysql.Connection[] = [];
    for (let i = 0; i < OPEN_SESSIONS; i += 50) {
      open.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, () =>
            mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: USER }),
          ),
        )),
      );
    }
    const rssOpen = procStatus(pid, 'VmRSS');
    await Promise.all(open.map((c) => c.end()));
    process.stdout.write(
      `  proxy RSS: ${(rssBefore / 1024).toFixed(1)} MB idle, ${(rssOpen / 1024).toFixed(1)} MB with ${OPEN_SESSIONS} open sessions (target < 100 MB)\n`,
    );

    const rows: [string, number, number, number][] = [];
    const cpu: string[] = [];
    for (const [label, threads, script] of [
      ['pooled, 1 thread', 1, 'oltp_point_select'],
      ['pooled, 16 threads', 16, 'oltp_point_select'],
      ['connect-per-query, 4 threads', 4, path.join(dir, 'per-query.lua')],
    ] as const) {
      const direct = await sysbench(dir, db.port, true, threads, script);
      const relayCpu = cpuSeconds(relay.child.pid!);
      const bare = await sysbench(dir, relay.port, true, threads, script);
      const proxyCpu = cpuSeconds(pid);
      const viaProxy = await sysbench(dir, proxy.port, false, threads, script);
      rows.push([label, direct, bare, viaProxy]);
      const perOp = (cpu: number, rate: number) => ((cpu / (rate * SECONDS)) * 1e6).toFixed(0);
      cpu.push(
        `  ${label.padEnd(30)} CPU per operation: bare relay ${perOp(cpuSeconds(relay.child.pid!) - relayCpu, bare)} µs, proxy ${perOp(cpuSeconds(pid) - proxyCpu, viaProxy)} µs`,
      );
    }
    const unit = (l: string) => (l.startsWith('connect') ? 'connections+queries/s' : 'QPS');
    process.stdout.write(`sysbench ${SECONDS} s per cell, MariaDB ${db.port}, REQUIRE X509 account\n`);
    for (const [label, direct, bare, viaProxy] of rows) {
      process.stdout.write(
        `  ${label.padEnd(30)} direct TLS ${direct.toFixed(0).padStart(6)}  bare relay ${bare.toFixed(0).padStart(6)}  proxy ${viaProxy.toFixed(0).padStart(6)} ${unit(label)}   proxy/relay ${ratio(viaProxy, bare)}  proxy/direct ${ratio(viaProxy, direct)}\n`,
      );
    }
    process.stdout.write(`${cpu.join('\n')}\n`);

    // Connect-per-query through a proxy with a pool of pre-handshaken upstream connections. The machine's
    // load moves between cells, so direct TLS, the proxy and the prewarmed proxy take turns, ROUNDS times;
    // the medians and the median of the per-round ratios are printed.
    const warm = await startProxyChild(['--prewarm', String(PREWARM)]);
    const perQuery = path.join(dir, 'per-query.lua');
    const turns: [number, number, number][] = [];
    const warmCpu = cpuSeconds(warm.child.pid!);
    for (let round = 0; round < ROUNDS; round++) {
      turns.push([
        await sysbench(dir, db.port, true, 4, perQuery),
        await sysbench(dir, proxy.port, false, 4, perQuery),
        await sysbench(dir, warm.port, false, 4, perQuery),
      ]);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const col = (i: number) => median(turns.map((t) => t[i]!));
    const warmPerOp =
      ((cpuSeconds(warm.child.pid!) - warmCpu) / (turns.reduce((n, t) => n + t[2], 0) * SECONDS)) * 1e6;
    const used = await metric(warm.httpPort, 'dbtls_proxy_prewarm_total\\{outcome="used"\\}');
    const handshakesWarm = await metric(warm.httpPort, 'dbtls_proxy_upstream_handshake_seconds_count');
    process.stdout.write(
      `  connect-per-query, 4 threads, ${ROUNDS} alternating rounds (medians): direct TLS ${col(0).toFixed(0)}, proxy ${col(1).toFixed(0)}, proxy --prewarm ${PREWARM} ${col(2).toFixed(0)} connections+queries/s\n` +
        `    per round, proxy/direct ${turns.map((t) => ratio(t[1], t[0])).join(' ')}; prewarm/direct ${turns.map((t) => ratio(t[2], t[0])).join(' ')} (target >= 2.0; median ${median(turns.map((t) => t[2] / t[0])).toFixed(2)})\n` +
        `    ${used} of ${handshakesWarm} upstream handshakes handed over prewarmed; prewarm proxy CPU per connection ${warmPerOp.toFixed(0)} µs\n`,
    );
    warm.child.kill('SIGTERM');
    const floor = await resumedHandshakeFloor(db.port, pki);
    process.stdout.write(
      `  node's own floor, no dbtls code: a resumed mutual-TLS handshake to this server (net.connect, greeting, SSLRequest, tls.connect on one shared context) costs ${floor.cpuUs.toFixed(0)} µs CPU in this process (${floor.reused} of ${floor.count} resumed)\n`,
    );
    const resumed = await metric(httpPort, 'dbtls_proxy_upstream_tls_resumed_total');
    const handshakes = await metric(httpPort, 'dbtls_proxy_upstream_handshake_seconds_count');
    process.stdout.write(`  upstream TLS sessions resumed: ${resumed} of ${handshakes} handshakes\n`);

    // 10,000 connects (connect, greeting, close), 16 at a time: descriptors before and after.
    await settle(() => fds(pid), 0);
    const fdBefore = fds(pid);
    let done = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (done < CONNECTS) {
          done++;
          await new Promise<void>((resolve) => {
            const s = net.connect(proxy.port, '127.0.0.1');
            s.once('data', () => s.destroy());
            s.on('error', () => resolve());
            s.on('close', () => resolve());
          });
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const fdAfter = await settle(() => fds(pid), fdBefore);
    process.stdout.write(
      `  ${CONNECTS} connects in ${seconds.toFixed(1)} s: proxy fds ${fdBefore} before, ${fdAfter} after\n`,
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await db.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The CPU one upstream handshake costs node itself, measured without dbtls: sequential connections to
 * `port`, each a TCP connect, the greeting, a bare SSLRequest and a TLS handshake that resumes one session
 * on a context with the client certificate. What a proxy that opens one upstream connection per client
 * (prewarmed or not) spends at least per client.
 */
async function resumedHandshakeFloor(
  port: number,
  pki: { ca: string; client: { cert: string; key: string } },
): Promise<{ cpuUs: number; reused: number; count: number }> {
  const context = tls.createSecureContext({
    ca: fs.readFileSync(pki.ca),
    cert: fs.readFileSync(pki.client.cert),
    key: fs.readFileSync(pki.client.key),
  });
  // The SSLRequest dbtls's probes send, framed once here: the loop below runs node's code only.
  const sslRequest = framePacket(
    SSL_REQUEST_SEQUENCE_ID,
    encodeSslRequest({ capabilities: SSL_REQUEST_CAPABILITIES }),
  );
  let session: Buffer | undefined;
  const once = () =>
    new Promise<boolean>((resolve, reject) => {
      const raw = net.connect({ port, host: '127.0.0.1', noDelay: true });
      raw.once('error', reject);
      raw.once('data', () => {
        raw.write(sslRequest);
        const secure = tls.connect({
          socket: raw,
          secureContext: context,
          checkServerIdentity: () => undefined,
          ...(session ? { session } : {}),
        });
        secure.once('error', reject);
        const end = () => {
          const reused = secure.isSessionReused();
          secure.destroy();
          resolve(reused);
        };
        if (session) secure.once('secureConnect', end);
        else
          secure.once('session', (s: Buffer) => {
            session = s;
            end();
          });
      });
    });
  for (let i = 0; i < 50; i++) await once();
  const count = 1000;
  const before = process.cpuUsage();
  let reused = 0;
  for (let i = 0; i < count; i++) if (await once()) reused++;
  const used = process.cpuUsage(before);
  return { cpuUs: (used.user + used.system) / count, reused, count };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** The value once it stops falling to `target` (sockets close asynchronously), polled up to 10 s. */
async function settle(read: () => number, target: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  let v = read();
  while (v > target && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    v = read();
  }
  return v;
}
