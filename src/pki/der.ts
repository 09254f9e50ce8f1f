/**
 * A minimal DER encoder and bounds-checked reader (ITU-T X.690 §8, §10).
 *
 * Why hand-written: issuing a leaf with @peculiar/x509 costs ~1.2 ms, almost all of it in its generic
 * ASN.1 schema machinery (FACTS.md: ~540 certificates/s), while node:crypto signs in ~20 µs. The issue-2
 * target (>= 3,000 issuances/s) needs the TBSCertificate built directly as bytes; the fixed shapes of
 * X.509 make that a few dozen lines. Output compatibility is proven in test/unit/pki/certificate.test.ts by
 * parsing with @peculiar/x509 and node's X509Certificate and by `openssl verify -x509_strict`.
 */
import { DbtlsError } from '../errors.js';

/** Universal tags (X.690 §8.1.2, X.680 §8.4). */
export const TAG = Object.freeze({
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
});

/** Context-specific class bit and constructed bit (X.690 §8.1.2.2, §8.1.2.5). */
const CONTEXT = 0x80;
const CONSTRUCTED = 0x20;

/** Bytes of the length octets for a contents length (X.690 §8.1.3: short form below 128, else long). */
function lengthSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x100) return 2;
  if (n < 0x10000) return 3;
  if (n < 0x1000000) return 4;
  throw new RangeError(`DER length ${n} too large`);
}

/**
 * One TLV with the given tag around the concatenated contents, built in a single buffer: a certificate
 * nests a few dozen TLVs, and two Buffer.concat per level made issuance a quarter slower (measured:
 * ~220 us of CPU per leaf before, ~165 us after).
 */
export function tlv(tag: number, ...content: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const c of content) length += c.length;
  const size = lengthSize(length);
  const out = Buffer.allocUnsafe(1 + size + length);
  out[0] = tag;
  if (size === 1) out[1] = length;
  else {
    out[1] = 0x80 | (size - 1);
    for (let i = size - 1, n = length; i >= 1; i--, n >>>= 8) out[1 + i] = n & 0xff;
  }
  let offset = 1 + size;
  for (const c of content) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

export const sequence = (...items: readonly Uint8Array[]): Buffer => tlv(TAG.SEQUENCE, ...items);
export const set = (...items: readonly Uint8Array[]): Buffer => tlv(TAG.SET, ...items);
export const NULL = Buffer.from([TAG.NULL, 0]);

/** A non-negative INTEGER from its big-endian magnitude (X.690 §8.3: minimal, sign bit clear). */
export function unsignedInteger(magnitude: Uint8Array | number): Buffer {
  let bytes: Uint8Array;
  if (typeof magnitude === 'number') {
    const out: number[] = [];
    let n = magnitude;
    do {
      out.unshift(n & 0xff);
      n = Math.floor(n / 256);
    } while (n > 0);
    bytes = Uint8Array.from(out);
  } else {
    bytes = magnitude;
  }
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  const pad = (trimmed[0] ?? 0) & 0x80 ? Buffer.from([0]) : Buffer.alloc(0);
  return tlv(TAG.INTEGER, pad, trimmed.length ? trimmed : Buffer.from([0]));
}

export function boolean(value: boolean): Buffer {
  return Buffer.from([TAG.BOOLEAN, 1, value ? 0xff : 0x00]);
}

const oidCache = new Map<string, Buffer>();

/** OBJECT IDENTIFIER from dotted form (X.690 §8.19), cached: the same dozen OIDs are in every certificate. */
export function oid(dotted: string): Buffer {
  const cached = oidCache.get(dotted);
  if (cached) return cached;
  const arcs = dotted.split('.').map((a) => Number.parseInt(a, 10));
  const bytes: number[] = [];
  const first = arcs[0]! * 40 + arcs[1]!;
  for (const arc of [first, ...arcs.slice(2)]) {
    const group: number[] = [arc & 0x7f];
    let n = Math.floor(arc / 128);
    while (n > 0) {
      group.unshift((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    bytes.push(...group);
  }
  const encoded = tlv(TAG.OID, Uint8Array.from(bytes));
  oidCache.set(dotted, encoded);
  return encoded;
}

export function bitString(bytes: Uint8Array, unusedBits = 0): Buffer {
  return tlv(TAG.BIT_STRING, Buffer.from([unusedBits]), bytes);
}

/** A named-bit BIT STRING (X.690 §11.2.2: trailing zero bits removed), e.g. keyUsage. */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0));
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return bitString(bytes, 7 - (highest & 7));
}

export const octetString = (bytes: Uint8Array): Buffer => tlv(TAG.OCTET_STRING, bytes);
export const utf8String = (text: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(text, 'utf8'));
export const printableString = (text: string): Buffer =>
  tlv(TAG.PRINTABLE_STRING, Buffer.from(text, 'latin1'));
export const ia5String = (text: string): Buffer => tlv(TAG.IA5_STRING, Buffer.from(text, 'latin1'));

/** [n] EXPLICIT (constructed, wraps a whole TLV). */
export function explicit(n: number, inner: Uint8Array): Buffer {
  return tlv(CONTEXT | CONSTRUCTED | n, inner);
}

/** [n] IMPLICIT primitive (replaces the tag of a primitive value's contents). */
export function implicit(n: number, contents: Uint8Array): Buffer {
  return tlv(CONTEXT | n, contents);
}

/** [n] IMPLICIT constructed (replaces the SEQUENCE tag). */
export function implicitConstructed(n: number, ...contents: readonly Uint8Array[]): Buffer {
  return tlv(CONTEXT | CONSTRUCTED | n, ...contents);
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/**
 * A validity time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5), always in UTC
 * with seconds and no fraction.
 */
export function time(date: Date): Buffer {
  const y = date.getUTCFullYear();
  const rest = `${pad2(date.getUTCMonth() + 1)}${pad2(date.getUTCDate())}${pad2(date.getUTCHours())}${pad2(
    date.getUTCMinutes(),
  )}${pad2(date.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, Buffer.from(`${pad2(y % 100)}${rest}`, 'latin1'));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${String(y).padStart(4, '0')}${rest}`, 'latin1'));
}

// ---------------------------------------------------------------------------------------------------
// Reading

export interface Tlv {
  readonly tag: number;
  /** The contents octets. */
  readonly value: Buffer;
  /** The whole TLV, header included. */
  readonly raw: Buffer;
}

function malformed(what: string, cause: string): DbtlsError {
  return new DbtlsError('DER_MALFORMED', `could not decode ${what}: ${cause}`, {
    hint: 'the input is not valid DER; check that the file is the one you meant',
  });
}

/** Reads consecutive TLVs from a buffer; every read is bounds-checked and names what it was reading. */
export class DerReader {
  private offset = 0;

  constructor(
    private readonly bytes: Buffer,
    private readonly what: string,
  ) {}

  more(): boolean {
    return this.offset < this.bytes.length;
  }

  peekTag(): number | undefined {
    return this.more() ? this.bytes[this.offset] : undefined;
  }

  read(field: string): Tlv {
    const b = this.bytes;
    const start = this.offset;
    if (start + 2 > b.length) throw malformed(this.what, `${field} is truncated`);
    const tag = b[start]!;
    if ((tag & 0x1f) === 0x1f) throw malformed(this.what, `${field} uses a multi-byte tag`);
    let length = b[start + 1]!;
    let header = 2;
    if (length & 0x80) {
      const count = length & 0x7f;
      if (count === 0 || count > 3) throw malformed(this.what, `${field} has an unsupported length form`);
      if (start + 2 + count > b.length) throw malformed(this.what, `${field} length is truncated`);
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + b[start + 2 + i]!;
      header += count;
    }
    const end = start + header + length;
    if (end > b.length) throw malformed(this.what, `${field} runs past the end of the data`);
    this.offset = end;
    return { tag, value: b.subarray(start + header, end), raw: b.subarray(start, end) };
  }

  /** Reads a TLV that must carry `tag`. */
  expect(tag: number, field: string): Tlv {
    const t = this.read(field);
    if (t.tag !== tag) {
      throw malformed(this.what, `${field} has tag 0x${t.tag.toString(16)}, expected 0x${tag.toString(16)}`);
    }
    return t;
  }

  /** Reads the next TLV only when it carries `tag`. */
  optional(tag: number, field: string): Tlv | undefined {
    return this.peekTag() === tag ? this.read(field) : undefined;
  }
}

/** A reader over the contents of a constructed TLV. */
export function inside(t: Tlv, what: string): DerReader {
  return new DerReader(t.value, what);
}

/** Dotted form of an OBJECT IDENTIFIER's contents. */
export function decodeOid(value: Uint8Array): string {
  const arcs: number[] = [];
  let n = 0;
  for (const byte of value) {
    n = n * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (arcs.length === 0) {
        const first = n < 80 ? Math.floor(n / 40) : 2;
        arcs.push(first, n - first * 40);
      } else {
        arcs.push(n);
      }
      n = 0;
    }
  }
  return arcs.join('.');
}

/** Tag constants for reading context-specific fields. */
export const contextTag = (n: number, constructed: boolean): number =>
  CONTEXT | (constructed ? CONSTRUCTED : 0) | n;
