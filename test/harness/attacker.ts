/**
 * The downgrade attacker (BACKRONYM / Riddle class): a man in the middle on 127.0.0.1 that clears
 * CLIENT_SSL in the server's greeting, so a client that "prefers" TLS falls back to plaintext, and records
 * every byte the client sends, so a test can prove no credential left the client before TLS.
 * The greeting is parsed here on purpose, independently of src/protocol (this is an oracle).
 */
import * as net from 'node:net';

export interface Relay {
  port: number;
  /** Every byte clients sent through the relay, all connections concatenated in arrival order. */
  clientBytes(): Buffer;
  close(): Promise<void>;
}

/** MySQL packet header: 3-byte little-endian payload length + 1-byte sequence id. */
const HEADER_LENGTH = 4;
/** Protocol::HandshakeV10. */
const PROTOCOL_V10 = 10;
/** Thread id (4) + auth-plugin-data part 1 (8) + filler (1) between the version's NUL and the capability flags. */
const BYTES_BEFORE_CAPABILITIES = 4 + 8 + 1;
/** CLIENT_SSL, in the lower 16 capability bits. */
const CLIENT_SSL = 0x0800;

/**
 * Clears CLIENT_SSL in a complete greeting packet (header included), in place. Anything that is not a
 * well-formed protocol 10 greeting (an error packet, say) is left untouched.
 */
function stripSsl(packet: Buffer): void {
  if (packet.length <= HEADER_LENGTH || packet[HEADER_LENGTH] !== PROTOCOL_V10) return;
  const versionEnd = packet.indexOf(0, HEADER_LENGTH + 1);
  if (versionEnd < 0) return;
  const offset = versionEnd + 1 + BYTES_BEFORE_CAPABILITIES;
  if (offset + 2 > packet.length) return;
  packet.writeUInt16LE(packet.readUInt16LE(offset) & ~CLIENT_SSL, offset);
}

/** Starts the relay in front of `target`; close() it in `after`. */
export function startDowngradeRelay(target: { host?: string; port: number }): Promise<Relay> {
  const host = target.host ?? '127.0.0.1';
  const recorded: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };

  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, host);
    track(client);
    track(upstream);
    client.on('data', (chunk: Buffer) => {
      recorded.push(Buffer.from(chunk));
      upstream.write(chunk);
    });
    client.on('end', () => upstream.end());
    client.on('close', () => upstream.destroy());

    let greeting: Buffer | undefined = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      if (greeting === undefined) {
        client.write(chunk);
        return;
      }
      greeting = Buffer.concat([greeting, chunk]);
      if (greeting.length < HEADER_LENGTH) return;
      const total = HEADER_LENGTH + greeting.readUIntLE(0, 3);
      if (greeting.length < total) return;
      const packet = greeting;
      greeting = undefined;
      stripSsl(packet.subarray(0, total));
      client.write(packet);
    });
    upstream.on('end', () => client.end());
    upstream.on('close', () => client.destroy());
  });

  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        port,
        clientBytes: () => Buffer.concat(recorded),
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
