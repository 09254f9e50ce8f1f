/**
 * Kubernetes object basics shared by the deploy modules: the ConfigMap and Secret that `kubectl create
 * configmap|secret generic NAME --from-file=KEY=FILE --dry-run=client -o yaml` makes of the same bytes
 * (text in ConfigMap `data`, anything that is not UTF-8 in `binaryData`, Secret values base64 in `data`:
 * kubectl's own rule, staging/src/k8s.io/kubectl/pkg/cmd/create), and the DNS-1123 label rule that
 * namespaces and the names we build on must follow.
 */
import { DbtlsError } from '../errors.js';
import type { KubeObject } from './yaml.js';

/** RFC 1123 label, as Kubernetes validates namespaces and most names (IsDNS1123Label). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_HINT =
  'use lowercase letters, digits and dashes, at most 63 characters, starting and ending with a letter or digit';

export function checkName(value: string, what: string): void {
  if (!DNS_LABEL.test(value)) {
    throw new DbtlsError(
      'NAME_INVALID',
      `could not use ${what} ${JSON.stringify(value)}: not a DNS-1123 label`,
      {
        hint: LABEL_HINT,
      },
    );
  }
}

export function checkNamespace(namespace: string): void {
  if (!DNS_LABEL.test(namespace)) {
    throw new DbtlsError(
      'NAMESPACE_INVALID',
      `could not use namespace ${JSON.stringify(namespace)}: not a DNS-1123 label`,
      { hint: LABEL_HINT },
    );
  }
}

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
