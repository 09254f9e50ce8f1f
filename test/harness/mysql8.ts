/**
 * A small MySQL-8-like test server for what no real peer here can answer: caching_sha2_password. No MySQL 8
 * server can run on this machine (Debian ships MariaDB, which has no caching_sha2_password), so this
 * implements the server side from the MySQL manual ("Caching SHA-2 Pluggable Authentication") and the
 * protocol pages (page_caching_sha2_authentication_exchanges.html), and nothing else:
 *
 *   greeting with CLIENT_SSL and `caching_sha2_password`, 20 scramble bytes; SSLRequest -> TLS (client
 *   certificate requested, recorded); the handshake response's scramble is
 *   SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || scramble);
 *   fast path: the user is in the cache and the scramble matches -> 0x01 0x03, then OK, in ONE write;
 *   full path: 0x01 0x04; over TLS the client sends the password in clear (NUL-terminated); over plaintext
 *   it sends 0x02 for the RSA public key and then RSA-OAEP(password NUL XOR scramble); success caches it.
 *
 * Commands: COM_QUERY answers `SHOW STATUS LIKE 'Ssl_version'` and `SELECT CURRENT_USER()` with a text
 * result set, anything else with OK; COM_PING OK; COM_QUIT closes. Parsed independently of src/protocol
 * (this is an oracle). docs/verification.md says what it covers.
 */
import { constants, createHash, generateKeyPairSync, privateDecrypt, randomInt } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';

const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_CONNECT_WITH_DB = 0x8;
const CLIENT_PLUGIN_AUTH = 0x80000;
const CLIENT_PLUGIN_AUTH_LENENC = 0x200000;
/** LONG_PASSWORD|FOUND_ROWS|LONG_FLAG|CONNECT_WITH_DB|PROTOCOL_41|SSL|TRANSACTIONS|SECURE_CONNECTION|
 * MULTI_STATEMENTS|MULTI_RESULTS|PLUGIN_AUTH|CONNECT_ATTRS|PLUGIN_AUTH_LENENC (no DEPRECATE_EOF: EOF packets). */
const SERVER_CAPABILITIES =
  0x1 | 0x2 | 0x4 | 0x8 | 0x200 | 0x800 | 0x2000 | 0x8000 | 0x10000 | 0x20000 | 0x80000 | 0x100000 | 0x200000;
const PLUGIN = 'caching_sha2_password';
const COM_QUIT = 0x01;
const COM_QUERY = 0x03;

export interface Mysql8Login {
  readonly user: string;
  readonly path: 'fast' | 'full-clear' | 'full-rsa' | 'denied';
  /** The TLS version of the session, or null on plaintext. */
  readonly tls: string | null;
  /** The client certificate's subject CN, when one was sent. */
  readonly clientCn?: string;
}

export interface Mysql8Server {
  readonly port: number;
  /** Every login attempt, in order. */
  readonly logins: Mysql8Login[];
  /** Handshake responses received (user name and auth data), TLS or not, whatever came of them. */
  responses(): number;
  /** Forget cached users: the next login of each takes the full path. */
  clearCache(): void;
  close(): Promise<void>;
}

function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** What the client must send for `password` (MySQL sql/auth/sha2_password_common.cc, generate_sha2_scramble). */
function expectedScramble(password: string, scramble: Buffer): Buffer {
  const one = sha256(Buffer.from(password));
  const two = sha256(sha256(one), scramble);
  return Buffer.from(one.map((b, i) => b ^ two[i]!));
}

function frame(seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq & 0xff;
  return Buffer.concat([h, payload]);
}

function lenenc(n: number): Buffer {
  if (n < 251) return Buffer.of(n);
  const b = Buffer.alloc(3);
  b.writeUInt16LE(n, 1);
  b[0] = 0xfc;
  return b;
}

function lenencStr(s: string): Buffer {
  const b = Buffer.from(s);
  return Buffer.concat([lenenc(b.length), b]);
}

const OK = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
const EOF = Buffer.from([0xfe, 0x00, 0x00, 0x02, 0x00]);

function errPayload(code: number, state: string, message: string): Buffer {
  const b = Buffer.alloc(3);
  b[0] = 0xff;
  b.writeUInt16LE(code, 1);
  return Buffer.concat([b, Buffer.from(`#${state}${message}`)]);
}

function columnDef(name: string): Buffer {
  const tail = Buffer.alloc(13);
  tail[0] = 0x0c;
  tail.writeUInt16LE(33, 1); // utf8_general_ci
  tail.writeUInt32LE(256, 3);
  tail[7] = 0xfd; // MYSQL_TYPE_VAR_STRING
  return Buffer.concat([
    lenencStr('def'),
    lenencStr(''),
    lenencStr(''),
    lenencStr(''),
    lenencStr(name),
    lenencStr(name),
    tail,
  ]);
}

/** Reads MySQL packets off a stream, one awaited packet at a time. */
class Packets {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended = false;

  constructor(private stream: net.Socket) {
    this.attach(stream);
  }

  attach(stream: net.Socket): void {
    this.stream = stream;
    stream.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    stream.on('close', () => {
      this.ended = true;
      this.waiter?.();
    });
    stream.on('error', () => {});
  }

  /** Stops reading and gives back what was read past the last packet (a ClientHello after an SSLRequest). */
  detach(): Buffer {
    this.stream.removeAllListeners('data');
    this.stream.removeAllListeners('close');
    this.stream.pause();
    return this.buf;
  }

  async next(): Promise<{ seq: number; payload: Buffer } | undefined> {
    for (;;) {
      if (this.buf.length >= 4) {
        const len = this.buf.readUIntLE(0, 3);
        if (this.buf.length >= 4 + len) {
          const p = { seq: this.buf[3]!, payload: Buffer.from(this.buf.subarray(4, 4 + len)) };
          this.buf = this.buf.subarray(4 + len);
          return p;
        }
      }
      if (this.ended) return undefined;
      await new Promise<void>((r) => {
        this.waiter = r;
      });
      this.waiter = undefined;
    }
  }
}

export async function startMysql8(o: {
  cert: string | Buffer;
  key: string | Buffer;
  ca: string | Buffer;
  users: Record<string, string>;
}): Promise<Mysql8Server> {
  const cache = new Set<string>();
  const logins: Mysql8Login[] = [];
  let responses = 0;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = Buffer.from(rsa.publicKey.export({ type: 'spki', format: 'pem' }));
  const sockets = new Set<net.Socket>();
  let nextId = 1;

  async function session(raw: net.Socket): Promise<void> {
    let link: net.Socket = raw;
    let packets = new Packets(raw);
    // MySQL's scramble: 20 printable bytes, never NUL (the greeting carries it NUL-terminated).
    const scramble = Buffer.from(Array.from({ length: 20 }, () => randomInt(0x21, 0x7f)));
    const g = Buffer.alloc(0);
    const caps = SERVER_CAPABILITIES;
    const head = Buffer.alloc(4);
    head.writeUInt32LE(nextId++);
    const capsLow = Buffer.alloc(2);
    capsLow.writeUInt16LE(caps & 0xffff);
    const mid = Buffer.alloc(5);
    mid[0] = 255; // utf8mb4_0900_ai_ci
    mid.writeUInt16LE(2, 1);
    mid.writeUInt16LE(caps >>> 16, 3);
    const greeting = Buffer.concat([
      g,
      Buffer.of(10),
      Buffer.from('8.0.36-dbtls-test\0'),
      head,
      scramble.subarray(0, 8),
      Buffer.of(0),
      capsLow,
      mid,
      Buffer.of(21),
      Buffer.alloc(10),
      scramble.subarray(8),
      Buffer.of(0),
      Buffer.from(`${PLUGIN}\0`),
    ]);
    raw.write(frame(0, greeting));
    let p = await packets.next();
    if (!p) return;
    let clientCn: string | undefined;
    if (p.payload.length === 32 && (p.payload.readUInt32LE(0) & CLIENT_SSL) !== 0) {
      const early = packets.detach();
      if (early.length > 0) raw.unshift(early);
      const secure = new tls.TLSSocket(raw, {
        isServer: true,
        secureContext: tls.createSecureContext({ cert: o.cert, key: o.key, ca: o.ca }),
        requestCert: true,
        rejectUnauthorized: false,
      });
      await new Promise<void>((resolve, reject) => {
        secure.once('secure', () => resolve());
        secure.once('error', reject);
      });
      const peer = secure.getPeerCertificate();
      if (peer?.subject?.CN) clientCn = String(peer.subject.CN);
      link = secure;
      packets = new Packets(secure);
      p = await packets.next();
      if (!p) return;
    }
    responses++;
    const isTls = link !== raw;
    const tlsVersion = isTls ? ((link as tls.TLSSocket).getProtocol() ?? null) : null;
    // HandshakeResponse41 (page_protocol_connection_phase_packets_protocol_handshake_response.html).
    const r = p.payload;
    const clientCaps = r.readUInt32LE(0);
    if ((clientCaps & CLIENT_PROTOCOL_41) === 0) return void link.destroy();
    let off = 32;
    const userEnd = r.indexOf(0, off);
    const user = r.toString('utf8', off, userEnd);
    off = userEnd + 1;
    let authLen: number;
    if (clientCaps & CLIENT_PLUGIN_AUTH_LENENC) authLen = r[off++]!;
    else if (clientCaps & CLIENT_SECURE_CONNECTION) authLen = r[off++]!;
    else authLen = r.indexOf(0, off) - off;
    let auth = r.subarray(off, off + authLen);
    off += authLen;
    if (clientCaps & CLIENT_CONNECT_WITH_DB && off < r.length) off = r.indexOf(0, off) + 1;
    const plugin =
      clientCaps & CLIENT_PLUGIN_AUTH && off < r.length ? r.toString('utf8', off, r.indexOf(0, off)) : '';
    let seq = p.seq + 1;
    const send = (payload: Buffer) => {
      link.write(frame(seq++, payload));
    };
    if (plugin !== PLUGIN) {
      send(Buffer.concat([Buffer.of(0xfe), Buffer.from(`${PLUGIN}\0`), scramble, Buffer.of(0)]));
      const sw = await packets.next();
      if (!sw) return;
      seq = sw.seq + 1;
      auth = sw.payload;
    }
    const password = o.users[user];
    const deny = () => {
      logins.push({ user, path: 'denied', tls: tlsVersion, ...(clientCn ? { clientCn } : {}) });
      send(errPayload(1045, '28000', `Access denied for user '${user}'@'localhost' (using password: YES)`));
      link.end();
    };
    if (password === undefined) return deny();
    const matches = password === '' ? auth.length === 0 : auth.equals(expectedScramble(password, scramble));
    if (cache.has(user)) {
      if (!matches) return deny();
      // Fast authentication: 0x01 0x03 and the OK in a single write, as the manual's exchange shows.
      link.write(Buffer.concat([frame(seq, Buffer.of(0x01, 0x03)), frame(seq + 1, OK)]));
      seq += 2;
      logins.push({ user, path: 'fast', tls: tlsVersion, ...(clientCn ? { clientCn } : {}) });
    } else {
      send(Buffer.of(0x01, 0x04));
      let q = await packets.next();
      if (!q) return;
      seq = q.seq + 1;
      let clear: Buffer;
      let path: Mysql8Login['path'] = 'full-clear';
      if (isTls) {
        clear = q.payload;
      } else {
        if (q.payload.length !== 1 || q.payload[0] !== 0x02) return deny();
        send(Buffer.concat([Buffer.of(0x01), publicPem]));
        q = await packets.next();
        if (!q) return;
        seq = q.seq + 1;
        const plain = privateDecrypt(
          { key: rsa.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
          q.payload,
        );
        clear = Buffer.from(plain.map((b, i) => b ^ scramble[i % scramble.length]!));
        path = 'full-rsa';
      }
      if (!clear.equals(Buffer.from(`${password}\0`))) return deny();
      cache.add(user);
      send(OK);
      logins.push({ user, path, tls: tlsVersion, ...(clientCn ? { clientCn } : {}) });
    }
    for (let c = await packets.next(); c; c = await packets.next()) {
      seq = c.seq + 1;
      const command = c.payload[0];
      if (command === COM_QUIT) return void link.end();
      if (command !== COM_QUERY) {
        send(OK);
        continue;
      }
      const sql = c.payload.toString('utf8', 1);
      let columns: string[] | undefined;
      let row: string[] = [];
      if (/ssl_version/i.test(sql)) {
        columns = ['Variable_name', 'Value'];
        row = ['Ssl_version', tlsVersion ?? ''];
      } else if (/current_user/i.test(sql)) {
        columns = ['CURRENT_USER()'];
        row = [`${user}@%`];
      } else if (/^\s*select/i.test(sql)) {
        columns = ['1'];
        row = ['1'];
      }
      if (!columns) {
        send(OK);
        continue;
      }
      send(lenenc(columns.length));
      for (const name of columns) send(columnDef(name));
      send(EOF);
      send(Buffer.concat(row.map(lenencStr)));
      send(EOF);
    }
  }

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    session(socket).catch(() => socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    logins,
    responses: () => responses,
    clearCache: () => cache.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
