/**
 * `server enable`: files, config fragment, online reload when the server can (restart when it cannot),
 * then proof that the new certificate is served. planEnable decides, purely, what happens on this server;
 * the dry run prints exactly that plan.
 */
import * as path from 'node:path';
import { DbtlsError } from '../errors.js';
import { ensureDir, MODE_PUBLIC, MODE_SECRET, writeFileAtomic } from '../util/files.js';
import { type AdminSession, globalVariables } from './admin.js';
import { renderConfig, type ServerTlsConfig, TLS_VARIABLES } from './config.js';
import type { ServerCapabilities, TlsVersion } from './flavor.js';
import { type FileOwner, installServerFiles, type ServerFiles, sameContent } from './install.js';
import { checkMaterial, type MaterialFacts, type ServerMaterial } from './material.js';
import { proveServed, type ServedCertificate } from './reload.js';
import { quoteString } from './sql.js';

export interface EnableOptions {
  readonly files: ServerFiles;
  readonly configFile: string;
  readonly material: ServerMaterial;
  readonly tlsVersions: readonly TlsVersion[];
  readonly cipher?: string | undefined;
  readonly requireSecureTransport: boolean;
}

export interface PlannedFile {
  readonly path: string;
  readonly mode: number;
  /** The content, except for the private key (never printed). */
  readonly content: string | undefined;
}

export interface EnablePlan {
  readonly files: readonly PlannedFile[];
  readonly config: { readonly path: string; readonly text: string };
  /** Statements run online, in order. */
  readonly statements: readonly string[];
  /** Statements run after the proof (require_secure_transport must not bite before TLS works). */
  readonly finalStatements: readonly string[];
  readonly restartRequired: boolean;
  readonly reasons: readonly string[];
}

/** The server's current TLS settings, as SHOW GLOBAL VARIABLES gives them. */
export type ServerVariables = ReadonlyMap<string, string>;

function samePath(a: string | undefined, b: string): boolean {
  return !!a && path.resolve(a) === path.resolve(b);
}

function normalizedVersions(text: string | undefined): string {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort()
    .join(',');
}

/** Decides what `server enable` does on this server. Pure: the dry run prints exactly this. */
export function planEnable(caps: ServerCapabilities, vars: ServerVariables, o: EnableOptions): EnablePlan {
  const config: ServerTlsConfig = {
    ca: o.files.ca,
    cert: o.files.cert,
    key: o.files.key,
    tlsVersions: o.tlsVersions,
    cipher: o.cipher,
    requireSecureTransport: o.requireSecureTransport,
  };
  const files: PlannedFile[] = [
    { path: o.files.key, mode: MODE_SECRET, content: undefined },
    { path: o.files.cert, mode: MODE_PUBLIC, content: o.material.certPem },
    { path: o.files.ca, mode: MODE_PUBLIC, content: o.material.caPem },
  ];
  const statements: string[] = [];
  const finalStatements: string[] = [];
  const reasons: string[] = [];
  const tlsOn = vars.get('have_ssl') === 'YES';
  const samePaths =
    samePath(vars.get('ssl_cert'), o.files.cert) &&
    samePath(vars.get('ssl_key'), o.files.key) &&
    samePath(vars.get('ssl_ca'), o.files.ca);
  const wantVersions = [...o.tlsVersions].sort().join(',');
  const versionsDiffer =
    caps.tlsVersionVariable && normalizedVersions(vars.get('tls_version')) !== wantVersions;
  const cipherDiffers = o.cipher !== undefined && (vars.get('ssl_cipher') ?? '') !== o.cipher;

  if (caps.sslVariablesDynamic && caps.reloadStatement) {
    // MySQL 8.0.16+: SET PERSIST survives restarts; the reload makes the new values live.
    if (!samePaths) {
      statements.push(
        `SET PERSIST ssl_ca = ${quoteString(o.files.ca)}`,
        `SET PERSIST ssl_cert = ${quoteString(o.files.cert)}`,
        `SET PERSIST ssl_key = ${quoteString(o.files.key)}`,
      );
    }
    if (versionsDiffer) statements.push(`SET PERSIST tls_version = ${quoteString(wantVersions)}`);
    if (cipherDiffers) statements.push(`SET PERSIST ssl_cipher = ${quoteString(o.cipher!)}`);
    statements.push(caps.reloadStatement);
  } else {
    if (!tlsOn)
      reasons.push(
        `TLS is off (have_ssl=${vars.get('have_ssl') ?? 'unknown'}); ssl_* are read-only at run time`,
      );
    else if (!samePaths) {
      reasons.push(
        `the server reads its certificate from ${vars.get('ssl_cert') || '(none)'}, not ${o.files.cert}; ssl_* are read-only at run time`,
      );
    }
    if (tlsOn && versionsDiffer)
      reasons.push(
        `tls_version is ${vars.get('tls_version')}, wanted ${wantVersions}; it is read-only at run time`,
      );
    if (tlsOn && cipherDiffers) reasons.push('ssl_cipher differs and is read-only at run time');
    if (!caps.reloadStatement) reasons.push(`${caps.version.text} cannot reload TLS online`);
    if (reasons.length === 0) statements.push(caps.reloadStatement!);
  }
  const restartRequired = reasons.length > 0;
  if (o.requireSecureTransport) {
    if (!caps.requireSecureTransport) {
      throw new DbtlsError(
        'REQUIRE_SECURE_TRANSPORT_UNSUPPORTED',
        `could not require secure transport: ${caps.version.text} has no require_secure_transport`,
        {
          hint: 'leave out --require-secure-transport and use `dbtls require USER --ssl` per account instead',
        },
      );
    }
    if (!restartRequired && vars.get('require_secure_transport') !== 'ON') {
      finalStatements.push('SET GLOBAL require_secure_transport = ON');
    }
  }
  return {
    files,
    config: { path: path.resolve(o.configFile), text: renderConfig(config) },
    statements,
    finalStatements,
    restartRequired,
    reasons,
  };
}

export interface EnableResult {
  readonly plan: EnablePlan;
  readonly written: readonly string[];
  /** Still pending: the server must be restarted before the new settings are live. */
  readonly restartPending: boolean;
  readonly restarted: boolean;
  readonly served: ServedCertificate | undefined;
  readonly material: MaterialFacts;
}

export interface EnableRun {
  readonly dryRun?: boolean;
  /** Restarts the server (--restart-command), resolving once it is up; the admin session is closed first. */
  readonly restart?: () => Promise<void>;
  readonly owner?: FileOwner | undefined;
  /** How long to wait for the server to serve TLS after a restart. */
  readonly restartWaitMs?: number;
}

const RESTART_WAIT_MS = 60_000;
const RESTART_POLL_MS = 250;

async function proveAfterRestart(
  host: string,
  port: number,
  fingerprint: string,
  waitMs: number,
): Promise<ServedCertificate> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await proveServed(host, port, fingerprint);
    } catch (err) {
      // Only "not up yet" is retried; a wrong certificate is a real answer.
      const retry = err instanceof DbtlsError && err.code === 'PROBE_FAILED' && Date.now() < deadline;
      if (!retry) throw err;
      await new Promise((r) => setTimeout(r, RESTART_POLL_MS));
    }
  }
}

/** `server enable`: plan, then (unless dry-run) install, configure, reload or restart, and prove. */
export async function enableTls(
  session: AdminSession,
  o: EnableOptions,
  run: EnableRun = {},
): Promise<EnableResult> {
  const material = checkMaterial(o.material);
  const vars = await globalVariables(session, TLS_VARIABLES);
  const plan = planEnable(session.capabilities, vars, o);
  const base = { plan, material, restarted: false };
  if (run.dryRun) return { ...base, written: [], restartPending: plan.restartRequired, served: undefined };

  const written = installServerFiles(o.files, o.material, run.owner);
  ensureDir(path.dirname(plan.config.path));
  if (!sameContent(plan.config.path, plan.config.text)) {
    writeFileAtomic(plan.config.path, plan.config.text, { mode: MODE_PUBLIC });
    written.push(plan.config.path);
  }
  const { host, port } = session.options;
  if (plan.restartRequired) {
    if (!run.restart) return { ...base, written, restartPending: true, served: undefined };
    // The restart ends this session anyway; closing it first keeps its driver from failing mid-restart.
    await session.close();
    await run.restart();
    const served = await proveAfterRestart(
      host,
      port,
      material.fingerprint,
      run.restartWaitMs ?? RESTART_WAIT_MS,
    );
    return { ...base, written, restartPending: false, restarted: true, served };
  }
  for (const statement of plan.statements) await session.query(statement);
  const served = await proveServed(host, port, material.fingerprint);
  for (const statement of plan.finalStatements) await session.query(statement);
  return { ...base, written, restartPending: false, served };
}
