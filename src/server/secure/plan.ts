/**
 * `dbtls secure`: the one-shot path from "TLS off" to "verified, per-user TLS", made of steps that each
 * look at what is there first and do nothing when it is already right. That is what makes a second run
 * a no-op (no file rewritten, no certificate issued, no statement run) and an interrupted run resumable.
 *
 *   ca                        open the CA, or create one
 *   server-certificate        a leaf for the target's names, issued only when the installed one is not right
 *   enable                    files + config fragment, online reload or restart, proof of what is served
 *   client-certificate <u>    DIR/<user>/{cert,key,chain,ca}.pem for each --account
 *   require <u>               ALTER USER … REQUIRE, checked by a login as that user (the lockout guard)
 *   require-secure-transport  SET GLOBAL + the config fragment, so it survives restarts
 *   inspect                   the final proof, findings printed by the CLI
 *
 * This module holds the pure decisions; src/server/secure.ts runs the steps. What a run changed is
 * recorded in <ca-dir>/secure.json (src/server/secure-state.ts) for `--undo`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readIndex } from '../../ca/cert-index.js';
import { type Ca, caPath } from '../../ca/store.js';
import { DbtlsError } from '../../errors.js';
import { EXPIRY_WARNING_DAYS } from '../../inspect/findings.js';
import { type CertificateInfo, parseCertificates } from '../../pki/certificate.js';
import { issuedBy } from '../../pki/chain.js';
import { commonName, decodeName } from '../../pki/names.js';
import { daysLeft } from '../../util/dates.js';
import type { Account } from '../admin/session.js';

const LOOPBACK_NAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '::1']);
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** 'planned': what a dry run would do. */
export type StepStatus = 'done' | 'unchanged' | 'pending' | 'skipped' | 'planned';

export interface SecureStep {
  readonly step: string;
  readonly status: StepStatus;
  readonly detail: string;
}

export interface CertificateNames {
  readonly cn: string;
  readonly dns: readonly string[];
  readonly ip: readonly string[];
}

function isIp(name: string): boolean {
  return IPV4.test(name) || name.includes(':');
}

/** A host name worth putting in a certificate (RFC 1123 labels; no bare single-label junk like ''). */
function isDnsName(name: string): boolean {
  return /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(
    name,
  );
}

/**
 * The names the server certificate must hold: the target's host (what verify-full clients dial), the
 * server's own host name, loopback names when the target is local, and the extra --dns/--ip. Pure and
 * deterministic, so that a second run asks for exactly the same names.
 */
export function serverNames(
  targetHost: string,
  serverHostname: string | undefined,
  dns: readonly string[] = [],
  ip: readonly string[] = [],
): CertificateNames {
  const dnsOut: string[] = [];
  const ipOut: string[] = [];
  const add = (name: string | undefined) => {
    if (!name) return;
    const n = name.toLowerCase();
    if (isIp(n)) {
      if (!ipOut.includes(n)) ipOut.push(n);
    } else if (isDnsName(n) && !dnsOut.includes(n)) dnsOut.push(n);
  };
  add(targetHost);
  if (LOOPBACK_NAMES.has(targetHost.toLowerCase())) {
    add('localhost');
    add('127.0.0.1');
  }
  add(serverHostname);
  for (const d of dns) add(d);
  for (const i of ip) add(i);
  return { cn: targetHost.toLowerCase(), dns: dnsOut, ip: ipOut };
}

/** The names `names` asks for that `cert` lacks. Pure. */
export function missingNames(
  cert: Pick<CertificateInfo, 'dnsNames' | 'ipAddresses'>,
  names: CertificateNames,
): string[] {
  const dns = new Set(cert.dnsNames.map((d) => d.toLowerCase()));
  const ips = new Set(cert.ipAddresses);
  return [...names.dns.filter((d) => !dns.has(d)), ...names.ip.filter((i) => !ips.has(i))];
}

export interface LeafCheck {
  readonly cert: CertificateInfo;
  readonly issuer: CertificateInfo;
  /** The serials the CA index lists as valid. */
  readonly validSerials: ReadonlySet<string>;
  readonly now: Date;
  readonly names?: CertificateNames | undefined;
  readonly cn?: string | undefined;
}

/**
 * Why an installed leaf must be replaced, or undefined when it is fine as it is. Pure: the reasons are
 * what a second run prints instead of "unchanged".
 */
export function leafProblem(c: LeafCheck): string | undefined {
  if (!issuedBy(c.cert, c.issuer)) return `it was not issued by this CA (${c.cert.issuer})`;
  if (!c.validSerials.has(c.cert.serial)) return 'the CA index does not list it as valid';
  const days = daysLeft(c.cert.notAfter, c.now);
  if (days < EXPIRY_WARNING_DAYS) return `it expires in ${days} day(s)`;
  if (c.names) {
    const missing = missingNames(c.cert, c.names);
    if (missing.length) return `it does not name ${missing.join(', ')}`;
  }
  if (c.cn !== undefined && commonName(decodeName(c.cert.subjectDer)) !== c.cn)
    return `its subject is ${c.cert.subject}, not CN=${c.cn}`;
  return undefined;
}

/** Reads the first certificate of a PEM file, or undefined when the file does not exist. */
export function readLeafFile(file: string): CertificateInfo | undefined {
  if (!fs.existsSync(file)) return undefined;
  return parseCertificates(fs.readFileSync(file))[0];
}

export function validSerials(caDir: string): Set<string> {
  return new Set(
    readIndex(caDir)
      .filter((e) => e.status === 'valid')
      .map((e) => e.serial),
  );
}

/** The directory of a user's client certificate: DIR/<user>, refusing names that would leave DIR. */
export function clientDir(out: string, account: Account): string {
  if (
    !account.user ||
    account.user.includes('/') ||
    account.user.includes('\0') ||
    account.user === '.' ||
    account.user === '..'
  ) {
    throw new DbtlsError(
      'ACCOUNT_INVALID',
      `could not use ${JSON.stringify(account.user)} as a directory name for its certificate`,
      {
        hint: 'use --account with a plain user name',
      },
    );
  }
  return path.join(path.resolve(out), account.user);
}

/** The CA files clients and the server trust: the root and any intermediate (ssl_ca verifies client chains). */
export function trustPem(ca: Ca): string {
  return ca.caPem() + ca.chainPem();
}

/** The root certificate file of the CA: what --ca points at for verify-full clients. */
export function rootFile(ca: Ca): string {
  return caPath(ca.dir, 'root');
}

export function step(name: string, status: StepStatus, detail: string): SecureStep {
  return { step: name, status, detail };
}
