/**
 * A throwaway MariaDB: `mariadbd` on a free port of 127.0.0.1 with its own temporary datadir, a unix
 * socket for root, and a `conf.d/` directory included by its my.cnf (where `dbtls secure` writes its
 * config fragment, as on a Debian server). `dbtls demo` runs against one; the test harness
 * (test/harness/mariadb.ts) builds its instances on the same core.
 *
 * The datadir is copied from a template initialised once per machine and server version with
 * `mariadb-install-db` (FACTS.md: a private instance then starts in about a second).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { DbtlsError } from '../errors.js';
import { CLIENT, INNODB_SETTINGS, mariadbTemplate, requireMariadbd, runTool } from './template.js';
import { startWatchdog } from './watchdog.js';

export { mariadbdPath, mariadbInstalled, mariadbTemplate } from './template.js';

export interface SandboxTls {
  readonly ca?: string | undefined;
  readonly cert: string;
  readonly key: string;
  readonly crl?: string | undefined;
}

export interface SandboxOptions {
  /** ssl_ca / ssl_cert / ssl_key / ssl_crl. */
  readonly tls?: SandboxTls | undefined;
  readonly requireSecureTransport?: boolean | undefined;
  /** e.g. 'TLSv1.2' or 'TLSv1.2,TLSv1.3'. */
  readonly tlsVersion?: string | undefined;
  readonly sslCipher?: string | undefined;
  /** More [mysqld] settings; `true` writes the bare option name, `false` writes `name=0`. */
  readonly extra?: Readonly<Record<string, string | number | boolean>> | undefined;
}

export interface Sandbox {
  /** '127.0.0.1'. */
  readonly host: string;
  readonly port: number;
  readonly socket: string;
  readonly pid: number;
  /** The sandbox's temp dir (datadir, config, socket, logs). */
  readonly dir: string;
  /** The generated my.cnf passed with --defaults-file. */
  readonly configFile: string;
  /** A directory my.cnf includes (`!includedir`): config fragments written here apply on restart. */
  readonly confDir: string;
  /** Runs SQL as root over the unix socket with the mariadb CLI (-N -B); returns stdout. */
  sql(statement: string): Promise<string>;
  /** Same datadir, new options (undefined keeps the old ones); the pid changes. */
  restart(options?: SandboxOptions): Promise<void>;
  /** Idempotent; removes the temp dir. */
  stop(): Promise<void>;
  /** Synchronous last resort (exit handlers): SIGKILL, and remove the directory if asked. */
  killNow(removeDir?: boolean): void;
}

export interface SandboxHooks {
  /** Runs after every start (also after a restart), before the sandbox is handed out. */
  readonly afterStart?: (sandbox: Sandbox) => Promise<void>;
  /** Prefix of the temp dir's name. */
  readonly dirPrefix?: string;
  /** Where the temp dir is made (default the system temp dir). */
  readonly parentDir?: string;
  /**
   * What the watchdog removes when this process dies without stopping the sandbox (SIGKILL): the sandbox's
   * own dir by default; `dbtls demo` passes its whole temp dir.
   */
  readonly orphanDir?: string;
}

const HOST = '127.0.0.1';
/** A slow machine under a full test run still starts a server in a few seconds; 60 s means broken. */
const START_TIMEOUT_MS = 60_000;
/** mariadbd flushes InnoDB on SIGTERM; past this it is killed (the datadir is thrown away anyway). */
const STOP_TIMEOUT_MS = 20_000;
const POLL_MS = 25;
/** A port found free can be taken by another process before mariadbd binds it: try a few. */
const PORT_ATTEMPTS = 5;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---- cleanup on exit ----

const live = new Set<Sandbox>();

/** Every sandbox still running in this process (for exit handlers). */
export function liveSandboxes(): ReadonlySet<Sandbox> {
  return live;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The my.cnf of a sandbox. Pure. */
export function sandboxConfig(
  dir: string,
  port: number,
  options: SandboxOptions,
  runAsRoot: boolean,
): string {
  const settings: string[] = [
    `datadir=${path.join(dir, 'data')}`,
    `socket=${path.join(dir, 'mysqld.sock')}`,
    `port=${port}`,
    `bind-address=${HOST}`,
    `pid-file=${path.join(dir, 'mysqld.pid')}`,
    `log-error=${path.join(dir, 'error.log')}`,
    `tmpdir=${dir}`,
    'skip-name-resolve',
    'skip-log-bin',
    ...INNODB_SETTINGS,
    'innodb_flush_log_at_trx_commit=2',
    'performance_schema=OFF',
    // Every TLS probe (sslscan, s_client) counts as a connect error; never let probes block the host.
    'max_connect_errors=1000000',
    'max_connections=200',
  ];
  // mariadbd refuses to run as root unless told to; the sandbox is private and thrown away.
  if (runAsRoot) settings.unshift('user=root');
  const tls = options.tls;
  if (tls !== undefined) {
    if (tls.ca !== undefined) settings.push(`ssl_ca=${tls.ca}`);
    settings.push(`ssl_cert=${tls.cert}`, `ssl_key=${tls.key}`);
    if (tls.crl !== undefined) settings.push(`ssl_crl=${tls.crl}`);
  }
  if (options.requireSecureTransport !== undefined) {
    settings.push(`require_secure_transport=${options.requireSecureTransport ? 'ON' : 'OFF'}`);
  }
  if (options.tlsVersion !== undefined) settings.push(`tls_version=${options.tlsVersion}`);
  if (options.sslCipher !== undefined) settings.push(`ssl_cipher=${options.sslCipher}`);
  for (const [name, value] of Object.entries(options.extra ?? {})) {
    if (value === true) settings.push(name);
    else settings.push(`${name}=${value === false ? 0 : value}`);
  }
  // Included last so that a fragment (dbtls secure's ssl-config.cnf) has the final word, as in conf.d.
  return `[mysqld]\n${settings.join('\n')}\n!includedir ${path.join(dir, 'conf.d')}\n`;
}

class SandboxServer implements Sandbox {
  readonly host = HOST;
  readonly socket: string;
  readonly configFile: string;
  readonly confDir: string;
  private child: ChildProcess | undefined;
  private watchdog: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private currentPort = 0;
  private stopped = false;

  constructor(
    readonly dir: string,
    private readonly server: string,
    private options: SandboxOptions,
    private readonly hooks: SandboxHooks,
  ) {
    this.socket = path.join(dir, 'mysqld.sock');
    this.configFile = path.join(dir, 'my.cnf');
    this.confDir = path.join(dir, 'conf.d');
  }

  get port(): number {
    return this.currentPort;
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  private get logFile(): string {
    return path.join(this.dir, 'error.log');
  }

  private logTail(from: number): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').slice(from).split('\n').slice(-25).join('\n');
    } catch {
      return '(no error log)';
    }
  }

  /** Starts mariadbd with the current options; retries on a port taken in between. */
  async start(): Promise<void> {
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
      if (this.currentPort === 0 || attempt > 0) this.currentPort = await freePort();
      try {
        await this.spawnOnce();
        await this.hooks.afterStart?.(this);
        return;
      } catch (err) {
        lastError = err as Error;
        if (!/Address already in use|errno: 98|error: 98/.test(lastError.message)) break;
      }
    }
    throw lastError;
  }

  private async spawnOnce(): Promise<void> {
    fs.mkdirSync(this.confDir, { recursive: true });
    fs.writeFileSync(
      this.configFile,
      sandboxConfig(this.dir, this.currentPort, this.options, process.getuid?.() === 0),
    );
    const logStart = fs.existsSync(this.logFile) ? fs.statSync(this.logFile).size : 0;
    const child = spawn(this.server, [`--defaults-file=${this.configFile}`], { stdio: 'ignore' });
    // Not keeping the caller alive: its exit handler kills a sandbox it forgot to stop.
    child.unref();
    this.child = child;
    if (child.pid !== undefined) this.watchdog = startWatchdog(child.pid, this.hooks.orphanDir ?? this.dir);
    let exitCode: number | undefined;
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        exitCode = code ?? (signal ? -1 : 0);
        this.stopWatchdog();
        resolve();
      });
      child.on('error', () => resolve());
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exitCode !== undefined)
        throw this.startError(`mariadbd exited (${exitCode}) while starting`, logStart);
      if (this.logTail(logStart).includes('ready for connections')) return;
      if (Date.now() > deadline) {
        this.killNow();
        throw this.startError(`mariadbd was not ready after ${START_TIMEOUT_MS} ms`, logStart);
      }
      await sleep(POLL_MS);
    }
  }

  private startError(what: string, logStart: number): DbtlsError {
    const log = this.logTail(logStart);
    return new DbtlsError('SANDBOX_FAILED', `could not start the sandbox MariaDB: ${what}:\n${log}`, {
      hint: `read ${this.logFile}; a bad certificate or config fragment in ${this.confDir} is the usual cause`,
      details: { log },
    });
  }

  async sql(statement: string): Promise<string> {
    const result = await runTool(
      CLIENT,
      // No TLS on the unix socket: it protects nothing there, and the client's default TLS would fail on
      // servers a test narrows (TLS 1.1 only, a certificate it does not trust).
      ['--no-defaults', `--socket=${this.socket}`, '--user=root', '--skip-ssl', '-N', '-B'],
      statement,
    );
    if (result.code !== 0) {
      throw new DbtlsError('QUERY_FAILED', `could not run SQL on the sandbox: ${result.stderr.trim()}`, {
        details: { sql: statement },
      });
    }
    return result.stdout;
  }

  /** Ends the watchdog without letting it act (its `read` is interrupted by the signal). */
  private stopWatchdog(): void {
    const w = this.watchdog;
    this.watchdog = undefined;
    if (w?.pid !== undefined && w.exitCode === null && w.signalCode === null) {
      try {
        process.kill(w.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    w?.stdin?.destroy();
  }

  private async stopProcess(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    this.stopWatchdog();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  async restart(options?: SandboxOptions): Promise<void> {
    if (this.stopped)
      throw new DbtlsError('SANDBOX_STOPPED', 'could not restart the sandbox: it was stopped', {});
    await this.stopProcess();
    if (options !== undefined) this.options = options;
    await this.start();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.stopProcess();
    } finally {
      live.delete(this);
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  killNow(removeDir = false): void {
    this.stopWatchdog();
    const pid = this.child?.pid;
    if (pid !== undefined && this.child?.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (removeDir) {
      live.delete(this);
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** Starts a private mariadbd; the caller stops it (and should kill live sandboxes on exit). */
export async function startSandbox(options: SandboxOptions = {}, hooks: SandboxHooks = {}): Promise<Sandbox> {
  const server = requireMariadbd();
  const source = await mariadbTemplate();
  const dir = fs.mkdtempSync(path.join(hooks.parentDir ?? os.tmpdir(), hooks.dirPrefix ?? 'dbtls-sandbox-'));
  fs.cpSync(source, path.join(dir, 'data'), { recursive: true });
  const sandbox = new SandboxServer(dir, server, options, hooks);
  live.add(sandbox);
  try {
    await sandbox.start();
  } catch (err) {
    await sandbox.stop();
    throw err;
  }
  return sandbox;
}
