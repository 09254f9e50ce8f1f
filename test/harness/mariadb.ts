/**
 * Real, private MariaDB servers for integration tests: each instance is a `mariadbd` on a free port of
 * 127.0.0.1 with its own temporary datadir (copied from a template initialised once per machine and
 * server version, so a start costs well under a second), a unix socket for root, the TLS settings the test
 * asks for, an admin user and the test's users with their REQUIRE clauses. Instances are stopped and their
 * directories removed on stop(), and on process exit or a fatal signal, so a failing test never leaves a
 * server behind.
 *
 * The server process itself (template datadir, free port, my.cnf, start/stop) is src/sandbox/sandbox.ts,
 * the same code `dbtls demo` runs; this file adds the test accounts and the exit hooks.
 */
import { randomBytes } from 'node:crypto';
import { liveSandboxes, type Sandbox, type SandboxOptions, startSandbox } from '../../src/sandbox/sandbox.js';

export interface TlsFiles {
  ca?: string;
  cert: string;
  key: string;
  crl?: string;
}
export type UserRequire = 'NONE' | 'SSL' | 'X509' | { subject?: string; issuer?: string; cipher?: string };
export interface UserSpec {
  name: string;
  /** Default '%'. */
  host?: string;
  /** Default ''. */
  password?: string;
  require?: UserRequire;
  /** Default 'ALL PRIVILEGES ON *.*'. */
  grants?: string;
}
export interface MariadbOptions {
  /** ssl_ca / ssl_cert / ssl_key / ssl_crl. */
  tls?: TlsFiles;
  requireSecureTransport?: boolean;
  /** e.g. 'TLSv1.2' or 'TLSv1.2,TLSv1.3'. */
  tlsVersion?: string;
  sslCipher?: string;
  users?: UserSpec[];
  /** More [mysqld] settings; `true` writes the bare option name, `false` writes `name=0`. */
  extra?: Record<string, string | number | boolean>;
}
export interface MariadbInstance {
  /** '127.0.0.1'. */
  readonly host: string;
  readonly port: number;
  readonly socket: string;
  readonly pid: number;
  /** The instance's temp dir (datadir, config, socket, logs). */
  readonly dir: string;
  /** The generated my.cnf passed with --defaults-file. */
  readonly configFile: string;
  /** 'dbtls_admin'@'%': ALL PRIVILEGES WITH GRANT OPTION, no TLS requirement. */
  readonly admin: { user: string; password: string };
  /** Runs SQL as root over the unix socket with the mariadb CLI (-N -B); returns stdout; throws on error. */
  sql(statement: string): Promise<string>;
  /** Same datadir, new options (undefined keeps the old ones); the pid changes. */
  restart(options?: MariadbOptions): Promise<void>;
  /** Idempotent; removes the temp dir. */
  stop(): Promise<void>;
}

const ADMIN_USER = 'dbtls_admin';

// ---- cleanup on exit, whatever happens ----

let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => {
    for (const sandbox of liveSandboxes()) sandbox.killNow(true);
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const sandbox of liveSandboxes()) sandbox.killNow(true);
      // The handler is gone now: re-raising gives the default behaviour (terminate with this signal).
      process.kill(process.pid, signal);
    });
  }
}

// ---- accounts ----

function sqlString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function requireClause(require: UserRequire | undefined): string {
  if (require === undefined || require === 'NONE') return 'REQUIRE NONE';
  if (require === 'SSL' || require === 'X509') return `REQUIRE ${require}`;
  const parts: string[] = [];
  if (require.subject !== undefined) parts.push(`SUBJECT ${sqlString(require.subject)}`);
  if (require.issuer !== undefined) parts.push(`ISSUER ${sqlString(require.issuer)}`);
  if (require.cipher !== undefined) parts.push(`CIPHER ${sqlString(require.cipher)}`);
  return parts.length === 0 ? 'REQUIRE NONE' : `REQUIRE ${parts.join(' AND ')}`;
}

function userSql(user: UserSpec): string {
  const account = `${sqlString(user.name)}@${sqlString(user.host ?? '%')}`;
  return [
    `CREATE OR REPLACE USER ${account} IDENTIFIED BY ${sqlString(user.password ?? '')} ${requireClause(user.require)};`,
    `GRANT ${user.grants ?? 'ALL PRIVILEGES ON *.*'} TO ${account};`,
  ].join('\n');
}

function sandboxOptions(options: MariadbOptions): SandboxOptions {
  return {
    tls: options.tls,
    requireSecureTransport: options.requireSecureTransport,
    tlsVersion: options.tlsVersion,
    sslCipher: options.sslCipher,
    extra: options.extra,
  };
}

// ---- one instance ----

class Instance implements MariadbInstance {
  readonly admin = { user: ADMIN_USER, password: randomBytes(12).toString('hex') };
  sandbox: Sandbox | undefined;

  constructor(public options: MariadbOptions) {}

  private get started(): Sandbox {
    if (!this.sandbox) throw new Error('harness: the instance is not started');
    return this.sandbox;
  }

  get host(): string {
    return this.started.host;
  }
  get port(): number {
    return this.started.port;
  }
  get socket(): string {
    return this.started.socket;
  }
  get pid(): number {
    return this.started.pid;
  }
  get dir(): string {
    return this.started.dir;
  }
  get configFile(): string {
    return this.started.configFile;
  }

  /** Runs after every start and restart: the admin and the test's accounts, as the options say. */
  async setUp(sandbox: Sandbox): Promise<void> {
    const statements = [
      userSql({ name: ADMIN_USER, password: this.admin.password, require: 'NONE' }),
      `GRANT ALL PRIVILEGES ON *.* TO ${sqlString(ADMIN_USER)}@'%' WITH GRANT OPTION;`,
      ...(this.options.users ?? []).map(userSql),
    ];
    await sandbox.sql(statements.join('\n'));
  }

  sql(statement: string): Promise<string> {
    return this.started.sql(statement);
  }

  async restart(options?: MariadbOptions): Promise<void> {
    if (options !== undefined) this.options = options;
    await this.started.restart(sandboxOptions(this.options));
  }

  async stop(): Promise<void> {
    await this.sandbox?.stop();
  }
}

/** Starts a private mariadbd with `options`; call stop() in `after`/`t.after`. */
export async function startMariadb(options: MariadbOptions = {}): Promise<MariadbInstance> {
  installExitHooks();
  const instance = new Instance(options);
  instance.sandbox = await startSandbox(sandboxOptions(options), {
    dirPrefix: 'dbtls-mdb-',
    afterStart: (sandbox) => instance.setUp(sandbox),
  });
  return instance;
}
