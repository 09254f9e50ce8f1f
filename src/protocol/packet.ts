/**
 * Packet framing. Spec: MySQL "MySQL Packets" (dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_packets.html):
 * every packet is a 3-byte little-endian payload length, a 1-byte sequence id, then the payload. The sequence id
 * starts at 0 with each command (the greeting is 0, an SSLRequest 1, the handshake response 1, or 2 after TLS).
 */
import { DbtlsError } from '../errors.js';

/** Bytes of the packet header: int<3> length + int<1> sequence id. */
export const PACKET_HEADER_LENGTH = 4;
/** The largest payload of one frame (2^24 - 1); larger payloads continue in further frames. */
export const MAX_PAYLOAD_LENGTH = 0xff_ffff;

export interface Packet {
  readonly sequenceId: number;
  readonly payload: Buffer;
}

/** One frame: header + payload. Payloads of 2^24 - 1 bytes or more are not needed before authentication. */
export function framePacket(sequenceId: number, payload: Buffer): Buffer {
  if (payload.length >= MAX_PAYLOAD_LENGTH) {
    throw new DbtlsError(
      'PROTOCOL_PACKET_TOO_LARGE',
      `could not frame the packet: ${payload.length} bytes is more than one frame holds`,
      {
        hint: 'split the payload; only handshake packets are framed by dbtls',
      },
    );
  }
  const header = Buffer.alloc(PACKET_HEADER_LENGTH);
  header.writeUIntLE(payload.length, 0, 3);
  header.writeUInt8(sequenceId & 0xff, 3);
  return Buffer.concat([header, payload]);
}

/**
 * Splits a byte stream into packets. Feed it chunks with `push`, take whole packets with `next`. A frame
 * longer than `maxPayload` is refused: before authentication no honest server sends large packets, and an
 * unbounded buffer is a memory exhaustion vector.
 */
export class PacketReader {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(
    private readonly maxPayload = 1 << 20,
    private readonly what = 'packet',
  ) {}

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
  }

  /** The next whole packet, or undefined when more bytes are needed. */
  next(): Packet | undefined {
    if (this.buffer.length < PACKET_HEADER_LENGTH) return undefined;
    const length = this.buffer.readUIntLE(0, 3);
    if (length > this.maxPayload) {
      throw new DbtlsError(
        'PROTOCOL_MALFORMED',
        `could not decode the ${this.what}: its length ${length} exceeds ${this.maxPayload} bytes`,
        {
          hint: 'the peer does not speak the MySQL protocol as expected (is this port a MySQL/MariaDB server?)',
          details: { field: 'payload length', length },
        },
      );
    }
    if (this.buffer.length < PACKET_HEADER_LENGTH + length) return undefined;
    const sequenceId = this.buffer.readUInt8(3);
    const payload = Buffer.from(this.buffer.subarray(PACKET_HEADER_LENGTH, PACKET_HEADER_LENGTH + length));
    this.buffer = this.buffer.subarray(PACKET_HEADER_LENGTH + length);
    return { sequenceId, payload };
  }

  /** Bytes received but not yet returned as a packet (e.g. what follows the greeting). */
  pending(): Buffer {
    return this.buffer;
  }
}
