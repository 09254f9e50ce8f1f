/**
 * One proxied connection. The order is the whole security argument (issue 12, DESIGN.md security rules):
 *
 *   1. dial the upstream and read its greeting (client/origin.ts); no TLS offered -> ERR, close;
 *   2. give the client that greeting with CLIENT_SSL cleared: the local leg is plaintext;
 *   3. HOLD the client's handshake response (user name, auth data) in memory; its first 32 bytes with
 *      CLIENT_SSL set become the SSLRequest, so the server sees the client's own capabilities;
 *   4. TLS to the upstream under the mode's checks (client/upgrade.ts, on the shared context); a failure
 *      -> the held bytes are zeroed and dropped, the client gets an ERR naming cause and fix;
 *   5. the held response goes inside TLS as sequence id 2; while authentication lasts, packets are framed
 *      and renumbered (the SSLRequest took one id on the upstream leg); caching_sha2_password's RSA
 *      exchange is answered by the proxy (sha2.ts);
 *   6. at the server's OK or ERR, both directions become plain pipes: no parsing, no copies. From here
 *      the client is mid-protocol and an ERR of ours would pass for the server's: a broken upstream closes
 *      both sides, and only the log and the failure metric name the cause (PROXY_UPSTREAM_RESET).
 */
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { type Origin, openOrigin } from '../client/origin.js';
import { tlsError, upgradeToTls } from '../client/upgrade.js';
import { causeText, DbtlsError } from '../errors.js';
import { CLIENT_SSL, hasCapability } from '../protocol/capabilities.js';
import { ERR_HEADER, OK_HEADER } from '../protocol/err-packet.js';
import { encodeGreeting, withoutCapabilities } from '../protocol/handshake.js';
import {
  AUTH_MORE_DATA,
  AUTH_SWITCH_REQUEST,
  authPluginSpan,
  CACHING_SHA2_PASSWORD,
  decodeAuthSwitch,
  decodeHandshakeResponse,
  SHA2_PERFORM_FULL_AUTHENTICATION,
  SHA2_REQUEST_PUBLIC_KEY,
} from '../protocol/handshake-response.js';
import { framePacket, type Packet, PacketReader } from '../protocol/packet.js';
import { SSL_REQUEST_LENGTH, SSL_REQUEST_SEQUENCE_ID } from '../protocol/ssl-request.js';
import type { TlsSettings } from '../tls/settings.js';
import type { Prewarmed, PrewarmOutcome, PrewarmPool } from './prewarm.js';
import { type ProxyRsaKey, recoverPassword } from './sha2.js';
import {
  asDbtls,
  clientClosed,
  closeSoon,
  fromClient,
  isSslRequest,
  readOne,
  serverHandshake,
} from './sockets.js';
import type { UpstreamTls } from './upstream.js';
import { errFrame } from './wire-errors.js';

/**
 * A handshake response is a few hundred bytes (connection attributes included); 64 KiB is generous and
 * keeps a 16 MB "response" from being buffered: its header alone is refused.
 */
const MAX_AUTH_PACKET = 64 * 1024;
/**
 * What the plugin name of a held response is overwritten with in the prewarm fallback: '_' is in no
 * plugin's name, so the server (MariaDB and MySQL alike) answers with an AuthSwitchRequest for the
 * account's plugin instead of checking an auth response made for another connection's scramble.
 */
const FALLBACK_PLUGIN_BYTE = 0x5f;

export interface RelayContext {
  readonly host: string;
  readonly port: number;
  readonly settings: TlsSettings;
  readonly upstreamTls: UpstreamTls;
  readonly rsa: ProxyRsaKey;
  readonly timeoutMs: number;
  readonly observer: RelayObserver;
  /** TLS on the client leg (--listen-cert/--listen-key), for clients hard-wired to ssl-mode REQUIRED or VERIFY_*. */
  readonly localTls?: { readonly current: tls.SecureContext };
  /** Upstream connections made before their client (--prewarm). */
  readonly prewarm?: PrewarmPool;
}

export interface RelayObserver {
  /** The upstream passed every check; `peerNotAfter` is the upstream certificate's expiry. */
  upstreamVerified(seconds: number, resumed: boolean, peerNotAfter: Date | undefined): void;
  failed(err: DbtlsError): void;
  /** A caching_sha2_password full authentication answered with the proxy's RSA key. */
  rsaExchange(): void;
  /** A client was given a pooled connection's greeting. */
  prewarmed(outcome: PrewarmOutcome): void;
  /** The server's first packet inside TLS: it accepted the handshake, our client certificate included. */
  upstreamAnswered(): void;
}

type Sha2State = 'idle' | 'full' | 'await-blob';

/** Relays one client connection; resolves when both sides are closed. Never rejects. */
export function relay(client: net.Socket, ctx: RelayContext): Promise<void> {
  return new Session(client, ctx).run();
}

class Session {
  private upstream: net.Socket | undefined;
  private secure: tls.TLSSocket | undefined;
  private clientGone = false;
  /** Authentication is over and both directions are pipes (passthrough). */
  private piping = false;
  private nextClientSeq = 0;
  private nextServerSeq = 0;
  private plugin = '';
  private scramble: Buffer = Buffer.alloc(0);
  private sha2: Sha2State = 'idle';
  private answered = false;
  private readonly fromServer = new PacketReader(MAX_AUTH_PACKET, 'authentication packet from the server');
  private fromClient = new PacketReader(MAX_AUTH_PACKET, 'authentication packet from the client');
  private settle: () => void = () => {};

  constructor(
    /** The client's socket; replaced by the TLS socket when the client leg upgrades (--listen-cert). */
    private client: net.Socket,
    private readonly ctx: RelayContext,
  ) {}

  /** Once per client socket (the TCP one, then the TLS one over it): errors are ours, close ends the session. */
  private watchClient(socket: net.Socket): void {
    socket.on('error', () => {});
    socket.once('close', () => {
      this.clientGone = true;
      // Before the upstream TLS is ours the TCP socket is destroyed, never ended: the handshake may be
      // running on it, and a shutdown under OpenSSL makes it fail twice (a write, then the server's alert).
      if (this.secure) closeSoon(this.secure);
      else this.upstream?.destroy();
      this.finish();
    });
  }

  run(): Promise<void> {
    const done = new Promise<void>((resolve) => {
      this.settle = resolve;
    });
    const { client } = this;
    client.setNoDelay(true);
    client.pause();
    this.watchClient(client);
    this.start().catch((err: unknown) => this.fail(undefined, asDbtls(err)));
    return done;
  }

  private async start(): Promise<void> {
    const { ctx } = this;
    let client = this.client;
    const pooled = ctx.prewarm?.take();
    let origin: Origin;
    if (pooled) {
      origin = { socket: pooled.socket, greeting: pooled.greeting, packet: pooled.packet };
    } else {
      try {
        origin = await openOrigin(ctx.host, ctx.port, ctx.settings, ctx.timeoutMs);
      } catch (err) {
        this.fail(0, asDbtls(err));
        return;
      }
    }
    this.adopt(origin.socket);
    if (this.clientGone) {
      pooled?.secure.destroy();
      origin.socket.destroy();
      return;
    }
    const { greeting, packet } = origin;
    this.plugin = greeting.authPluginName;
    this.scramble = greeting.scramble;
    // With local TLS the client may upgrade as it would with the server itself; else it must not try.
    client.write(
      ctx.localTls
        ? framePacket(packet.sequenceId, packet.payload)
        : framePacket(packet.sequenceId, encodeGreeting(withoutCapabilities(greeting, CLIENT_SSL))),
    );
    let response: Packet;
    try {
      response = await readOne(client, this.fromClient, ctx.timeoutMs);
      if (ctx.localTls && isSslRequest(response.payload)) {
        client = await this.upgradeClient(client, ctx.localTls.current);
        response = await readOne(client, this.fromClient, ctx.timeoutMs);
      }
    } catch (err) {
      this.fail(this.clientGone ? undefined : packet.sequenceId + 1, asDbtls(err));
      return;
    }
    this.nextClientSeq = (response.sequenceId + 1) & 0xff;
    // A pooled connection the server closed meanwhile is replaced below (the fallback), not a failure.
    if (!pooled && origin.socket.destroyed) {
      response.payload.fill(0);
      this.fail(
        this.nextClientSeq,
        new DbtlsError(
          'PROXY_UPSTREAM_CLOSED',
          `could not relay the connection: the server closed it while the client was logging in`,
          { hint: "the client took longer than the server's connect_timeout; retry" },
        ),
      );
      return;
    }
    let info: ReturnType<typeof decodeHandshakeResponse>;
    try {
      info = decodeHandshakeResponse(response.payload);
    } catch (err) {
      response.payload.fill(0);
      this.fail(this.nextClientSeq, fromClient(err));
      return;
    }
    if (hasCapability(info.capabilities, CLIENT_SSL) && !(client instanceof tls.TLSSocket)) {
      response.payload.fill(0);
      this.fail(
        this.nextClientSeq,
        new DbtlsError(
          'PROXY_CLIENT_TLS',
          'could not relay the connection: the client asked for TLS on the local leg, which this listener does not offer',
          {
            hint: 'connect to the proxy without TLS (it is the TLS endpoint towards the server), e.g. --ssl-mode=DISABLED / ssl=false, or start it with --listen-cert/--listen-key',
          },
        ),
      );
      return;
    }
    if (info.authPluginName) this.plugin = info.authPluginName;
    const held = response.payload;
    held.writeUInt32LE((held.readUInt32LE(0) | CLIENT_SSL) >>> 0, 0);
    const sslRequest = Buffer.from(held.subarray(0, SSL_REQUEST_LENGTH));
    ctx.prewarm?.learn(sslRequest);
    let secure: tls.TLSSocket;
    if (pooled && !pooled.secure.destroyed && pooled.sslRequest.equals(sslRequest)) {
      secure = pooled.secure;
      ctx.observer.prewarmed('used');
    } else {
      try {
        if (pooled) origin = await this.fallback(pooled, held);
        secure = await secureUpstream(ctx, origin, held);
      } catch (err) {
        held.fill(0);
        // A client that left had the handshake cut short (watchClient): its leaving is the cause to report.
        this.fail(this.nextClientSeq, this.clientGone ? clientClosed() : asDbtls(err));
        return;
      }
    }
    this.secure = secure;
    // From here the TLS socket is the upstream link: its close ends the session (and frees the TCP one).
    secure.once('close', () => {
      origin.socket.destroy();
      this.upstreamClosed();
    });
    secure.on('error', (err) => {
      if (this.clientGone) return;
      if (this.piping) {
        this.lost(err);
        return;
      }
      // TLS 1.3 delivers the server's verdict on our client certificate after the handshake; anything
      // else (a reset) ends a handshake that is over: the server went away during authentication.
      const verdict = tlsError(err, ctx.settings, ctx.host, ctx.port);
      this.fail(
        this.nextClientSeq,
        verdict.code === 'CLIENT_CERT_REJECTED' ? verdict : closedDuringAuthentication(err),
      );
    });
    if (this.clientGone) {
      held.fill(0);
      secure.destroy();
      return;
    }
    this.nextServerSeq = SSL_REQUEST_SEQUENCE_ID + 2;
    this.sendSecret(framePacket(SSL_REQUEST_SEQUENCE_ID + 1, held), held);
    secure.on('data', this.onServerData);
    secure.resume(); // a pooled socket was paused explicitly: a listener alone would not resume it
    client.on('data', this.onClientData);
    client.resume();
  }

  /** The upstream TCP socket of this session: its close ends the session while TLS is not up. */
  private adopt(socket: net.Socket): void {
    this.upstream = socket;
    socket.on('error', () => {});
    socket.once('close', () => this.upstreamClosed());
  }

  /**
   * The client answered a pooled greeting with other capabilities than the pooled SSLRequest announced
   * (the server would read its response with the wrong flags): a fresh upstream gets the client's own
   * SSLRequest, and the plugin name in the held response is overwritten in place, so the server (whose
   * scramble the client never saw) asks for the plugin again with an AuthSwitchRequest: the client
   * answers that with its new scramble (relayed as any switch). A client without a plugin name cannot
   * be asked again: refused.
   */
  private async fallback(pooled: Prewarmed, held: Buffer): Promise<Origin> {
    pooled.secure.destroy();
    const span = authPluginSpan(held);
    if (!span || span[1] === span[0]) {
      throw new DbtlsError(
        'PROXY_PREWARM_MISMATCH',
        'could not relay the connection: the client answered a prewarmed connection with other capabilities and names no auth plugin, so the server cannot ask it again',
        {
          hint: "retry (the pool now uses this client's capabilities), or run the proxy without --prewarm",
        },
      );
    }
    held.fill(FALLBACK_PLUGIN_BYTE, span[0], span[1]);
    this.ctx.observer.prewarmed('fallback');
    const origin = await openOrigin(this.ctx.host, this.ctx.port, this.ctx.settings, this.ctx.timeoutMs);
    this.adopt(origin.socket);
    return origin;
  }

  /** TLS server side on the client's socket, after its SSLRequest; the handshake response follows inside. */
  private async upgradeClient(raw: net.Socket, context: tls.SecureContext): Promise<net.Socket> {
    // The ClientHello may have arrived with the SSLRequest: give it back to the socket for TLS to read.
    const early = this.fromClient.pending();
    if (early.length > 0) raw.unshift(Buffer.from(early));
    this.fromClient = new PacketReader(MAX_AUTH_PACKET, 'authentication packet from the client');
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
    this.client = secure;
    this.watchClient(secure);
    await serverHandshake(secure, this.ctx.timeoutMs);
    return secure;
  }

  /** Writes a frame that carries a secret to the upstream, and zeroes both buffers once TLS has them. */
  private sendSecret(frame: Buffer, secret: Buffer): void {
    this.secure?.write(frame, () => {
      frame.fill(0);
      secret.fill(0);
    });
  }

  private readonly onServerData = (chunk: Buffer): void => {
    try {
      this.fromServer.push(chunk);
      for (let p = this.fromServer.next(); p; p = this.fromServer.next()) {
        if (!this.answered) {
          this.answered = true;
          this.ctx.observer.upstreamAnswered();
        }
        this.nextServerSeq = (p.sequenceId + 1) & 0xff;
        const first = p.payload[0];
        if (first === AUTH_SWITCH_REQUEST) {
          const sw = decodeAuthSwitch(p.payload);
          this.plugin = sw.pluginName;
          this.scramble = sw.data;
          this.sha2 = 'idle';
        } else if (
          first === AUTH_MORE_DATA &&
          this.plugin === CACHING_SHA2_PASSWORD &&
          p.payload.length === 2 &&
          p.payload[1] === SHA2_PERFORM_FULL_AUTHENTICATION
        ) {
          this.sha2 = 'full';
        }
        this.toClient(p.payload);
        if (first === OK_HEADER || first === ERR_HEADER) {
          this.passthrough();
          return;
        }
      }
    } catch (err) {
      this.fail(this.nextClientSeq, asDbtls(err));
    }
  };

  private readonly onClientData = (chunk: Buffer): void => {
    try {
      this.fromClient.push(chunk);
      for (let p = this.fromClient.next(); p; p = this.fromClient.next()) {
        this.nextClientSeq = (p.sequenceId + 1) & 0xff;
        if (this.sha2 === 'full' && p.payload.length === 1 && p.payload[0] === SHA2_REQUEST_PUBLIC_KEY) {
          // Answered here: the client encrypts to the proxy's key; the server never sees this exchange.
          this.toClient(Buffer.concat([Buffer.of(AUTH_MORE_DATA), this.ctx.rsa.publicPem]));
          this.sha2 = 'await-blob';
          continue;
        }
        if (this.sha2 === 'await-blob') {
          this.sha2 = 'idle';
          const password = recoverPassword(this.ctx.rsa, p.payload, this.scramble);
          this.ctx.observer.rsaExchange();
          this.sendSecret(framePacket(this.nextServerSeq, password), password);
          this.nextServerSeq = (this.nextServerSeq + 1) & 0xff;
          continue;
        }
        if (this.sha2 === 'full') this.sha2 = 'idle';
        // A clear password (unix socket clients send it so) leaves only inside the verified TLS.
        this.sendSecret(framePacket(this.nextServerSeq, p.payload), p.payload);
        this.nextServerSeq = (this.nextServerSeq + 1) & 0xff;
      }
    } catch (err) {
      this.fail(this.nextClientSeq, fromClient(err));
    }
  };

  private toClient(payload: Buffer): void {
    this.client.write(framePacket(this.nextClientSeq, payload));
    this.nextClientSeq = (this.nextClientSeq + 1) & 0xff;
  }

  /** Authentication is over: from here on bytes pass untouched, with node's own backpressure. */
  private passthrough(): void {
    const { client } = this;
    const secure = this.secure;
    if (!secure) return;
    this.piping = true;
    secure.off('data', this.onServerData);
    client.off('data', this.onClientData);
    const fromServer = this.fromServer.pending();
    if (fromServer.length > 0) client.write(Buffer.from(fromServer));
    const fromClient = this.fromClient.pending();
    if (fromClient.length > 0) secure.write(Buffer.from(fromClient));
    forward(secure, client);
    forward(client, secure);
  }

  private upstreamClosed(): void {
    // Before TLS is up the pending step reports the loss itself (with an ERR the client can read).
    if (this.secure && !this.clientGone) {
      // The client waits for the server's answer to its login: it gets one that names the loss.
      if (!this.piping && !this.failedOnce) {
        this.fail(this.nextClientSeq, closedDuringAuthentication());
        return;
      }
      closeSoon(this.client);
    }
    this.finish();
  }

  /**
   * The upstream broke while piping (a reset, a TLS error). The client may be halfway through a result,
   * where an ERR of ours would be read as the server's (mysql2: "packets out of order"): it sees the
   * connection close, as with the server itself, and the cause goes to the log and the failure metric.
   */
  private lost(err: Error): void {
    if (this.failedOnce) return;
    this.failedOnce = true;
    this.ctx.observer.failed(
      new DbtlsError(
        'PROXY_UPSTREAM_RESET',
        `could not relay the connection: the connection to the server broke after login: ${causeText(err)}`,
        {
          hint: 'the client was disconnected and must reconnect; if this repeats, check the server error log and the network path (a restart, a firewall or load balancer dropping idle connections)',
          cause: err,
        },
      ),
    );
    closeSoon(this.client);
    this.secure?.destroy();
  }

  /** Reports `err`, tells the client (when it still listens and a sequence id is known), closes both. */
  private failedOnce = false;
  private fail(sequenceId: number | undefined, err: DbtlsError): void {
    if (this.failedOnce) return;
    this.failedOnce = true;
    this.ctx.observer.failed(err);
    this.secure?.off('data', this.onServerData);
    this.client.off('data', this.onClientData);
    if (sequenceId !== undefined && !this.clientGone && this.client.writable) {
      this.client.write(errFrame(sequenceId & 0xff, err));
    }
    // Read (and drop) what the client still sends, so its FIN is seen at once: a paused socket would hold
    // the session, and its descriptor, until closeSoon's deadline.
    this.client.resume();
    closeSoon(this.client);
    this.secure?.destroy();
    this.upstream?.destroy();
    this.finish();
  }

  private finished = false;
  private finish(): void {
    const link = this.secure ?? this.upstream;
    const upstreamOpen = link !== undefined && !link.destroyed;
    if (this.finished || !this.client.destroyed || upstreamOpen) return;
    this.finished = true;
    this.settle();
  }
}

/** The server ended the connection after the TLS handshake, before answering the login (`cause`: how). */
function closedDuringAuthentication(cause?: Error): DbtlsError {
  return new DbtlsError(
    'PROXY_UPSTREAM_CLOSED',
    `could not relay the connection: the server closed it during authentication, after the TLS handshake${cause ? ` (${causeText(cause)})` : ''}`,
    {
      hint: 'the server ended the login without an answer: check its error log (a restart, a KILL, or connect_timeout while the client was slow to answer), then retry',
      ...(cause ? { cause } : {}),
    },
  );
}

/**
 * After authentication: every chunk `from` reads is written to `to` as it is (no framing, no copy, no
 * per-chunk closure or promise), `from` paused while `to` is full; `from`'s end half-closes `to`. Leaner
 * than stream.pipe, which adds its own listeners, an unpipe protocol and per-chunk bookkeeping.
 */
function forward(from: net.Socket, to: net.Socket): void {
  const resume = () => from.resume();
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', resume);
    }
  });
  from.once('end', () => to.end());
}

/**
 * The SSLRequest and the verified TLS on `origin` (client/upgrade.ts, on the shared context, resuming the
 * last session); reports the handshake to the observer. Used per client and by the prewarm pool.
 */
export async function secureUpstream(
  ctx: RelayContext,
  origin: Origin,
  response: Buffer,
): Promise<tls.TLSSocket> {
  const loaded = ctx.upstreamTls.current;
  const started = process.hrtime.bigint();
  let secure: tls.TLSSocket;
  try {
    secure = await upgradeToTls(
      origin.socket,
      origin.greeting,
      {
        kind: 'verify',
        settings: ctx.settings,
        material: loaded.material,
        secureContext: loaded.context,
        session: ctx.upstreamTls.resumable,
        response,
      },
      { host: ctx.host, port: ctx.port, timeoutMs: ctx.timeoutMs },
    );
  } catch (err) {
    const { host, port, timeoutMs } = ctx;
    throw await ctx.upstreamTls.afterFailure(err, loaded, { host, port, timeoutMs });
  }
  // A resumed handshake carries the certificate of the session it resumed, known since that session's full
  // handshake; and one session serves many handshakes. So the session tickets are taken, and the peer's
  // certificate read, only when needed: each costs ~100 µs of a ~1 ms handshake (node serializes every
  // ticket, two per TLS 1.3 handshake, and builds the certificate's object).
  const resumed = secure.isSessionReused();
  if (!resumed || ctx.upstreamTls.wantsSession())
    secure.on('session', (s: Buffer) => ctx.upstreamTls.remember(loaded.context, s));
  const peer = resumed ? undefined : secure.getPeerCertificate();
  ctx.observer.upstreamVerified(
    Number(process.hrtime.bigint() - started) / 1e9,
    resumed,
    peer?.valid_to ? new Date(peer.valid_to) : undefined,
  );
  return secure;
}
