/**
 * The few pieces of the MySQL wire format the probe needs, read off a socket: one framed packet, the
 * greeting, and the SSLRequest. The packet codecs themselves live in src/protocol; this module only
 * frames them on a stream with bounds and a deadline.
 */
import type { Socket } from 'node:net';
import { DbtlsError } from '../errors.js';
import {
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  encodeSslRequest,
  framePacket,
  type Greeting,
  hasCapability,
  SSL_REQUEST_SEQUENCE_ID,
} from '../protocol/index.js';

/** MySQL packets carry a 3-byte little-endian length and a 1-byte sequence id (MySQL internals, "MySQL Packets"). */
export const PACKET_HEADER_BYTES = 4;
/** A greeting is about 100 bytes; anything far larger is not a MySQL server talking. */
const MAX_GREETING_BYTES = 16 * 1024;

export interface RawPacket {
  readonly sequenceId: number;
  readonly payload: Buffer;
}

/**
 * Reads exactly one packet from a fresh socket and leaves the socket paused with nothing consumed past
 * it (the server sends nothing more until we answer, so no bytes can be lost to the TLS layer).
 */
export function readFirstPacket(socket: Socket, what: string): Promise<RawPacket> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onEnd = () => {
      cleanup();
      reject(
        new DbtlsError(
          'PROTOCOL_MALFORMED',
          `could not read the ${what}: the server closed the connection after ${buffered.length} bytes${describeBytes(buffered)}`,
          {
            hint: 'check that the port is a MySQL or MariaDB server port',
          },
        ),
      );
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < PACKET_HEADER_BYTES) return;
      const length = buffered.readUIntLE(0, 3);
      if (length > MAX_GREETING_BYTES || looksLikeText(buffered)) {
        cleanup();
        socket.pause();
        reject(
          new DbtlsError(
            'PROTOCOL_MALFORMED',
            `could not read the ${what}: not a MySQL packet${describeBytes(buffered)}`,
            {
              hint: 'check that the port is a MySQL or MariaDB server port (this one speaks another protocol)',
            },
          ),
        );
        return;
      }
      if (buffered.length < PACKET_HEADER_BYTES + length) return;
      cleanup();
      socket.pause();
      resolve({
        sequenceId: buffered[3] ?? 0,
        payload: buffered.subarray(PACKET_HEADER_BYTES, PACKET_HEADER_BYTES + length),
      });
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
  });
}

/** A MySQL greeting starts with a length and protocol 10; text protocols (HTTP, SSH, SMTP) start with letters. */
function looksLikeText(bytes: Buffer): boolean {
  const head = bytes.subarray(0, Math.min(bytes.length, 4));
  return head.every((b) => b >= 0x20 && b < 0x7f);
}

/** The first bytes received, printable when they are text, for error messages that name what came back. */
export function describeBytes(bytes: Buffer): string {
  if (bytes.length === 0) return '';
  const head = bytes.subarray(0, 32);
  const printable = head.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x0d);
  return printable
    ? ` (it sent ${JSON.stringify(head.toString('latin1'))})`
    : ` (it sent 0x${head.toString('hex')})`;
}

export function offersTls(greeting: Greeting): boolean {
  return hasCapability(greeting.capabilities, CLIENT_SSL);
}

/** What the probe claims in its SSLRequest: 4.1 protocol and TLS; it never continues to authentication. */
const PROBE_CAPABILITIES = CLIENT_SSL | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;

/** The framed SSLRequest (sequence id 1) for a server that sent `greeting`. */
export function sslRequestPacket(greeting: Greeting): Buffer {
  return framePacket(
    SSL_REQUEST_SEQUENCE_ID,
    encodeSslRequest({ capabilities: (PROBE_CAPABILITIES & greeting.capabilities) >>> 0 }),
  );
}
