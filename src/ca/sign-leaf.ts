/**
 * Signing one leaf: the key generated unless the leaf brings one (a CSR's), the TBS built from the
 * profile (src/pki/profiles.ts), the CA's signature, and the index entry that records it. Pure: nothing
 * is written. Issuance (src/ca/issue.ts), batches and their worker threads (src/ca/batch-sign.ts) and
 * runs of CSRs (src/ca/sign-csrs.ts) all sign here.
 */
import type { KeyObject } from 'node:crypto';
import { type CertificateInfo, signedCertificateInfo } from '../pki/certificate.js';
import {
  describeKey,
  generateKeyMaterial,
  type KeyAlgorithm,
  type KeyDescription,
  publicKeyDer,
} from '../pki/keys.js';
import { encodeName, type NameAttribute, oneLineName } from '../pki/names.js';
import { type LeafProfileName, PROFILES } from '../pki/profiles.js';
import {
  type CertificateTemplate,
  keyIdentifier,
  profileExtensions,
  signatureAlgorithmFor,
  signCertificate,
  signCertificateAsync,
} from '../pki/tbs.js';
import type { IndexEntry } from './cert-index.js';
import { type Ca, newSerial } from './store.js';

/** A request checked against the profile and the issuer: everything signLeaf needs, and structured-cloneable. */
export interface ResolvedLeaf {
  readonly profile: LeafProfileName;
  readonly cn: string;
  readonly subject: readonly NameAttribute[];
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly key: KeyAlgorithm;
  readonly publicKey?: KeyObject;
  readonly spki?: Buffer;
  readonly renewedFrom?: string;
}

export interface IssuedCertificate {
  readonly cert: CertificateInfo;
  readonly certPem: string;
  /** Unencrypted PKCS#8, when dbtls generated the key. */
  readonly keyPem?: string;
  /** Leaf + intermediates. */
  readonly chainPem: string;
  readonly caPem: string;
  readonly entry: IndexEntry;
}

/** The parts of a CA that signing needs (a worker thread rebuilds just these, src/ca/batch-sign.ts). */
export type SigningCa = Pick<Ca, 'issuer' | 'issuerKey' | 'intermediate' | 'chainPem' | 'caPem'>;

/** Generates (unless given) the key and signs the certificate with a new serial not in `taken` (then added). */
export function signLeaf(ca: SigningCa, leaf: ResolvedLeaf, taken: Set<string>): IssuedCertificate {
  const serial = newSerial(taken);
  taken.add(serial.toString('hex'));
  return signLeafWithSerial(ca, leaf, serial);
}

/** Generates (unless given) the key and signs the certificate with this serial. Pure: writes nothing. */
export function signLeafWithSerial(ca: SigningCa, leaf: ResolvedLeaf, serial: Buffer): IssuedCertificate {
  const draft = draftLeaf(ca, leaf, serial);
  return issuedLeaf(ca, leaf, draft, signCertificate(draft.template, ca.issuerKey));
}

/**
 * signLeafWithSerial with the signature made on libuv's thread pool: a run of many CSRs (src/ca/sign-csrs.ts)
 * keeps this thread for decoding while the pool signs and verifies.
 */
export async function signLeafWithSerialAsync(
  ca: SigningCa,
  leaf: ResolvedLeaf,
  serial: Buffer,
): Promise<IssuedCertificate> {
  const draft = draftLeaf(ca, leaf, serial);
  return issuedLeaf(ca, leaf, draft, await signCertificateAsync(draft.template, ca.issuerKey));
}

/** A leaf ready to sign: its TBS fields, and its key (generated here unless the leaf brings one). */
interface LeafDraft {
  readonly template: CertificateTemplate & { readonly serial: Buffer };
  readonly subject: string;
  readonly subjectKeyId: Buffer;
  readonly key: KeyDescription;
  readonly keyPem?: string;
}

function draftLeaf(ca: SigningCa, leaf: ResolvedLeaf, serial: Buffer): LeafDraft {
  let keyPem: string | undefined;
  let spki: Buffer;
  let key: KeyDescription;
  if (leaf.publicKey) {
    spki = leaf.spki ?? publicKeyDer(leaf.publicKey);
    key = describeKey(leaf.publicKey);
  } else {
    const made = generateKeyMaterial(leaf.key);
    keyPem = made.pkcs8Pem;
    spki = made.spki;
    key = made.description;
  }
  const subjectKeyId = keyIdentifier(spki);
  const extensions = profileExtensions({
    profile: PROFILES[leaf.profile],
    subjectSpki: spki,
    subjectKeyId,
    subjectIsRsa: key.keyType === 'RSA',
    issuerKeyId: Buffer.from(ca.issuer.subjectKeyId ?? '', 'hex'),
    dnsNames: leaf.dnsNames,
    ipAddresses: leaf.ipAddresses,
  });
  const subjectDer = encodeName(leaf.subject);
  const subject = oneLineName(leaf.subject);
  const template = {
    serial,
    issuer: ca.issuer.subjectDer,
    subject: subjectDer,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    spki,
    extensions,
  };
  return { template, subject, subjectKeyId, key, ...(keyPem ? { keyPem } : {}) };
}

function issuedLeaf(ca: SigningCa, leaf: ResolvedLeaf, draft: LeafDraft, der: Buffer): IssuedCertificate {
  const { template, subject, subjectKeyId, key, keyPem } = draft;
  const { serial, subject: subjectDer, spki } = template;
  const cert = signedCertificateInfo({
    der,
    serial,
    subjectDer,
    subject,
    issuer: ca.issuer,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    profile: PROFILES[leaf.profile],
    spki,
    subjectKeyId,
    key,
    dnsNames: leaf.dnsNames,
    ipAddresses: leaf.ipAddresses,
    signatureAlgorithm: signatureAlgorithmFor(ca.issuerKey).name,
  });
  const entry: IndexEntry = {
    serial: cert.serial,
    cn: leaf.cn,
    subject,
    issuer: ca.issuer.subject,
    dnsNames: cert.dnsNames,
    ipAddresses: cert.ipAddresses,
    profile: leaf.profile,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    status: 'valid',
    fingerprint: cert.fingerprint,
    issuedBy: ca.intermediate ? 'intermediate' : 'root',
    ...(leaf.renewedFrom ? { renewedFrom: leaf.renewedFrom } : {}),
  };
  return {
    cert,
    certPem: cert.pem,
    ...(keyPem ? { keyPem } : {}),
    chainPem: cert.pem + ca.chainPem(),
    caPem: ca.caPem(),
    entry,
  };
}
