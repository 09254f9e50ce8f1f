/**
 * Another process that opens verified TLS connections in a loop, as an application's connection pool
 * would while the server certificate is rotated. It uses mysql2 directly (not dbtls's client), logs in,
 * runs a query, and reports each attempt on a line: `ok <sha256 of the served certificate>` or
 * `fail <message>`. It stops when its stdin closes, and by itself after LOOP_LIMIT_MS or LOOP_LIMIT_COUNT.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { PROJECT_ROOT } from '../../harness/cli.js';

/** Bounds, so that a loop whose parent died never runs on. */
const LOOP_LIMIT_MS = 60_000;
const LOOP_LIMIT_COUNT = 20_000;

const CHILD = `
import { readFileSync } from 'node:fs';
import { createConnection } from 'mysql2/promise';
const o = JSON.parse(process.env.LOOP_OPTIONS);
const ca = readFileSync(o.ca, 'utf8');
let stop = false;
process.stdin.on('end', () => { stop = true; });
process.stdin.resume();
const deadline = Date.now() + o.limitMs;
for (let i = 0; !stop && i < o.limitCount && Date.now() < deadline; i++) {
  try {
    const conn = await createConnection({
      host: o.host, port: o.port, user: o.user, password: process.env.LOOP_PASSWORD,
      ssl: { ca, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    });
    const fp = conn.connection.stream.getPeerX509Certificate().fingerprint256.replaceAll(':', '').toLowerCase();
    await conn.query('SELECT 1');
    await conn.end();
    process.stdout.write('ok ' + fp + '\\n');
  } catch (err) {
    process.stdout.write('fail ' + String(err && err.message).replaceAll('\\n', ' ') + '\\n');
  }
}
// The open stdin would keep this process alive after the loop: end it here, at the limit as on request.
process.exit(0);
`;

export interface LoopOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The CA file the loop verifies the server with. */
  readonly ca: string;
}

export interface LoopReport {
  readonly attempts: number;
  readonly failures: readonly string[];
  /** Served certificate fingerprints, in the order first seen. */
  readonly fingerprints: readonly string[];
  /** Connections per fingerprint. */
  readonly counts: ReadonlyMap<string, number>;
  readonly pid: number;
}

export interface ConnectLoop {
  /** Resolves once the loop has made `n` attempts in all. */
  attempts(n: number): Promise<void>;
  readonly count: number;
  stop(): Promise<LoopReport>;
  /** For cleanup after a failed test: ends the loop process at once. Idempotent. */
  kill(): void;
}

const live = new Set<ConnectLoop>();

/** Kills every loop still running (an `after` hook: a failed assertion must not leave one behind). */
export function killConnectLoops(): void {
  for (const loop of live) loop.kill();
  live.clear();
}

export function startConnectLoop(o: LoopOptions): ConnectLoop {
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      LOOP_PASSWORD: o.password,
      LOOP_OPTIONS: JSON.stringify({
        host: o.host,
        port: o.port,
        user: o.user,
        ca: o.ca,
        limitMs: LOOP_LIMIT_MS,
        limitCount: LOOP_LIMIT_COUNT,
      }),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let attempts = 0;
  let stderr = '';
  let buffered = '';
  const failures: string[] = [];
  const counts = new Map<string, number>();
  const waiters: { n: number; resolve: () => void }[] = [];
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  child.stdout?.on('data', (d) => {
    buffered += d;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      attempts++;
      if (line.startsWith('ok ')) {
        const fp = line.slice(3);
        counts.set(fp, (counts.get(fp) ?? 0) + 1);
      } else failures.push(line.replace(/^fail /, ''));
    }
    for (const w of waiters.filter((w) => attempts >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const loop: ConnectLoop = {
    get count() {
      return attempts;
    },
    attempts(n) {
      if (attempts >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        waiters.push({ n, resolve });
        void exited.then(() => reject(new Error(`the loop ended after ${attempts} attempts: ${stderr}`)));
      });
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    async stop() {
      child.stdin?.end();
      const code = await exited;
      if (code !== 0) throw new Error(`the connect loop exited with ${code}: ${stderr}`);
      return { attempts, failures, fingerprints: [...counts.keys()], counts, pid: child.pid ?? 0 };
    },
  };
  live.add(loop);
  return loop;
}
