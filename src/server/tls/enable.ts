/**
 * `server enable`: files, config fragment, online reload when the server can (restart when it cannot),
 * then proof that the new certificate is served. planEnable decides, purely, what happens on this server;
 * the dry run prints exactly that plan.
 */
import { createPrivateKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbtlsError } from '../../errors.js';
import type { SecureTlsVersion } from '../../tls/versions.js';
import { ensureDir, MODE_PUBLIC, MODE_SECRET, writeFileAtomic } from '../../util/files.js';
import { checkPrivileges, checkWritable } from '../admin/preflight.js';
import { type AdminSession, globalVariables } from '../admin/session.js';
import { quoteString } from '../admin/sql.js';
import { type ServerCapabilities, tlsLivenessFromVariables, tlsVariableNames } from '../flavor.js';
import { editConfig, readConfigFile, type ServerTlsConfig } from './config.js';
import { enableFailed, revertStatements, snapshotBefore } from './enable-rollback.js';
import {
  type FileOwner,
  installServerFiles,
  type ServerFiles,
  sameContent,
  settlePair,
  switchBack,
} from './install.js';
import { checkMaterial, type MaterialFacts, type ServerMaterial } from './material.js';
import { proveServed, type ServedCertificate } from './reload.js';

export interface EnableOptions {
  readonly files: ServerFiles;
  readonly configFile: string;
  readonly material: ServerMaterial;
  readonly tlsVersions: readonly SecureTlsVersion[];
  readonly cipher?: string | undefined;
  readonly requireSecureTransport: boolean;
  /** The fragment's current text: edited, not rewritten (undefined: read it from configFile). */
  readonly existingConfig?: string | undefined;
  /** A CRL (PEM) to install as <dir>/crl.pem and load as ssl_crl. */
  readonly crlPem?: string | undefined;
  /**
   * Issues the certificate to install once every check has passed (`server enable --issue`): `material`
   * is then a preview signed for the checks and the plan, recorded nowhere. Without it, a refusal after
   * the issuance left the CA with a valid certificate whose key was gone. `discard` voids it in the CA
   * when the server does not take it (its key is lost with the files put back).
   */
  readonly issue?: (() => { material: ServerMaterial; discard: () => string }) | undefined;
}

/** Where `--crl` installs the CRL: next to the certificate, at a stable path FLUSH SSL re-reads. */
export function crlPath(files: ServerFiles): string {
  return path.join(files.dir, 'crl.pem');
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
  /** What will work but not as the user may think (a cipher list that cannot be used with the key). */
  readonly warnings: readonly string[];
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

/** The key's type ('ec', 'rsa', 'ed25519'), or undefined when it cannot be read (a dry run's empty key). */
export function keyTypeOf(m: ServerMaterial): string | undefined {
  try {
    return createPrivateKey(m.keyPem).asymmetricKeyType;
  } catch {
    return undefined;
  }
}

/** REQUIRE_SECURE_TRANSPORT_UNSUPPORTED: the server has no such variable (MariaDB < 10.5.2, MySQL < 5.7.8). */
export function secureTransportUnsupported(caps: ServerCapabilities, instead: string): DbtlsError {
  return new DbtlsError(
    'REQUIRE_SECURE_TRANSPORT_UNSUPPORTED',
    `could not require secure transport: ${caps.version.text} has no require_secure_transport; nothing was changed`,
    {
      hint: `${instead}, and require TLS per account instead: \`dbtls require ADMIN_TARGET "'app'@'%'" --ssl\``,
    },
  );
}

/** Decides what `server enable` does on this server. Pure: the dry run prints exactly this. */
export function planEnable(
  caps: ServerCapabilities,
  vars: ServerVariables,
  o: EnableOptions,
  keyType?: string,
): EnablePlan {
  const crl = o.crlPem !== undefined ? crlPath(o.files) : undefined;
  const config: ServerTlsConfig = {
    ca: o.files.ca,
    cert: o.files.cert,
    key: o.files.key,
    crl,
    tlsVersions: o.tlsVersions,
    cipher: o.cipher,
    requireSecureTransport: o.requireSecureTransport,
  };
  const files: PlannedFile[] = [
    { path: o.files.key, mode: MODE_SECRET, content: undefined },
    { path: o.files.cert, mode: MODE_PUBLIC, content: o.material.certPem },
    { path: o.files.ca, mode: MODE_PUBLIC, content: o.material.caPem },
  ];
  if (crl !== undefined) files.push({ path: crl, mode: MODE_PUBLIC, content: o.crlPem });
  const statements: string[] = [];
  const finalStatements: string[] = [];
  const reasons: string[] = [];
  // Read below only for servers whose ssl_* are read-only at run time; all of them report have_ssl.
  const tlsOn = tlsLivenessFromVariables(caps, vars);
  const samePaths =
    samePath(vars.get('ssl_cert'), o.files.cert) &&
    samePath(vars.get('ssl_key'), o.files.key) &&
    samePath(vars.get('ssl_ca'), o.files.ca);
  const wantVersions = [...o.tlsVersions].sort().join(',');
  const versionsDiffer =
    caps.tlsVersionVariable && normalizedVersions(vars.get('tls_version')) !== wantVersions;
  const cipherDiffers = o.cipher !== undefined && (vars.get('ssl_cipher') ?? '') !== o.cipher;
  const crlDiffers = crl !== undefined && !samePath(vars.get('ssl_crl'), crl);

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
    if (crlDiffers) statements.push(`SET PERSIST ssl_crl = ${quoteString(crl!)}`);
    statements.push(caps.reloadStatement);
  } else {
    if (!tlsOn?.live)
      reasons.push(`TLS is off (${tlsOn?.evidence ?? 'unknown'}); ssl_* are read-only at run time`);
    else if (!samePaths) {
      reasons.push(
        `the server reads its certificate from ${vars.get('ssl_cert') || '(none)'}, not ${o.files.cert}; ssl_* are read-only at run time`,
      );
    }
    if (tlsOn?.live && versionsDiffer)
      reasons.push(
        `tls_version is ${vars.get('tls_version')}, wanted ${wantVersions}; it is read-only at run time`,
      );
    if (tlsOn?.live && cipherDiffers) reasons.push('ssl_cipher differs and is read-only at run time');
    if (tlsOn?.live && crlDiffers)
      reasons.push(
        `ssl_crl is ${vars.get('ssl_crl') || '(none)'}, wanted ${crl}; it is read-only at run time`,
      );
    if (!caps.reloadStatement) reasons.push(`${caps.version.text} cannot reload TLS online`);
    if (reasons.length === 0) statements.push(caps.reloadStatement!);
  }
  const restartRequired = reasons.length > 0;
  if (o.requireSecureTransport) {
    if (!caps.requireSecureTransport)
      throw secureTransportUnsupported(caps, 'leave out --require-secure-transport');
    if (!restartRequired && vars.get('require_secure_transport') !== 'ON') {
      finalStatements.push('SET GLOBAL require_secure_transport = ON');
    }
  }
  return {
    files,
    config: { path: path.resolve(o.configFile), text: editConfig(o.existingConfig, config) },
    statements,
    finalStatements,
    restartRequired,
    reasons,
    warnings: cipherWarnings(o.cipher, keyType),
  };
}

/** TLS 1.2 cipher names that authenticate with an ECDSA key; every other concrete 1.2 name needs RSA. */
const ECDSA_AUTH = /(^|-)ECDSA(-|$)/;
/** A concrete OpenSSL TLS 1.2 name (ECDHE-RSA-AES128-GCM-SHA256, AES256-SHA), not an alias (HIGH, aRSA). */
const CONCRETE = /^[A-Z0-9]+(-[A-Z0-9]+)+$/;

/**
 * Why a cipher list will not do what it seems to with this key (issue 10, item 13): OpenSSL silently drops
 * the TLS 1.2 suites whose authentication does not match the key, so the RSA-only list of an add-on guide
 * on an EC key leaves no TLS 1.2 suite and 1.2 clients fail. Aliases are not judged. Pure.
 */
export function cipherWarnings(cipher: string | undefined, keyType: string | undefined): string[] {
  if (!cipher || !keyType) return [];
  const items = cipher.split(/[:, ]+/).filter((c) => c && !/^[!+-]/.test(c));
  if (items.length === 0 || items.some((c) => !c.startsWith('TLS_') && !CONCRETE.test(c))) return [];
  const tls12 = items.filter((c) => !c.startsWith('TLS_'));
  if (tls12.length === 0) return [];
  const ec = keyType === 'ec';
  const usable = tls12.filter((c) => ECDSA_AUTH.test(c) === ec);
  if (usable.length > 0) return [];
  return [
    `no TLS 1.2 cipher of --cipher can be used with the server's ${ec ? 'EC' : keyType.toUpperCase()} key (${tls12.join(':')} need ${ec ? 'an RSA' : 'an EC'} key): TLS 1.2 clients will fail; add ${ec ? 'ECDHE-ECDSA-' : 'ECDHE-RSA-'}… suites or leave out --cipher`,
  ];
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
/** What a probe of a server that is still starting says (client/dial.ts codes). */
const NOT_UP_YET: ReadonlySet<string> = new Set([
  'CONNECTION_REFUSED',
  'CONNECTION_CLOSED',
  'CONNECTION_FAILED',
  'PROBE_FAILED',
]);

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
      const retry = err instanceof DbtlsError && NOT_UP_YET.has(err.code) && Date.now() < deadline;
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
  let material = checkMaterial(o.material);
  const vars = await globalVariables(session, tlsVariableNames(session.capabilities));
  const existingConfig = o.existingConfig ?? readConfigFile(path.resolve(o.configFile));
  let plan = planEnable(session.capabilities, vars, { ...o, existingConfig }, keyTypeOf(o.material));
  if (run.dryRun)
    return {
      plan,
      material,
      restarted: false,
      written: [],
      restartPending: plan.restartRequired,
      served: undefined,
    };
  await checkPrivileges(session, 'enable', {
    setsGlobal: o.requireSecureTransport,
    persists: plan.statements.some((st) => st.startsWith('SET PERSIST')),
  });
  checkWritable([
    ...plan.files.map((f) => ({ path: f.path, what: 'a server TLS file' })),
    {
      path: plan.config.path,
      what: 'the config fragment',
    },
  ]);

  // What the server ran with, kept before the first change to put back if it refuses the new files.
  const before = await snapshotBefore(
    session,
    [...plan.files.map((f) => f.path), plan.config.path],
    plan.statements,
  );
  // With `issue`, the certificate is made now that every check passed (o.material was its preview).
  const issued = o.issue?.();
  const installing = issued?.material ?? o.material;
  if (issued) {
    material = checkMaterial(installing);
    plan = planEnable(
      session.capabilities,
      vars,
      { ...o, material: installing, existingConfig },
      keyTypeOf(installing),
    );
  }
  const base = { plan, material, restarted: false };
  const installed = installServerFiles(o.files, installing, run.owner);
  const failed = (err: unknown, reapply: () => Promise<string>) => {
    // The previous pair comes back with one rename; enableFailed then finds it as it was. When even that
    // fails (a full disk), enableFailed still runs: it writes the old files back one by one over the links,
    // reverts the statements and voids the certificate, and the error is the one that made the run fail.
    if (installed.pair) {
      try {
        switchBack(installed.pair);
      } catch {
        // restored file by file below
      }
    }
    return enableFailed(err, before, reapply, issued?.discard);
  };
  const done = (result: EnableResult): EnableResult => {
    if (installed.pair) settlePair(installed.pair);
    return result;
  };
  const { written } = installed;
  if (o.crlPem !== undefined) {
    const crl = crlPath(o.files);
    if (!sameContent(crl, o.crlPem)) {
      writeFileAtomic(crl, o.crlPem, { mode: MODE_PUBLIC });
      if (run.owner) fs.chownSync(crl, run.owner.uid, run.owner.gid);
      written.push(crl);
    }
  }
  ensureDir(path.dirname(plan.config.path));
  if (!sameContent(plan.config.path, plan.config.text)) {
    writeFileAtomic(plan.config.path, plan.config.text, { mode: MODE_PUBLIC });
    written.push(plan.config.path);
  }
  const { host, port } = session.options;
  if (plan.restartRequired) {
    if (!run.restart) return { ...base, written, restartPending: true, served: undefined };
    const restart = run.restart;
    // The restart ends this session anyway; closing it first keeps its driver from failing mid-restart.
    await session.close();
    // A restart command that fails is RESTART_FAILED: what the server runs is then unknown, and the files
    // stay for the corrected command. A server that restarted but does not serve them gets the old ones.
    await restart();
    try {
      const served = await proveAfterRestart(
        host,
        port,
        material.fingerprint,
        run.restartWaitMs ?? RESTART_WAIT_MS,
      );
      return done({ ...base, written, restartPending: false, restarted: true, served });
    } catch (err) {
      throw await failed(err, async () => {
        await restart();
        return 'restarted the server';
      });
    }
  }
  let served: ServedCertificate;
  try {
    for (const statement of plan.statements) await session.query(statement);
    served = await proveServed(host, port, material.fingerprint);
  } catch (err) {
    throw await failed(err, async () => {
      const back = revertStatements(plan.statements, vars, before.persisted);
      for (const statement of back) await session.query(statement);
      return `ran ${back.join('; ')}`;
    });
  }
  // The new certificate is served: what comes after (require_secure_transport) does not take it back.
  for (const statement of plan.finalStatements) await session.query(statement);
  return done({ ...base, written, restartPending: false, served });
}
