/**
 * A passive wiretap: a TCP relay on 127.0.0.1 that changes nothing and keeps what each client connection
 * sent, so a test can check what an eavesdropper on the path would see in clear. (The downgrade attacker in
 * test/harness/attacker.ts strips TLS; this one does not, so the client's TLS behaviour is the server's.)
 */
import * as net from 'node:net';

export interface RecordingRelay {
  readonly port: number;
  /** What the client sent on each connection, in accept order. */
  connections(): Buffer[];
  close(): Promise<void>;
}

export async function startRecordingRelay(upstream: { host: string; port: number }): Promise<RecordingRelay> {
  const recorded: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const chunks: Buffer[] = [];
    recorded.push(chunks);
    const upstreamSocket = net.connect({ host: upstream.host, port: upstream.port, allowHalfOpen: true });
    for (const s of [client, upstreamSocket]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstreamSocket.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
    client.pipe(upstreamSocket);
    upstreamSocket.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => recorded.map((chunks) => Buffer.concat(chunks)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** MySQL packet header (3-byte length, sequence id) and the SSLRequest's fixed 32-byte payload. */
const HEADER = 4;
const SSL_REQUEST_LENGTH = 32;
const CLIENT_SSL = 0x0800;
const TLS_HANDSHAKE_RECORD = 0x16;

/**
 * What a client's first bytes on a connection are, read independently of src/protocol: `ssl-request` when
 * the first packet is an SSLRequest (32 bytes, sequence id 1, CLIENT_SSL) followed only by TLS records,
 * `clear-login` when it is a handshake response (the credentials in clear), `nothing` when it sent none.
 */
export function firstClientMove(bytes: Buffer): 'ssl-request' | 'clear-login' | 'nothing' {
  if (bytes.length === 0) return 'nothing';
  const length = bytes.readUIntLE(0, 3);
  const caps = bytes.length >= HEADER + 4 ? bytes.readUInt32LE(HEADER) : 0;
  const isSslRequest = length === SSL_REQUEST_LENGTH && bytes[3] === 1 && (caps & CLIENT_SSL) !== 0;
  if (!isSslRequest) return 'clear-login';
  const rest = bytes.subarray(HEADER + SSL_REQUEST_LENGTH);
  return rest.length === 0 || rest[0] === TLS_HANDSHAKE_RECORD ? 'ssl-request' : 'clear-login';
}
