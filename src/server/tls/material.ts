/**
 * The server's TLS identity before it is installed: a certificate (leaf first, then intermediates), its
 * key, and the CA file client certificates must chain to. Read from the user's files or issued by the
 * dbtls CA, and checked before anything is written.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { readIndex } from '../../ca/cert-index.js';
import { issueCertificate, resolveLeaf } from '../../ca/issue.js';
import { unfinishedRenewals } from '../../ca/renew.js';
import { retireCertificates } from '../../ca/revoke.js';
import { signLeaf } from '../../ca/sign-leaf.js';
import { openCa } from '../../ca/store.js';
import { causeText, DbtlsError } from '../../errors.js';
import { type CertificateInfo, parseCertificates } from '../../pki/certificate.js';
import { checkKeyPair, issuedBy, readCertificates } from '../../pki/chain.js';
import { readUserFile } from '../../util/files.js';
import type { CrlScope } from './crl-check.js';

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

/** Checks the material before anything is written: parseable, key matches, leaf chains to the CA file. */
export function checkMaterial(m: ServerMaterial): MaterialFacts {
  const [leaf, ...intermediates] = readCertificates(m.certPem, 'the server certificate');
  const cas = readCertificates(m.caPem, 'the CA certificate');
  let key: KeyObject;
  try {
    key = createPrivateKey(m.keyPem);
  } catch (err) {
    throw new DbtlsError('KEY_MALFORMED', `could not read the server key: ${causeText(err)}`, {
      hint: 'pass an unencrypted PEM private key (the server cannot read encrypted keys)',
      cause: err,
    });
  }
  checkKeyPair(
    leaf!,
    key,
    'could not install the server certificate: the key does not match it',
    'pass the key that was generated with this certificate',
  );
  if (![...intermediates, ...cas].some((issuer) => issuedBy(leaf!, issuer))) {
    throw new DbtlsError(
      'CHAIN_BROKEN',
      'could not install the server certificate: neither the CA file nor the chain issued it',
      {
        hint: 'pass --ca with the CA that signed the certificate (and include intermediates in --cert)',
      },
    );
  }
  return { fingerprint: leaf!.fingerprint, subject: leaf!.subject, notAfter: leaf!.notAfter };
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
  /** Checks run against the CA certificates the server will know, before anything is issued (a --crl). */
  readonly check?: (scope: CrlScope) => void;
  /** The certificate file the new one replaces: when this CA issued it, the new one is its renewal. */
  readonly replacing?: string | undefined;
}

/** A server certificate from the dbtls CA, for the names clients use (verify-full checks them). */
export function issueServerMaterial(
  o: IssueServerOptions & { readonly renewedFrom?: string | undefined },
): ServerMaterial {
  const ca = openCa(o.caDir, o.passphrase);
  o.check?.({ caPem: ca.caPem(), chainPem: ca.chainPem(), caDir: o.caDir });
  const hostIsIp = net.isIP(o.host) !== 0;
  const dns = [...new Set([...(hostIsIp ? [] : [o.host]), ...(o.dns ?? [])])];
  const ip = [...new Set([...(hostIsIp ? [o.host] : []), ...(o.ip ?? [])])];
  const req = {
    profile: 'server' as const,
    cn: o.host,
    dns,
    ip,
    ...(o.days ? { days: o.days } : {}),
    ...(o.renewedFrom ? { renewedFrom: o.renewedFrom } : {}),
  };
  const issued = o.preview ? signLeaf(ca, resolveLeaf(ca, req), new Set()) : issueCertificate(ca, req);
  if (!issued.keyPem) throw new Error('the CA returned no private key for a new server certificate');
  return { certPem: issued.chainPem, keyPem: issued.keyPem, caPem: issued.caPem };
}

/**
 * issueServerMaterial for `server enable --issue`, with `discard`, which voids the certificate in the CA
 * when the server does not take it (src/server/tls/enable-rollback.ts): its key is lost with the files put back.
 */
export function issueDiscardable(o: IssueServerOptions): { material: ServerMaterial; discard: () => string } {
  // Recorded as the renewal of the certificate it replaces, so that what a run killed before installing
  // it left valid (its key lost) is voided by the next run, as rotate does (src/ca/renew.ts).
  const replaced = o.replacing === undefined ? undefined : recordedSerial(o.caDir, o.replacing);
  if (replaced) retireCertificates(o.caDir, unfinishedRenewals(readIndex(o.caDir), replaced), 'void');
  const material = issueServerMaterial({ ...o, renewedFrom: replaced });
  const serial = readCertificates(material.certPem, 'the server certificate')[0]!.serial;
  return {
    material,
    discard: () => {
      retireCertificates(o.caDir, [serial], 'void');
      return `the certificate ${serial} issued for it was voided in the CA`;
    },
  };
}

/** The serial of the certificate in `file` when this CA recorded it (same fingerprint), else undefined. */
function recordedSerial(caDir: string, file: string): string | undefined {
  let leaf: CertificateInfo | undefined;
  try {
    leaf = parseCertificates(fs.readFileSync(file))[0];
  } catch {
    return undefined; // none installed yet, or not a certificate: nothing it replaces
  }
  return readIndex(caDir).find((e) => e.fingerprint === leaf?.fingerprint)?.serial;
}
