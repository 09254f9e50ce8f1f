/**
 * The TCP half of a connection: dial with a deadline, read the server greeting, and turn socket errors
 * into DbtlsErrors that name the address. No credentials exist at this stage.
 */
import * as net from 'node:net';
import { causeText, DbtlsError } from '../errors.js';
import { decodeErrPacket, isErrPacket } from '../protocol/err-packet.js';
import { decodeGreeting, type Greeting } from '../protocol/handshake.js';
import { type Packet, PacketReader } from '../protocol/packet.js';
import { peerText, UNAUTHENTICATED } from '../util/safe-text.js';

/** A greeting is about 100 bytes; anything near this is not a MySQL server. */
const MAX_GREETING_LENGTH = 64 * 1024;

export function address(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

export function socketError(err: unknown, host: string, port: number, stage: string): DbtlsError {
  const code = (err as NodeJS.ErrnoException).code;
  const where = address(host, port);
  if (code === 'ECONNREFUSED') {
    return new DbtlsError('CONNECTION_REFUSED', `could not connect to ${where}: the connection was refused`, {
      hint: 'check the host and port, and that the server is running and listening on TCP',
      kind: 'runtime',
      cause: err,
    });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new DbtlsError('HOST_NOT_FOUND', `could not connect to ${where}: the host name does not resolve`, {
      hint: 'check the host name (and your DNS)',
      kind: 'runtime',
      cause: err,
    });
  }
  return new DbtlsError('CONNECTION_FAILED', `could not connect to ${where}: ${stage}: ${causeText(err)}`, {
    hint: 'check the network path to the server and its error log',
    kind: 'runtime',
    cause: err,
  });
}

export function timeoutError(host: string, port: number, stage: string, ms: number): DbtlsError {
  return new DbtlsError(
    'CONNECT_TIMEOUT',
    `could not connect to ${address(host, port)}: no answer within ${ms} ms while ${stage}`,
    {
      hint: 'check that the port is a MySQL/MariaDB server and that no firewall drops the packets; raise --connect-timeout if the link is slow',
      kind: 'runtime',
    },
  );
}

export function dial(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(timeoutError(host, port, 'opening the TCP connection', timeoutMs));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(socketError(err, host, port, 'opening the TCP connection'));
    });
  });
}

/** Reads one packet; resolves with it and leaves the socket paused with no listeners of ours. */
export function readPacket(
  socket: net.Socket,
  host: string,
  port: number,
  timeoutMs: number,
  what: string,
): Promise<Packet> {
  return new Promise((resolve, reject) => {
    const reader = new PacketReader(MAX_GREETING_LENGTH, what);
    const done = (err: DbtlsError | undefined, packet?: Packet) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.pause();
      if (err) {
        socket.destroy();
        reject(err);
      } else if (packet) resolve(packet);
    };
    const onData = (chunk: Buffer) => {
      try {
        reader.push(chunk);
        const packet = reader.next();
        if (!packet) return;
        if (reader.pending().length > 0) {
          // Nothing may follow the greeting before the client speaks: bytes here are an injection attempt.
          done(
            new DbtlsError(
              'PROTOCOL_MALFORMED',
              `could not decode the ${what} from ${address(host, port)}: unexpected bytes follow it`,
              {
                hint: 'something between you and the server is tampering with the connection',
                kind: 'check',
              },
            ),
          );
          return;
        }
        done(undefined, packet);
      } catch (err) {
        done(err instanceof DbtlsError ? err : socketError(err, host, port, `reading the ${what}`));
      }
    };
    const onError = (err: Error) => done(socketError(err, host, port, `reading the ${what}`));
    const onClose = () =>
      done(
        new DbtlsError(
          'CONNECTION_CLOSED',
          `could not read the ${what} from ${address(host, port)}: the server closed the connection`,
          {
            hint: 'check the server error log; the host may be blocked (max_connect_errors) or the port may not be MySQL',
            kind: 'runtime',
          },
        ),
      );
    const timer = setTimeout(
      () => done(timeoutError(host, port, `waiting for the ${what}`, timeoutMs)),
      timeoutMs,
    );
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.resume();
  });
}

export interface GreetingRead {
  readonly greeting: Greeting;
  /** The whole greeting packet as received, header included. */
  readonly packet: Packet;
}

export async function readGreeting(
  socket: net.Socket,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<GreetingRead> {
  const packet = await readPacket(socket, host, port, timeoutMs, 'server greeting');
  if (isErrPacket(packet.payload)) {
    const err = decodeErrPacket(packet.payload);
    socket.destroy();
    throw new DbtlsError(
      'SERVER_REFUSED',
      `could not connect to ${address(host, port)}: the server refused the connection with error ${err.code} (${UNAUTHENTICATED}): ${peerText(err.message)}`,
      {
        hint: 'the server turned the connection away before the handshake (blocked host, too many connections); see its error log',
        kind: 'runtime',
        details: { serverError: { code: err.code, message: peerText(err.message) } },
      },
    );
  }
  return { greeting: decodeGreeting(packet.payload), packet };
}
