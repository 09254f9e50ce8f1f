/**
 * What a sandbox MariaDB needs from the machine: the installed binaries (MARIADB_NOT_INSTALLED with the
 * apt-get hint when they are missing), and the template datadir made once per machine and server version
 * with `mariadb-install-db`, which every sandbox copies (FACTS.md: then a start takes about a second).
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DbtlsError } from '../errors.js';

const SERVER_CANDIDATES = ['/usr/sbin/mariadbd', '/usr/local/sbin/mariadbd', '/usr/local/mysql/bin/mariadbd'];
const INSTALL_DB = 'mariadb-install-db';
export const CLIENT = 'mariadb';
/** The mariadb client answers in milliseconds; a minute means something is broken. */
const START_TIMEOUT_MS = 60_000;
/** Small InnoDB files: the template is copied per sandbox, and the machine's cores are shared. */
export const INNODB_SETTINGS = ['innodb_buffer_pool_size=16M', 'innodb_log_file_size=4M'] as const;
const INSTALL_TIMEOUT_MS = 120_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The mariadbd binary, or undefined when MariaDB's server is not installed. */
export function mariadbdPath(): string | undefined {
  return onPath('mariadbd') ?? SERVER_CANDIDATES.find((file) => fs.existsSync(file));
}

export function mariadbInstalled(): boolean {
  return mariadbdPath() !== undefined && onPath(INSTALL_DB) !== undefined && onPath(CLIENT) !== undefined;
}

export function requireMariadbd(): string {
  const server = mariadbdPath();
  if (!server || !onPath(INSTALL_DB) || !onPath(CLIENT)) {
    throw new DbtlsError(
      'MARIADB_NOT_INSTALLED',
      'could not start a sandbox MariaDB: mariadbd is not installed',
      {
        hint: 'install it with `sudo apt-get install mariadb-server` (the sandbox never touches a running server)',
      },
    );
  }
  return server;
}

interface ToolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runTool(
  cmd: string,
  args: readonly string[],
  input?: string,
  timeoutMs = START_TIMEOUT_MS,
): Promise<ToolResult> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env.MYSQL_PWD;
    const child = execFile(
      cmd,
      [...args],
      { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    child.stdin?.end(input ?? '');
  });
}

// ---- the template datadir, initialised once per machine and server version ----

let templatePromise: Promise<string> | undefined;

function serverVersionTag(server: string): string {
  const text = execFileSync(server, ['--version'], { encoding: 'utf8' });
  const match = /Ver\s+(\S+)/.exec(text);
  return (match?.[1] ?? 'unknown').replace(/[^A-Za-z0-9._-]/g, '_');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** An O_EXCL lock file with the owner's pid, taken over when its owner died (parallel processes). */
async function withFileLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + INSTALL_TIMEOUT_MS;
  for (;;) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = 0;
      try {
        owner = Number.parseInt(fs.readFileSync(lockFile, 'utf8') || '0', 10);
      } catch {
        // removed in between: try again
      }
      if (owner > 0 && !pidAlive(owner)) fs.rmSync(lockFile, { force: true });
      else if (Date.now() > deadline) {
        throw new DbtlsError(
          'LOCKED',
          `could not initialise the MariaDB template: ${lockFile} is held by pid ${owner}`,
          {
            hint: 'wait for the other process, or remove the lock file if it is gone',
          },
        );
      } else await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockFile, { force: true });
  }
}

async function buildTemplate(server: string): Promise<string> {
  const target = path.join(os.tmpdir(), `dbtls-mariadb-template-${serverVersionTag(server)}`);
  if (fs.existsSync(path.join(target, 'mysql'))) return target;
  return withFileLock(`${target}.lock`, async () => {
    if (fs.existsSync(path.join(target, 'mysql'))) return target;
    // Built under a temporary name and renamed, so a reader never sees a half-initialised datadir.
    const building = `${target}.build-${process.pid}`;
    fs.rmSync(building, { recursive: true, force: true });
    const result = await runTool(
      INSTALL_DB,
      [
        '--no-defaults',
        `--datadir=${building}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        ...INNODB_SETTINGS.map((s) => `--${s}`),
      ],
      undefined,
      INSTALL_TIMEOUT_MS,
    );
    if (result.code !== 0) {
      fs.rmSync(building, { recursive: true, force: true });
      throw new DbtlsError(
        'SANDBOX_FAILED',
        `could not initialise a MariaDB datadir: mariadb-install-db exited ${result.code}`,
        {
          hint: `check the MariaDB installation; it said: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' / ')}`,
        },
      );
    }
    fs.renameSync(building, target);
    return target;
  });
}

/** The template datadir (built on first use). */
export function mariadbTemplate(): Promise<string> {
  const server = requireMariadbd();
  templatePromise ??= buildTemplate(server).catch((err: unknown) => {
    templatePromise = undefined;
    throw err;
  });
  return templatePromise;
}
