/**
 * What keystores add to src/pki/der.ts: BMPString (PKCS#12 passwords and friendly names, Java's UTF-16BE
 * `char[]`), DER SET OF ordering, and array-style access to the fields of a constructed element
 * (`const [version, authSafe, mac] = fields(pfx, 'PFX', 2)`), all bounds-checked through DerReader.
 */
import { DbtlsError } from '../errors.js';
import { DerReader, decodeOid as decodeOidValue, inside, set, TAG, type Tlv, tlv } from '../pki/der.js';

export type { Tlv };

/** Context-specific constructed [0] (EXPLICIT, or IMPLICIT over a constructed type). */
export const CONTEXT_CONSTRUCTED = 0xa0;
/** Context-specific primitive [0] (IMPLICIT over a primitive type). */
export const CONTEXT_PRIMITIVE = 0x80;

/** UTF-16BE, the BMPString and Java `char[]` byte form. */
export function utf16be(text: string): Buffer {
  return Buffer.from(text, 'utf16le').swap16();
}

export function fromUtf16be(bytes: Buffer): string {
  return Buffer.from(bytes).swap16().toString('utf16le');
}

export const bmpString = (text: string): Buffer => tlv(TAG.BMP_STRING, utf16be(text));

/** SET OF with its elements in the order DER requires: by their encodings (X.690 section 11.6). */
export const setOf = (...items: Uint8Array[]): Buffer =>
  set(...[...items].sort((a, b) => Buffer.compare(a, b)));

function malformed(what: string, cause: string): DbtlsError {
  return new DbtlsError('DER_MALFORMED', `could not decode ${what}: ${cause}`, {
    hint: 'the file is corrupted or truncated; produce it again',
  });
}

/** Decodes exactly one element filling `buf`. */
export function decode(buf: Buffer, what: string, tag?: number): Tlv {
  const reader = new DerReader(buf, what);
  const t = reader.read(what);
  if (reader.more()) throw malformed(what, 'unexpected bytes after the element');
  if (tag !== undefined) expectTag(t, tag, what);
  return t;
}

/** The elements inside a constructed element. */
export function children(t: Tlv, what: string): Tlv[] {
  const reader = inside(t, what);
  const out: Tlv[] = [];
  while (reader.more()) out.push(reader.read(what));
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t) throw malformed(what, 'element missing');
  if (t.tag !== tag)
    throw malformed(what, `expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  return t;
}

/** The fields of a SEQUENCE, at least `min` of them. */
export function fields(t: Tlv | undefined, what: string, min = 0): Tlv[] {
  const items = children(expectTag(t, TAG.SEQUENCE, what), what);
  if (items.length < min) throw malformed(what, `expected at least ${min} elements, found ${items.length}`);
  return items;
}

export function decodeOid(t: Tlv | undefined, what: string): string {
  const value = expectTag(t, TAG.OID, what).value;
  if (value.length === 0) throw malformed(what, 'empty object identifier');
  return decodeOidValue(value);
}

/** A small non-negative INTEGER (versions, iteration counts). */
export function decodeInteger(t: Tlv | undefined, what: string): number {
  const c = expectTag(t, TAG.INTEGER, what).value;
  if (c.length === 0 || c.length > 6 || (c[0]! & 0x80) !== 0) throw malformed(what, 'integer out of range');
  let v = 0;
  for (const b of c) v = v * 256 + b;
  return v;
}

export function decodeOctets(t: Tlv | undefined, what: string): Buffer {
  return expectTag(t, TAG.OCTET_STRING, what).value;
}
