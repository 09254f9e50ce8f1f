/**
 * `dbtls proxy` as a real child process, run the way an operator runs it: its log lines as they arrive,
 * the port it bound (from its own "listening on" line), its pid (for /proc/<pid>/fd and signals) and its
 * exit. A child the test did not stop is killed (by its pid) when the test process exits.
 */
import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { dbtlsCommand } from './cli.js';

export interface ProxyExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Date.now() when the process had exited and its output was closed. */
  readonly at: number;
}

export interface ProxyProcess {
  readonly pid: number;
  /** The port of the first TCP listener named in the "listening on" line (0 when there is none). */
  readonly port: number;
  /** Every complete stdout line so far (the log). */
  lines(): string[];
  stderr(): string;
  /** Resolves with the first log line matching `re` (already printed or still to come), up to 30 s. */
  waitFor(re: RegExp, what: string): Promise<string>;
  kill(signal: NodeJS.Signals): void;
  readonly exited: Promise<ProxyExit>;
  /** SIGKILL when still running; resolves on exit. */
  stop(): Promise<ProxyExit>;
}

export interface SpawnProxyOptions {
  /** argv before dbtls's own (e.g. setpriv); the child is still the process whose pid is reported. */
  readonly prefix?: readonly string[];
  /** Resolve once the child exits instead of waiting for "listening on" (for refusals at start). */
  readonly expectExit?: boolean;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Runs `dbtls proxy ARGS...`; resolves when it logs "listening on" (or exits, with `expectExit`). */
export async function spawnProxy(args: readonly string[], o: SpawnProxyOptions = {}): Promise<ProxyProcess> {
  const command = [...(o.prefix ?? []), ...dbtlsCommand()];
  const child = spawn(command[0]!, [...command.slice(1), 'proxy', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, XDG_CONFIG_HOME: '/nonexistent-dbtls-test-config', DBTLS_PROFILE: undefined },
  });
  live.add(child);
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', (d) => {
    out += d;
    wake();
  });
  child.stderr!.on('data', (d) => {
    err += d;
    wake();
  });
  const exited = new Promise<ProxyExit>((resolve) =>
    child.on('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal, at: Date.now() });
      wake();
    }),
  );
  let done = false;
  exited.then(() => {
    done = true;
  });
  const lines = () => out.split('\n').slice(0, -1);
  const waitFor = async (re: RegExp, what: string): Promise<string> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const hit = lines().find((l) => re.test(l));
      if (hit !== undefined) return hit;
      if (done) assert.fail(`the proxy exited before ${what}; stdout: ${out} stderr: ${err}`);
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; stdout: ${out} stderr: ${err}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200).unref();
      });
    }
  };
  let port = 0;
  if (o.expectExit) await exited;
  else {
    const line = await waitFor(/listening on /, 'the "listening on" line');
    port = Number(/listening on (?:\[[0-9a-f:]+\]|[0-9.]+):(\d+)/.exec(line)?.[1] ?? 0);
  }
  return {
    pid: child.pid!,
    port,
    lines,
    stderr: () => err,
    waitFor,
    kill: (signal) => child.kill(signal),
    exited,
    stop: () => {
      if (!done) child.kill('SIGKILL');
      return exited;
    },
  };
}

/** How many descriptors process `pid` holds now. */
export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** A loopback port nothing listened on a moment ago (for flags such as --http that print no bound port). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
