/**
 * Issue 13: fleet scans at scale. Five real MariaDB servers with different TLS settings (TLS off, TLS 1.2
 * only, a certificate for the wrong host, an expired certificate, a good one) behind one forwarder process
 * listening on 1,000 loopback ports (bench/forwarder.ts). Printed: `dbtls inspect --targets-from` over the
 * 1,000 in posture mode (wall, targets/s, CPU ms per target, connections per target) at two concurrencies,
 * the same with --details, then a 50-target subset with dbtls, sslscan (`xargs -P 16 sslscan
 * --starttls-mysql`) and testssl.sh (`--starttls mysql`) at the same concurrency, as ratios; and an
 * exporter probe of one endpoint (p50, p95). CPU is the user + system time of the scanner process (and,
 * for sslscan and testssl.sh, all their children), read by /usr/bin/time. Targets: 1,000 in <= 10 s, >= 10x
 * sslscan's targets/s, exporter p50 <= 50 ms. Prints figures; never fails a build.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { startExporter } from '../src/inspect/exporter.js';
import { PROJECT_ROOT } from '../test/harness/cli.js';
import { type MariadbInstance, startMariadb } from '../test/harness/mariadb.js';
import { makeTestPki } from '../test/harness/pki.js';

const TARGETS = Number(process.env.DBTLS_BENCH_FLEET_TARGETS ?? 1000);
const SUBSET = 50;
/**
 * testssl.sh takes ~60 s per target even restricted to protocols and server defaults (-p -S: the facts of
 * dbtls's posture mode; its full scan takes ~220 s here), so its subset can be made smaller for a quick run.
 */
const TESTSSL_TARGETS = Number(process.env.DBTLS_BENCH_TESTSSL_TARGETS ?? SUBSET);
/** The concurrency sslscan and testssl.sh run at (xargs -P), and dbtls's for the comparison. */
const SAME_CONCURRENCY = 16;
const EXPORTER_PROBES = 200;
const CLI_ENTRY = path.join(PROJECT_ROOT, 'dist/src/cli/main.js');
const FORWARDER = path.join(PROJECT_ROOT, 'dist/bench/forwarder.js');
/** Probes count towards max_connect_errors; a bench sends thousands from one address. */
const SERVER_EXTRA = { max_connections: 2000, max_connect_errors: 1_000_000_000 };

interface Timed {
  readonly wallS: number;
  readonly cpuS: number;
  readonly code: number;
  readonly stdout: string;
}

/** Runs `cmd args` under /usr/bin/time: wall seconds and the CPU (user + sys) of it and its children. */
function timed(cmd: string, args: readonly string[]): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const timeFile = path.join(os.tmpdir(), `dbtls-bench-time-${process.pid}-${Date.now()}`);
    const start = performance.now();
    const child = spawn('/usr/bin/time', ['-q', '-f', '%U %S', '-o', timeFile, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const wallS = (performance.now() - start) / 1000;
      const [user, sys] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
      fs.rmSync(timeFile, { force: true });
      resolve({ wallS, cpuS: (user ?? 0) + (sys ?? 0), code: code ?? 1, stdout });
    });
  });
}

interface Forwarder {
  readonly ports: number[];
  accepted(): Promise<number>;
  stop(): void;
}

async function startForwarder(count: number, upstreams: readonly number[]): Promise<Forwarder> {
  const child: ChildProcess = spawn(process.execPath, [FORWARDER, String(count), ...upstreams.map(String)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: child.stdout! });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = () => new Promise<string>((resolve) => waiting.push(resolve));
  const { ports } = JSON.parse(await next()) as { ports: number[] };
  return {
    ports,
    async accepted() {
      const answer = next();
      child.stdin!.write('count\n');
      return (JSON.parse(await answer) as { accepted: number }).accepted;
    },
    stop: () => child.kill('SIGTERM'),
  };
}

interface FleetJson {
  targets: { target: string; error?: { code: string } }[];
}

function f(n: number, digits = 1): string {
  return n.toFixed(digits);
}

export async function bench(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-fleet-bench-'));
  const pki = await makeTestPki();
  const tls = (cert: { cert: string; key: string }) => ({ ca: pki.ca, cert: cert.cert, key: cert.key });
  const servers: MariadbInstance[] = await Promise.all([
    startMariadb({ extra: SERVER_EXTRA }),
    startMariadb({ tls: tls(pki.server), tlsVersion: 'TLSv1.2', extra: SERVER_EXTRA }),
    startMariadb({ tls: tls(pki.wrongHost), extra: SERVER_EXTRA }),
    startMariadb({ tls: tls(pki.expired), extra: SERVER_EXTRA }),
    startMariadb({ tls: tls(pki.server), extra: SERVER_EXTRA }),
  ]);
  const forwarder = await startForwarder(
    TARGETS,
    servers.map((s) => s.port),
  );
  try {
    const all = forwarder.ports.map((p) => `127.0.0.1:${p}`);
    const subset = all.slice(0, SUBSET);
    const allFile = path.join(tmp, 'targets.txt');
    const subsetFile = path.join(tmp, 'subset.txt');
    fs.writeFileSync(allFile, `${all.join('\n')}\n`);
    fs.writeFileSync(subsetFile, `${subset.join('\n')}\n`);
    console.log(
      `fleet: ${TARGETS} loopback ports forwarding to 5 MariaDB ${(await servers[0]!.sql('SELECT VERSION()')).trim()} (TLS off, TLS 1.2 only, wrong host, expired, good); ${os.cpus().length} cores`,
    );

    const dbtls = async (file: string, n: number, concurrency: number, details: boolean) => {
      const before = await forwarder.accepted();
      const args = [CLI_ENTRY, 'inspect', '--targets-from', file, '--ca', pki.ca, '--json'];
      args.push('--concurrency', String(concurrency), '--timeout', '20000');
      if (details) args.push('--details');
      const r = await timed(process.execPath, args);
      const connections = (await forwarder.accepted()) - before;
      const report = JSON.parse(r.stdout) as FleetJson;
      const failed = report.targets.filter((t) => t.error).length;
      return { ...r, n, connections, failed };
    };
    const line = (label: string, r: { wallS: number; cpuS: number; n: number; connections: number }) =>
      console.log(
        `  ${label.padEnd(44)} ${f(r.wallS, 2).padStart(6)} s  ${f(r.n / r.wallS).padStart(6)} targets/s  ${f((r.cpuS * 1000) / r.n).padStart(5)} ms CPU/target  ${f(r.connections / r.n, 2)} connections/target`,
      );

    // Warm-up (page cache, the servers' thread caches), not counted.
    await dbtls(subsetFile, SUBSET, SAME_CONCURRENCY, false);
    const posture: { c: number; wallS: number }[] = [];
    for (const concurrency of [16, 64]) {
      const r = await dbtls(allFile, TARGETS, concurrency, false);
      line(`dbtls posture, ${TARGETS} targets, --concurrency ${concurrency}`, r);
      if (r.failed) console.log(`    ${r.failed} targets not inspected`);
      posture.push({ c: concurrency, wallS: r.wallS });
    }
    const details = await dbtls(allFile, TARGETS, 16, true);
    line(`dbtls --details, ${TARGETS} targets, --concurrency 16`, details);

    // The 50-target subset, every tool at the same concurrency.
    const small = await dbtls(subsetFile, SUBSET, SAME_CONCURRENCY, false);
    line(`dbtls posture, ${SUBSET} targets, --concurrency ${SAME_CONCURRENCY}`, small);
    const smallDetails = await dbtls(subsetFile, SUBSET, SAME_CONCURRENCY, true);
    line(`dbtls --details, ${SUBSET} targets, --concurrency ${SAME_CONCURRENCY}`, smallDetails);
    const xargs = async (label: string, command: string[], n = SUBSET) => {
      const file = path.join(tmp, `xargs-${n}.txt`);
      fs.writeFileSync(file, `${subset.slice(0, n).join('\n')}\n`);
      const before = await forwarder.accepted();
      const xargsArgs = ['-a', file, '-P', String(SAME_CONCURRENCY), '-n', '1', ...command];
      const r = await timed('xargs', xargsArgs);
      const out = { ...r, n, connections: (await forwarder.accepted()) - before };
      line(label, out);
      return out;
    };
    const sslscan = await xargs(`sslscan, ${SUBSET} targets, xargs -P ${SAME_CONCURRENCY}`, [
      'sslscan',
      '--no-colour',
      '--starttls-mysql',
    ]);
    const testssl = await xargs(
      `testssl.sh -p -S, ${TESTSSL_TARGETS} targets, xargs -P ${SAME_CONCURRENCY}`,
      ['testssl', '--starttls', 'mysql', '-p', '-S', '--quiet', '--color', '0', '--warnings', 'off'],
      TESTSSL_TARGETS,
    );
    const rate = (r: { wallS: number; n: number }) => r.n / r.wallS;
    console.log(
      `  ratios (targets/s): dbtls posture / sslscan ${f(rate(small) / rate(sslscan))}x, dbtls --details / sslscan ${f(rate(smallDetails) / rate(sslscan))}x, dbtls posture / testssl.sh ${f(rate(small) / rate(testssl))}x`,
    );
    console.log(
      `  targets: ${TARGETS} targets <= 10 s in posture mode: ${posture.map((p) => `${f(p.wallS, 2)} s at ${p.c}`).join(', ')}; >= 10x sslscan: ${f(rate(small) / rate(sslscan))}x`,
    );

    // One exporter probe of the good server, over HTTP on loopback, one after the other.
    const modulesFile = path.join(tmp, 'exporter.yml');
    fs.writeFileSync(modulesFile, `modules:\n  default:\n    ca: ${pki.ca}\n`);
    const { parseExporterConfig } = await import('../src/inspect/exporter-config.js');
    const exporter = await startExporter({
      host: '127.0.0.1',
      port: 0,
      modules: parseExporterConfig(fs.readFileSync(modulesFile, 'utf8'), modulesFile),
    });
    try {
      const url = `http://127.0.0.1:${exporter.address.port}/probe?target=127.0.0.1:${servers[4]!.port}`;
      const ms: number[] = [];
      for (let i = 0; i < EXPORTER_PROBES + 10; i++) {
        const start = performance.now();
        const body = await (await fetch(url)).text();
        if (i >= 10) ms.push(performance.now() - start);
        if (!body.includes('dbtls_probe_success 1')) throw new Error(`probe failed: ${body}`);
      }
      ms.sort((a, b) => a - b);
      const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!;
      console.log(
        `  exporter /probe of one endpoint (posture, loopback, ${EXPORTER_PROBES} sequential): p50 ${f(q(0.5))} ms, p95 ${f(q(0.95))} ms (target p50 <= 50 ms)`,
      );
    } finally {
      await exporter.close();
    }
  } finally {
    forwarder.stop();
    await Promise.all(servers.map((s) => s.stop()));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
