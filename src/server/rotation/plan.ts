/**
 * What `dbtls rotate` reads and checks before its first change: the files the server serves, the names to
 * re-issue under (parsed, never from text), the preflight, and what an interrupted earlier run left in
 * the CA index. `planRotation` is the whole of it, and `--dry-run` prints its result.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type IndexEntry, readIndex } from '../../ca/cert-index.js';
import { resolveLeaf } from '../../ca/issue.js';
import { unfinishedRenewals } from '../../ca/renew.js';
import type { Ca } from '../../ca/store.js';
import { DbtlsError } from '../../errors.js';
import { type CertificateInfo, shortFingerprint } from '../../pki/certificate.js';
import { issuedBy, readCertificates } from '../../pki/chain.js';
import { type KeyAlgorithm, keyAlgorithmOf } from '../../pki/keys.js';
import { commonNameIndex, decodeName, type NameAttribute, oneLineName } from '../../pki/names.js';
import { readUserFile } from '../../util/files.js';
import { commandLine } from '../../util/shell.js';
import { checkPrivileges, checkWritable } from '../admin/preflight.js';
import { type AdminSession, globalVariables } from '../admin/session.js';
import { readTlsLiveness } from '../flavor.js';
import { onlineReload, probeServedCertificate, type ServedCertificate } from '../tls/reload.js';
import { converted, pairLayout } from '../tls/served-pair.js';

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
 * attributes (the CN is pki's commonNameIndex, the last one; the others are kept as they were, in order);
 * the SANs are the certificate's. A CN that is not among SANs is refused: the server profile puts the CN
 * into the SANs, so re-issuing would add a name the old certificate was not valid for. Pure.
 */
export function namesOf(cert: CertificateInfo): ServerNames {
  const attributes = decodeName(cert.subjectDer);
  const cnAt = commonNameIndex(attributes);
  const cn = cnAt >= 0 ? attributes[cnAt]!.value : (cert.dnsNames[0] ?? cert.ipAddresses[0]);
  if (!cn) {
    throw new DbtlsError(
      'CERT_NAMES_MISSING',
      'could not re-issue the server certificate: it has no CN and no SAN',
      {
        hint: 'issue and install a new one, named after the host clients dial: `dbtls server enable ADMIN_TARGET --issue`',
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
        hint: `issue and install one that names the host clients dial and its other names: \`${commandLine(['dbtls', 'server', 'enable', 'ADMIN_TARGET', '--issue', ...dns.flatMap((d) => ['--dns', d]), ...ip.flatMap((a) => ['--ip', a])])}\``,
      },
    );
  }
  const subjectPrefix = attributes.filter((_, i) => i !== cnAt);
  return { cn, dns, ip, subjectPrefix };
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
  if (!cert || !key || !(await readTlsLiveness(session)).live) {
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
          hint: 'run `dbtls rotate ADMIN_TARGET` on the server host, or pass --dir with the directory the server reads (e.g. a mounted volume)',
        },
      );
    }
  }
  return { cert: path.resolve(cert), key: path.resolve(key), ca: ca ? path.resolve(ca) : undefined };
}

/** Reads the served leaf from the certificate file, checking it is what the server serves now. */
export function currentLeaf(
  certFile: string,
  served: ServedCertificate,
  doing = 'rotate the server certificate',
): CertificateInfo {
  const leaf = readCertificates(
    readUserFile(certFile, 'server certificate'),
    `the server certificate ${certFile}`,
  )[0]!;
  if (leaf.fingerprint !== served.fingerprint) {
    throw new DbtlsError(
      'SERVER_FILES_MISMATCH',
      `could not ${doing}: the server serves ${shortFingerprint(served.fingerprint)} but ${certFile} holds ${shortFingerprint(leaf.fingerprint)}`,
      {
        hint: 'the file changed since the last reload, or it is not the server this machine hosts; run `dbtls server reload ADMIN_TARGET` or pass --dir',
        details: { served: served.fingerprint, file: leaf.fingerprint },
      },
    );
  }
  return leaf;
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
    orphans: unfinishedRenewals(entries, leaf.serial),
    superseded: entries
      .filter((e) => e.status === 'valid' && mine?.renewedFrom !== undefined && e.serial === mine.renewedFrom)
      .map((e) => e.serial),
  };
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
  const statement = onlineReload(session, 'rotate the server certificate');
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
  // The new certificate's request, checked as issuance will check it (a --days past the CA's own end is
  // DAYS_BEYOND_ISSUER here, in a dry run too, not after the rotation directory was made).
  resolveLeaf(ca, {
    profile: 'server',
    cn: names.cn,
    dns: [...names.dns],
    ip: [...names.ip],
    subjectPrefix: names.subjectPrefix,
    ...(o.days === undefined ? {} : { days: o.days }),
    ...(o.now === undefined ? {} : { now: o.now }),
  });
  const layout = pairLayout(files);
  const { orphans, superseded } = leftovers(readIndex(ca.dir), leaf);
  return {
    files,
    names,
    keyAlgorithm: keyAlgorithmOf(leaf) ?? 'ec-p256',
    before: certificateSummary(leaf),
    subject: oneLineName([...names.subjectPrefix, { type: 'CN', value: names.cn }]),
    days: o.days,
    pairDir: layout.root,
    convertsFiles: !converted(layout),
    statement,
    orphans,
    superseded,
  };
}
