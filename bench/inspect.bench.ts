/**
 * A full `dbtls inspect` (greeting, TLS 1.0-1.3, every accepted suite in preference order, chain) of one
 * local MariaDB against `sslscan --starttls-mysql` on the same server in the same run (issue 4: dbtls must
 * take at most sslscan's time). Prints figures; never fails a build.
 */
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inspect } from '../src/inspect/inspect.js';
import { dbtlsCommand } from '../test/harness/cli.js';
import { startMariadb } from '../test/harness/mariadb.js';
import { toolAvailable } from '../test/harness/oracles.js';
import { makeTestPki } from '../test/harness/pki.js';

/** Rounds per contender, alternated so that machine noise hits both alike. */
const ROUNDS = 7;

function timed(cmd: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'] });
    child.on('error', reject);
    child.on('close', () => resolve(performance.now() - start));
  });
}

function stats(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  return `median ${(median / 1000).toFixed(3)} s, min ${((sorted[0] ?? 0) / 1000).toFixed(3)} s (n=${ms.length})`;
}

export async function bench(): Promise<void> {
  const pki = await makeTestPki();
  const db = await startMariadb({ tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key } });
  try {
    const endpoint = { host: db.host, port: db.port };
    const target = `${db.host}:${db.port}`;
    const [node, ...prefix] = dbtlsCommand();
    const hasSslscan = toolAvailable('sslscan');
    const library: number[] = [];
    const cli: number[] = [];
    const sslscan: number[] = [];
    let probes = 0;
    let suites = 0;
    // Warm-up (page cache, the server's first TLS context use), not counted.
    await inspect(endpoint, { ca: pki.ca });
    for (let i = 0; i < ROUNDS; i++) {
      const start = performance.now();
      const report = await inspect(endpoint, { ca: pki.ca });
      library.push(performance.now() - start);
      probes = report.tls.probes;
      suites = report.tls.ciphers.length;
      cli.push(await timed(node as string, [...prefix, 'inspect', target, '--ca', pki.ca, '--json']));
      if (hasSslscan) sslscan.push(await timed('sslscan', ['--no-colour', '--starttls-mysql', target]));
    }
    console.log(`inspect: full scan of a local MariaDB (${suites} suites accepted, ${probes} connections)`);
    console.log(`  dbtls inspect, library call:       ${stats(library)}`);
    console.log(`  dbtls inspect, CLI process:        ${stats(cli)}`);
    console.log(
      hasSslscan
        ? `  sslscan --starttls-mysql (process): ${stats(sslscan)}`
        : '  sslscan: not installed, no comparison',
    );
  } finally {
    await db.stop();
  }
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
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
