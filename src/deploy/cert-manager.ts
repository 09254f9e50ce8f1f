/**
 * cert-manager manifests for a MySQL/MariaDB fleet signed by our CA: the CA Secret, a CA Issuer (or
 * ClusterIssuer), the server Certificate, one client Certificate per database user (with keystores for
 * Java clients), and during a CA rollover a trust bundle holding the old and the new CA.
 *
 * Field names and enums follow the cert-manager.io/v1 CRDs (deploy/crds/cert-manager.io_certificates.yaml,
 * cert-manager 1.18+); the tests validate every object against that schema.
 */
import { randomBytes } from 'node:crypto';
import { DbtlsError } from '../errors.js';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../pki/keys.js';
import { nameValueProblem, oneLineName } from '../pki/names.js';
import { canonicalIp, checkDnsName } from '../pki/san.js';
import { checkName, checkNamespace } from './kube-objects.js';
import type { KubeObject } from './yaml.js';

/** cert-manager accepts RSA 2048/4096/8192 and ECDSA 256/384/521 only (CRD, privateKey.size): no rsa-3072. */
export type CertManagerKey = Exclude<KeyAlgorithm, 'rsa-3072'>;

const PRIVATE_KEYS: Readonly<Record<CertManagerKey, { algorithm: 'ECDSA' | 'RSA'; size: number }>> =
  Object.freeze({
    'ec-p256': { algorithm: 'ECDSA', size: 256 },
    'ec-p384': { algorithm: 'ECDSA', size: 384 },
    'rsa-2048': { algorithm: 'RSA', size: 2048 },
    'rsa-4096': { algorithm: 'RSA', size: 4096 },
  });

/** The key algorithms of src/pki/keys.ts that cert-manager can make. */
export const CERT_MANAGER_KEYS: readonly CertManagerKey[] = Object.freeze(
  KEY_ALGORITHMS.filter((a): a is CertManagerKey => Object.hasOwn(PRIVATE_KEYS, a)),
);

/** Safe defaults, each stated once. */
export const CERT_MANAGER_DEFAULTS = Object.freeze({
  // ECDSA P-256: small, fast, accepted by every MySQL/MariaDB TLS stack of the last decade.
  key: 'ec-p256' as CertManagerKey,
  // 90 days, renewed 30 days before expiry: short enough to limit a leaked key, long enough to survive an outage.
  days: 90,
  // Keep the previous CertificateRequest for debugging a failed renewal; cert-manager's default is 1.
  revisionHistoryLimit: 2,
  issuerName: 'dbtls-ca-issuer',
  caSecretName: 'dbtls-ca',
  // Where a ClusterIssuer reads its CA Secret: cert-manager's default --cluster-resource-namespace.
  clusterResourceNamespace: 'cert-manager',
  serverName: 'mysql-server-tls',
  keystorePasswordSecret: 'dbtls-keystore-password',
  trustBundleName: 'dbtls-ca-bundle',
});

export interface CertManagerOptions {
  readonly namespace: string;
  readonly serverDns: readonly string[];
  readonly serverIps?: readonly string[];
  readonly clientCns: readonly string[];
  /** Organisation put before the CN of client subjects: `/O=org/CN=user`. */
  readonly clientOrg?: string;
  /** The CA that signs leaves (the intermediate when there is one), PEM; a chain may follow it. */
  readonly caCertPem: string;
  /** That CA's private key, unencrypted PKCS#8 PEM: cert-manager cannot read an encrypted one. */
  readonly caKeyPem: string;
  readonly caSecretName?: string;
  readonly clusterIssuer?: boolean;
  readonly issuerName?: string;
  readonly key?: CertManagerKey;
  readonly days?: number;
  /** The keystore password; a random one is generated when absent. */
  readonly keystorePassword?: string;
  /** CA certificates (PEM) to trust during a rollover, old first. */
  readonly trustBundle?: readonly string[];
}

export interface ClientCertificateFacts {
  readonly user: string;
  readonly certificate: string;
  readonly secretName: string;
  /** What `REQUIRE SUBJECT` must say for this user: OpenSSL's one-line form. */
  readonly requireSubject: string;
  readonly literalSubject: string;
}

export interface CertManagerOutput {
  readonly objects: readonly KubeObject[];
  readonly clients: readonly ClientCertificateFacts[];
  readonly keystorePasswordGenerated: boolean;
  readonly warnings: readonly string[];
}

/** RFC 4514 section 2.4: characters escaped in an attribute value. */
function escapeRfc4514(value: string): string {
  let out = value.replace(/[\\,+"<>;]/g, (c) => `\\${c}`);
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ') && out.length > 1) out = `${out.slice(0, -1)}\\ `;
  return out;
}

function checkNameValue(value: string, what: string): void {
  // A literal '/' or '+' reads as an attribute separator to a person pasting the one-line form; control
  // characters, backslashes and lengths as for every subject dbtls writes (pki/names.ts).
  const problem = /[/+]/.test(value) ? "it holds '/' or '+'" : nameValueProblem(value);
  if (problem) {
    throw new DbtlsError('NAME_INVALID', `could not use ${what} ${JSON.stringify(value)}: ${problem}`, {
      hint: 'choose a name without slashes, plus signs, backslashes or control characters',
    });
  }
}

/**
 * The client subject in both spellings. RFC 4514 strings list the most specific attribute first, so
 * `CN=alice,O=db` is encoded O then CN, which OpenSSL prints as `/O=db/CN=alice` (what MariaDB compares).
 */
export function clientSubject(
  user: string,
  org?: string,
): { requireSubject: string; literalSubject: string } {
  checkNameValue(user, 'the client CN');
  if (org !== undefined) checkNameValue(org, 'the organisation');
  // What MariaDB compares: bytes outside ASCII as \xHH (`üser` is /CN=\xC3\xBCser), names.ts.
  const requireSubject = oneLineName([
    ...(org === undefined ? [] : [{ type: 'O', value: org }]),
    { type: 'CN', value: user },
  ]);
  const literalSubject =
    org === undefined ? `CN=${escapeRfc4514(user)}` : `CN=${escapeRfc4514(user)},O=${escapeRfc4514(org)}`;
  return { requireSubject, literalSubject };
}

/** A Kubernetes object name (RFC 1123 subdomain label) derived from a user name. */
export function kubeName(text: string): string {
  const name = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return name === '' ? 'user' : name;
}

function durationHours(days: number): string {
  return `${days * 24}h`;
}

export function certManagerManifests(o: CertManagerOptions): CertManagerOutput {
  checkNamespace(o.namespace);
  // The names go into the Certificate as given: the SAN rules dbtls issues by (issue 14, item 9).
  for (const d of o.serverDns) checkDnsName(d, 'the server DNS name');
  for (const a of o.serverIps ?? []) canonicalIp(a);
  if (o.serverDns.length === 0 && (o.serverIps ?? []).length === 0) {
    throw new DbtlsError(
      'SERVER_NAME_REQUIRED',
      'could not make the server Certificate: no DNS name or IP address',
      {
        hint: 'give the names clients connect to with --server-dns NAME (repeatable)',
      },
    );
  }
  const days = o.days ?? CERT_MANAGER_DEFAULTS.days;
  if (!Number.isInteger(days) || days < 1) {
    throw new DbtlsError(
      'DAYS_INVALID',
      `could not use ${days} days: expected a whole number of days, at least 1`,
      {
        hint: 'use --days 90 for example',
      },
    );
  }
  const key = PRIVATE_KEYS[o.key ?? CERT_MANAGER_DEFAULTS.key];
  const warnings: string[] = [];
  const issuerName = o.issuerName ?? CERT_MANAGER_DEFAULTS.issuerName;
  const caSecretName = o.caSecretName ?? CERT_MANAGER_DEFAULTS.caSecretName;
  checkName(issuerName, 'the issuer name', 'subdomain');
  checkName(caSecretName, 'the CA Secret name', 'subdomain');
  const issuerKind = o.clusterIssuer ? 'ClusterIssuer' : 'Issuer';
  const caSecretNamespace = o.clusterIssuer ? CERT_MANAGER_DEFAULTS.clusterResourceNamespace : o.namespace;
  const issuerRef = { group: 'cert-manager.io', kind: issuerKind, name: issuerName };
  const timing = {
    duration: durationHours(days),
    renewBefore: durationHours(Math.max(1, Math.floor(days / 3))),
  };
  const privateKey = {
    algorithm: key.algorithm,
    size: key.size,
    encoding: 'PKCS8',
    // A fresh key at every renewal (cert-manager >= 1.18 default, stated so older versions do the same).
    rotationPolicy: 'Always',
  };
  // RSA key exchange needs keyEncipherment; ECDSA keys only sign (RFC 5480 section 3).
  const rsaUsages = key.algorithm === 'RSA' ? ['key encipherment'] : [];

  const objects: KubeObject[] = [];
  objects.push({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: caSecretName, namespace: caSecretNamespace },
    type: 'kubernetes.io/tls',
    stringData: { 'tls.crt': o.caCertPem, 'tls.key': o.caKeyPem },
  });
  objects.push({
    apiVersion: 'cert-manager.io/v1',
    kind: issuerKind,
    metadata: o.clusterIssuer ? { name: issuerName } : { name: issuerName, namespace: o.namespace },
    spec: { ca: { secretName: caSecretName } },
  });

  const serverSpec: Record<string, unknown> = {
    secretName: CERT_MANAGER_DEFAULTS.serverName,
    issuerRef,
    ...timing,
    privateKey,
    revisionHistoryLimit: CERT_MANAGER_DEFAULTS.revisionHistoryLimit,
    usages: ['server auth', 'digital signature', ...rsaUsages],
  };
  if (o.serverDns.length > 0) {
    serverSpec.commonName = o.serverDns[0];
    serverSpec.dnsNames = [...o.serverDns];
  }
  if ((o.serverIps ?? []).length > 0) serverSpec.ipAddresses = [...(o.serverIps ?? [])];
  objects.push({
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name: CERT_MANAGER_DEFAULTS.serverName, namespace: o.namespace },
    spec: serverSpec,
  });

  const clients: ClientCertificateFacts[] = [];
  let keystorePasswordGenerated = false;
  if (o.clientCns.length > 0) {
    let password = o.keystorePassword;
    if (password === undefined) {
      password = randomBytes(18).toString('base64url');
      keystorePasswordGenerated = true;
    }
    objects.push({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: CERT_MANAGER_DEFAULTS.keystorePasswordSecret, namespace: o.namespace },
      type: 'Opaque',
      stringData: { password },
    });
    const passwordSecretRef = { name: CERT_MANAGER_DEFAULTS.keystorePasswordSecret, key: 'password' };
    const seen = new Set<string>();
    for (const user of o.clientCns) {
      const subject = clientSubject(user, o.clientOrg);
      const name = `mysql-client-${kubeName(user)}`;
      if (seen.has(name)) {
        throw new DbtlsError(
          'CLIENT_NAME_CLASH',
          `could not name the Certificate for ${user}: ${name} is already used`,
          {
            hint: 'give client CNs that differ in more than case or punctuation',
          },
        );
      }
      seen.add(name);
      objects.push({
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: { name, namespace: o.namespace },
        spec: {
          secretName: name,
          issuerRef,
          literalSubject: subject.literalSubject,
          ...timing,
          privateKey,
          revisionHistoryLimit: CERT_MANAGER_DEFAULTS.revisionHistoryLimit,
          usages: ['client auth', 'digital signature', ...rsaUsages],
          keystores: {
            jks: { create: true, alias: 'client', passwordSecretRef },
            // LegacyRC2, the default, is refused by OpenSSL 3 and Java 20+.
            pkcs12: { create: true, profile: 'Modern2023', passwordSecretRef },
          },
        },
      });
      clients.push({ user, certificate: name, secretName: name, ...subject });
    }
  }

  if (o.trustBundle !== undefined && o.trustBundle.length > 0) {
    // cert-manager's ca.crt is only the issuing CA; during a rollover clients must trust old and new.
    const pems = [...new Set(o.trustBundle.map((p) => (p.endsWith('\n') ? p : `${p}\n`)))];
    objects.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: CERT_MANAGER_DEFAULTS.trustBundleName, namespace: o.namespace },
      data: { 'ca-bundle.pem': pems.join('') },
    });
  }
  warnings.push(
    `the Secret ${caSecretName} holds the CA private key unencrypted (cert-manager cannot read an encrypted key): apply it and delete the file; anyone who can read that Secret can issue certificates`,
  );
  if (o.clusterIssuer) {
    warnings.push(
      `a ClusterIssuer reads its CA Secret from the namespace ${CERT_MANAGER_DEFAULTS.clusterResourceNamespace} (cert-manager's --cluster-resource-namespace); change it if your installation uses another`,
    );
  }
  return { objects, clients, keystorePasswordGenerated, warnings };
}
