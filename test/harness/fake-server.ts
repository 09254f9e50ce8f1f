/**
 * The active attacker: a tiny fake MySQL server on 127.0.0.1 that greets like a server (with or without
 * CLIENT_SSL), answers whatever the client sends first with an auth switch to mysql_clear_password, and
 * records every byte received. A client that goes on in plaintext sends its user name in the handshake
 * response and then its password in clear; a client that fails closed sends neither. With CLIENT_SSL
 * offered, the client's SSLRequest and TLS ClientHello are answered with the same plaintext auth switch
 * (the attacker holds no certificate the client would accept), which a sound client treats as a failed
 * handshake. Written from the protocol documentation, independently of src/protocol (an oracle).
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';

export interface FakeServer {
  readonly port: number;
  /** Every byte clients sent, all connections concatenated in arrival order. */
  clientBytes(): Buffer;
  close(): Promise<void>;
}

/** Capability flags (Protocol::CapabilityFlags). */
const CLIENT_LONG_PASSWORD = 0x1;
const CLIENT_CONNECT_WITH_DB = 0x8;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_TRANSACTIONS = 0x2000;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x80000;
const CHARSET_UTF8 = 0x21;
const SERVER_STATUS_AUTOCOMMIT = 0x2;
/** AuthSwitchRequest and ERR_Packet headers. */
const AUTH_SWITCH = 0xfe;
const ERR = 0xff;
const ER_ACCESS_DENIED = 1045;

export function packet(seq: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = seq;
  return Buffer.concat([header, payload]);
}

/** 20 scramble bytes without NUL (clients read the second part up to a NUL). */
function scramble(): Buffer {
  return Buffer.from(randomBytes(20).map((b) => (b === 0 ? 1 : b)));
}

/** Protocol::HandshakeV10 (protocol 41, plugin auth), with CLIENT_SSL when asked and the version given. */
export function greeting(offerSsl: boolean, version = '8.0.36'): Buffer {
  const caps =
    CLIENT_LONG_PASSWORD |
    CLIENT_CONNECT_WITH_DB |
    CLIENT_PROTOCOL_41 |
    CLIENT_TRANSACTIONS |
    CLIENT_SECURE_CONNECTION |
    CLIENT_PLUGIN_AUTH |
    (offerSsl ? CLIENT_SSL : 0);
  const s = scramble();
  const fixed = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let o = fixed.writeUInt32LE(7, 0); // thread id
  o += s.copy(fixed, o, 0, 8);
  o = fixed.writeUInt8(0, o); // filler
  o = fixed.writeUInt16LE(caps & 0xffff, o);
  o = fixed.writeUInt8(CHARSET_UTF8, o);
  o = fixed.writeUInt16LE(SERVER_STATUS_AUTOCOMMIT, o);
  o = fixed.writeUInt16LE(caps >>> 16, o);
  fixed.writeUInt8(21, o); // auth-plugin-data length; 10 reserved zero bytes follow
  return packet(
    0,
    Buffer.concat([
      Buffer.from([10]),
      Buffer.from(`${version}\0`, 'utf8'),
      fixed,
      s.subarray(8),
      Buffer.from('\0mysql_native_password\0'),
    ]),
  );
}

function authSwitch(seq: number): Buffer {
  return packet(seq, Buffer.concat([Buffer.from([AUTH_SWITCH]), Buffer.from('mysql_clear_password\0')]));
}

function accessDenied(seq: number): Buffer {
  const payload = Buffer.alloc(3);
  payload[0] = ERR;
  payload.writeUInt16LE(ER_ACCESS_DENIED, 1);
  return packet(seq, Buffer.concat([payload, Buffer.from('#28000Access denied')]));
}

/** Starts the fake server; close() it in `after`. */
export function startClearPasswordAttacker(options: { offerSsl: boolean }): Promise<FakeServer> {
  const recorded: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    let answered = 0;
    socket.on('data', (chunk: Buffer) => {
      recorded.push(Buffer.from(chunk));
      pending = Buffer.concat([pending, chunk]);
      // Packets in order: the first (handshake response or SSLRequest) gets the auth switch, the second
      // (the password, from a client that went on) an access-denied error.
      while (pending.length >= 4) {
        const length = pending.readUIntLE(0, 3);
        const seq = pending[3]!;
        // A TLS record read as a MySQL header never completes: whatever follows is only recorded.
        if (pending.length < 4 + length) break;
        if (answered === 0) {
          answered++;
          socket.write(authSwitch(seq + 1));
        } else if (answered === 1) {
          answered++;
          socket.end(accessDenied(seq + 1));
        }
        pending = pending.subarray(4 + length);
      }
    });
    socket.write(greeting(options.offerSsl));
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
