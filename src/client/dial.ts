/**
 * The first half of every connection dbtls opens to a MySQL server (DESIGN.md: client/ is the only way to
 * reach one): open TCP or a unix socket, read the greeting with one size bound and one deadline, and turn
 * every failure into one code per case. No credentials exist at this stage.
 *
 *   refused (or no socket file)   CONNECTION_REFUSED     the name does not resolve  HOST_NOT_FOUND
 *   no answer by the deadline      CONNECT_TIMEOUT        an ERR packet as greeting  SERVER_REFUSED
 *   closed before a byte           CONNECTION_CLOSED      other socket errors        CONNECTION_FAILED
 *   not a MySQL greeting (a text banner such as HTTP or SSH, an oversized or truncated packet, bytes after
 *   the greeting)                                          PROTOCOL_MALFORMED
 */
import * as net from 'node:net';
import { causeText, DbtlsError } from '../errors.js';
import { decodeErrPacket, ER_HOST_IS_BLOCKED, isErrPacket } from '../protocol/err-packet.js';
import { decodeGreeting, type Greeting } from '../protocol/handshake.js';
import { type Packet, PacketReader } from '../protocol/packet.js';
import { address } from '../tls/dsn.js';
import { peerText, printable, UNAUTHENTICATED } from '../util/safe-text.js';

/** A greeting is about 100 bytes; a length field far above that is not a MySQL server talking. */
export const MAX_GREETING_LENGTH = 16 * 1024;

export type Endpoint = TcpEndpoint | { readonly socket: string };
/** A server reached over TCP (the inspector's probes: TLS versions and suites are a network's question). */
export interface TcpEndpoint {
  readonly host: string;
  readonly port: number;
}

/** How a caller's errors read; the codes and hints are the same for every caller. */
export interface DialOptions {
  readonly timeoutMs: number;
  /** What the caller was doing, for messages about the peer's answer: 'connect to' (default), 'inspect'. */
  readonly purpose?: string;
  /** A scan's one-line-per-target style: the cause without the stage ("connection refused"). */
  readonly brief?: boolean;
  /** The option that raises the deadline, named in the timeout's hint (default --connect-timeout). */
  readonly timeoutFlag?: string;
}

export interface Dialled {
  /** Paused right after the greeting, with no listeners of ours. */
  readonly socket: net.Socket;
  readonly greeting: Greeting;
  /** The greeting packet as received. */
  readonly packet: Packet;
}

/** A target's endpoint: its unix socket when it names one (a server command on the server's host), else TCP. */
export function endpointOf(target: {
  readonly host: string;
  readonly port: number;
  readonly socket?: string | undefined;
}): Endpoint {
  return target.socket ? { socket: target.socket } : { host: target.host, port: target.port };
}

/**
 * `host:port` (or the socket path) as messages and reports name it. The host may come from a targets file
 * or a DSN someone handed over, and names that do not resolve end up in an error: control and format
 * characters are shown as escapes (util/safe-text.ts), never sent to the terminal.
 */
export function formatEndpoint(endpoint: Endpoint): string {
  return printable('socket' in endpoint ? endpoint.socket : address(endpoint.host, endpoint.port));
}

/** Dials, reads the greeting; the socket is destroyed on any failure. */
export function dial(endpoint: Endpoint, o: DialOptions): Promise<Dialled> {
  return new Promise((resolve, reject) => {
    const socket =
      'socket' in endpoint
        ? net.connect({ path: endpoint.socket })
        : net.connect(endpoint.port, endpoint.host);
    socket.setNoDelay(true);
    const reader = new PacketReader(MAX_GREETING_LENGTH, 'server greeting');
    let received: Buffer = Buffer.alloc(0);
    let stage = 'opening the connection';
    const done = (err: DbtlsError | undefined, packet?: Packet) => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      socket.pause();
      if (err || !packet) {
        socket.destroy();
        reject(err);
        return;
      }
      try {
        resolve({ socket, greeting: greetingOf(packet.payload, endpoint, o), packet });
      } catch (e) {
        socket.destroy();
        reject(e);
      }
    };
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      // A MySQL packet starts with a binary length; text protocols (HTTP, SSH, SMTP) start with letters.
      if (isText(received.subarray(0, 4))) return done(notMysql(endpoint, o, received, 'not a MySQL server'));
      let packet: Packet | undefined;
      try {
        reader.push(chunk);
        packet = reader.next();
      } catch (err) {
        return done(notMysql(endpoint, o, received, causeText(err).replace(/^could not decode the /, '')));
      }
      if (!packet) return;
      // Nothing may follow the greeting before the client speaks: bytes here are an injection attempt.
      if (reader.pending().length > 0) {
        return done(notMysql(endpoint, o, received, 'unexpected bytes follow its greeting'));
      }
      done(undefined, packet);
    };
    const onError = (err: Error) => done(dialError(err, endpoint, o, stage));
    const onClose = () =>
      done(
        received.length === 0
          ? new DbtlsError(
              'CONNECTION_CLOSED',
              `could not ${o.purpose ?? 'connect to'} ${formatEndpoint(endpoint)}: the server closed the connection before its greeting`,
              {
                hint: 'check the server error log; the host may be blocked (max_connect_errors) or the port may not be MySQL',
              },
            )
          : notMysql(endpoint, o, received, 'the server closed the connection within its greeting'),
      );
    const timer = setTimeout(() => done(timeoutError(endpoint, o, stage)), o.timeoutMs);
    socket.once('connect', () => {
      stage = 'waiting for the server greeting';
    });
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}

/** The greeting in `payload`; an ERR packet in its place (host blocked, too many connections) is SERVER_REFUSED. */
export function greetingOf(
  payload: Buffer,
  endpoint: Endpoint,
  o: Pick<DialOptions, 'purpose'> = {},
): Greeting {
  if (!isErrPacket(payload)) return decodeGreeting(payload);
  const err = decodeErrPacket(payload);
  const said = peerText(err.message);
  throw new DbtlsError(
    'SERVER_REFUSED',
    `could not ${o.purpose ?? 'connect to'} ${formatEndpoint(endpoint)}: the server answered error ${err.code} (${UNAUTHENTICATED}): ${said}`,
    {
      hint:
        err.code === ER_HOST_IS_BLOCKED
          ? 'this host hit max_connect_errors; on the server run FLUSH HOSTS (or mariadb-admin flush-hosts), then retry'
          : 'the server turned the connection away before the handshake (too many connections); retry when it accepts connections again, and see its error log',
      details: { serverError: { code: err.code, message: said } },
    },
  );
}

/** A socket failure as the one code of its case. */
export function dialError(err: unknown, endpoint: Endpoint, o: DialOptions, stage: string): DbtlsError {
  const code = (err as NodeJS.ErrnoException).code;
  const where = formatEndpoint(endpoint);
  if (code === 'ECONNREFUSED' || (code === 'ENOENT' && 'socket' in endpoint)) {
    return new DbtlsError(
      'CONNECTION_REFUSED',
      `could not connect to ${where}: ${o.brief ? 'connection refused' : 'the connection was refused'}`,
      {
        hint:
          'socket' in endpoint
            ? 'check the socket path (the server variable socket) and that the server is running'
            : 'check the host and port, and that the server is running and listening on TCP (not only a socket)',
        cause: err,
      },
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new DbtlsError('HOST_NOT_FOUND', `could not connect to ${where}: the host name does not resolve`, {
      hint: 'check the spelling of the host (and your DNS), or use its IP address',
      cause: err,
    });
  }
  return new DbtlsError(
    'CONNECTION_FAILED',
    `could not connect to ${where}: ${o.brief ? '' : `${stage}: `}${causeText(err)}`,
    {
      hint: 'check the network path to the server (firewall, security group, routing) and its error log',
      cause: err,
    },
  );
}

export function timeoutError(endpoint: Endpoint, o: DialOptions, stage: string): DbtlsError {
  return new DbtlsError(
    'CONNECT_TIMEOUT',
    `could not connect to ${formatEndpoint(endpoint)}: no answer within ${o.timeoutMs} ms${o.brief ? '' : ` while ${stage}`}`,
    {
      hint: `check that the host and port are right and that no firewall drops the packets; raise ${o.timeoutFlag ?? '--connect-timeout'} for slow links`,
    },
  );
}

function notMysql(endpoint: Endpoint, o: DialOptions, received: Buffer, cause: string): DbtlsError {
  return new DbtlsError(
    'PROTOCOL_MALFORMED',
    `could not ${o.purpose ?? 'connect to'} ${formatEndpoint(endpoint)}: ${cause}${describeBytes(received)}`,
    {
      hint: 'check that the port is a MySQL or MariaDB server port; if it is, something on the path tampers with the connection',
    },
  );
}

function isText(head: Buffer): boolean {
  return head.length === 4 && head.every((b) => b >= 0x20 && b < 0x7f);
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
