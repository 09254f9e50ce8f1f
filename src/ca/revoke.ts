/**
 * Revocation: marking certificates revoked in the CA index (history is kept: entries are never removed)
 * and publishing CRLs. Servers check revocation at every level of a chain (FACTS.md: MariaDB with only
 * the intermediate's CRL refuses every client), so `generateCrls` writes ONE file holding a current CRL
 * from each CA in the chain: the intermediate's (revoked leaves) and the root's (revoked intermediates).
 */
import type { KeyObject } from 'node:crypto';
import { DbtlsError } from '../errors.js';
import type { CertificateInfo } from '../pki/certificate.js';
import { createCrl, type RevocationReason, type RevokedCertificate } from '../pki/crl.js';
import { MODE_PUBLIC, removeStaleTemps, writeFileAtomic } from '../util/files.js';
import { type IndexEntry, readIndex, writeIndex } from './cert-index.js';
import { recoverJournal } from './journal.js';
import { type Ca, caPath, normalizeSerial, readCaMeta, withCaLock, writeCaMeta } from './store.js';

/** Default CRL lifetime: servers keep accepting a CRL until nextUpdate, so it must outlive a missed run. */
export const DEFAULT_CRL_DAYS = 60;
/** A CRL older than a year defeats its purpose; past this, publish more often instead. */
export const MAX_CRL_DAYS = 366;
const DAY_MS = 86_400_000;

export interface RevokeRequest {
  /** Hex serial as `dbtls list` shows it (colons and case ignored). */
  readonly serial?: string;
  /** Every valid certificate with this CN. */
  readonly cn?: string;
  readonly reason?: RevocationReason;
  readonly now?: Date;
}

function checkRequest(req: RevokeRequest): void {
  if ((req.serial === undefined) === (req.cn === undefined)) {
    throw new DbtlsError('USAGE', 'could not revoke: give either a serial or --cn, not both', {
      hint: 'usage: dbtls revoke SERIAL|--cn NAME [--reason REASON]',
    });
  }
}

/**
 * The entries a request revokes, as they will read once revoked; changes nothing (`revoke --dry-run`
 * shows exactly this). CERT_NOT_FOUND / ALREADY_REVOKED when there is nothing to revoke.
 */
export function planRevocation(entries: readonly IndexEntry[], req: RevokeRequest): IndexEntry[] {
  checkRequest(req);
  const serial = req.serial === undefined ? undefined : normalizeSerial(req.serial);
  const what = serial !== undefined ? `serial ${serial}` : `CN ${req.cn}`;
  const revokedAt = (req.now ?? new Date()).toISOString();
  const reason = req.reason ?? 'unspecified';
  const matching = entries.filter((e) =>
    serial !== undefined ? normalizeSerial(e.serial) === serial : e.cn === req.cn,
  );
  if (matching.length === 0) {
    throw new DbtlsError('CERT_NOT_FOUND', `could not revoke ${what}: no certificate of this CA has it`, {
      hint: 'check the serial or CN with `dbtls list`',
    });
  }
  const valid = matching.filter((e) => e.status === 'valid');
  if (valid.length === 0) {
    const first = matching.find((e) => e.status === 'revoked');
    if (!first) {
      throw new DbtlsError('CERT_NOT_FOUND', `could not revoke ${what}: it is void (never delivered)`, {
        hint: 'a void certificate was never handed out and its key is destroyed: nothing to revoke',
      });
    }
    throw new DbtlsError(
      'ALREADY_REVOKED',
      `could not revoke ${what}: it was already revoked on ${first.revokedAt} (${first.revocationReason})`,
      {
        hint: 'nothing to do; run `dbtls crl` if servers do not refuse it yet',
        details: { serial: first.serial, revokedAt: first.revokedAt },
      },
    );
  }
  return valid.map((e): IndexEntry => ({ ...e, status: 'revoked', revokedAt, revocationReason: reason }));
}

/**
 * Under the CA lock, with an issuance a crash interrupted settled first (src/ca/journal.ts): the entries
 * `change` picks from the index, written back in one atomic index write.
 */
function changeIndex(caDir: string, change: (entries: readonly IndexEntry[]) => IndexEntry[]): IndexEntry[] {
  return withCaLock(caDir, () => {
    recoverJournal(caDir);
    const entries = readIndex(caDir);
    const changed = change(entries);
    if (changed.length === 0) return changed;
    const bySerial = new Map(changed.map((e) => [e.serial, e]));
    writeIndex(
      caDir,
      entries.map((e) => bySerial.get(e.serial) ?? e),
    );
    return changed;
  });
}

/** Marks the certificates revoked under the CA lock; returns the entries as revoked. */
export function revoke(caDir: string, req: RevokeRequest): IndexEntry[] {
  checkRequest(req);
  return changeIndex(caDir, (entries) => planRevocation(entries, req));
}

/**
 * Takes the still-valid certificates among `serials` out of service: revoked with `reason`, or `void`
 * (recorded but never delivered, its key destroyed). Serials that are not valid (already revoked by hand,
 * void) or not in the index are left as they are: rotate supersedes the leaf it replaced and voids one it
 * could not install, `secure --undo` revokes what it issued. Returns the entries changed.
 */
export function retireCertificates(
  caDir: string,
  serials: readonly string[],
  reason: RevocationReason | 'void',
  now: Date = new Date(),
): IndexEntry[] {
  if (serials.length === 0) return [];
  const wanted = new Set(serials);
  return changeIndex(caDir, (entries) =>
    entries
      .filter((e) => wanted.has(e.serial) && e.status === 'valid')
      .map(
        (e): IndexEntry =>
          reason === 'void'
            ? { ...e, status: 'void' }
            : { ...e, status: 'revoked', revokedAt: now.toISOString(), revocationReason: reason },
      ),
  );
}

export interface PublishedCrl {
  readonly issuer: 'root' | 'intermediate';
  readonly issuerSubject: string;
  readonly crlNumber: number;
  readonly revokedSerials: readonly string[];
}

export interface CrlSet {
  /** Every CRL of the chain, intermediate first, as one PEM file for ssl_crl. */
  readonly pem: string;
  readonly crls: readonly PublishedCrl[];
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** Where it was written in the CA directory. */
  readonly file: string;
}

export interface CrlOptions {
  readonly days?: number;
  readonly now?: Date;
  /** Also write the CRL file here (`crl --out`), under the CA lock like crl.pem. */
  readonly out?: string | undefined;
}

function revokedBy(entries: readonly IndexEntry[], issuer: 'root' | 'intermediate'): RevokedCertificate[] {
  return entries
    .filter((e) => e.status === 'revoked' && e.issuedBy === issuer)
    .map((e) => ({
      serial: e.serial,
      revokedAt: new Date(e.revokedAt ?? 0),
      ...(e.revocationReason ? { reason: e.revocationReason as RevocationReason } : {}),
    }));
}

/** What generateCrls would publish, signing and writing nothing (`crl --dry-run`). */
export function planCrls(ca: Ca, options: CrlOptions = {}): Omit<CrlSet, 'pem'> {
  const { thisUpdate, nextUpdate } = crlPeriod(options);
  const entries = readIndex(ca.dir);
  const crlNumber = readCaMeta(ca.dir).crlNumber ?? 1;
  return {
    crls: crlLinks(ca).map((l) => ({
      issuer: l.issuer,
      issuerSubject: l.cert.subject,
      crlNumber,
      revokedSerials: revokedBy(entries, l.issuer).map((r) => r.serial),
    })),
    thisUpdate,
    nextUpdate,
    file: caPath(ca.dir, 'crl'),
  };
}

function checkCrlDays(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > MAX_CRL_DAYS) {
    throw new DbtlsError('CRL_DAYS_INVALID', `could not create the CRL: --days ${days} is out of range`, {
      hint: `give a number of days from 1 to ${MAX_CRL_DAYS}; publish again before it runs out`,
    });
  }
}

/** The CAs of the chain that sign a CRL, intermediate first (the order of crl.pem), with their keys. */
function crlLinks(
  ca: Ca,
): { issuer: 'root' | 'intermediate'; cert: CertificateInfo; key: () => KeyObject }[] {
  return [
    ...(ca.intermediate
      ? [{ issuer: 'intermediate' as const, cert: ca.intermediate, key: () => ca.issuerKey }]
      : []),
    { issuer: 'root' as const, cert: ca.root, key: () => ca.rootKey() },
  ];
}

/** The CRLs of the chain (intermediate first) with this number, signed in memory. */
function signCrls(
  ca: Ca,
  entries: readonly IndexEntry[],
  crlNumber: number,
  thisUpdate: Date,
  nextUpdate: Date,
): { pem: string; crls: PublishedCrl[] } {
  let pem = '';
  const crls = crlLinks(ca).map((link): PublishedCrl => {
    const revoked = revokedBy(entries, link.issuer);
    const issuerKey = link.key();
    pem += createCrl({ issuer: link.cert, issuerKey, crlNumber, thisUpdate, nextUpdate, revoked }).pem;
    return {
      issuer: link.issuer,
      issuerSubject: link.cert.subject,
      crlNumber,
      revokedSerials: revoked.map((r) => r.serial),
    };
  });
  return { pem, crls };
}

function crlPeriod(options: CrlOptions): { thisUpdate: Date; nextUpdate: Date } {
  const days = options.days ?? DEFAULT_CRL_DAYS;
  checkCrlDays(days);
  // Whole seconds: CRL times carry no fraction (RFC 5280 5.1.2.4).
  const thisUpdate = new Date(Math.floor((options.now ?? new Date()).getTime() / 1000) * 1000);
  return { thisUpdate, nextUpdate: new Date(thisUpdate.getTime() + days * DAY_MS) };
}

/**
 * The CRLs generateCrls would publish now, signed but recorded nowhere (no number used, no file): what a
 * command checks before it publishes (`crl --install` asks whether they cover the server's CAs).
 */
export function previewCrls(ca: Ca, options: CrlOptions = {}): string {
  const { thisUpdate, nextUpdate } = crlPeriod(options);
  const crlNumber = readCaMeta(ca.dir).crlNumber ?? 1;
  return signCrls(ca, readIndex(ca.dir), crlNumber, thisUpdate, nextUpdate).pem;
}

/**
 * Signs a current CRL for each CA of the chain, advances the CRL number in ca.json, and writes crl.pem
 * into the CA directory (and `out`), all under the CA lock.
 */
export function generateCrls(ca: Ca, options: CrlOptions = {}): CrlSet {
  const { thisUpdate, nextUpdate } = crlPeriod(options);
  // Decrypt the keys before taking the lock: a wrong passphrase must fail before anything changes.
  ca.rootKey();
  void ca.issuerKey;
  return withCaLock(ca.dir, () => {
    recoverJournal(ca.dir);
    const meta = readCaMeta(ca.dir);
    const crlNumber = meta.crlNumber ?? 1;
    const { pem, crls } = signCrls(ca, readIndex(ca.dir), crlNumber, thisUpdate, nextUpdate);
    // The number first: after a crash a number may be skipped (harmless), never reused (RFC 5280 5.2.3).
    writeCaMeta(ca.dir, { ...meta, crlNumber: crlNumber + 1 });
    const file = caPath(ca.dir, 'crl');
    writeFileAtomic(file, pem, { mode: MODE_PUBLIC });
    if (options.out !== undefined) {
      // What a run killed before the rename left beside it (often a server's ssl directory): the lock is ours.
      removeStaleTemps(options.out);
      writeFileAtomic(options.out, pem, { mode: MODE_PUBLIC });
    }
    return { pem, crls, thisUpdate, nextUpdate, file };
  });
}
