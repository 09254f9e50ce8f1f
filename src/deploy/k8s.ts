/**
 * ConfigMaps and Secrets for an application that connects to an external MySQL/MariaDB, plus the values
 * block its Helm chart reads (sslMode, mutualTls and the object names). What goes in is decided by the
 * ssl-mode model alone (requiredMaterial, src/tls/ssl-mode.ts): an object exists only when the mode needs
 * it, and the chart is told 'null' for the rest.
 *
 * Each object is what `kubectl create configmap|secret generic NAME --from-file=KEY=FILE --dry-run=client
 * -o yaml` prints for the same bytes: text in ConfigMap `data`, anything that is not UTF-8 in `binaryData`,
 * Secret values base64 in `data` (kubectl's own rule, staging/src/k8s.io/kubectl/pkg/cmd/create).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { causeText, DbtlsError } from '../errors.js';
import { writeJks } from '../keystore/jks.js';
import { type Material, type MutualTls, requiredMaterial, SSL_MODES, type SslMode } from '../tls/ssl-mode.js';
import type { KubeObject } from './yaml.js';

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
  readonly keystore?: Buffer;
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

function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function metadata(name: string, namespace: string | undefined) {
  // kubectl --dry-run=client prints creationTimestamp: null; kept so the objects are byte-identical.
  return namespace === undefined
    ? { creationTimestamp: null, name }
    : { creationTimestamp: null, name, namespace };
}

/** `kubectl create configmap NAME --from-file=KEY=FILE`: UTF-8 text in data, other bytes in binaryData. */
export function configMapFromFiles(
  name: string,
  files: Readonly<Record<string, Buffer>>,
  namespace?: string,
): KubeObject {
  const data: Record<string, string> = {};
  const binaryData: Record<string, string> = {};
  for (const [key, bytes] of Object.entries(files)) {
    if (isUtf8(bytes)) data[key] = bytes.toString('utf8');
    else binaryData[key] = bytes.toString('base64');
  }
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata(name, namespace),
    ...(Object.keys(binaryData).length > 0 ? { binaryData } : {}),
    ...(Object.keys(data).length > 0 ? { data } : {}),
  };
}

/** `kubectl create secret generic NAME --from-file=KEY=FILE`: every value base64 in data. */
export function secretFromFiles(
  name: string,
  files: Readonly<Record<string, Buffer>>,
  namespace?: string,
): KubeObject {
  const data: Record<string, string> = {};
  for (const [key, bytes] of Object.entries(files)) data[key] = bytes.toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', metadata: metadata(name, namespace), data };
}

function checkCertificate(pem: Buffer, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new DbtlsError('CERT_MALFORMED', `could not read the ${what}: ${causeText(err)}`, {
      hint: 'give a PEM file that starts with -----BEGIN CERTIFICATE-----',
      cause: err,
    });
  }
}

function checkKeyPair(certPem: Buffer, keyPem: Buffer) {
  const cert = checkCertificate(certPem, 'client certificate');
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new DbtlsError('KEY_MALFORMED', `could not read the client key: ${causeText(err)}`, {
      hint: 'give an unencrypted PEM private key (database clients read it without a passphrase)',
      cause: err,
    });
  }
  if (!cert.checkPrivateKey(key)) {
    throw new DbtlsError(
      'KEY_MISMATCH',
      'could not pair the client key with the certificate: they do not match',
      {
        hint: 'give the key that was issued with this certificate',
      },
    );
  }
  return { cert, key };
}

/** The DER certificates of a PEM file, in order. */
function pemCertificatesDer(pem: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  for (const m of pem.toString('utf8').matchAll(re))
    out.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  return out;
}

export function k8sSecrets(input: K8sSecretsInput): K8sSecretsOutput {
  if (SSL_MODES[input.mode].encrypts === 'if-offered') {
    throw new DbtlsError(
      'SSL_MODE_INSECURE',
      `could not use ssl-mode ${input.mode}: it falls back to plaintext when the server (or an attacker in the middle) offers no TLS`,
      {
        hint: 'use verify-full (or verify-ca, or trust to encrypt without verifying); disable if you really mean plaintext',
      },
    );
  }
  const needed = new Set(requiredMaterial(input.mode, input.mutualTls));
  const prefix = input.namePrefix ?? DEFAULT_NAME_PREFIX;
  if (!/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/.test(prefix)) {
    throw new DbtlsError(
      'NAME_INVALID',
      `could not use the name prefix ${JSON.stringify(prefix)}: not a DNS-1123 label`,
      {
        hint: 'use lowercase letters, digits and dashes, for example --names orders-db',
      },
    );
  }
  const name = (m: Material) => `${prefix}-${K8S_OBJECTS[m].name}`;
  const warnings: string[] = [];
  let keystore = input.keystore;
  let keystoreBuilt = false;

  if (needed.has('caCertificate') && input.ca) {
    if (pemCertificatesDer(input.ca).length === 0) checkCertificate(input.ca, 'CA certificate');
    for (const der of pemCertificatesDer(input.ca)) checkCertificate(der, 'CA certificate');
  }
  if (needed.has('clientKey') && input.clientCert && input.clientKey) {
    const { key } = checkKeyPair(input.clientCert, input.clientKey);
    if (!keystore && input.keystorePassword !== undefined) {
      const chain = [...pemCertificatesDer(input.clientCert)];
      keystore = writeJks({
        entries: [{ type: 'PrivateKeyEntry', alias: KEYSTORE_ALIAS, key, chain }],
        storePassword: input.keystorePassword,
        keyPassword: input.keyPassword ?? input.keystorePassword,
      });
      keystoreBuilt = true;
    }
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

  const objects: KubeObject[] = [];
  const ns = input.namespace;
  if (needed.has('caCertificate')) {
    objects.push(
      configMapFromFiles(name('caCertificate'), { [K8S_OBJECTS.caCertificate.key]: input.ca! }, ns),
    );
  }
  if (needed.has('clientCertificate')) {
    objects.push(
      configMapFromFiles(
        name('clientCertificate'),
        { [K8S_OBJECTS.clientCertificate.key]: input.clientCert! },
        ns,
      ),
    );
  }
  if (needed.has('clientKey')) {
    objects.push(secretFromFiles(name('clientKey'), { [K8S_OBJECTS.clientKey.key]: input.clientKey! }, ns));
  }
  if (needed.has('clientKeystore')) {
    objects.push(
      secretFromFiles(name('clientKeystore'), { [K8S_OBJECTS.clientKeystore.key]: keystore! }, ns),
    );
  }
  if (needed.has('keystorePasswords')) {
    const store = input.keystorePassword!;
    objects.push(
      secretFromFiles(
        name('keystorePasswords'),
        {
          [K8S_OBJECTS.keystorePasswords.key]: Buffer.from(store, 'utf8'),
          // Most Java clients assume the key password equals the store password (JKS default).
          [KEY_PASSWORD_KEY]: Buffer.from(input.keyPassword ?? store, 'utf8'),
        },
        ns,
      ),
    );
  }
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
