/**
 * Socket helpers of the relay: bounded packet reads with a deadline, closing without lingering descriptors,
 * and the TLS server handshake of the optional local TLS on the client leg.
 */
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { causeText, DbtlsError } from '../errors.js';
import { CLIENT_SSL, hasCapability } from '../protocol/capabilities.js';
import type { Packet, PacketReader } from '../protocol/packet.js';
import { SSL_REQUEST_LENGTH } from '../protocol/ssl-request.js';

/** After we end a socket, how long its peer may take to close before we cut it (no lingering fds). */
const LINGER_MS = 2_000;

/** Completes the server side of TLS on `secure` (a TLSSocket with isServer), with a deadline. */
export function serverHandshake(secure: tls.TLSSocket, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      secure.destroy();
      reject(
        new DbtlsError(
          'PROXY_CLIENT_TIMEOUT',
          `could not relay the connection: the client did not complete TLS within ${timeoutMs} ms`,
          {
            hint: 'the client sent an SSLRequest but no TLS handshake followed: point a MySQL client at this port, or raise --connect-timeout for a slow link',
          },
        ),
      );
    }, timeoutMs);
    secure.once('secure', () => {
      clearTimeout(timer);
      resolve();
    });
    secure.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new DbtlsError('PROXY_CLIENT_TLS', `could not complete TLS with the client: ${causeText(err)}`, {
          hint: 'check that the client trusts the CA of --listen-cert and names a host it lists',
          cause: err,
        }),
      );
    });
  });
}

/** Ends `socket` and destroys it if the peer does not close within LINGER_MS. */
export function closeSoon(socket: net.Socket): void {
  if (socket.destroyed) return;
  socket.end();
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** An SSLRequest: exactly the 32-byte prefix, with CLIENT_SSL set. */
export function isSslRequest(payload: Buffer): boolean {
  return payload.length === SSL_REQUEST_LENGTH && hasCapability(payload.readUInt32LE(0), CLIENT_SSL);
}

/**
 * `err` as raised by what the client sent: the protocol layer's PROTOCOL_MALFORMED hint asks whether the
 * port is a MySQL server, which points the wrong way when the peer at fault is the client.
 */
export function fromClient(err: unknown): DbtlsError {
  const e = asDbtls(err);
  return e.code === 'PROTOCOL_MALFORMED'
    ? e.reworded({
        hint: 'the client did not speak the MySQL protocol: point a MySQL client or driver at this port',
      })
    : e;
}

export function asDbtls(err: unknown): DbtlsError {
  return err instanceof DbtlsError
    ? err
    : new DbtlsError('PROXY_FAILED', `could not relay the connection: ${causeText(err)}`, {
        hint: 'see the proxy log',
        cause: err,
      });
}

/** The client left before its login completed: ordinary (health checks, port scans), logged as info. */
export function clientClosed(): DbtlsError {
  return new DbtlsError(
    'PROXY_CLIENT_CLOSED',
    'could not relay the connection: the client closed it before logging in',
    {},
  );
}

/** The client's next packet, bounded and with a deadline. */
export function readOne(socket: net.Socket, reader: PacketReader, timeoutMs: number): Promise<Packet> {
  return new Promise((resolve, reject) => {
    const done = (err: DbtlsError | undefined, packet?: Packet) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (err) reject(err);
      else if (packet) resolve(packet);
    };
    const onData = (chunk: Buffer) => {
      try {
        reader.push(chunk);
        const packet = reader.next();
        if (packet) done(undefined, packet);
      } catch (err) {
        done(fromClient(err));
      }
    };
    const onClose = () => done(clientClosed());
    const timer = setTimeout(
      () =>
        done(
          new DbtlsError(
            'PROXY_CLIENT_TIMEOUT',
            `could not relay the connection: the client sent no handshake response within ${timeoutMs} ms`,
            { hint: 'the client must log in right after the greeting' },
          ),
        ),
      timeoutMs,
    );
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.resume();
  });
}
