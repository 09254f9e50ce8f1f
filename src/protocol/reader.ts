/**
 * A bounds-checked little-endian reader over one packet payload. Every read names the field it reads so
 * that a short or malformed packet becomes PROTOCOL_MALFORMED "could not decode <what>: <field> ...".
 */
import { DbtlsError } from '../errors.js';

export function malformed(what: string, cause: string, details?: Record<string, unknown>): DbtlsError {
  return new DbtlsError('PROTOCOL_MALFORMED', `could not decode the ${what}: ${cause}`, {
    hint: 'the peer does not speak the MySQL protocol as expected (is this port a MySQL/MariaDB server?)',
    ...(details ? { details } : {}),
  });
}

export class ByteReader {
  private offset = 0;

  constructor(
    private readonly buf: Buffer,
    /** What is being decoded, for messages: 'server greeting', 'ERR packet'. */
    readonly what: string,
  ) {}

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private need(n: number, field: string): void {
    if (this.remaining < n) {
      throw malformed(
        this.what,
        `${field} needs ${n} byte(s) at offset ${this.offset}, only ${this.remaining} left`,
        {
          field,
          offset: this.offset,
        },
      );
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf.readUInt8(this.offset++);
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16LE(this.offset);
    this.offset += 2;
    return v;
  }

  u24(field: string): number {
    this.need(3, field);
    const v = this.buf.readUIntLE(this.offset, 3);
    this.offset += 3;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32LE(this.offset);
    this.offset += 4;
    return v;
  }

  bytes(n: number, field: string): Buffer {
    this.need(n, field);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  skip(n: number, field: string): void {
    this.bytes(n, field);
  }

  peek(field: string): number {
    this.need(1, field);
    return this.buf.readUInt8(this.offset);
  }

  /** A NUL-terminated string (string<NUL> in the spec). */
  nulString(field: string): string {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0)
      throw malformed(this.what, `${field} has no terminating NUL byte`, { field, offset: this.offset });
    const v = this.buf.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return v;
  }

  /** The rest of the packet (string<EOF>). */
  rest(): Buffer {
    const v = this.buf.subarray(this.offset);
    this.offset = this.buf.length;
    return v;
  }
}
