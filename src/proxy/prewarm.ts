/**
 * `--prewarm N`: upstream connections made before their client arrives (TCP, greeting, SSLRequest, TLS
 * verified under every check of the mode), so a client's login costs one local round trip instead of a
 * dial and a TLS handshake: the connect-per-query win beyond session resumption (issue 12).
 *
 * Three facts of the server shape it (MariaDB 10.11, measured against the real server and the KB):
 *   - The server takes the client's capabilities, max packet size and character set from the SSLRequest and
 *     does not read them again from the handshake response inside TLS (a response made for other flags is
 *     "Bad handshake" or a result set the driver cannot parse). A pooled connection's SSLRequest is
 *     therefore the 32-byte prefix the last client sent (learned; no pool before the first client), and is
 *     handed only to a client whose own prefix is byte-equal (relay.ts falls back otherwise).
 *   - The greeting's scramble belongs to its connection: the client gets exactly that greeting.
 *   - The server drops a connection that sends no handshake response within connect_timeout (default 10 s,
 *     counted from the TLS handshake): a pooled connection is closed by us after `maxAgeMs` (5 s by
 *     default) and a socket the server closed leaves the pool at once, so none is handed out closed.
 *     An unused connection closed before authentication counts as a handshake error towards
 *     max_connect_errors for a non-loopback proxy host (a successful login resets the count): the pool
 *     is refilled after an expiry only while clients keep coming, so an idle proxy stops dialling after
 *     one round of expiries (at most 2 x N such errors between two logins; docs/proxy.md).
 */
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { Greeting } from '../protocol/handshake.js';
import type { Packet } from '../protocol/packet.js';

/** Half of the server's default connect_timeout (10 s): a pooled connection never meets the server's cut. */
export const DEFAULT_PREWARM_MAX_AGE_MS = 5_000;
/** After a failed dial, wait before the next (a down server is not hammered by the pool). */
const RETRY_AFTER_MS = 1_000;

/** An upstream connection past TLS, waiting for a handshake response. */
export interface Prewarmed {
  /** The TCP socket under `secure`. */
  readonly socket: net.Socket;
  readonly secure: tls.TLSSocket;
  readonly greeting: Greeting;
  /** The greeting packet as the server sent it (its scramble is this connection's). */
  readonly packet: Packet;
  /** The SSLRequest payload sent (32 bytes, CLIENT_SSL set): what the server took as the capabilities. */
  readonly sslRequest: Buffer;
}

interface Entry {
  readonly conn: Prewarmed;
  readonly timer: NodeJS.Timeout;
  readonly onClose: () => void;
  readonly onData: () => void;
}

export class PrewarmPool {
  private readonly ready: Entry[] = [];
  private dialling = 0;
  private profile: Buffer | undefined;
  private lastDemand = 0;
  private retryAt = 0;
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly maxAgeMs: number,
    /** Dials, reads the greeting and completes the verified TLS with this SSLRequest. */
    private readonly dial: (sslRequest: Buffer) => Promise<Prewarmed>,
    private readonly failed: (err: unknown) => void,
  ) {}

  /** Connections ready now. */
  get available(): number {
    return this.ready.length;
  }

  /** A live pooled connection (its listeners removed, paused), or undefined; learn() refills. */
  take(): Prewarmed | undefined {
    this.lastDemand = Date.now();
    for (let e = this.ready.shift(); e; e = this.ready.shift()) {
      this.release(e);
      const { secure, socket } = e.conn;
      if (!secure.destroyed && secure.readable && secure.writable && !socket.destroyed) {
        secure.pause();
        return e.conn;
      }
      secure.destroy();
    }
    return undefined;
  }

  /**
   * The SSLRequest prefix a client sent (every client calls this once it answered): the pool refills
   * with it. Connections made for another prefix are closed: the next client most likely sends this one.
   */
  learn(prefix: Buffer): void {
    if (!this.profile?.equals(prefix)) {
      this.profile = Buffer.from(prefix);
      for (const e of this.ready.filter((r) => !r.conn.sslRequest.equals(prefix))) this.remove(e);
    }
    this.fill();
  }

  /** Closes every pooled connection (the TLS files changed: they carry the old client certificate). */
  drain(): void {
    for (let e = this.ready.shift(); e; e = this.ready.shift()) {
      this.release(e);
      e.conn.secure.destroy();
    }
    if (Date.now() - this.lastDemand < this.maxAgeMs) this.fill();
  }

  close(): void {
    this.closed = true;
    this.drain();
  }

  private fill(): void {
    const profile = this.profile;
    if (this.closed || !profile || Date.now() < this.retryAt) return;
    while (this.ready.length + this.dialling < this.size) {
      this.dialling++;
      this.dial(profile).then(
        (conn) => {
          this.dialling--;
          this.add(conn);
        },
        (err: unknown) => {
          this.dialling--;
          this.retryAt = Date.now() + RETRY_AFTER_MS;
          this.failed(err);
        },
      );
    }
  }

  private add(conn: Prewarmed): void {
    if (this.closed) {
      conn.secure.destroy();
      return;
    }
    const entry: Entry = {
      conn,
      timer: setTimeout(() => this.expire(entry), this.maxAgeMs),
      // The server sends nothing before the handshake response: a close or any byte retires the connection.
      onClose: () => this.remove(entry),
      onData: () => conn.secure.destroy(),
    };
    entry.timer.unref();
    conn.secure.on('close', entry.onClose);
    // Flowing, so that the server's FIN (connect_timeout, restart) is seen at once.
    conn.secure.on('data', entry.onData);
    conn.secure.resume();
    this.ready.push(entry);
  }

  private release(e: Entry): void {
    clearTimeout(e.timer);
    e.conn.secure.off('close', e.onClose);
    e.conn.secure.off('data', e.onData);
  }

  private remove(e: Entry): void {
    const i = this.ready.indexOf(e);
    if (i < 0) return;
    this.ready.splice(i, 1);
    this.release(e);
    e.conn.secure.destroy();
  }

  /** Unused for maxAgeMs: closed; replaced only when clients came during its life (see the header). */
  private expire(e: Entry): void {
    this.remove(e);
    if (Date.now() - this.lastDemand < this.maxAgeMs) this.fill();
  }
}

/** How a client's login went with a pooled connection: on it, or on a fresh one after a mismatch. */
export type PrewarmOutcome = 'used' | 'fallback';
