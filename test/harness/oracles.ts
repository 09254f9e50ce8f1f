/**
 * The oracles: thin wrappers around real tools (openssl verify / s_client, the mariadb client, keytool,
 * sslscan) whose verdicts the tests trust instead of dbtls's own code. Each tool runs as a child process
 * with argv only (no shell), stdin fed or closed, a timeout that kills it, and its whole output captured.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TlsVersion } from '../../src/tls/versions.js';

export interface ToolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly input?: string | Buffer;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  /** Working directory of the tool (default: this process's). */
  readonly cwd?: string;
}

/** A tool that hangs (a server that never answers) must not hang the test run. */
const DEFAULT_TIMEOUT_MS = 30_000;
/** The exit code reported when the tool was killed (by the timeout or a signal), as a shell would. */
const KILLED_CODE = 137;

/** Runs `cmd args` and resolves with its exit code and output; it never rejects for a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => stdout.push(d));
    child.stderr.on('data', (d: Buffer) => stderr.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code: code ?? KILLED_CODE,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    // A tool that reads stdin (s_client) must see EOF at once, not wait for a terminal.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

// ---- the oracles: real peers whose verdicts the tests trust ----

const OPENSSL = 'openssl';
const KEYTOOL = '/usr/bin/keytool';
const SSLSCAN = 'sslscan';
const MARIADB = 'mariadb';
const DEFAULT_HOST = '127.0.0.1';
/** A TLS probe of a local server takes well under a second; past this the peer is hung. */
const PROBE_TIMEOUT_MS = 20_000;

export function openssl(args: readonly string[], opts?: RunOptions): Promise<ToolResult> {
  return run(OPENSSL, args, opts);
}

export function keytool(args: readonly string[], opts?: RunOptions): Promise<ToolResult> {
  return run(KEYTOOL, args, opts);
}

/** Whether `name` (a command on PATH, or an absolute path) can be run here. */
export function toolAvailable(name: string): boolean {
  const candidates = name.includes('/')
    ? [name]
    : (process.env.PATH ?? '').split(':').map((dir) => path.join(dir, name));
  return candidates.some((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

export interface VerifyOptions {
  ca: string;
  cert: string;
  untrusted?: string;
  purpose?: 'sslserver' | 'sslclient';
  hostname?: string;
  ip?: string;
  strict?: boolean;
  crl?: string;
  crlCheckAll?: boolean;
}

/** `openssl verify`; ok when it exits 0 and prints "<cert>: OK". */
export async function opensslVerify(o: VerifyOptions): Promise<ToolResult & { ok: boolean }> {
  const args = ['verify', '-CAfile', o.ca];
  if (o.untrusted !== undefined) args.push('-untrusted', o.untrusted);
  if (o.purpose !== undefined) args.push('-purpose', o.purpose);
  if (o.hostname !== undefined) args.push('-verify_hostname', o.hostname);
  if (o.ip !== undefined) args.push('-verify_ip', o.ip);
  if (o.strict) args.push('-x509_strict');
  if (o.crl !== undefined) args.push('-CRLfile', o.crl, o.crlCheckAll ? '-crl_check_all' : '-crl_check');
  args.push(o.cert);
  const result = await openssl(args);
  return { ...result, ok: result.code === 0 && /: OK\s*$/.test(result.stdout) };
}

export interface StarttlsOptions {
  port: number;
  host?: string;
  ca?: string;
  tlsVersion?: '1' | '1.1' | '1.2' | '1.3';
  cipher?: string;
  verifyHostname?: string;
  cert?: string;
  key?: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g;

/**
 * `openssl s_client -starttls mysql -showcerts`, stdin closed. ok: the handshake completed and, when a CA
 * was given, the chain (and `verifyHostname`) verified (`-verify_return_error`).
 */
export async function sClientStarttls(
  o: StarttlsOptions,
): Promise<ToolResult & { ok: boolean; protocol?: string; cipher?: string; peerChainPem: string[] }> {
  const host = o.host ?? DEFAULT_HOST;
  const args = ['s_client', '-starttls', 'mysql', '-connect', `${host}:${o.port}`, '-showcerts'];
  args.push('-servername', o.verifyHostname ?? 'localhost');
  if (o.ca !== undefined) args.push('-CAfile', o.ca, '-verify_return_error');
  if (o.verifyHostname !== undefined) args.push('-verify_hostname', o.verifyHostname);
  if (o.tlsVersion !== undefined) args.push(`-tls${o.tlsVersion.replace('.', '_')}`);
  // OpenSSL 3 refuses TLS 1.0/1.1 at its default security level: lower it, so the oracle can tell whether
  // the *server* still accepts them.
  const legacy = o.tlsVersion === '1' || o.tlsVersion === '1.1';
  if (o.tlsVersion === '1.3' && o.cipher !== undefined) args.push('-ciphersuites', o.cipher);
  else if (o.cipher !== undefined || legacy) {
    args.push('-cipher', `${o.cipher ?? 'DEFAULT'}${legacy ? ':@SECLEVEL=0' : ''}`);
  }
  if (o.cert !== undefined) args.push('-cert', o.cert);
  if (o.key !== undefined) args.push('-key', o.key);
  const result = await openssl(args, { timeoutMs: PROBE_TIMEOUT_MS });
  const out = result.stdout;
  const protocol =
    /^\s*Protocol\s*:\s*(\S+)/m.exec(out)?.[1] ?? /^New, (TLSv[\d.]+), Cipher is/m.exec(out)?.[1];
  const cipherLine = /^\s*Cipher\s*:\s*(\S+)/m.exec(out)?.[1] ?? /^New, \S+, Cipher is (\S+)/m.exec(out)?.[1];
  const cipher =
    cipherLine === undefined || cipherLine === '0000' || cipherLine === '(NONE)' ? undefined : cipherLine;
  const peerChainPem = out.match(PEM_CERT) ?? [];
  const handshakeDone = cipher !== undefined && peerChainPem.length > 0;
  const verified = o.ca === undefined || /Verify return code: 0 \(ok\)/.test(out);
  const result2 = { ...result, ok: result.code === 0 && handshakeDone && verified, peerChainPem };
  // s_client prints the protocol it offered even when the server refused it: only a cipher proves a handshake.
  return {
    ...result2,
    ...(protocol === undefined || cipher === undefined ? {} : { protocol }),
    ...(cipher === undefined ? {} : { cipher }),
  };
}

export interface MariadbClientOptions {
  port: number;
  host?: string;
  user: string;
  password?: string;
  ssl?: false | { ca?: string; cert?: string; key?: string; verifyServerCert?: boolean };
  sql: string;
}

/**
 * The `mariadb` command-line client over TCP (never the socket, which would skip TLS). The password goes
 * through MYSQL_PWD, never argv. `ssl` undefined leaves the client's own default.
 */
export async function mariadbClient(o: MariadbClientOptions): Promise<ToolResult & { ok: boolean }> {
  const args = ['--no-defaults', '--protocol=TCP', `--host=${o.host ?? DEFAULT_HOST}`, `--port=${o.port}`];
  args.push(`--user=${o.user}`, '-N', '-B', '--connect-timeout=10');
  if (o.ssl === false) args.push('--skip-ssl');
  else if (o.ssl !== undefined) {
    args.push('--ssl');
    if (o.ssl.ca !== undefined) args.push(`--ssl-ca=${o.ssl.ca}`);
    if (o.ssl.cert !== undefined) args.push(`--ssl-cert=${o.ssl.cert}`);
    if (o.ssl.key !== undefined) args.push(`--ssl-key=${o.ssl.key}`);
    args.push(o.ssl.verifyServerCert ? '--ssl-verify-server-cert' : '--skip-ssl-verify-server-cert');
  }
  args.push('-e', o.sql);
  const env: NodeJS.ProcessEnv = { ...process.env, MYSQL_PWD: o.password ?? '' };
  const result = await run(MARIADB, args, { env, timeoutMs: PROBE_TIMEOUT_MS });
  return { ...result, ok: result.code === 0 };
}

export interface SslscanResult {
  versions: Record<TlsVersion, boolean>;
  ciphers: { version: string; name: string; bits: number }[];
  raw: string;
}

function xmlAttributes(tag: string): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const m of tag.matchAll(/([\w-]+)="([^"]*)"/g)) attrs.set(m[1]!, m[2]!);
  return attrs;
}

/** `sslscan --starttls-mysql --xml=-`: the protocol versions and cipher suites the server accepts. */
export async function sslscan(o: { host?: string; port: number }): Promise<SslscanResult> {
  const target = `${o.host ?? DEFAULT_HOST}:${o.port}`;
  const args = ['--no-colour', '--starttls-mysql', '--no-heartbleed', '--no-compression', '--xml=-', target];
  const result = await run(SSLSCAN, args, { timeoutMs: PROBE_TIMEOUT_MS * 3 });
  const raw = result.stdout;
  if (result.code !== 0 || !raw.includes('<ssltest')) {
    throw new Error(`harness: sslscan ${target} failed (${result.code}):\n${result.stderr}${raw}`);
  }
  const versions: Record<TlsVersion, boolean> = {
    'TLSv1.0': false,
    'TLSv1.1': false,
    'TLSv1.2': false,
    'TLSv1.3': false,
  };
  for (const tag of raw.match(/<protocol [^>]*>/g) ?? []) {
    const attrs = xmlAttributes(tag);
    const name = `${attrs.get('type')?.toUpperCase()}v${attrs.get('version')}` as TlsVersion;
    if (name in versions) versions[name] = attrs.get('enabled') === '1';
  }
  const ciphers: SslscanResult['ciphers'] = [];
  for (const tag of raw.match(/<cipher [^>]*>/g) ?? []) {
    const attrs = xmlAttributes(tag);
    if (attrs.get('status') !== 'accepted' && attrs.get('status') !== 'preferred') continue;
    ciphers.push({
      version: attrs.get('sslversion') ?? '',
      name: attrs.get('cipher') ?? '',
      bits: Number(attrs.get('bits') ?? 0),
    });
  }
  return { versions, ciphers, raw };
}
