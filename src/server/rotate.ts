/**
 * Leaf rotation without a restart: the server's certificate is re-issued from the CA with the same names
 * and a new key, written over the files the server reads (@@ssl_cert, @@ssl_key) with write + rename, and
 * made live with the online reload (FLUSH SSL / ALTER INSTANCE RELOAD TLS). Sessions already open keep
 * their TLS state; new connections get the new certificate (FACTS.md, MariaDB). A reload or proof that
 * fails puts the old files back and reloads again, so the server never stays on files it cannot serve.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type IssuedCertificate, issueCertificate } from '../ca/issue.js';
import { type Ca, type IndexEntry, readIndex, updateIndex } from '../ca/store.js';
import { causeText, DbtlsError } from '../errors.js';
import { type CertificateInfo, parseCertificates } from '../pki/certificate.js';
import { type KeyAlgorithm, keyAlgorithmOf } from '../pki/keys.js';
import { decodeName, type NameAttribute, oneLineName } from '../pki/names.js';
import { readUserFile } from '../util/files.js';
import { type AdminSession, globalVariables } from './admin.js';
import { readTlsLive } from './flavor.js';
import { checkPrivileges, checkWritable } from './preflight.js';
import { probeServedCertificate, proveServed, reloadTls, type ServedCertificate } from './reload.js';
import {
  convert,
  converted,
  pairLayout,
  prune,
  readPair,
  switchTo,
  withPairLock,
  writeGeneration,
} from './served-pair.js';

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
  /** The subject's other attributes, in order (the CN goes last), as parsed from the certificate. */
  readonly subjectPrefix: readonly NameAttribute[];
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

/**
 * The names to re-issue a certificate under, from its parsed subject and SANs (issue 10 item 6): never a
 * regex over the one-line subject, where `/O=x\/CN=victim/CN=attack` shows two CNs. The subject keeps its
 * attributes (the last CN is the CN, the others are kept as they were, in order); the SANs are the
 * certificate's. A CN that is not among SANs is refused: the server profile puts the CN into the SANs, so
 * re-issuing would add a name the old certificate was not valid for. Pure.
 */
export function namesOf(cert: CertificateInfo): ServerNames {
  const attributes = decodeName(cert.subjectDer);
  const cnAt = attributes.findLastIndex((a) => a.type === 'CN');
  const cn = cnAt >= 0 ? attributes[cnAt]!.value : (cert.dnsNames[0] ?? cert.ipAddresses[0]);
  if (!cn) {
    throw new DbtlsError(
      'CERT_NAMES_MISSING',
      'could not re-issue the server certificate: it has no CN and no SAN',
      {
        hint: 'issue a new one with `dbtls issue server --cn HOST` and install it with `dbtls server enable`',
      },
    );
  }
  const dns = [...cert.dnsNames];
  const ip = [...cert.ipAddresses];
  const inSans = dns.some((d) => d.toLowerCase() === cn.toLowerCase()) || ip.includes(cn);
  if ((dns.length > 0 || ip.length > 0) && !inSans) {
    throw new DbtlsError(
      'CERT_NAMES_UNSAFE',
      `could not re-issue the server certificate: its CN ${JSON.stringify(cn)} is not one of its SANs (${[...dns, ...ip].join(', ')}), and a re-issued server certificate names its CN in its SANs`,
      {
        hint: 'issue the certificate you want with `dbtls issue server --cn HOST --dns NAME…` and install it with `dbtls server enable`',
      },
    );
  }
  const subjectPrefix = attributes.filter((_, i) => i !== cnAt);
  return { cn, dns, ip, subjectPrefix };
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
  const vars = await globalVariables(session, ['ssl_cert', 'ssl_key', 'ssl_ca']);
  const cert = given.cert ?? (vars.get('ssl_cert') || undefined);
  const key = given.key ?? (vars.get('ssl_key') || undefined);
  const ca = given.ca ?? (vars.get('ssl_ca') || undefined);
  // Asked the way this server answers (MySQL 8.4 has no have_ssl: issue 11 item 7).
  if (!cert || !key || !(await readTlsLive(session))) {
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

/** Marks still-valid serials in a CA index: revoked with `reason`, or void (never delivered, key gone). */
function retire(caDir: string, serials: readonly string[], now: Date, reason: string | 'void'): void {
  if (serials.length === 0) return;
  updateIndex(caDir, (entries) =>
    entries.map((e) => {
      if (!serials.includes(e.serial) || e.status !== 'valid') return e;
      if (reason === 'void') return { ...e, status: 'void' as const };
      return { ...e, status: 'revoked' as const, revokedAt: now.toISOString(), revocationReason: reason };
    }),
  );
}

/**
 * Marks `serial` superseded in a CA index (RFC 5280 reason superseded): the old leaf no longer counts as
 * valid, which is what lets the CA rollover retire its CA. A serial the index does not hold is ignored.
 */
export function supersede(caDir: string, serial: string, now: Date): void {
  retire(caDir, [serial], now, 'superseded');
}

/**
 * What an interrupted rotation left valid in the index: certificates re-issued from the served leaf that
 * never went live (their key is lost: void, as src/ca/journal.ts records them), and the leaf's own predecessor when
 * the switch happened but the run died before marking it (superseded). An index entry means a delivered
 * certificate (DESIGN.md). Pure.
 */
export function leftovers(
  entries: readonly IndexEntry[],
  leaf: CertificateInfo,
): { orphans: string[]; superseded: string[] } {
  const mine = entries.find((e) => e.serial === leaf.serial);
  return {
    orphans: entries
      .filter((e) => e.status === 'valid' && e.renewedFrom === leaf.serial && e.serial !== leaf.serial)
      .map((e) => e.serial),
    superseded: entries
      .filter((e) => e.status === 'valid' && mine?.renewedFrom !== undefined && e.serial === mine.renewedFrom)
      .map((e) => e.serial),
  };
}

/** The key in `keyPem` is the one `cert` certifies. */
function keyMatches(keyPem: string | Buffer, cert: CertificateInfo): boolean {
  try {
    const spki = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    return spki.equals(cert.x509.publicKey.export({ type: 'spki', format: 'der' }));
  } catch {
    return false;
  }
}

/**
 * Installs the new pair as a new generation, switches both paths at once (src/server/served-pair.ts) and
 * reloads; on a failed reload or proof switches back to the previous generation and reloads again. At no
 * instant do the paths name a key and a certificate that do not match.
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
  const layout = pairLayout(files);
  const current = readPair(files);
  const currentSerial = parseCertificates(current.cert)[0]?.serial ?? 'original';
  const previous = convert(layout, current, currentSerial);
  const next = writeGeneration(
    layout,
    issued.cert.serial,
    { cert: issued.chainPem, key: issued.keyPem },
    current,
  );
  switchTo(layout, next);
  const { host, port } = session.options;
  try {
    const statement = await reloadTls(session);
    const served = await proveServed(host, port, issued.cert.fingerprint);
    prune(layout, [previous, next]);
    return { statement, served };
  } catch (err) {
    switchTo(layout, previous);
    let restored = 'the old key and certificate were switched back';
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
        hint: 'check the server error log; the new certificate was marked void in the CA index (never delivered)',
        kind: 'runtime',
        cause: err,
      },
    );
  }
}

/** What `dbtls rotate` will do, found out without changing anything (`--dry-run` prints it). */
export interface RotatePlan {
  readonly files: ServedFiles;
  readonly names: ServerNames;
  readonly keyAlgorithm: KeyAlgorithm;
  readonly before: CertificateSummary;
  /** The one-line subject the new certificate gets (the old one's). */
  readonly subject: string;
  readonly days: number | undefined;
  /** Where the generations live, and whether the paths are converted to links on this run. */
  readonly pairDir: string;
  readonly convertsFiles: boolean;
  readonly statement: string;
  /** Serials an interrupted earlier run left valid: never delivered (void) and a predecessor (superseded). */
  readonly orphans: readonly string[];
  readonly superseded: readonly string[];
}

/** Everything rotate checks before its first change, and the plan it will carry out. */
export async function planRotation(
  session: AdminSession,
  ca: Ca,
  o: RotateOptions = {},
): Promise<RotatePlan> {
  const files = await locateServedFiles(session, o.files);
  // Preflight (issue 10 items 8, 15): everything that can be known before the first change is checked.
  await checkPrivileges(session, 'rotate');
  checkWritable([
    { path: files.cert, what: 'the server certificate' },
    { path: files.key, what: 'the server key' },
    { path: pairLayout(files).root, what: 'the rotation directory' },
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
  const layout = pairLayout(files);
  const { orphans, superseded } = leftovers(readIndex(ca.dir), leaf);
  return {
    files,
    names,
    keyAlgorithm: keyAlgorithmOf(leaf.x509.publicKey) ?? 'ec-p256',
    before: certificateSummary(leaf),
    subject: oneLineName([...names.subjectPrefix, { type: 'CN', value: names.cn }]),
    days: o.days,
    pairDir: layout.root,
    convertsFiles: !converted(layout),
    statement: session.capabilities.reloadStatement ?? 'none (the server has no online reload)',
    orphans,
    superseded,
  };
}

/** `dbtls rotate`: re-issue the served certificate with the same names and a new key, online. */
export async function rotateServerCertificate(
  session: AdminSession,
  ca: Ca,
  o: RotateOptions = {},
): Promise<RotateResult> {
  const now = o.now ?? new Date();
  const plan = await planRotation(session, ca, o);
  const { files, names, keyAlgorithm } = plan;
  return withPairLock(pairLayout(files), async () => {
    retire(ca.dir, plan.orphans, now, 'void');
    retire(ca.dir, plan.superseded, now, 'superseded');
    const issued = issueCertificate(ca, {
      profile: 'server',
      cn: names.cn,
      dns: [...names.dns],
      ip: [...names.ip],
      subjectPrefix: names.subjectPrefix,
      key: keyAlgorithm,
      now,
      renewedFrom: plan.before.serial,
      ...(o.days === undefined ? {} : { days: o.days }),
    });
    if (!issued.keyPem || !keyMatches(issued.keyPem, issued.cert)) {
      throw new DbtlsError(
        'KEY_MISMATCH',
        'could not install the new certificate: its key does not match it',
        {
          kind: 'runtime',
        },
      );
    }
    let result: { statement: string; served: ServedCertificate };
    try {
      result = await installAndReload(session, files, issued);
    } catch (err) {
      // Never delivered: the index must not keep it as a valid certificate whose key is gone.
      retire(ca.dir, [issued.cert.serial], now, 'void');
      throw err;
    }
    supersede(ca.dir, plan.before.serial, now);
    return {
      files,
      names,
      keyAlgorithm,
      before: plan.before,
      after: certificateSummary(issued.cert),
      statement: result.statement,
      served: result.served,
    };
  });
}
