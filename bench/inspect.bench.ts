/**
 * Issue 4: a full `dbtls inspect` (greeting, TLS 1.0-1.3, every accepted suite in preference order, the
 * chain) of one local MariaDB takes at most the time `sslscan --starttls-mysql` takes for the same server,
 * measured in the same run.
 *
 * Both are timed as the processes a user runs: the compiled CLI, `node dist/src/cli/main.js inspect`
 * (built first when dist is older than src, also when this bench runs under tsx, whose own start-up is not
 * what users pay), and `sslscan`. Rounds alternate which one goes first, so that machine noise hits both
 * alike; medians are compared. Before timing, the CLI's JSON is checked against sslscan's XML so that both
 * did the same work. Also printed: the library call alone and the CLI's start-up (`inspect --help`: node,
 * then the inspect command group's imports), which is where the rest of the CLI's time goes.
 * Prints figures; never fails a build.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from '../src/inspect/inspect.js';
import { PROJECT_ROOT } from '../test/harness/cli.js';
import { startMariadb } from '../test/harness/mariadb.js';
import { sslscan, toolAvailable } from '../test/harness/oracles.js';
import { makeTestPki } from '../test/harness/pki.js';

/** Rounds per contender. */
const ROUNDS = 9;
const CLI_ENTRY = path.join(PROJECT_ROOT, 'dist/src/cli/main.js');

interface Run {
  readonly ms: number;
  readonly code: number;
  readonly stdout: string;
}

function timed(cmd: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: performance.now() - start, code: code ?? 1, stdout }));
  });
}

function median(ms: readonly number[]): number {
  const sorted = [...ms].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function stats(ms: readonly number[]): string {
  const s = (v: number) => `${(v / 1000).toFixed(3)} s`;
  return `median ${s(median(ms))}, min ${s(Math.min(...ms))}, max ${s(Math.max(...ms))} (n=${ms.length})`;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** The compiled CLI is what users run: build it when missing or older than the sources. */
function ensureBuilt(): void {
  const built = fs.existsSync(CLI_ENTRY) ? fs.statSync(CLI_ENTRY).mtimeMs : 0;
  if (built >= newestMtime(path.join(PROJECT_ROOT, 'src'))) return;
  console.log('  (dist is older than src: building it with tsc first)');
  const tsc = path.join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc');
  spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: PROJECT_ROOT, stdio: 'ignore' });
  if (!fs.existsSync(CLI_ENTRY)) throw new Error(`no ${CLI_ENTRY} after the build: run npm run build`);
}

interface Scan {
  versions: Record<string, boolean>;
  ciphers: { version: string; name: string; bits: number }[];
}

function sameScan(a: Scan, b: Scan): boolean {
  const text = (s: Scan) =>
    JSON.stringify([s.versions, s.ciphers.map((c) => `${c.version} ${c.name} ${c.bits}`)]);
  return text(a) === text(b);
}

export async function bench(): Promise<void> {
  ensureBuilt();
  const pki = await makeTestPki();
  const db = await startMariadb({ tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key } });
  try {
    const endpoint = { host: db.host, port: db.port };
    const target = `${db.host}:${db.port}`;
    const cliArgs = [CLI_ENTRY, 'inspect', target, '--ca', pki.ca, '--json'];
    const sslscanArgs = ['--no-colour', '--starttls-mysql', target];
    const hasSslscan = toolAvailable('sslscan');

    // Same work: the CLI's versions and suites equal sslscan's (and warm-up, not counted).
    const first = await timed(process.execPath, cliArgs);
    const report = JSON.parse(first.stdout) as Scan & {
      server: { version: string };
      tls: Scan & { probes: number };
    };
    const oracle = hasSslscan ? await sslscan({ host: db.host, port: db.port }) : undefined;
    const agrees = oracle ? sameScan(report.tls, oracle) : undefined;

    const cli: number[] = [];
    const scanner: number[] = [];
    const library: number[] = [];
    const startup: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const runCli = async () => cli.push((await timed(process.execPath, cliArgs)).ms);
      const runSslscan = async () => {
        if (hasSslscan) scanner.push((await timed('sslscan', sslscanArgs)).ms);
      };
      if (i % 2 === 0) {
        await runCli();
        await runSslscan();
      } else {
        await runSslscan();
        await runCli();
      }
      const start = performance.now();
      await inspect(endpoint, { ca: pki.ca });
      library.push(performance.now() - start);
      startup.push((await timed(process.execPath, [CLI_ENTRY, 'inspect', '--help'])).ms);
    }

    const suites = report.tls.ciphers.length;
    const versions = Object.values(report.tls.versions).filter(Boolean).length;
    console.log(
      `inspect: full scan of a local MariaDB ${report.server.version} (${versions} versions, ${suites} suites accepted, ${report.tls.probes} connections)`,
    );
    console.log(`  dbtls inspect, CLI process (node dist/src/cli/main.js): ${stats(cli)}`);
    console.log(`    of which start-up (node + imports, inspect --help):   ${stats(startup)}`);
    console.log(`  dbtls inspect, library call (no process):              ${stats(library)}`);
    if (!oracle) {
      console.log('  sslscan: not installed, no comparison');
      return;
    }
    console.log(`  sslscan --starttls-mysql (process):                    ${stats(scanner)}`);
    console.log(`  same versions and suites as sslscan: ${agrees ? 'yes' : 'NO'}`);
    const ratio = median(cli) / median(scanner);
    console.log(
      `  dbtls inspect CLI within sslscan's time: ${ratio <= 1 ? 'yes' : 'NO'} (median ratio ${ratio.toFixed(2)})`,
    );
  } finally {
    await db.stop();
  }
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return fs.realpathSync(entry) === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  bench().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
