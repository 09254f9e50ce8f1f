/**
 * YAML for Kubernetes manifests, written the way kubectl writes them (`kubectl create … --dry-run=client
 * -o yaml`): map keys sorted, multi-line text as literal blocks, nothing folded. That makes our
 * ConfigMaps and Secrets byte-identical to kubectl's for the same files, so a diff against a cluster's
 * objects shows real changes only.
 */
import { Document, parseAllDocuments } from 'yaml';

/** A Kubernetes object as plain data: what we generate and what tests validate. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

const STRINGIFY = Object.freeze({
  // base64 and PEM lines must never be folded: a folded PEM still parses, but is not the same bytes.
  lineWidth: 0,
  minContentWidth: 0,
  blockQuote: 'literal' as const,
  singleQuote: true,
  indentSeq: false,
});

/** One document, no leading `---`. */
export function toYaml(value: unknown): string {
  // kubectl marshals through JSON, whose maps have sorted keys (sigs.k8s.io/yaml).
  return new Document(value, { sortMapEntries: true }).toString(STRINGIFY);
}

/** A YAML stream: every document preceded by `---`, as `kubectl apply -f -` reads it. */
export function yamlStream(docs: readonly unknown[]): string {
  return docs.map((d) => `---\n${toYaml(d)}`).join('');
}

/** The documents of a stream, as plain data (for tests and for re-reading our own output). */
export function parseYamlStream(text: string): unknown[] {
  return parseAllDocuments(text).flatMap((d) => {
    if ('errors' in d && d.errors.length > 0) throw d.errors[0];
    const value = d.toJS() as unknown;
    return value === null || value === undefined ? [] : [value];
  });
}
