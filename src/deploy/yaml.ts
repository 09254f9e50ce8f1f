/**
 * YAML for Kubernetes manifests, written the way kubectl writes them (`kubectl create … --dry-run=client
 * -o yaml`): block style, map keys in go-yaml's order, sequences not indented under their key, and each
 * string in the style go-yaml v2 picks for it (src/deploy/yaml-scalar.ts). That makes our ConfigMaps and
 * Secrets byte-identical to kubectl's for the same files, so a diff against a cluster's objects shows real
 * changes only. Reading goes through the `yaml` package.
 */
import { parseAllDocuments } from 'yaml';
import { BEST_INDENT, Out, type Quote, writeScalar } from './yaml-scalar.js';

/** A Kubernetes object as plain data: what we generate and what tests validate. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

export interface YamlOptions {
  /** How a string that cannot be plain is quoted: kubectl's double quotes (default), or single quotes. */
  readonly quote?: Quote;
}

const isLetter = (c: string) => /\p{L}/u.test(c);
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/**
 * go-yaml's sorter.go keyList.Less: runs of digits compare as numbers, letters by code point, and any
 * other character sorts before a letter. kubectl's maps come out in this order.
 */
export function compareKeys(a: string, b: string): number {
  const ar = [...a];
  const br = [...b];
  for (let i = 0; i < ar.length && i < br.length; i++) {
    const x = ar[i]!;
    const y = br[i]!;
    if (x === y) continue;
    const [xl, yl] = [isLetter(x), isLetter(y)];
    if (xl && yl) return x < y ? -1 : 1;
    if (xl || yl) return yl ? -1 : 1;
    let an = 0n;
    let bn = 0n;
    if (x === '0' || y === '0') {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]); j--) {
        if (ar[j] !== '0') {
          an = 1n;
          bn = 1n;
          break;
        }
      }
    }
    let ai = i;
    let bi = i;
    for (; isDigit(ar[ai]); ai++) an = an * 10n + BigInt(ar[ai]!);
    for (; isDigit(br[bi]); bi++) bn = bn * 10n + BigInt(br[bi]!);
    if (an !== bn) return an < bn ? -1 : 1;
    if (ai !== bi) return ai < bi ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return ar.length - br.length;
}

type Entry = [string, unknown];

function entriesOf(value: object): Entry[] {
  return Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => compareKeys(a, b));
}

const isMap = (v: unknown): v is object => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A scalar or an empty collection on the current line; false when `value` needs lines of its own. */
function writeInline(out: Out, value: unknown, indent: number, quote: Quote): boolean {
  if (value === null) out.put('null');
  else if (typeof value === 'boolean' || typeof value === 'number' || typeof value === 'bigint') {
    out.put(String(value));
  } else if (typeof value === 'string') writeScalar(out, value, indent, quote);
  else if (Array.isArray(value) && value.length === 0) out.put('[]');
  else if (isMap(value) && entriesOf(value).length === 0) out.put('{}');
  else if (!Array.isArray(value) && !isMap(value)) {
    throw new TypeError(`toYaml: cannot write a ${typeof value}`);
  } else return false;
  return true;
}

/** A block mapping whose keys start at `indent`; the first key continues the current line when `inline`. */
function writeMap(out: Out, value: object, indent: number, quote: Quote, inline: boolean): void {
  entriesOf(value).forEach(([key, v], i) => {
    if (i > 0 || !inline) out.put(' '.repeat(indent));
    writeScalar(out, key, indent + BEST_INDENT, quote, true);
    out.put(':');
    writeValue(out, v, indent, quote);
  });
}

/** A block sequence whose dashes start at `indent` (go-yaml does not indent a sequence under its key). */
function writeSeq(out: Out, items: readonly unknown[], indent: number, quote: Quote, inline: boolean): void {
  items.forEach((item, i) => {
    if (i > 0 || !inline) out.put(' '.repeat(indent));
    out.put('-');
    if (isMap(item) && entriesOf(item).length > 0) {
      out.put(' ');
      writeMap(out, item, indent + BEST_INDENT, quote, true);
    } else if (Array.isArray(item) && item.length > 0) {
      out.put(' ');
      writeSeq(out, item, indent + BEST_INDENT, quote, true);
    } else {
      out.put(' ');
      writeInline(out, item, indent + BEST_INDENT, quote);
      if (out.column !== 0) out.newline();
    }
  });
}

/** The value after `key:` of a mapping at `indent`. */
function writeValue(out: Out, v: unknown, indent: number, quote: Quote): void {
  if (Array.isArray(v) && v.length > 0) {
    out.newline();
    writeSeq(out, v, indent, quote, false);
  } else if (isMap(v) && entriesOf(v).length > 0) {
    out.newline();
    writeMap(out, v, indent + BEST_INDENT, quote, false);
  } else {
    out.put(' ');
    writeInline(out, v, indent + BEST_INDENT, quote);
    if (out.column !== 0) out.newline();
  }
}

/** One document, no leading `---`. */
export function toYaml(value: unknown, options: YamlOptions = {}): string {
  const quote = options.quote ?? 'double';
  const out = new Out();
  if (isMap(value) && entriesOf(value).length > 0) writeMap(out, value, 0, quote, false);
  else if (Array.isArray(value) && value.length > 0) writeSeq(out, value, 0, quote, false);
  else {
    writeInline(out, value, 0, quote);
    if (out.column !== 0) out.newline();
  }
  return out.text;
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
