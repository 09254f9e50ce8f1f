/**
 * Distinguished names: our attribute list <-> DER Name (RFC 5280 §4.1.2.4) and the OpenSSL one-line form
 * (`/C=US/O=Acme/CN=app`). MariaDB and MySQL compare `REQUIRE SUBJECT` / `ISSUER` byte for byte against
 * what OpenSSL's X509_NAME_oneline() prints (FACTS.md), so oneLineName() follows that function exactly
 * (OpenSSL 3, crypto/x509/x509_obj.c): short names, '/' separators, '/' and '+' inside values escaped
 * with a backslash, every byte outside ' '..'~' written as \xHH (upper-case hex), nothing else escaped.
 * `openssl x509 -noout -subject -nameopt compat` prints the same.
 */
import { DbtlsError } from '../errors.js';
import {
  DerReader,
  decodeOid,
  ia5String,
  inside,
  oid,
  printableString,
  sequence,
  set,
  TAG,
  utf8String,
} from './der.js';

export interface NameAttribute {
  /** OpenSSL short name: C, ST, L, O, OU, CN, emailAddress, … */
  readonly type: string;
  readonly value: string;
}

/** Short name -> OID, as in OpenSSL's objects.txt (X.520 §6, RFC 4519, PKCS #9). */
const SHORT_TO_OID: Readonly<Record<string, string>> = Object.freeze({
  CN: '2.5.4.3',
  SN: '2.5.4.4',
  serialNumber: '2.5.4.5',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  street: '2.5.4.9',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  title: '2.5.4.12',
  postalCode: '2.5.4.17',
  name: '2.5.4.41',
  GN: '2.5.4.42',
  initials: '2.5.4.43',
  dnQualifier: '2.5.4.46',
  pseudonym: '2.5.4.65',
  DC: '0.9.2342.19200300.100.1.25',
  UID: '0.9.2342.19200300.100.1.1',
  emailAddress: '1.2.840.113549.1.9.1',
});
const OID_TO_SHORT: ReadonlyMap<string, string> = new Map(
  Object.entries(SHORT_TO_OID).map(([k, v]) => [v, k]),
);

/** Attributes whose ASN.1 type is fixed: C is PrintableString (RFC 5280 App. A), IA5 for mail and DC. */
const PRINTABLE_TYPES = new Set(['C', 'serialNumber', 'dnQualifier']);
const IA5_TYPES = new Set(['emailAddress', 'DC']);

function invalid(text: string, cause: string): DbtlsError {
  return new DbtlsError('NAME_INVALID', `could not use the name ${JSON.stringify(text)}: ${cause}`, {
    hint: 'write names as /O=Example/CN=app with known attribute names (C, ST, L, O, OU, CN, …)',
  });
}

/** DER Name: one single-valued RDN per attribute, in the given order. */
export function encodeName(attributes: readonly NameAttribute[]): Buffer {
  return sequence(
    ...attributes.map((a) => {
      const typeOid = SHORT_TO_OID[a.type];
      if (!typeOid) throw invalid(`${a.type}=${a.value}`, `unknown attribute type ${a.type}`);
      const value = PRINTABLE_TYPES.has(a.type)
        ? printableString(a.value)
        : IA5_TYPES.has(a.type)
          ? ia5String(a.value)
          : utf8String(a.value);
      return set(sequence(oid(typeOid), value));
    }),
  );
}

interface RawAttribute {
  readonly oid: string;
  readonly tag: number;
  readonly bytes: Buffer;
}

function decodeRaw(nameDer: Uint8Array): RawAttribute[] {
  const reader = new DerReader(Buffer.from(nameDer.buffer, nameDer.byteOffset, nameDer.byteLength), 'a name');
  const outer = inside(reader.expect(TAG.SEQUENCE, 'Name'), 'a name');
  const out: RawAttribute[] = [];
  while (outer.more()) {
    const rdn = inside(outer.expect(TAG.SET, 'RelativeDistinguishedName'), 'a name');
    while (rdn.more()) {
      const atv = inside(rdn.expect(TAG.SEQUENCE, 'AttributeTypeAndValue'), 'a name');
      const type = decodeOid(atv.expect(TAG.OID, 'attribute type').value);
      const value = atv.read('attribute value');
      out.push({ oid: type, tag: value.tag, bytes: value.value });
    }
  }
  return out;
}

/** Attributes of a DER Name, values decoded as text. */
export function decodeName(nameDer: Uint8Array): NameAttribute[] {
  return decodeRaw(nameDer).map((a) => ({
    type: OID_TO_SHORT.get(a.oid) ?? a.oid,
    value: a.tag === TAG.UTF8_STRING ? a.bytes.toString('utf8') : a.bytes.toString('latin1'),
  }));
}

const HEX = '0123456789ABCDEF';

/** X509_NAME_oneline's value rule: printable ASCII as is, every other byte as \xHH. */
function onelineValue(bytes: Uint8Array, tag: number): string {
  // X509_NAME_oneline skips the zero bytes of a GeneralString/UniversalString holding 4-byte ASCII.
  let keep: readonly boolean[] = [true, true, true, true];
  if ((tag === 0x1b || tag === TAG.UNIVERSAL_STRING) && bytes.length % 4 === 0) {
    const nonzero = [false, false, false, false];
    bytes.forEach((b, j) => {
      if (b !== 0) nonzero[j & 3] = true;
    });
    keep = nonzero[0] || nonzero[1] || nonzero[2] ? [true, true, true, true] : [false, false, false, true];
  }
  let out = '';
  for (let j = 0; j < bytes.length; j++) {
    if (!keep[j & 3]) continue;
    const n = bytes[j]!;
    if (n === 0x2f || n === 0x2b)
      out += `\\${String.fromCharCode(n)}`; // '/' and '+'
    else out += n < 0x20 || n > 0x7e ? `\\x${HEX[n >> 4]}${HEX[n & 15]}` : String.fromCharCode(n);
  }
  return out;
}

/**
 * The OpenSSL one-line form of a name: from its DER (any certificate), or from our attribute list
 * (the bytes encodeName would write).
 */
export function oneLineName(dn: Uint8Array | readonly NameAttribute[]): string {
  if (dn instanceof Uint8Array) {
    return decodeRaw(dn)
      .map((a) => `/${OID_TO_SHORT.get(a.oid) ?? a.oid}=${onelineValue(a.bytes, a.tag)}`)
      .join('');
  }
  return dn
    .map((a) => {
      const encoding = PRINTABLE_TYPES.has(a.type) || IA5_TYPES.has(a.type) ? 'latin1' : 'utf8';
      return `/${a.type}=${onelineValue(Buffer.from(a.value, encoding), TAG.UTF8_STRING)}`;
    })
    .join('');
}

/** Parses `/C=US/O=Acme Corp/CN=app` into [type, value] pairs, undoing the `\/` and `\+` escapes. */
export function parseOneLineName(s: string): [type: string, value: string][] {
  if (!s.startsWith('/')) throw invalid(s, 'it must start with "/"');
  const parts: string[] = [];
  let current = '';
  for (let i = 1; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\' && (s[i + 1] === '/' || s[i + 1] === '+')) {
      current += s[++i];
    } else if (ch === '/') {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((part) => {
    const eq = part.indexOf('=');
    if (eq <= 0) throw invalid(s, `"${part}" is not TYPE=value`);
    return [part.slice(0, eq), part.slice(eq + 1)];
  });
}

/** X.520 upper bounds (ub-common-name, ub-organization-name): 64 characters. */
export const MAX_NAME_VALUE_LENGTH = 64;

/**
 * Why a value cannot go into a subject dbtls writes, or undefined (issue 14, item 9). A control character
 * is refused (a line break in O would end up in every leaf), and so is text that X509_NAME_oneline's
 * escapes could have made: it writes the byte 0xC3 as `\xC3` and a backslash as itself, so a value
 * holding the four characters `\xC3` prints like one holding the byte, and a value ending in a backslash
 * runs into the next attribute's `/` (read as `\/`). REQUIRE SUBJECT and ISSUER compare that one-line
 * form: without these two shapes it names exactly one subject.
 */
export function nameValueProblem(value: string): string | undefined {
  return NAME_RULES.find((r) => r.broken(value))?.problem(value);
}

/** What to do about nameValueProblem's reason, for a hint ("shorten it to at most 64 characters"). */
export function nameValueFix(value: string): string | undefined {
  return NAME_RULES.find((r) => r.broken(value))?.fix;
}

interface NameRule {
  readonly broken: (value: string) => boolean;
  readonly problem: (value: string) => string;
  readonly fix: string;
}

/** The rules of nameValueProblem, each with its reason and its fix, in the order they are checked. */
const NAME_RULES: readonly NameRule[] = [
  {
    broken: (v) => v.length === 0,
    problem: () => 'it is empty',
    fix: 'give a name of at least one character',
  },
  {
    broken: (v) => v.length > MAX_NAME_VALUE_LENGTH,
    problem: (v) => `it has ${v.length} characters, more than the ${MAX_NAME_VALUE_LENGTH} X.520 allows`,
    fix: `shorten it to at most ${MAX_NAME_VALUE_LENGTH} characters`,
  },
  {
    broken: (v) => /\p{Cc}/u.test(v),
    problem: () => 'it holds a control character (a line break, tab or escape)',
    fix: 'remove the control characters: a name is plain text',
  },
  {
    broken: (v) => /\\(x[0-9a-f]{2}|$)/i.test(v),
    problem: () =>
      "it holds a backslash before xHH or at its end, which makes OpenSSL's one-line name (what REQUIRE SUBJECT compares) ambiguous: `\\xC3\\xBC` typed out reads the same as `ü`",
    fix: 'write the character itself (ü, not \\xC3\\xBC), and end the name without a backslash',
  },
];

/**
 * Where the CN of a name is (-1: none): the last CN, the most specific (RFC 2818 §3.1; a Name lists its
 * RDNs from the most general down), as Go's crypto/x509 reads it; OpenSSL's X509_check_host takes any CN.
 * The one rule of dbtls: names in messages, the CN a certificate is re-issued under, `dbtls secure`'s check.
 */
export function commonNameIndex(attributes: readonly NameAttribute[]): number {
  return attributes.findLastIndex((a) => a.type === 'CN');
}

/** The CN of a name (commonNameIndex), if any: from our attribute list, or from the one-line form (`/O=x/CN=y`). */
export function commonName(name: readonly NameAttribute[] | string): string | undefined {
  if (typeof name !== 'string') return name[commonNameIndex(name)]?.value;
  try {
    return commonName(parseOneLineName(name).map(([type, value]) => ({ type, value })));
  } catch {
    return undefined; // not a one-line name (a report's placeholder for an unreadable certificate)
  }
}
