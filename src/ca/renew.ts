/**
 * Renewal: a new certificate (new serial) with the same subject, SANs and profile as an issued one; a new
 * key unless the old one is reused. The index marks the new entry `renewedFrom` the old serial; the old
 * certificate stays valid until it expires or is revoked (rotation overlaps them).
 */
import type { KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import { causeText, DbtlsError } from '../errors.js';
import { type CertificateInfo, parseCertificate } from '../pki/certificate.js';
import { checkKeyPair } from '../pki/chain.js';
import { keyAlgorithmOf } from '../pki/keys.js';
import { decodeName } from '../pki/names.js';
import { daysToMs } from '../pki/profiles.js';
import { commandLine } from '../util/shell.js';
import type { IndexEntry } from './cert-index.js';
import { type Delivery, type IssueRequest, issueCertificate, resolveLeaf } from './issue.js';
import type { IssuedCertificate } from './sign-leaf.js';
import { type Ca, certPath, normalizeSerial } from './store.js';

export type RenewSelector =
  | { readonly serial: string }
  | { readonly cn: string }
  | { readonly expiringWithinDays: number };

/** Leaves that are valid and not already superseded by a renewal. */
function current(entries: readonly IndexEntry[]): IndexEntry[] {
  const renewed = new Set(entries.map((e) => e.renewedFrom).filter((s): s is string => s !== undefined));
  return entries.filter(
    (e) => e.status === 'valid' && e.profile !== 'intermediate' && !renewed.has(e.serial),
  );
}

/**
 * What an interrupted replacement of `serial` left valid: certificates issued to replace it (renewedFrom)
 * that a crash kept from being installed, their keys lost. The next replacement voids them (an index entry
 * means a delivered certificate, DESIGN.md): rotate, `server enable --issue`. Pure.
 */
export function unfinishedRenewals(entries: readonly IndexEntry[], serial: string): string[] {
  return entries
    .filter((e) => e.status === 'valid' && e.renewedFrom === serial && e.serial !== serial)
    .map((e) => e.serial);
}

/**
 * `dbtls issue server|client` for the names of a certificate that cannot be renewed (`issue server` always
 * puts the CN in the SANs, so it is not repeated as a --dns).
 */
export function issueAgainLine(entry: IndexEntry, ...extra: string[]): string {
  const names =
    entry.profile === 'server'
      ? [
          ...entry.dnsNames.filter((d) => d !== entry.cn).flatMap((d) => ['--dns', d]),
          ...entry.ipAddresses.filter((a) => a !== entry.cn).flatMap((a) => ['--ip', a]),
        ]
      : [];
  return commandLine(['dbtls', 'issue', entry.profile, '--cn', entry.cn, ...names, ...extra]);
}

/** The index entries a selector names; CERT_NOT_FOUND when a serial or CN names nothing. */
export function selectForRenewal(
  entries: readonly IndexEntry[],
  selector: RenewSelector,
  now = new Date(),
): IndexEntry[] {
  if ('serial' in selector) {
    const serial = normalizeSerial(selector.serial);
    const entry = entries.find((e) => e.serial === serial);
    if (!entry || entry.profile === 'intermediate') {
      throw new DbtlsError(
        'CERT_NOT_FOUND',
        `could not renew ${selector.serial}: no leaf certificate with that serial in the index`,
        {
          hint: 'run `dbtls list` to see the serials',
        },
      );
    }
    if (entry.status === 'revoked') {
      throw new DbtlsError('CERT_REVOKED', `could not renew ${serial}: it is revoked`, {
        hint: `issue a new certificate instead: \`${issueAgainLine(entry)}\``,
      });
    }
    return [entry];
  }
  if ('cn' in selector) {
    const matches = current(entries).filter((e) => e.cn === selector.cn);
    if (matches.length === 0) {
      throw new DbtlsError(
        'CERT_NOT_FOUND',
        `could not renew ${JSON.stringify(selector.cn)}: no valid certificate with that CN`,
        {
          hint: 'run `dbtls list` to see the certificates',
        },
      );
    }
    // The most recent one: renewing the older duplicates would fork the renewal chain.
    return [matches.reduce((a, b) => (a.notBefore >= b.notBefore ? a : b))];
  }
  const limit = now.getTime() + daysToMs(selector.expiringWithinDays);
  return current(entries).filter((e) => Date.parse(e.notAfter) <= limit);
}

export interface RenewOptions {
  /** Certify this (old) key again instead of generating a new one; must match the old certificate. */
  readonly reuseKey?: KeyObject;
  readonly days?: number;
  readonly now?: Date;
}

/**
 * The CA's copy of an issued certificate, checked against the fingerprint in the index: renewal copies
 * its subject, so a copy that was replaced or damaged must not be trusted.
 */
function recordedCertificate(ca: Ca, entry: IndexEntry): CertificateInfo {
  const file = certPath(ca.dir, entry.serial);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new DbtlsError('CA_CORRUPT', `could not renew ${entry.serial}: ${causeText(err)}`, {
      hint: `restore ${file} from the CA backup, or issue a new certificate: \`${issueAgainLine(entry)}\``,
      cause: err,
    });
  }
  const cert = parseCertificate(bytes);
  if (cert.fingerprint !== entry.fingerprint) {
    throw new DbtlsError(
      'CA_CORRUPT',
      `could not renew ${entry.serial}: ${file} is not the certificate the index recorded`,
      {
        hint: `restore ${file} from the CA backup, or issue a new certificate: \`${issueAgainLine(entry)}\``,
      },
    );
  }
  return cert;
}

/**
 * The request that renews `entry`, every check made (a CA certificate, the recorded copy, a reused key
 * of another certificate, the validity against the issuer) and nothing issued: a run of several renewals
 * checks them all before the first one is issued.
 */
export function renewalRequest(ca: Ca, entry: IndexEntry, options: RenewOptions = {}): IssueRequest {
  if (entry.profile === 'intermediate') {
    throw new DbtlsError('CERT_NOT_FOUND', `could not renew ${entry.serial}: it is a CA certificate`, {
      hint: 'dbtls renew renews server and client certificates',
    });
  }
  const old = recordedCertificate(ca, entry);
  if (options.reuseKey) {
    checkKeyPair(
      old,
      options.reuseKey,
      `could not renew ${entry.serial} with the old key: the key does not belong to that certificate`,
      'give the key.pem that was issued with it, or renew without --reuse-key to get a new key',
    );
  }
  const subject = decodeName(old.subjectDer);
  const alg = keyAlgorithmOf(old);
  const request: IssueRequest = {
    profile: entry.profile,
    cn: entry.cn,
    dns: entry.dnsNames,
    ip: entry.ipAddresses,
    subjectPrefix: subject.filter((a) => a.type !== 'CN'),
    renewedFrom: entry.serial,
    ...(options.reuseKey ? { publicKey: options.reuseKey } : alg ? { key: alg } : {}),
    ...(options.days === undefined ? {} : { days: options.days }),
    ...(options.now ? { now: options.now } : {}),
  };
  resolveLeaf(ca, request);
  return request;
}

export function renewCertificate(
  ca: Ca,
  entry: IndexEntry,
  options: RenewOptions = {},
  delivery?: Delivery,
): IssuedCertificate {
  return issueCertificate(ca, renewalRequest(ca, entry, options), delivery);
}
