/**
 * Hands a connection whose TLS dbtls controls over to the SQL driver. The driver (the `mariadb` connector)
 * talks through this Duplex as if to a plaintext server:
 *
 *   server greeting   dbtls read it; the driver gets a copy with CLIENT_SSL cleared (so it never
 *                     attempts TLS itself and none of its own TLS shortcuts can apply)
 *   handshake resp.   the driver's first packet (user name, auth data) is HELD IN MEMORY. Its first 32
 *                     bytes become the SSLRequest (same layout, so the server sees the same capabilities:
 *                     MariaDB keeps those of the SSLRequest), then the TLS upgrade runs with the mode's
 *                     checks; only once it has passed is the held packet written, inside TLS, as seq 2.
 *                     If the upgrade fails the held bytes are dropped: not one credential byte leaves.
 *   authentication    sequence ids differ by one (the SSLRequest took 1): +1 towards the server, -1
 *                     towards the driver, until the server's OK (0x00) or ERR (0xff) ends authentication.
 *   commands          every command restarts at sequence id 0: bytes pass through untouched.
 *
 * In plaintext (disable, or preferred against a server without TLS) bytes pass through from the start.
 */

import type * as net from 'node:net';
import { Duplex } from 'node:stream';
import type * as tls from 'node:tls';
import { ERR_HEADER, OK_HEADER } from '../protocol/err-packet.js';
import { framePacket, PacketReader } from '../protocol/packet.js';

/** Sequence id of the handshake response after an SSLRequest (spec: it follows the SSLRequest's 1). */
const SEQUENCE_SHIFT = 1;
/** Authentication packets are small; a bound keeps a hostile peer from growing our buffers. */
const MAX_AUTH_PACKET = 1 << 20;

type Phase = 'await-response' | 'upgrading' | 'auth' | 'passthrough' | 'failed';

export interface HandoverOptions {
  /** The TCP socket, positioned right after the greeting. */
  readonly socket: net.Socket;
  /** The greeting frame to give the driver. */
  readonly greetingFrame: Buffer;
  /**
   * Present when TLS is to be used: performs SSLRequest + verified TLS on `socket`, the SSLRequest made of
   * the held handshake response (client/upgrade.ts sslRequestFrame, which also sets its CLIENT_SSL).
   */
  readonly upgrade?: (response: Buffer) => Promise<tls.TLSSocket>;
}

export class Handover extends Duplex {
  private phase: Phase;
  private link: net.Socket;
  private greetingSent = false;
  private readonly fromServer = new PacketReader(MAX_AUTH_PACKET, 'authentication packet');
  private readonly fromClient = new PacketReader(MAX_AUTH_PACKET, 'handshake response');
  /** Set when the TLS upgrade failed: the error the caller reports instead of the driver's. */
  failure: Error | undefined;
  /** A socket error after the upgrade (e.g. a TLS 1.3 alert about our client certificate). */
  linkError: Error | undefined;
  /** The verified TLS socket, once the upgrade has passed. */
  secureSocket: tls.TLSSocket | undefined;

  constructor(private readonly options: HandoverOptions) {
    super();
    this.link = options.socket;
    this.phase = options.upgrade ? 'await-response' : 'passthrough';
    if (!options.upgrade) this.attach(this.link);
    // The driver waits for 'connect' as it would from net.Socket.
    process.nextTick(() => this.emit('connect'));
  }

  get tcpSocket(): net.Socket {
    return this.options.socket;
  }

  // net.Socket methods the driver calls.
  setNoDelay(noDelay?: boolean): this {
    this.options.socket.setNoDelay(noDelay);
    return this;
  }
  setKeepAlive(enable?: boolean, delay?: number): this {
    this.options.socket.setKeepAlive(enable, delay);
    return this;
  }
  setTimeout(ms: number, callback?: () => void): this {
    this.options.socket.setTimeout(ms, callback);
    return this;
  }
  unref(): this {
    this.options.socket.unref();
    return this;
  }
  ref(): this {
    this.options.socket.ref();
    return this;
  }
  get remoteAddress(): string | undefined {
    return this.options.socket.remoteAddress;
  }

  override _read(): void {
    if (!this.greetingSent) {
      this.greetingSent = true;
      this.push(this.options.greetingFrame);
    }
    // Before the upgrade the TCP socket belongs to the TLS layer to come: never drain it here.
    if (this.phase === 'passthrough' || this.phase === 'auth') this.link.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.phase === 'passthrough') {
      this.link.write(chunk, callback);
      return;
    }
    if (this.phase === 'failed' || this.phase === 'upgrading') {
      // The driver sends nothing while it waits for the server; drop anything after a failure.
      callback(this.failure ?? null);
      return;
    }
    try {
      this.fromClient.push(chunk);
      for (let p = this.fromClient.next(); p; p = this.fromClient.next()) {
        if (this.phase === 'await-response') {
          this.startUpgrade(p.payload);
        } else {
          this.link.write(framePacket(p.sequenceId + SEQUENCE_SHIFT, p.payload));
        }
      }
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    // While the upgrade runs the TCP socket is TLS's: ending it would shut its write side under OpenSSL
    // mid-handshake. Destroyed instead, the upgrade fails at once and the held response is dropped.
    if (this.phase === 'upgrading') {
      this.options.socket.destroy();
      callback();
      return;
    }
    this.link.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.link.destroy();
    this.options.socket.destroy();
    callback(error);
  }

  private startUpgrade(response: Buffer): void {
    const upgrade = this.options.upgrade;
    if (!upgrade) return;
    this.phase = 'upgrading';
    // The handshake response starts with the SSLRequest's 32 bytes (caps, max packet, charset, filler,
    // MariaDB caps): the upgrade sends them as the SSLRequest.
    const held = Buffer.from(response);
    upgrade(held).then(
      (secure) => {
        this.secureSocket = secure;
        this.link = secure;
        this.phase = 'auth';
        this.attach(secure);
        secure.write(framePacket(1 + SEQUENCE_SHIFT, held));
      },
      (err: Error) => {
        this.phase = 'failed';
        this.failure = err;
        held.fill(0);
        this.destroy(err);
      },
    );
  }

  private attach(link: net.Socket): void {
    link.on('data', (chunk: Buffer) => this.fromLink(chunk));
    link.on('end', () => this.push(null));
    link.on('error', (err) => {
      this.linkError ??= err;
      this.destroy(err);
    });
    link.on('close', () => this.destroy());
  }

  private fromLink(chunk: Buffer): void {
    if (this.phase !== 'auth') {
      if (!this.push(chunk)) this.link.pause();
      return;
    }
    try {
      this.fromServer.push(chunk);
      for (let p = this.fromServer.next(); p; p = this.fromServer.next()) {
        this.push(framePacket((p.sequenceId - SEQUENCE_SHIFT) & 0xff, p.payload));
        const first = p.payload[0];
        if (first === OK_HEADER || first === ERR_HEADER) {
          this.phase = 'passthrough';
          const rest = this.fromServer.pending();
          if (rest.length > 0) this.push(Buffer.from(rest));
          return;
        }
      }
    } catch (err) {
      this.destroy(err as Error);
    }
  }
}
