/**
 * Installing the server's certificate files at stable paths, and `server enable` on top of it: files,
 * config fragment, online reload when the server can (restart when it cannot), then proof that the new
 * certificate is served. Stable paths are what make later rotations restart-free: MariaDB's ssl_* are
 * read-only, but FLUSH SSL re-reads the same paths (FACTS.md).
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { issueCertificate, resolveLeaf, signLeaf } from '../ca/issue.js';
import { openCa } from '../ca/store.js';
import { causeText, DbtlsError } from '../errors.js';
import { ensureDir, MODE_PUBLIC, MODE_SECRET, readUserFile, writeFileAtomic } from '../util/files.js';
import { type AdminSession, globalVariables, quoteString } from './admin.js';
import { renderConfig, type ServerTlsConfig } from './config.js';
import type { ServerCapabilities, TlsVersion } from './flavor.js';
import { fingerprintOf, proveServed, type ServedCertificate } from './reload.js';

export interface ServerFiles {
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** The stable names inside the certificate directory (the names MariaDB's own documentation uses). */
export function serverFilePaths(dir: string): ServerFiles {
  const abs = path.resolve(dir);
  return {
    dir: abs,
    cert: path.join(abs, 'server-cert.pem'),
    key: path.join(abs, 'server-key.pem'),
    ca: path.join(abs, 'ca.pem'),
  };
}

export interface ServerMaterial {
  /** The leaf first, then any intermediates: the server sends the whole chain. */
  readonly certPem: string;
  readonly keyPem: string;
  /** The CA(s) that client certificates must chain to (ssl_ca). */
  readonly caPem: string;
}

export interface MaterialFacts {
  readonly fingerprint: string;
  readonly subject: string;
  readonly notAfter: Date;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certificates(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  try {
    const certs = blocks.map((b) => new X509Certificate(b));
    if (certs.length === 0) throw new Error('no CERTIFICATE block');
    return certs;
  } catch (err) {
    throw new DbtlsError('CERT_MALFORMED', `could not read the ${what}: ${causeText(err)}`, {
      hint: 'pass PEM certificate files',
      cause: err,
    });
  }
}

/** Checks the material before anything is written: parseable, key matches, leaf chains to the CA file. */
export function checkMaterial(m: ServerMaterial): MaterialFacts {
  const [leaf, ...intermediates] = certificates(m.certPem, 'server certificate');
  const cas = certificates(m.caPem, 'CA certificate');
  let keySpki: Buffer;
  try {
    keySpki = createPublicKey(m.keyPem).export({ type: 'spki', format: 'der' });
  } catch (err) {
    throw new DbtlsError('KEY_MALFORMED', `could not read the server key: ${causeText(err)}`, {
      hint: 'pass an unencrypted PEM private key (the server cannot read encrypted keys)',
      cause: err,
    });
  }
  if (!leaf!.publicKey.export({ type: 'spki', format: 'der' }).equals(keySpki)) {
    throw new DbtlsError(
      'CERT_KEY_MISMATCH',
      'could not install the server certificate: the key does not match it',
      {
        hint: 'pass the key that was generated with this certificate',
      },
    );
  }
  const issuers = [...intermediates, ...cas];
  if (!issuers.some((issuer) => leaf!.checkIssued(issuer) && leaf!.verify(issuer.publicKey))) {
    throw new DbtlsError(
      'CERT_CHAIN_INVALID',
      'could not install the server certificate: neither the CA file nor the chain issued it',
      {
        hint: 'pass --ca with the CA that signed the certificate (and include intermediates in --cert)',
      },
    );
  }
  return { fingerprint: fingerprintOf(leaf!), subject: leaf!.subject, notAfter: new Date(leaf!.validTo) };
}

export interface FileOwner {
  readonly uid: number;
  readonly gid: number;
}

/** The `mysql` system user, when we run as root and it exists: the server must read the key, no one else. */
export function serverOwner(passwdFile = '/etc/passwd'): FileOwner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(passwdFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === 'mysql' && uid && gid) return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

function sameContent(file: string, data: string): boolean {
  try {
    return fs.readFileSync(file, 'utf8') === data;
  } catch {
    return false;
  }
}

/**
 * Writes the three files atomically, skipping those already identical (a second run changes nothing).
 * Returns the paths written.
 */
export function installServerFiles(files: ServerFiles, m: ServerMaterial, owner?: FileOwner): string[] {
  checkMaterial(m);
  ensureDir(files.dir, 0o755);
  const written: string[] = [];
  // The key first: a reload between two writes must never pair a new certificate with the old key.
  const plan: [string, string, number][] = [
    [files.key, m.keyPem, MODE_SECRET],
    [files.cert, m.certPem, MODE_PUBLIC],
    [files.ca, m.caPem, MODE_PUBLIC],
  ];
  for (const [file, data, mode] of plan) {
    if (sameContent(file, data)) continue;
    writeFileAtomic(file, data, { mode });
    if (owner) fs.chownSync(file, owner.uid, owner.gid);
    written.push(file);
  }
  return written;
}

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

export const TLS_VARIABLES = Object.freeze([
  'have_ssl',
  'ssl_ca',
  'ssl_cert',
  'ssl_key',
  'ssl_crl',
  'ssl_cipher',
  'tls_version',
  'require_secure_transport',
  'version',
]);

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

/** Reads --cert/--key/--ca files (the cert file may hold the leaf followed by intermediates). */
export function readServerMaterial(certFile: string, keyFile: string, caFile: string): ServerMaterial {
  return {
    certPem: readUserFile(certFile, 'server certificate').toString('utf8'),
    keyPem: readUserFile(keyFile, 'server key').toString('utf8'),
    caPem: readUserFile(caFile, 'CA certificate').toString('utf8'),
  };
}

export interface IssueServerOptions {
  readonly caDir: string;
  readonly passphrase?: string | undefined;
  /** The host the clients connect to: the CN, and a DNS or IP subject alternative name. */
  readonly host: string;
  readonly dns?: readonly string[];
  readonly ip?: readonly string[];
  readonly days?: number | undefined;
  /** Sign without recording in the CA (for --dry-run): the real run issues another certificate. */
  readonly preview?: boolean;
}

/** A server certificate from the dbtls CA, for the names clients use (verify-full checks them). */
export function issueServerMaterial(o: IssueServerOptions): ServerMaterial {
  const ca = openCa(o.caDir, o.passphrase);
  const hostIsIp = net.isIP(o.host) !== 0;
  const dns = [...new Set([...(hostIsIp ? [] : [o.host]), ...(o.dns ?? [])])];
  const ip = [...new Set([...(hostIsIp ? [o.host] : []), ...(o.ip ?? [])])];
  const req = { profile: 'server' as const, cn: o.host, dns, ip, ...(o.days ? { days: o.days } : {}) };
  const issued = o.preview ? signLeaf(ca, resolveLeaf(ca, req), new Set()) : issueCertificate(ca, req);
  if (!issued.keyPem) throw new Error('the CA returned no private key for a new server certificate');
  return { certPem: issued.chainPem, keyPem: issued.keyPem, caPem: issued.caPem };
}
