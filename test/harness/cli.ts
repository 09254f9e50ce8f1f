/**
 * Runs the real dbtls CLI in a child process, as a user would: the compiled entry point when the tests
 * run from dist/, the TypeScript source through tsx when they run from source.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const compiled = import.meta.url.endsWith('.js');
/** The project root, whether this file runs from test/harness or dist/test/harness. */
export const PROJECT_ROOT = compiled ? path.resolve(here, '../../..') : path.resolve(here, '../..');
const ENTRY = compiled
  ? path.join(PROJECT_ROOT, 'dist/src/cli/main.js')
  : path.join(PROJECT_ROOT, 'src/cli/main.ts');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly input?: string;
  readonly timeoutMs?: number;
  /** argv before dbtls's own, e.g. setpriv to run without root's permission override. */
  readonly prefix?: readonly string[];
}

/** The argv prefix that runs dbtls (`node dist/src/cli/main.js` or `node --import tsx src/cli/main.ts`). */
export function dbtlsCommand(): string[] {
  // tsx by absolute URL: a bare `--import tsx` would resolve against the child's cwd, often a temp dir.
  return compiled
    ? [process.execPath, ENTRY]
    : [process.execPath, '--import', import.meta.resolve('tsx'), ENTRY];
}

/** A configuration home with no dbtls profile in it (it does not exist). */
const NO_PROFILE_HOME = path.join(os.tmpdir(), 'dbtls-test-no-config-home');

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const [cmd, ...rest] = [...(options.prefix ?? []), ...dbtlsCommand()];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, [...rest, ...args], {
      cwd: options.cwd ?? PROJECT_ROOT,
      // No user profile (~/.config/dbtls/profile) may change what a test runs (src/cli/profile.ts).
      env: {
        ...process.env,
        DBTLS_CA_PASSPHRASE: undefined,
        MYSQL_PWD: undefined,
        DBTLS_PROFILE: undefined,
        DBTLS_ADMIN_TARGET: undefined,
        XDG_CONFIG_HOME: NO_PROFILE_HOME,
        ...options.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/**
 * The compiled CLI copied where every user can read it, with the runtime dependencies only: a test that
 * runs dbtls as another user (setpriv) cannot reach a checkout under a 0700 directory (what `mktemp -d`
 * makes, e.g. CI's clone). Returns the argv prefix and a dispose function.
 */
export function worldReadableCli(): { command: string[]; dispose(): void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-cli-copy-'));
  fs.chmodSync(root, 0o755);
  fs.cpSync(path.join(PROJECT_ROOT, 'dist/src'), path.join(root, 'dist/src'), { recursive: true });
  fs.copyFileSync(path.join(PROJECT_ROOT, 'package.json'), path.join(root, 'package.json'));
  const packages = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((p) => p.startsWith(path.join(PROJECT_ROOT, 'node_modules') + path.sep));
  for (const p of packages) {
    fs.cpSync(p, path.join(root, path.relative(PROJECT_ROOT, p)), { recursive: true, dereference: true });
  }
  execFileSync('chmod', ['-R', 'a+rX', root]);
  return {
    command: [process.execPath, path.join(root, 'dist/src/cli/main.js')],
    dispose: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}
