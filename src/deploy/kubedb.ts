/**
 * KubeDB resources with TLS: a MySQL or MariaDB database (kubedb.com/v1) whose certificates cert-manager
 * issues from our Issuer, and the ReconfigureTLS ops requests (ops.kubedb.com/v1alpha1) that rotate the
 * certificates, move them to another issuer, or remove TLS. KubeDB restarts the pods for each op.
 * Field names follow KubeDB's docs (guides/mysql/tls, guides/mysql/reconfigure-tls) and CRDs.
 */
import { DbtlsError } from '../errors.js';
import { checkDnsName } from '../pki/san.js';
import { checkName, checkNamespace } from './kube-objects.js';
import type { KubeObject } from './yaml.js';

export type KubedbFlavor = 'mysql' | 'mariadb';
export type KubedbOp = 'rotate' | 'change-issuer' | 'remove';
export type IssuerKind = 'Issuer' | 'ClusterIssuer';

interface FlavorSpec {
  readonly kind: string;
  readonly opsKind: string;
  /** A version name from KubeDB's catalog (MySQLVersion / MariaDBVersion objects); check yours with kubectl get. */
  readonly defaultVersion: string;
}

const FLAVORS: Readonly<Record<KubedbFlavor, FlavorSpec>> = Object.freeze({
  mysql: { kind: 'MySQL', opsKind: 'MySQLOpsRequest', defaultVersion: '8.0.35' },
  mariadb: { kind: 'MariaDB', opsKind: 'MariaDBOpsRequest', defaultVersion: '10.11.2' },
});

export const KUBEDB_API = 'kubedb.com/v1';
export const KUBEDB_OPS_API = 'ops.kubedb.com/v1alpha1';
/** KubeDB's certificate aliases: it names the Secrets `<db>-<alias>-cert`. */
export const KUBEDB_CERT_ALIASES = Object.freeze(['server', 'client', 'metrics-exporter'] as const);

export interface KubedbOptions {
  readonly name: string;
  readonly namespace?: string;
  readonly flavor?: KubedbFlavor;
  readonly version?: string;
  readonly issuer: string;
  readonly issuerKind?: IssuerKind;
  /** Refuse connections without TLS (`require_secure_transport`). */
  readonly requireSsl?: boolean;
  readonly storage?: string;
  readonly serverDns?: readonly string[];
}

function issuerRef(name: string, kind: IssuerKind) {
  checkName(name, 'the issuer name', 'subdomain');
  return { apiGroup: 'cert-manager.io', kind, name };
}

function meta(name: string, namespace: string) {
  return { name, namespace };
}

/** The Secret KubeDB writes a certificate to. */
export function kubedbSecretName(db: string, alias: (typeof KUBEDB_CERT_ALIASES)[number]): string {
  return `${db}-${alias}-cert`;
}

/**
 * A volume size as the API server reads a resource quantity (apimachinery pkg/api/resource): a positive
 * decimal number with an optional binary (Ki, Mi, Gi, Ti, Pi, Ei) or decimal (k, M, G, T, P, E) suffix.
 * The API server refuses anything else at apply time; dbtls before writing.
 */
const STORAGE_QUANTITY = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[KMGTPE]i|[kMGTPE])?$/;

function checkStorage(size: string): void {
  if (!STORAGE_QUANTITY.test(size) || !/[1-9]/.test(size.replace(/[KMGTPEik]+$/, ''))) {
    throw new DbtlsError(
      'STORAGE_INVALID',
      `could not use the storage size ${JSON.stringify(size)}: it is not a Kubernetes quantity above zero`,
      { hint: 'give a size such as 10Gi, 500Mi or 1Ti (binary suffixes) or 20G (decimal)' },
    );
  }
}

export function kubedbDatabase(o: KubedbOptions): KubeObject {
  const flavor = FLAVORS[o.flavor ?? 'mysql'];
  const namespace = o.namespace ?? 'default';
  checkName(o.name, 'the database name', 'dns1035-label');
  checkNamespace(namespace);
  // A catalog version is the name of a MySQLVersion / MariaDBVersion object: KubeDB looks it up by name.
  if (o.version !== undefined) checkName(o.version, 'the KubeDB version', 'subdomain');
  if (o.storage !== undefined) checkStorage(o.storage);
  for (const d of o.serverDns ?? []) checkDnsName(d, 'the server DNS name');
  const server: Record<string, unknown> = {
    alias: 'server',
    subject: { organizations: ['kubedb:server'] },
    // The Service names clients use inside the cluster, plus loopback for tools run in the pod.
    dnsNames: [
      ...new Set([
        ...(o.serverDns ?? []),
        o.name,
        `${o.name}.${namespace}.svc`,
        `${o.name}.${namespace}.svc.cluster.local`,
        'localhost',
      ]),
    ],
    ipAddresses: ['127.0.0.1'],
  };
  return {
    apiVersion: KUBEDB_API,
    kind: flavor.kind,
    metadata: meta(o.name, namespace),
    spec: {
      version: o.version ?? flavor.defaultVersion,
      requireSSL: o.requireSsl ?? false,
      storageType: 'Durable',
      storage: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: o.storage ?? '1Gi' } },
      },
      tls: {
        issuerRef: issuerRef(o.issuer, o.issuerKind ?? 'Issuer'),
        certificates: [
          server,
          { alias: 'client', subject: { organizations: ['kubedb:client'] } },
          { alias: 'metrics-exporter', subject: { organizations: ['kubedb:metrics-exporter'] } },
        ],
      },
      deletionPolicy: 'Delete',
    },
  };
}

export interface KubedbOpsOptions {
  readonly name: string;
  readonly namespace?: string;
  readonly flavor?: KubedbFlavor;
  readonly op: KubedbOp;
  /** For change-issuer: the issuer that takes over. */
  readonly newIssuer?: string;
  readonly newIssuerKind?: IssuerKind;
}

/** A ReconfigureTLS ops request. Each restarts the database pods (KubeDB docs, reconfigure-tls). */
export function kubedbOpsRequest(o: KubedbOpsOptions): KubeObject {
  const flavor = FLAVORS[o.flavor ?? 'mysql'];
  const namespace = o.namespace ?? 'default';
  checkName(o.name, 'the database name', 'dns1035-label');
  checkNamespace(namespace);
  let tls: Record<string, unknown>;
  switch (o.op) {
    case 'rotate':
      tls = { rotateCertificates: true };
      break;
    case 'change-issuer':
      if (!o.newIssuer) {
        throw new DbtlsError(
          'ISSUER_REQUIRED',
          'could not make the change-issuer request: no new issuer given',
          {
            hint: 'name the issuer that takes over with --new-issuer NAME',
          },
        );
      }
      tls = { issuerRef: issuerRef(o.newIssuer, o.newIssuerKind ?? 'Issuer') };
      break;
    case 'remove':
      tls = { remove: true };
      break;
  }
  return {
    apiVersion: KUBEDB_OPS_API,
    kind: flavor.opsKind,
    metadata: meta(`${o.name}-${o.op}-tls`, namespace), // a subdomain: up to 253 characters
    spec: { type: 'ReconfigureTLS', databaseRef: { name: o.name }, tls },
  };
}

/** An Issuer or ClusterIssuer as a cert-manager manifest declares it. */
export interface DeclaredIssuer {
  readonly kind: IssuerKind;
  readonly name: string;
  readonly namespace?: string;
}

/** The Issuers and ClusterIssuers of a manifest (`dbtls k8s cert-manager` writes one). */
export function issuersIn(docs: readonly unknown[]): DeclaredIssuer[] {
  const out: DeclaredIssuer[] = [];
  for (const d of docs) {
    if (typeof d !== 'object' || d === null) continue;
    const o = d as {
      apiVersion?: unknown;
      kind?: unknown;
      metadata?: { name?: unknown; namespace?: unknown };
    };
    if (typeof o.apiVersion !== 'string' || !o.apiVersion.startsWith('cert-manager.io/')) continue;
    if ((o.kind !== 'Issuer' && o.kind !== 'ClusterIssuer') || typeof o.metadata?.name !== 'string') continue;
    out.push({
      kind: o.kind,
      name: o.metadata.name,
      ...(o.kind === 'Issuer' && typeof o.metadata.namespace === 'string'
        ? { namespace: o.metadata.namespace }
        : {}),
    });
  }
  return out;
}

/**
 * The issuer a KubeDB object names, checked against the manifest that made it (issue 14, item 10), with
 * no cluster to ask: the name must be one of its issuers, the kind the same, and an Issuer (namespaced:
 * it signs only in its own namespace) in the database's namespace. Without a name, the manifest's one
 * issuer is taken.
 */
export function checkIssuer(
  declared: readonly DeclaredIssuer[],
  want: { readonly name?: string; readonly kind?: IssuerKind; readonly namespace: string },
  file: string,
): DeclaredIssuer {
  const list = declared.map((i) => `${i.kind} ${i.name}`).join(', ') || 'none';
  const found = want.name === undefined ? declared : declared.filter((i) => i.name === want.name);
  if (found.length !== 1) {
    throw new DbtlsError(
      'ISSUER_NOT_FOUND',
      want.name === undefined
        ? `could not take the issuer from ${file}: it declares ${declared.length === 0 ? 'no Issuer or ClusterIssuer' : `several (${list})`}`
        : `could not find the issuer ${JSON.stringify(want.name)} in ${file}: it declares ${list}`,
      {
        hint: 'give --issuer the name `dbtls k8s cert-manager` used (--issuer-name, default dbtls-ca-issuer)',
      },
    );
  }
  const issuer = found[0]!;
  if (want.kind !== undefined && want.kind !== issuer.kind) {
    throw new DbtlsError(
      'ISSUER_MISMATCH',
      `could not use the issuer ${issuer.name}: ${file} declares it as ${issuer.kind === 'Issuer' ? 'an Issuer' : 'a ClusterIssuer'}, not ${want.kind === 'Issuer' ? 'an Issuer' : 'a ClusterIssuer'}`,
      {
        hint:
          issuer.kind === 'ClusterIssuer'
            ? 'add --cluster-issuer'
            : 'leave --cluster-issuer out: it is an Issuer',
      },
    );
  }
  if (issuer.kind === 'Issuer' && (issuer.namespace ?? 'default') !== want.namespace) {
    throw new DbtlsError(
      'ISSUER_MISMATCH',
      `could not use the Issuer ${issuer.name}: it is in the namespace ${issuer.namespace ?? 'default'}, the database in ${want.namespace}, and an Issuer signs only in its own namespace`,
      {
        hint: `give --namespace ${issuer.namespace ?? 'default'}, or make the issuer a ClusterIssuer (dbtls k8s cert-manager --cluster-issuer)`,
      },
    );
  }
  return issuer;
}
