/**
 * Kubernetes object basics shared by the deploy modules: the ConfigMap and Secret that `kubectl create
 * configmap|secret generic NAME --from-file=KEY=FILE --dry-run=client -o yaml` makes of the same bytes
 * (text in ConfigMap `data`, anything that is not UTF-8 in `binaryData`, Secret values base64 in `data`:
 * kubectl's own rule, staging/src/k8s.io/kubectl/pkg/cmd/create), and the name rules of Kubernetes.
 */
import { DbtlsError } from '../errors.js';
import type { KubeObject } from './yaml.js';

/**
 * The name rules of Kubernetes (apimachinery pkg/util/validation): namespaces are RFC 1123 labels
 * (IsDNS1123Label), most object names (Secret, ConfigMap, Issuer, Certificate, ops requests) RFC 1123
 * subdomains (IsDNS1123Subdomain), and names that become a Service (a KubeDB database) RFC 1035 labels
 * (IsDNS1035Label: a letter first). A name that breaks its rule is refused by the API server at apply
 * time; dbtls refuses it before writing anything (issue 14, item 9).
 */
const RULES = Object.freeze({
  label: {
    pattern: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
    rule: 'an RFC 1123 label',
    hint: 'use lowercase letters, digits and dashes, at most 63 characters, starting and ending with a letter or digit',
  },
  subdomain: {
    pattern: /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    rule: 'an RFC 1123 subdomain',
    hint: 'use lowercase letters, digits, dashes and dots, at most 253 characters, each part starting and ending with a letter or digit',
  },
  'dns1035-label': {
    pattern: /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/,
    rule: 'an RFC 1035 label (it names a Service)',
    hint: 'use lowercase letters, digits and dashes, at most 63 characters, starting with a letter and ending with a letter or digit',
  },
});
export type NameRule = keyof typeof RULES;

/** NAME_INVALID unless `value` follows the rule; `what` names the flag or field for the message. */
export function checkName(value: string, what: string, rule: NameRule = 'label'): void {
  const r = RULES[rule];
  if (!r.pattern.test(value)) {
    throw new DbtlsError(
      'NAME_INVALID',
      `could not use ${what} ${JSON.stringify(value)}: it is not ${r.rule}`,
      {
        hint: r.hint,
      },
    );
  }
}

export function checkNamespace(namespace: string): void {
  if (!RULES.label.pattern.test(namespace)) {
    throw new DbtlsError(
      'NAMESPACE_INVALID',
      `could not use namespace ${JSON.stringify(namespace)}: it is not an RFC 1123 label`,
      { hint: RULES.label.hint },
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
