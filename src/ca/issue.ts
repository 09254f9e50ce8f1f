/**
 * Issuing leaf certificates: one function applies a profile (src/pki/profiles.ts) to a request. Requests
 * are validated completely before the CA lock is taken, so bad input never touches the CA directory.
 */
import type { KeyObject } from 'node:crypto';
import * as path from 'node:path';
import { DbtlsError } from '../errors.js';
import { type CsrInfo, parseCsr } from '../pki/csr.js';
import { checkKeyStrength, DEFAULT_KEY_ALGORITHM, type KeyAlgorithm } from '../pki/keys.js';
import { type NameAttribute, nameValueFix, nameValueProblem, oneLineName } from '../pki/names.js';
import { daysToMs, type LeafProfileName, PROFILES } from '../pki/profiles.js';
import { canonicalIp, checkDnsName, isHostName, isIpAddress } from '../pki/san.js';
import { dateText } from '../util/dates.js';
import { ensureDir, fsyncDir, MODE_PUBLIC, writeFileAtomic } from '../util/files.js';
import { quotedValue } from '../util/safe-text.js';
import { appendIndex, type IndexEntry, readIndex } from './cert-index.js';
import {
  beginJournal,
  finishJournal,
  type Journal,
  recoverJournal,
  settleJournal,
  stagingFor,
} from './journal.js';
import { type IssuedCertificate, type ResolvedLeaf, signLeaf } from './sign-leaf.js';
import { type Ca, certPath, withCaLock } from './store.js';

export interface IssueRequest {
  readonly profile: LeafProfileName;
  readonly cn: string;
  readonly dns?: readonly string[];
  readonly ip?: readonly string[];
  readonly days?: number;
  readonly key?: KeyAlgorithm;
  /** Certify this key instead of generating one (CSR signing, renewal with --reuse-key). */
  readonly publicKey?: KeyObject;
  /** The SubjectPublicKeyInfo DER of publicKey when already at hand (a CSR): saves re-encoding it. */
  readonly spki?: Buffer;
  readonly now?: Date;
  /** The attributes before the CN; default /O=<CA org>. */
  readonly subjectPrefix?: readonly NameAttribute[];
  readonly renewedFrom?: string;
}

/** Certificates are backdated this much: a peer whose clock is slightly behind still accepts them. */
const BACKDATE_MS = 60_000;

function cnInvalid(cn: string, cause: string, hint: string): DbtlsError {
  return new DbtlsError('CN_INVALID', `could not use the common name ${quotedValue(cn)}: ${cause}`, {
    hint,
  });
}

/** A CN dbtls puts in a subject (any certificate, any CSR): CN_INVALID with the reason (names.ts). */
export function checkCommonName(cn: string): void {
  const problem = nameValueProblem(cn);
  if (problem) throw cnInvalid(cn, problem, nameValueFix(cn)!);
}

/** A subject attribute other than the CN, as a CSR brings it (O, OU, …): SUBJECT_INVALID. */
function checkSubjectAttribute(a: NameAttribute): void {
  const problem = nameValueProblem(a.value);
  if (problem) {
    throw new DbtlsError(
      'SUBJECT_INVALID',
      `could not use the subject attribute ${a.type}=${quotedValue(a.value)}: ${problem}`,
      {
        hint: 'make the request again with a subject of plain values (`dbtls csr` writes only a CN)',
      },
    );
  }
}

/** Checks a request against the profile and the issuer; throws before anything is generated or written. */
export function resolveLeaf(ca: Ca, req: IssueRequest): ResolvedLeaf {
  const profile = PROFILES[req.profile];
  const cn = req.cn;
  checkCommonName(cn);
  for (const a of req.subjectPrefix ?? []) checkSubjectAttribute(a);
  const dns: string[] = [];
  const ips: string[] = [];
  if (profile.cnInSan) {
    if (isIpAddress(cn)) ips.push(canonicalIp(cn));
    else if (isHostName(cn)) dns.push(cn.toLowerCase());
    else {
      throw cnInvalid(
        cn,
        'a server certificate needs a host name or IP address',
        'use the name clients connect to, e.g. --cn db1.example.com (add more with --dns/--ip)',
      );
    }
  }
  for (const d of req.dns ?? []) dns.push(checkDnsName(d));
  for (const a of req.ip ?? []) ips.push(canonicalIp(a));
  const days = req.days ?? profile.defaultDays;
  if (!Number.isInteger(days) || days < 1) {
    throw new DbtlsError(
      'DAYS_INVALID',
      `could not issue for ${days} days: the validity must be a whole number of days, at least 1`,
      {
        hint: 'give --days N with N >= 1',
      },
    );
  }
  const now = req.now ?? new Date();
  const backdated = Math.floor((now.getTime() - BACKDATE_MS) / 1000) * 1000;
  const notBefore = new Date(Math.max(backdated, ca.issuer.notBefore.getTime()));
  const notAfter = new Date(notBefore.getTime() + daysToMs(days));
  if (notAfter > ca.issuer.notAfter) {
    const left = Math.floor((ca.issuer.notAfter.getTime() - notBefore.getTime()) / daysToMs(1));
    throw new DbtlsError(
      'DAYS_BEYOND_ISSUER',
      `could not issue for ${days} days: the issuing CA expires on ${dateText(ca.issuer.notAfter)}, in ${left} days`,
      {
        hint: `give --days ${Math.max(left, 0)} or less; a certificate never outlives its issuer (renew the CA to go further)`,
      },
    );
  }
  if (req.publicKey) checkKeyStrength(req.publicKey, 'the public key');
  const subject = [...(req.subjectPrefix ?? [{ type: 'O', value: ca.meta.org }]), { type: 'CN', value: cn }];
  return {
    profile: req.profile,
    cn,
    subject,
    dnsNames: [...new Set(dns)],
    ipAddresses: [...new Set(ips)],
    notBefore,
    notAfter,
    key: req.key ?? DEFAULT_KEY_ALGORITHM,
    ...(req.publicKey ? { publicKey: req.publicKey } : {}),
    ...(req.publicKey && req.spki ? { spki: req.spki } : {}),
    ...(req.renewedFrom ? { renewedFrom: req.renewedFrom } : {}),
  };
}

/** Appends the issued certificates to the index (one fsynced append). Caller holds the lock. */
export function recordIssued(ca: Ca, issued: readonly IssuedCertificate[]): void {
  appendIndex(
    ca.dir,
    issued.map((i) => i.entry),
  );
}

/** A file the user gets, named inside Delivery.dir. */
export interface OutputFile {
  readonly name: string;
  readonly data: string;
  readonly mode: number;
}

/** Where an issuance delivers its files: written and renamed into place under the CA lock (journal.ts). */
export interface Delivery {
  readonly dir: string;
  readonly files: (issued: IssuedCertificate) => readonly OutputFile[];
  /** Replace existing files (renewal); otherwise `check` must refuse a taken target. */
  readonly overwrite?: boolean;
  /** Runs under the CA lock before anything is signed: a concurrent issuer into the same target loses here. */
  readonly check?: () => void;
}

/**
 * REQUIRE SUBJECT compares OpenSSL's one-line form, which is not one-to-one for values holding a
 * backslash (names.ts): a CN of the four characters `\xC3` and a CN holding the byte 0xC3 print alike.
 * New names cannot hold one; an index written before that rule may. A valid certificate for another CN
 * with the same one-line subject would pass the same REQUIRE SUBJECT, so it is refused (issue 14, item 9).
 */
export function subjectCollisionCheck(index: readonly IndexEntry[]): (cn: string, subject: string) => void {
  const valid = new Map<string, IndexEntry[]>();
  for (const e of index) {
    if (e.status !== 'valid') continue;
    const same = valid.get(e.subject);
    if (same) same.push(e);
    else valid.set(e.subject, [e]);
  }
  return (cn, subject) => {
    const other = valid.get(subject)?.find((e) => e.cn !== cn);
    if (other) {
      throw new DbtlsError(
        'SUBJECT_COLLISION',
        `could not issue for ${JSON.stringify(cn)}: its subject ${subject} reads the same in OpenSSL's one-line form as that of the valid certificate ${other.serial} for ${JSON.stringify(other.cn)}, so REQUIRE SUBJECT could not tell them apart`,
        { hint: `choose another CN, or revoke ${other.serial} first: \`dbtls revoke ${other.serial}\`` },
      );
    }
  };
}

/**
 * Issues one leaf certificate and records it in the CA, through the journal (src/ca/journal.ts), under the
 * lock: with a delivery the target is checked before signing, the files are staged, the index line is the
 * commit, the renames deliver; a failure or a crash at any point leaves either nothing issued or the files
 * delivered. Without one (the caller installs the files: rotate, `server enable --issue`) the journal has
 * no renames, and a crash between the CA's copy in certs/ and the index line leaves no unrecorded copy.
 */
export function issueCertificate(ca: Ca, req: IssueRequest, delivery?: Delivery): IssuedCertificate {
  const leaf = resolveLeaf(ca, req);
  void ca.issuerKey; // unlock (or fail) before taking the lock
  return withCaLock(ca.dir, () => {
    recoverJournal(ca.dir);
    delivery?.check?.();
    const index = readIndex(ca.dir);
    subjectCollisionCheck(index)(leaf.cn, oneLineName(leaf.subject));
    const issued = signLeaf(ca, leaf, new Set(index.map((e) => e.serial)));
    const certsDir = path.join(ca.dir, 'certs');
    ensureDir(certsDir);
    const files = delivery?.files(issued) ?? [];
    // Without a delivery the (empty) staging directory is the CA's own: settling the journal removes it.
    const { stage, whole } = stagingFor(delivery?.dir ?? ca.dir);
    const serials = [issued.entry.serial];
    const journal: Journal = {
      format: 1,
      serials,
      stage,
      overwrite: delivery?.overwrite ?? false,
      moves: !delivery
        ? []
        : whole
          ? [{ from: stage, to: delivery.dir, serials }]
          : files.map((f) => ({
              from: path.join(stage, f.name),
              to: path.join(delivery.dir, f.name),
              serials,
            })),
    };
    beginJournal(ca.dir, journal);
    try {
      for (const f of files) writeFileAtomic(path.join(stage, f.name), f.data, { mode: f.mode });
      if (delivery) fsyncDir(stage);
      writeFileAtomic(certPath(ca.dir, issued.entry.serial), issued.certPem, { mode: MODE_PUBLIC });
      fsyncDir(certsDir);
      recordIssued(ca, [issued]);
    } catch (err) {
      settleJournal(ca.dir, journal);
      throw err;
    }
    finishJournal(ca.dir, journal);
    return issued;
  });
}

export interface SignCsrOptions {
  readonly profile: LeafProfileName;
  readonly days?: number;
  readonly now?: Date;
}

/**
 * Signs a CSR. The CA decides every extension from the profile; only the CN and the SANs come from the
 * CSR. A CSR asking for CA:true is refused, never silently downgraded (issue 2).
 */
export function signCsr(
  ca: Ca,
  csrText: string | Buffer,
  options: SignCsrOptions,
  delivery?: Delivery,
): IssuedCertificate {
  return issueCertificate(ca, csrRequest(csrText, options), delivery);
}

/** The issue request a CSR makes (every check of signCsr, nothing signed): also what `sign --dry-run` shows. */
export function csrRequest(csrText: string | Buffer, options: SignCsrOptions): IssueRequest {
  return requestOfCsr(parseCsr(csrText), options);
}

/** The issue request of a parsed (verified) CSR: what the CA takes from it, and what it refuses. */
export function requestOfCsr(csr: CsrInfo, options: SignCsrOptions): IssueRequest {
  if (csr.requestsCa) {
    throw new DbtlsError(
      'CSR_REQUESTS_CA',
      'could not sign the CSR: it asks for a CA certificate (basicConstraints CA:true)',
      {
        hint: 'dbtls signs only server and client leaves; make the CSR again without CA:true (`dbtls csr` does)',
      },
    );
  }
  if (csr.cn === undefined) {
    throw new DbtlsError('CSR_MALFORMED', 'could not sign the CSR: its subject has no CN', {
      hint: 'make the CSR with a CN: the host name for a server, the database user for a client',
    });
  }
  const cns = csr.subjectAttributes.filter((a) => a.type === 'CN');
  if (cns.length > 1) {
    // The certificate would carry only one (pki reads the last); peers differ on which is "the" CN (issue 14, item 9).
    throw new DbtlsError(
      'CSR_CN_MULTIPLE',
      `could not sign the CSR: its subject ${csr.subject} has ${cns.length} CNs (${cns.map((a) => JSON.stringify(a.value)).join(', ')})`,
      {
        hint: 'make the request again with one CN: the host name for a server, the database user for a client',
      },
    );
  }
  return {
    profile: options.profile,
    cn: csr.cn,
    dns: csr.dnsNames,
    ip: csr.ipAddresses,
    publicKey: csr.publicKey,
    spki: csr.spki,
    subjectPrefix: csr.subjectAttributes.filter((a) => a.type !== 'CN'),
    ...(options.days === undefined ? {} : { days: options.days }),
    ...(options.now ? { now: options.now } : {}),
  };
}
