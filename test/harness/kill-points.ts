/**
 * Kill points on the real CLI (issue 10 item 17): dbtls under `strace -f -e inject=SYSCALL:signal=SIGKILL:
 * when=N`, which kills it as it enters its Nth SYSCALL (rename, unlink, fchmod, connect...), for each N
 * until a run completes; and the checks every kill point shares: a key that matches its certificate (by
 * the openssl CLI) and a CA index that agrees with its files. No test hook in the code.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readIndex } from '../../src/ca/cert-index.js';
import { dbtlsCommand } from './cli.js';
import { openssl, run, type ToolResult } from './oracles.js';

/** Where strace kills the CLI: as it enters its `n`th `syscall`, counting only those on `path` if given. */
export interface KillPoint {
  readonly syscall: string;
  readonly n: number;
  /** strace -P: only syscalls on this path count (a write to one file). */
  readonly path?: string;
}

export interface StraceOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

/** The environment runCli gives the CLI (no profile, no passphrase or password from the test's own). */
function cliEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(path.sep, 'nonexistent', 'dbtls-test-no-config-home'),
    ...env,
  };
  for (const name of ['DBTLS_CA_PASSPHRASE', 'MYSQL_PWD', 'DBTLS_PROFILE', 'DBTLS_ADMIN_TARGET']) {
    if (!(name in env)) delete out[name];
  }
  return out;
}

/** The real CLI under strace with `straceArgs` (the fault) before the command. */
export function dbtlsUnderStrace(
  straceArgs: readonly string[],
  args: readonly string[],
  o: StraceOptions = {},
): Promise<ToolResult> {
  const [node, ...prefix] = dbtlsCommand();
  return run('strace', ['-f', '-qq', '-o', '/dev/null', ...straceArgs, node!, ...prefix, ...args], {
    env: cliEnv(o.env),
    ...(o.cwd === undefined ? {} : { cwd: o.cwd }),
    timeoutMs: o.timeoutMs ?? 120_000,
  });
}

/** The CLI killed at `point` (or run to its end when it makes fewer such calls). */
export function dbtlsKilledAt(
  point: KillPoint,
  args: readonly string[],
  o: StraceOptions = {},
): Promise<ToolResult> {
  const filter = point.path === undefined ? [] : ['-P', point.path];
  const inject = `inject=${point.syscall}:signal=SIGKILL:when=${point.n}`;
  return dbtlsUnderStrace([...filter, '-e', `trace=${point.syscall}`, '-e', inject], args, o);
}

/** strace re-raises the tracee's fatal signal on itself: 128 + 9. */
export const wasKilled = (r: { code: number }): boolean => r.code === 137;

/**
 * Runs `killPoint(n)` for n = 1, 2, … with `concurrency` at a time until one reports that the run was not
 * killed (it made fewer than n such calls). Returns that n: the run made n - 1 of them.
 */
export async function eachKillPoint(
  killPoint: (n: number) => Promise<'killed' | 'completed'>,
  o: { concurrency?: number; max?: number } = {},
): Promise<number> {
  const max = o.max ?? 60;
  let next = 1;
  let completedAt = 0;
  const worker = async () => {
    while (completedAt === 0 && next <= max) {
      const n = next++;
      if ((await killPoint(n)) === 'completed')
        completedAt = completedAt === 0 ? n : Math.min(completedAt, n);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 1 }, worker));
  assert.ok(completedAt > 0, `a run completed within ${max} kill points`);
  return completedAt;
}

/** The public key of a certificate and of a private key are the same, by the openssl CLI (the oracle). */
export async function sameKey(cert: string, key: string): Promise<boolean> {
  const a = await openssl(['x509', '-in', cert, '-noout', '-pubkey']);
  const b = await openssl(['pkey', '-in', key, '-pubout']);
  return a.code === 0 && b.code === 0 && a.stdout === b.stdout;
}

/** Names under `dir` (recursively) that an interrupted write or issuance leaves: temp files, staging directories. */
export function tempLeftovers(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((p) =>
    /dbtls-staging|\.tmp$|\.init-|\.switch-/.test(path.basename(p)),
  );
}

/**
 * The CA's index agrees with its files: every line's certs/<serial>.pem exists and is that certificate
 * (its fingerprint), every certs/ file has its line, no serial twice, no issuance pending, no temp file.
 */
export function assertCaAgrees(caDir: string, what: string): void {
  assert.equal(fs.existsSync(path.join(caDir, 'pending.json')), false, `${what}: no issuance pending`);
  const entries = readIndex(caDir);
  const serials = entries.map((e) => e.serial);
  assert.equal(new Set(serials).size, serials.length, `${what}: no serial twice in the index`);
  for (const e of entries) {
    const file = path.join(caDir, 'certs', `${e.serial}.pem`);
    assert.ok(fs.existsSync(file), `${what}: certs/${e.serial}.pem of an index line exists`);
    const cert = new X509Certificate(fs.readFileSync(file));
    assert.equal(cert.serialNumber.toLowerCase(), e.serial, `${what}: certs/${e.serial}.pem`);
    const fingerprint = createHash('sha256').update(cert.raw).digest('hex');
    assert.equal(fingerprint, e.fingerprint, `${what}: certs/${e.serial}.pem is the recorded certificate`);
  }
  const recorded = new Set(serials.map((s) => `${s}.pem`));
  for (const f of fs.readdirSync(path.join(caDir, 'certs'))) {
    assert.ok(recorded.has(f), `${what}: certs/${f} has an index line`);
  }
  assert.deepEqual(tempLeftovers(caDir), [], `${what}: no temp file in the CA directory`);
}
