/**
 * ConfigMaps and Secrets for an application that connects to an external MySQL/MariaDB, plus the values
 * block its Helm chart reads (sslMode, mutualTls and the object names). What goes in is decided by the
 * ssl-mode model alone (requiredMaterial, src/tls/ssl-mode.ts): an object exists only when the mode needs
 * it, and the chart is told 'null' for the rest.
 *
 * Each object is what `kubectl create configmap|secret generic NAME --from-file=KEY=FILE --dry-run=client
 * -o yaml` prints for the same bytes (./kube-objects.ts).
 */
import * as path from 'node:path';
import { DbtlsError, isDbtlsError } from '../errors.js';
import { writeJks } from '../keystore/jks.js';
import { type KeystoreMaterial, loadKeystoreMaterial } from '../keystore/material.js';
import { readKeystore } from '../keystore/read.js';
import { readCertificates } from '../pki/chain.js';
import { type Material, type MutualTls, requiredMaterial, SSL_MODES, type SslMode } from '../tls/ssl-mode.js';
import { shellQuote } from '../util/shell.js';
import { checkName, checkNamespace, configMapFromFiles, secretFromFiles } from './kube-objects.js';
import type { KubeObject } from './yaml.js';

/** Part of the library's API since these lived here. */
export { configMapFromFiles, secretFromFiles } from './kube-objects.js';

/** Object names and keys as the charts of this kind expect them (issue 6). */
export const K8S_OBJECTS = Object.freeze({
  caCertificate: { kind: 'ConfigMap', name: 'ca-configmap', key: 'db-ca.pem', value: 'caConfigmap' },
  clientCertificate: {
    kind: 'ConfigMap',
    name: 'client-cert-configmap',
    key: 'db-client-cert.pem',
    value: 'clientCertConfigmap',
  },
  clientKey: {
    kind: 'Secret',
    name: 'client-key-secret',
    key: 'db-client-key.pem',
    value: 'clientKeySecret',
  },
  clientKeystore: {
    kind: 'Secret',
    name: 'client-keystore-secret',
    key: 'db-client-keystore.jks',
    value: 'clientKeystoreSecret',
  },
  keystorePasswords: {
    kind: 'Secret',
    name: 'ssl-secret',
    key: 'db-client-keystore-password',
    value: 'sslSecret',
  },
} as const satisfies Record<Material, { kind: string; name: string; key: string; value: string }>);

export const KEY_PASSWORD_KEY = 'db-client-key-password';
export const DEFAULT_NAME_PREFIX = 'db';
/** The alias of the client key in the JKS we build. */
export const KEYSTORE_ALIAS = 'client';

export interface K8sSecretsInput {
  readonly mode: SslMode;
  readonly mutualTls: MutualTls;
  readonly namespace?: string;
  /** Replaces `db` in the object names (`db-ca-configmap` -> `PREFIX-ca-configmap`); keys stay as charts expect. */
  readonly namePrefix?: string;
  readonly ca?: Buffer;
  readonly clientCert?: Buffer;
  readonly clientKey?: Buffer;
  /** The file clientKey was read from, for the command a hint gives to decrypt it. */
  readonly clientKeyFile?: string;
  readonly keystore?: Buffer;
  /** The file keystore was read from, for the keytool line a hint gives for a store dbtls cannot read. */
  readonly keystoreFile?: string;
  readonly keystorePassword?: string;
  readonly keyPassword?: string;
}

export interface HelmValues {
  readonly sslMode: SslMode;
  readonly mutualTls: MutualTls;
  readonly caConfigmap: string;
  readonly sslSecret: string;
  readonly clientCertConfigmap: string;
  readonly clientKeySecret: string;
  readonly clientKeystoreSecret: string;
}

export interface K8sSecretsOutput {
  readonly objects: readonly KubeObject[];
  readonly values: HelmValues;
  /** True when we built the JKS from the key and certificate. */
  readonly keystoreBuilt: boolean;
  readonly warnings: readonly string[];
}

/** What Helm charts of this kind take as "not in use". */
export const UNUSED = 'null';

const MATERIAL_FLAGS: Readonly<Record<Material, string>> = Object.freeze({
  caCertificate: '--ca FILE',
  clientCertificate: '--cert FILE',
  clientKey: '--key FILE',
  clientKeystore: '--keystore FILE (or --cert and --key, and dbtls builds it)',
  keystorePasswords: '--keystore-password-file FILE',
});

/** The client key and certificate, checked as a pair; with `issuers`, the chain completed from the CA file. */
function clientMaterial(input: K8sSecretsInput, issuers: boolean): KeystoreMaterial {
  try {
    return loadKeystoreMaterial({
      certPem: input.clientCert!,
      keyPem: input.clientKey!,
      ...(issuers && input.ca ? { issuerPems: [input.ca] } : {}),
    });
  } catch (err) {
    if (isDbtlsError(err) && err.code === 'KEY_PASSPHRASE_REQUIRED') {
      throw new DbtlsError('KEY_ENCRYPTED', 'could not use the client key: it is encrypted', {
        hint: plainKeyHint(input.clientKeyFile),
        cause: err,
      });
    }
    throw err;
  }
}

/**
 * Database clients read the key without a passphrase: the command writing it decrypted to a new file only
 * its owner can read, as src/tls/options.ts words it (`set -C` refuses to overwrite, umask 077 makes it 0600).
 */
function plainKeyHint(keyFile: string | undefined): string {
  const key = keyFile === undefined ? 'KEY_FILE' : shellQuote(keyFile);
  const plain = keyFile === undefined ? 'key-plain.pem' : shellQuote(plainName(keyFile));
  const placeholder = keyFile === undefined ? ' (KEY_FILE: the encrypted key given to --key)' : '';
  return `database clients read the key without a passphrase: \`(set -C; umask 077; openssl pkey -in ${key} > ${plain})\`${placeholder}, then give --key ${plain}`;
}

/** `app/key.pem` → `app/key-plain.pem`: beside the encrypted key, never over it. */
function plainName(keyFile: string): string {
  const ext = path.extname(keyFile);
  return `${keyFile.slice(0, keyFile.length - ext.length)}-plain${ext || '.pem'}`;
}

/** The client key and certificate as a JKS PrivateKeyEntry under the alias `client`. */
function buildKeystore(input: K8sSecretsInput, password: string): Buffer {
  const material = clientMaterial(input, true);
  const chain = material.chain.map((c) => c.der);
  return writeJks({
    entries: [{ type: 'PrivateKeyEntry', alias: KEYSTORE_ALIAS, key: material.key, chain }],
    storePassword: password,
    keyPassword: input.keyPassword ?? password,
  });
}

/** A keystore the user gave must open with the passwords that go into the Secret next to it. */
function checkKeystore(keystore: Buffer, input: K8sSecretsInput, warnings: string[]): void {
  const opened = readKeystore(keystore, input.keystorePassword!, {
    ...(input.keyPassword !== undefined ? { keyPassword: input.keyPassword } : {}),
    ...(input.keystoreFile !== undefined ? { file: input.keystoreFile } : {}),
  });
  if (!opened.entries.some((e) => e.type === 'PrivateKeyEntry')) {
    throw new DbtlsError('KEYSTORE_NO_KEY', 'could not use the keystore: it holds no private key entry', {
      hint: 'mutual TLS needs the client key in the keystore: give the client certificate and key with --cert and --key instead of --keystore, and dbtls builds the keystore from them',
    });
  }
  if (opened.format !== 'jks') {
    warnings.push(
      `the keystore is PKCS#12 but goes into the key ${K8S_OBJECTS.clientKeystore.key}: tell the client keyStoreType=PKCS12`,
    );
  }
}

export function k8sSecrets(input: K8sSecretsInput): K8sSecretsOutput {
  if (SSL_MODES[input.mode].encrypts === 'if-offered') {
    throw new DbtlsError(
      'SSL_MODE_INVALID',
      `could not use ssl-mode ${input.mode}: it falls back to plaintext when the server (or an attacker in the middle) offers no TLS`,
      {
        hint: 'use verify-full (or verify-ca, or trust to encrypt without verifying); disable if you really mean plaintext',
      },
    );
  }
  const needed = new Set(requiredMaterial(input.mode, input.mutualTls));
  const prefix = input.namePrefix ?? DEFAULT_NAME_PREFIX;
  // Object names are DNS subdomains (253 characters); a label prefix plus our suffixes always is one.
  checkName(prefix, 'the name prefix');
  if (input.namespace !== undefined) checkNamespace(input.namespace);
  const name = (m: Material) => `${prefix}-${K8S_OBJECTS[m].name}`;
  const warnings: string[] = [];
  let keystore = input.keystore;
  let keystoreBuilt = false;

  if (needed.has('caCertificate') && input.ca) readCertificates(input.ca, 'the CA certificate file');
  if (needed.has('clientKeystore') && input.keystorePassword !== undefined) {
    if (keystore) checkKeystore(keystore, input, warnings);
    else if (input.clientCert && input.clientKey) {
      keystore = buildKeystore(input, input.keystorePassword);
      keystoreBuilt = true;
    }
  }
  if (needed.has('clientKey') && input.clientCert && input.clientKey && !keystoreBuilt) {
    // Still check the pair: a key that does not match fails only at the first connection.
    clientMaterial(input, false);
  }
  const given: Readonly<Record<Material, boolean>> = {
    caCertificate: input.ca !== undefined,
    clientCertificate: input.clientCert !== undefined,
    clientKey: input.clientKey !== undefined,
    clientKeystore: keystore !== undefined,
    keystorePasswords: input.keystorePassword !== undefined,
  };
  const missing = [...needed].filter((m) => !given[m]);
  if (missing.length > 0) {
    const mtls = input.mutualTls === 'enable' ? ' with mutual TLS' : '';
    throw new DbtlsError(
      'MATERIAL_MISSING',
      `could not make the Kubernetes objects for ssl-mode ${input.mode}${mtls}: missing ${missing.map((m) => MATERIAL_FLAGS[m]).join(', ')}`,
      { hint: `ssl-mode ${input.mode}${mtls} needs ${[...needed].map((m) => MATERIAL_FLAGS[m]).join(', ')}` },
    );
  }
  for (const m of Object.keys(given) as Material[]) {
    if (given[m] && !needed.has(m) && !(m === 'clientKeystore' && keystoreBuilt)) {
      warnings.push(
        `ssl-mode ${input.mode} with mutual TLS ${input.mutualTls} does not use the ${MATERIAL_FLAGS[m].split(' ')[0]} given: left out`,
      );
    }
  }
  if (input.keyPassword !== undefined && !needed.has('keystorePasswords')) {
    warnings.push('the key password is not used by this mode: left out');
  }

  const store = input.keystorePassword ?? '';
  const files: Readonly<Record<Material, () => Record<string, Buffer>>> = {
    caCertificate: () => ({ [K8S_OBJECTS.caCertificate.key]: input.ca! }),
    clientCertificate: () => ({ [K8S_OBJECTS.clientCertificate.key]: input.clientCert! }),
    clientKey: () => ({ [K8S_OBJECTS.clientKey.key]: input.clientKey! }),
    clientKeystore: () => ({ [K8S_OBJECTS.clientKeystore.key]: keystore! }),
    keystorePasswords: () => ({
      [K8S_OBJECTS.keystorePasswords.key]: Buffer.from(store, 'utf8'),
      // Most Java clients assume the key password equals the store password (JKS default).
      [KEY_PASSWORD_KEY]: Buffer.from(input.keyPassword ?? store, 'utf8'),
    }),
  };
  const objects = (Object.keys(K8S_OBJECTS) as Material[])
    .filter((m) => needed.has(m))
    .map((m) =>
      (K8S_OBJECTS[m].kind === 'ConfigMap' ? configMapFromFiles : secretFromFiles)(
        name(m),
        files[m](),
        input.namespace,
      ),
    );
  const ref = (m: Material) => (needed.has(m) ? name(m) : UNUSED);
  const values: HelmValues = {
    sslMode: input.mode,
    mutualTls: input.mutualTls,
    caConfigmap: ref('caCertificate'),
    sslSecret: ref('keystorePasswords'),
    clientCertConfigmap: ref('clientCertificate'),
    clientKeySecret: ref('clientKey'),
    clientKeystoreSecret: ref('clientKeystore'),
  };
  return { objects, values, keystoreBuilt, warnings };
}
