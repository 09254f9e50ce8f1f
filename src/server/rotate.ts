/**
 * Leaf rotation without a restart: the server's certificate is re-issued from the CA with the same names
 * and a new key, written over the files the server reads (@@ssl_cert, @@ssl_key) with write + rename, and
 * made live with the online reload (FLUSH SSL / ALTER INSTANCE RELOAD TLS). Sessions already open keep
 * their TLS state; new connections get the new certificate (FACTS.md, MariaDB). A reload or proof that
 * fails puts the old files back and reloads again, so the server never stays on files it cannot serve.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type IssuedCertificate, issueCertificate } from '../ca/issue.js';
import { type Ca, updateIndex } from '../ca/store.js';
import { causeText, DbtlsError } from '../errors.js';
import { type CertificateInfo, parseCertificates } from '../pki/certificate.js';
import { type KeyAlgorithm, keyAlgorithmOf } from '../pki/keys.js';
import { MODE_PUBLIC, MODE_SECRET, readUserFile, writeFileAtomic } from '../util/files.js';
import { type AdminSession, globalVariables } from './admin.js';
import { checkPrivileges, checkWritable } from './preflight.js';
import { probeServedCertificate, proveServed, reloadTls, type ServedCertificate } from './reload.js';

/** The files a server reads its TLS identity from. */
export interface ServedFiles {
  readonly cert: string;
  readonly key: string;
  /** ssl_ca: the CAs client certificates must chain to; undefined when the server has none. */
  readonly ca: string | undefined;
}

/** The names under which the server is reached, kept across rotations. */
export interface ServerNames {
  readonly cn: string;
  readonly dns: readonly string[];
  readonly ip: readonly string[];
}

export interface CertificateSummary {
  readonly serial: string;
  readonly fingerprint: string;
  readonly subject: string;
  readonly issuer: string;
  readonly notAfter: Date;
}

export interface RotateOptions {
  /** Where the server's files are, when its @@ssl_* paths do not name them on this machine. */
  readonly files?: Partial<ServedFiles> | undefined;
  readonly days?: number | undefined;
  readonly now?: Date | undefined;
  /**
   * Issuers whose leaves may be rotated besides `ca.issuer` (the CA rollover re-issues leaves of the old CA
   * from the new one).
   */
  readonly acceptIssuers?: readonly CertificateInfo[] | undefined;
}

export interface RotateResult {
  readonly files: ServedFiles;
  readonly names: ServerNames;
  readonly keyAlgorithm: KeyAlgorithm;
  readonly before: CertificateSummary;
  readonly after: CertificateSummary;
  readonly statement: string;
  readonly served: ServedCertificate;
}

export function certificateSummary(cert: CertificateInfo): CertificateSummary {
  return {
    serial: cert.serial,
    fingerprint: cert.fingerprint,
    subject: cert.subject,
    issuer: cert.issuer,
    notAfter: cert.notAfter,
  };
}

/** The CN and SANs of a certificate, to re-issue it under the same names. Pure. */
export function namesOf(cert: CertificateInfo): ServerNames {
  const cn = /\/CN=([^/]*)/.exec(cert.subject)?.[1] ?? cert.dnsNames[0] ?? cert.ipAddresses[0];
  if (!cn) {
    throw new DbtlsError(
      'CERT_NAMES_MISSING',
      'could not re-issue the server certificate: it has no CN and no SAN',
      {
        hint: 'issue a new one with `dbtls issue server --cn HOST` and install it with `dbtls server enable`',
      },
    );
  }
  return { cn, dns: [...cert.dnsNames], ip: [...cert.ipAddresses] };
}

/** True when `issuer` signed `leaf` (names and signature). */
export function issuedBy(leaf: CertificateInfo, issuer: CertificateInfo): boolean {
  try {
    return leaf.x509.checkIssued(issuer.x509) && leaf.x509.verify(issuer.x509.publicKey);
  } catch {
    return false;
  }
}

/** The server's certificate files: --dir/--cert/--key when given, else the server's own @@ssl_* paths. */
export async function locateServedFiles(
  session: AdminSession,
  given: Partial<ServedFiles> = {},
): Promise<ServedFiles> {
  const vars = await globalVariables(session, ['ssl_cert', 'ssl_key', 'ssl_ca', 'have_ssl']);
  const cert = given.cert ?? (vars.get('ssl_cert') || undefined);
  const key = given.key ?? (vars.get('ssl_key') || undefined);
  const ca = given.ca ?? (vars.get('ssl_ca') || undefined);
  if (vars.get('have_ssl') !== 'YES' || !cert || !key) {
    throw new DbtlsError(
      'TLS_NOT_ENABLED',
      'could not rotate the server certificate: the server has no TLS certificate configured',
      {
        hint: 'enable TLS first with `dbtls server enable ADMIN_TARGET --issue` or `dbtls secure ADMIN_TARGET`',
      },
    );
  }
  for (const file of [cert, key]) {
    if (!fs.existsSync(file)) {
      throw new DbtlsError(
        'SERVER_FILES_NOT_LOCAL',
        `could not rotate the server certificate: ${file} is not on this machine`,
        {
          hint: 'run `dbtls rotate` on the server host, or pass --dir with the directory the server reads (e.g. a mounted volume)',
        },
      );
    }
  }
  return { cert: path.resolve(cert), key: path.resolve(key), ca: ca ? path.resolve(ca) : undefined };
}

interface Snapshot {
  readonly file: string;
  readonly data: Buffer;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

function snapshot(file: string): Snapshot {
  const data = readUserFile(file, 'server file');
  const st = fs.statSync(file);
  return { file, data, mode: st.mode & 0o777, uid: st.uid, gid: st.gid };
}

/** Write + rename, keeping the owner (the server's user must still read the key) and a safe mode. */
function replaceKeeping(old: Snapshot, data: string | Buffer, mode: number): void {
  writeFileAtomic(old.file, data, { mode });
  if (process.getuid?.() === 0) fs.chownSync(old.file, old.uid, old.gid);
}

function restore(snapshots: readonly Snapshot[]): void {
  for (const s of snapshots) replaceKeeping(s, s.data, s.mode);
}

/** Reads the served leaf from the certificate file, checking it is what the server serves now. */
export function currentLeaf(certFile: string, served: ServedCertificate): CertificateInfo {
  const [leaf] = parseCertificates(readUserFile(certFile, 'server certificate'));
  if (!leaf) {
    throw new DbtlsError(
      'CERT_MALFORMED',
      `could not read the server certificate ${certFile}: no CERTIFICATE block`,
      {
        hint: 'check the file the server reads (@@ssl_cert)',
      },
    );
  }
  if (leaf.fingerprint !== served.fingerprint) {
    throw new DbtlsError(
      'SERVER_FILES_MISMATCH',
      `could not rotate the server certificate: the server serves ${served.fingerprint.slice(0, 16)}… but ${certFile} holds ${leaf.fingerprint.slice(0, 16)}…`,
      {
        hint: 'the file changed since the last reload, or it is not the server this machine hosts; run `dbtls server reload` or pass --dir',
        details: { served: served.fingerprint, file: leaf.fingerprint },
      },
    );
  }
  return leaf;
}

/**
 * Marks `serial` superseded in a CA index (RFC 5280 reason superseded): the old leaf no longer counts as
 * valid, which is what lets the CA rollover retire its CA. A serial the index does not hold is ignored.
 */
export function supersede(caDir: string, serial: string, now: Date): void {
  updateIndex(caDir, (entries) =>
    entries.map((e) =>
      e.serial === serial && e.status === 'valid'
        ? { ...e, status: 'revoked' as const, revokedAt: now.toISOString(), revocationReason: 'superseded' }
        : e,
    ),
  );
}

/**
 * Replaces the key and certificate files (key first: the server reads both only at the reload) and
 * reloads; on any failure puts the old files back and reloads again.
 */
export async function installAndReload(
  session: AdminSession,
  files: ServedFiles,
  issued: Pick<IssuedCertificate, 'chainPem' | 'keyPem' | 'cert'>,
): Promise<{ statement: string; served: ServedCertificate }> {
  if (!issued.keyPem) {
    throw new DbtlsError(
      'KEY_MISSING',
      'could not install the new certificate: no private key was issued with it',
      { kind: 'runtime' },
    );
  }
  const olds = [snapshot(files.key), snapshot(files.cert)];
  replaceKeeping(olds[0]!, issued.keyPem, MODE_SECRET);
  replaceKeeping(olds[1]!, issued.chainPem, olds[1]!.mode | MODE_PUBLIC);
  const { host, port } = session.options;
  try {
    const statement = await reloadTls(session);
    const served = await proveServed(host, port, issued.cert.fingerprint);
    return { statement, served };
  } catch (err) {
    restore(olds);
    let restored = 'the old files were put back';
    try {
      await reloadTls(session);
      restored += ' and reloaded';
    } catch (reloadErr) {
      restored += `, but reloading them failed too (${causeText(reloadErr)})`;
    }
    throw new DbtlsError(
      'ROTATE_FAILED',
      `could not rotate the server certificate: ${causeText(err)}; ${restored}`,
      {
        hint: 'check the server error log; the CA index still lists the new certificate, revoke it with `dbtls revoke`',
        kind: 'runtime',
        cause: err,
      },
    );
  }
}

/** `dbtls rotate`: re-issue the served certificate with the same names and a new key, online. */
export async function rotateServerCertificate(
  session: AdminSession,
  ca: Ca,
  o: RotateOptions = {},
): Promise<RotateResult> {
  const now = o.now ?? new Date();
  const files = await locateServedFiles(session, o.files);
  // Preflight (issue 10 items 8, 15): everything that can be known before the first change is checked.
  await checkPrivileges(session, 'rotate');
  checkWritable([
    { path: files.cert, what: 'the server certificate' },
    { path: files.key, what: 'the server key' },
    { path: ca.dir, what: 'the CA directory' },
  ]);
  const { host, port } = session.options;
  const servedBefore = await probeServedCertificate(host, port);
  const leaf = currentLeaf(files.cert, servedBefore);
  const issuers = [ca.issuer, ...(o.acceptIssuers ?? [])];
  if (!issuers.some((issuer) => issuedBy(leaf, issuer))) {
    throw new DbtlsError(
      'CERT_NOT_FROM_CA',
      `could not rotate the server certificate: ${leaf.issuer} issued it, not this CA (${ca.issuer.subject})`,
      {
        hint: 'pass --ca-dir with the CA that issued it, or replace it once with `dbtls server enable ADMIN_TARGET --issue`',
      },
    );
  }
  const names = namesOf(leaf);
  const keyAlgorithm = keyAlgorithmOf(leaf.x509.publicKey) ?? 'ec-p256';
  const issued = issueCertificate(ca, {
    profile: 'server',
    cn: names.cn,
    dns: [...names.dns],
    ip: [...names.ip],
    key: keyAlgorithm,
    now,
    renewedFrom: leaf.serial,
    ...(o.days === undefined ? {} : { days: o.days }),
  });
  const { statement, served } = await installAndReload(session, files, issued);
  supersede(ca.dir, leaf.serial, now);
  return {
    files,
    names,
    keyAlgorithm,
    before: certificateSummary(leaf),
    after: certificateSummary(issued.cert),
    statement,
    served,
  };
}
