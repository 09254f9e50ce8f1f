/**
 * How kubectl writes one string in YAML. kubectl marshals through sigs.k8s.io/yaml, whose emitter is
 * go-yaml v2 (a port of libyaml): a string is plain unless YAML 1.1 would read it as something else
 * (`no`, `123`, `2024-01-01`), a literal block when it holds a newline, and single- or double-quoted when
 * its characters rule the other styles out; long plain and quoted lines are folded at a space past column
 * 80. The rules below follow go-yaml v2's encode.go (stringv), resolve.go and emitterc.go
 * (yaml_emitter_analyze_scalar, yaml_emitter_select_scalar_style, yaml_emitter_write_*_scalar), so that
 * our ConfigMaps and Secrets are byte-identical to `kubectl create … --dry-run=client -o yaml`.
 */

/** emitterc.go: best_width. */
const BEST_WIDTH = 80;
/** emitterc.go: best_indent; also the indentation hint of a block scalar that starts with a space. */
export const BEST_INDENT = 2;

/** The output, with the column go-yaml's line folding depends on (in characters, not bytes). */
export class Out {
  text = '';
  column = 0;
  put(s: string): void {
    this.text += s;
    this.column += [...s].length;
  }
  newline(): void {
    this.lineBreak('\n');
  }
  /** emitterc.go write_break: any line break character is written as it is and starts a new line. */
  lineBreak(c: string): void {
    this.text += c;
    this.column = 0;
  }
  /** yaml_emitter_write_indent, as used inside a scalar: a new line, then `indent` spaces. */
  indent(indent: number): void {
    this.newline();
    this.put(' '.repeat(indent));
  }
}

const isBreak = (c: string | undefined) =>
  c === '\n' || c === '\r' || c === '\u0085' || c === '\u2028' || c === '\u2029';
const isSpace = (c: string | undefined) => c === ' ';
const isBlankOrEnd = (c: string | undefined) => c === undefined || c === ' ' || c === '\t' || isBreak(c);

/** yamlprivateh.go is_printable, by code point. */
function isPrintable(c: string): boolean {
  const p = c.codePointAt(0)!;
  return (
    p === 0x0a ||
    (p >= 0x20 && p <= 0x7e) ||
    (p >= 0xa0 && p <= 0xd7ff) ||
    (p >= 0xe000 && p <= 0xfffd && p !== 0xfeff)
  );
}

// ---- resolve.go: would YAML 1.1 read the plain string as something other than a string? ----

const YAML11_WORDS = new Set(
  [
    'y Y yes Yes YES true True TRUE on On ON n N no No NO false False FALSE off Off OFF',
    '~ null Null NULL .nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF',
  ]
    .join(' ')
    .split(' '),
);
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** strconv.ParseInt(s, 0, 64) or ParseUint(s, 0, 64) succeeds: 0x, 0o, 0b, a leading 0 (octal), decimal. */
function isGoInteger(s: string): boolean {
  const m = /^([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]*)|([1-9][0-9]*))$/.exec(s);
  if (!m) return false;
  const [, sign, hex, octal, binary, leadingZero, decimal] = m;
  const v =
    hex !== undefined
      ? BigInt(`0x${hex}`)
      : octal !== undefined
        ? BigInt(`0o${octal}`)
        : binary !== undefined
          ? BigInt(`0b${binary}`)
          : decimal !== undefined
            ? BigInt(decimal)
            : BigInt(`0o${leadingZero || '0'}`);
  const signed = sign === '-' ? -v : v;
  return (signed >= INT64_MIN && signed <= INT64_MAX) || (sign === '' && v <= UINT64_MAX);
}

/** time.Parse with go-yaml's four layouts (2006-1-2, with T/t and zone, or a space and no zone). */
function isGoTimestamp(s: string): boolean {
  const m =
    /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?))?$/.exec(
      s,
    );
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return false;
  const [h, min, sec] = [m[4] ?? m[7], m[5] ?? m[8], m[6] ?? m[9]].map((x) => Number(x ?? 0));
  return h! < 24 && min! < 60 && sec! < 60;
}

/** encode.go stringv: may the string be written plain (it reads back as the same string)? */
export function resolvesToString(s: string): boolean {
  if (s === '' || YAML11_WORDS.has(s) || BASE60_FLOAT.test(s)) return false;
  const first = s[0]!;
  if (first === '.') return !(/^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(s) && Number.isFinite(Number(s)));
  if (!/[-+0-9]/.test(first)) return true;
  if (isGoTimestamp(s)) return false;
  const plain = s.replaceAll('_', '');
  if (isGoInteger(plain)) return false;
  return !(YAML_STYLE_FLOAT.test(plain) && Number.isFinite(Number(plain)));
}

// ---- emitterc.go: which styles the characters allow ----

interface Analysis {
  readonly multiline: boolean;
  readonly blockPlainAllowed: boolean;
  readonly singleQuotedAllowed: boolean;
  readonly blockAllowed: boolean;
}

/** yaml_emitter_analyze_scalar (block context: only block_plain_allowed matters). */
function analyze(value: string): Analysis {
  if (value === '') {
    return { multiline: false, blockPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: false };
  }
  const chars = [...value];
  let indicators = value.startsWith('---') || value.startsWith('...');
  let lineBreaks = false;
  let special = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let previousSpace = false;
  let previousBreak = false;
  let precededByWhitespace = true;
  chars.forEach((c, i) => {
    const followedByWhitespace = isBlankOrEnd(chars[i + 1]);
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(c)) indicators = true;
      if ((c === '?' || c === ':' || c === '-') && followedByWhitespace) indicators = true;
    } else if ((c === ':' && followedByWhitespace) || (c === '#' && precededByWhitespace)) {
      indicators = true;
    }
    if (!isPrintable(c)) special = true;
    const last = i === chars.length - 1;
    if (isSpace(c)) {
      if (i === 0) leadingSpace = true;
      if (last) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (last) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlankOrEnd(c);
  });
  const edges = leadingSpace || leadingBreak || trailingSpace || trailingBreak;
  return {
    multiline: lineBreaks,
    blockPlainAllowed: !(edges || breakSpace || spaceBreak || special || lineBreaks || indicators),
    singleQuotedAllowed: !(breakSpace || spaceBreak || special),
    blockAllowed: !(trailingSpace || spaceBreak || special),
  };
}

export type Quote = 'double' | 'single';
type Style = 'plain' | 'single' | 'double' | 'literal';

/**
 * stringv + yaml_emitter_select_scalar_style. `quote` is the style for a string that cannot be plain:
 * kubectl's double quotes, or single quotes for Helm values files (`caConfigmap: 'null'`).
 */
function styleOf(value: string, simpleKey: boolean, quote: Quote): Style {
  const a = analyze(value);
  let style: Style = value.includes('\n') ? 'literal' : resolvesToString(value) ? 'plain' : quote;
  if (simpleKey && a.multiline) style = 'double';
  if (style === 'plain' && (!a.blockPlainAllowed || (value === '' && simpleKey))) style = 'single';
  if (style === 'single' && !a.singleQuotedAllowed) style = 'double';
  if (style === 'literal' && (!a.blockAllowed || simpleKey)) style = 'double';
  return style;
}

const ESCAPES: Readonly<Record<string, string>> = Object.freeze({
  '\0': '0',
  '\x07': 'a',
  '\b': 'b',
  '\t': 't',
  '\n': 'n',
  '\v': 'v',
  '\f': 'f',
  '\r': 'r',
  '\x1b': 'e',
  '"': '"',
  '\\': '\\',
  '\u0085': 'N',
  '\u00a0': '_',
  '\u2028': 'L',
  '\u2029': 'P',
});

function escaped(c: string): string {
  const named = ESCAPES[c];
  if (named) return `\\${named}`;
  const p = c.codePointAt(0)!;
  const [letter, width] = p <= 0xff ? ['x', 2] : p <= 0xffff ? ['u', 4] : ['U', 8];
  return `\\${letter}${p.toString(16).toUpperCase().padStart(width, '0')}`;
}

/**
 * Writes `value` at the current position of `out` (after `key: ` or `- `); `indent` is where folded and
 * block lines start. Keys are written with `simpleKey`: never folded, never a block.
 */
export function writeScalar(out: Out, value: string, indent: number, quote: Quote, simpleKey = false): void {
  const style = styleOf(value, simpleKey, quote);
  const chars = [...value];
  const allowBreaks = !simpleKey;
  if (style === 'literal') {
    writeLiteral(out, chars, indent);
    return;
  }
  const mark = style === 'single' ? "'" : style === 'double' ? '"' : '';
  out.put(mark);
  let spaces = false;
  let breaks = false;
  chars.forEach((c, i) => {
    if (style === 'double' && (!isPrintable(c) || c === '\ufeff' || isBreak(c) || c === '"' || c === '\\')) {
      out.put(escaped(c));
      spaces = false;
      return;
    }
    if (isSpace(c)) {
      const inside = style === 'plain' || (i !== 0 && i !== chars.length - 1);
      const fold = allowBreaks && !spaces && out.column > BEST_WIDTH && inside;
      if (fold && style === 'double') {
        out.indent(indent);
        if (isSpace(chars[i + 1])) out.put('\\');
      } else if (fold && !isSpace(chars[i + 1])) out.indent(indent);
      else out.put(c);
      spaces = true;
      return;
    }
    if (isBreak(c)) {
      // Only U+2028/U+2029 get here (a string with \n is a literal block): written as they are.
      out.lineBreak(c);
      breaks = true;
      return;
    }
    if (breaks) out.put(' '.repeat(indent));
    out.put(style === 'single' && c === "'" ? "''" : c);
    spaces = false;
    breaks = false;
  });
  out.put(mark);
}

/** yaml_emitter_write_literal_scalar with its block scalar hints (indentation and chomping). */
function writeLiteral(out: Out, chars: string[], indent: number): void {
  let hints = isSpace(chars[0]) || isBreak(chars[0]) ? String(BEST_INDENT) : '';
  const n = chars.length;
  if (!isBreak(chars[n - 1])) hints += '-';
  else if (n === 1 || isBreak(chars[n - 2])) hints += '+';
  out.put(`|${hints}`);
  out.newline();
  let atLineStart = true;
  for (const c of chars) {
    if (isBreak(c)) {
      out.lineBreak(c);
      atLineStart = true;
      continue;
    }
    if (atLineStart) out.put(' '.repeat(indent));
    out.put(c);
    atLineStart = false;
  }
}
