/** A tiny little-endian writer for packet payloads: `new ByteWriter().u8(10).nulString(v).end()`. */
export class ByteWriter {
  private readonly parts: Buffer[] = [];

  u8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeUInt8(v & 0xff);
    this.parts.push(b);
    return this;
  }

  u16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v & 0xffff);
    this.parts.push(b);
    return this;
  }

  u24(v: number): this {
    const b = Buffer.alloc(3);
    b.writeUIntLE(v & 0xffffff, 0, 3);
    this.parts.push(b);
    return this;
  }

  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.parts.push(b);
    return this;
  }

  bytes(v: Uint8Array): this {
    this.parts.push(Buffer.from(v));
    return this;
  }

  zeros(n: number): this {
    this.parts.push(Buffer.alloc(n));
    return this;
  }

  nulString(v: string): this {
    this.parts.push(Buffer.from(v, 'utf8'), Buffer.alloc(1));
    return this;
  }

  string(v: string): this {
    this.parts.push(Buffer.from(v, 'utf8'));
    return this;
  }

  end(): Buffer {
    return Buffer.concat(this.parts);
  }
}
