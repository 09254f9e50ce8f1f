/**
 * What goes into a keystore, checked before anything is written: the key must belong to the leaf
 * certificate (KEY_MISMATCH), and every certificate given as chain must sit on the path from the leaf
 * upwards (CHAIN_BROKEN). A keystore that Java accepts but that fails at the handshake is the failure this
 * module exists to prevent.
 */
import type { KeyObject } from 'node:crypto';
import { DbtlsError } from '../errors.js';
import type { CertificateInfo } from '../pki/certificate.js';
import {
  buildPath,
  certificateName,
  checkKeyPair,
  dedupe,
  issuerName,
  readCertificates,
} from '../pki/chain.js';
import { readPrivateKey } from '../pki/keys.js';

export interface KeystoreMaterialInput {
  /** PEM: the leaf first; intermediates may follow (a chain.pem). */
  readonly certPem: Buffer | string;
  /** PEM private key (PKCS#8, PKCS#1 or SEC1). */
  readonly keyPem: Buffer | string;
  /** More PEM files with intermediates and roots, in any order; each must be on the leaf's path. */
  readonly chainPems?: readonly (Buffer | string)[];
  /**
   * CA certificates that may complete the chain, such as a trust bundle with several roots: those on the
   * leaf's path are added, the others ignored.
   */
  readonly issuerPems?: readonly (Buffer | string)[];
  /** The passphrase of an encrypted private key. */
  readonly keyPassphrase?: string;
}

export interface KeystoreMaterial {
  readonly key: KeyObject;
  /** Leaf first, each certificate signed by the next. */
  readonly chain: readonly CertificateInfo[];
}

export function loadKeystoreMaterial(input: KeystoreMaterialInput): KeystoreMaterial {
  const [leaf, ...withLeaf] = readCertificates(input.certPem, 'the certificate');
  const key = readPrivateKey(input.keyPem, input.keyPassphrase, '--key-passphrase-file');
  checkKeyPair(
    leaf!,
    key,
    `could not pair the key with ${certificateName(leaf!)}: the key does not belong to this certificate`,
    'give the key.pem that was issued together with this cert.pem',
  );
  const pool = dedupe([
    ...withLeaf,
    ...(input.chainPems ?? []).flatMap((p) => readCertificates(p, 'the chain')),
  ]);
  const { path, unused } = buildPath(leaf!, pool);
  const stray = unused[0];
  if (stray) {
    const last = path[path.length - 1]!;
    throw new DbtlsError(
      'CHAIN_BROKEN',
      `could not build the chain: ${certificateName(stray)} does not link to ${certificateName(last)} (issued by ${issuerName(last)})`,
      {
        hint: 'give the intermediate and root CA certificates that issued this certificate (chain.pem and ca.pem)',
      },
    );
  }
  const issuers = (input.issuerPems ?? []).flatMap((p) => readCertificates(p, 'the CA certificates'));
  return { key, chain: issuers.length > 0 ? buildPath(leaf!, dedupe([...path, ...issuers])).path : path };
}
