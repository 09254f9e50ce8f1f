/**
 * One probe: a real connection that reads the server greeting and, when asked and offered, performs the
 * in-protocol upgrade itself (SSLRequest with sequence id 1, then a TLS handshake with exactly the
 * versions and suites given). It never sends a handshake response, so no credential ever leaves.
 *
 * Kind to the server: the probe closes first (TLS close_notify, then FIN) and is over only once the server
 * has closed its end too, so a caller's concurrency bound holds on the server as well (MariaDB logs each
 * such close as "closed normally without authentication"). Each probe still counts once as an aborted
 * connect, and towards max_connect_errors for a remote host: callers bound how many they open and retry
 * nothing.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { causeText, DbtlsError } from '../errors.js';
import {
  decodeErrPacket,
  decodeGreeting,
  ER_HOST_IS_BLOCKED,
  type Greeting,
  isErrPacket,
} from '../protocol/index.js';
import { peerText, UNAUTHENTICATED } from '../util/safe-text.js';
import { NODE_TLS_VERSION, type TlsVersionName, versionFromNode } from './ciphers.js';
import { offersTls, readFirstPacket, sslRequestPacket } from './wire.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface ProbeTlsOptions {
  readonly version: TlsVersionName;
  /** node's `ciphers` string: OpenSSL names for TLS 1.0-1.2, TLS_* names for TLS 1.3. */
  readonly ciphers: string;
  /** PEM trust anchors; undefined means the system store. */
  readonly ca?: string | Buffer | undefined;
  /** SNI to send (never an IP address, RFC 6066 section 3). */
  readonly servername?: string | undefined;
  /**
   * Asked once the handshake is accepted: true to take the peer's chain. The chain costs ~1 ms of CPU
   * (getPeerCertificate(true) parses every certificate; 25% of a fleet scan's profile, issue 13) and a
   * scan judges one chain per target, so only the first accepted probe of a target takes it.
   */
  readonly takeChain?: (() => boolean) | undefined;
}

export type TlsOutcome =
  | {
      readonly kind: 'accepted';
      readonly protocol: TlsVersionName;
      readonly cipher: string;
      /** The peer's chain and its verdict, when this probe took it (`takeChain`). */
      readonly certificate?: PeerChain;
    }
  | { readonly kind: 'refused'; readonly reason: string };

export interface PeerChain {
  /** DER of each certificate, leaf first, as OpenSSL assembled the chain. */
  readonly chain: readonly Buffer[];
  readonly peer: tls.PeerCertificate;
  readonly authorized: boolean;
  readonly authorizationError?: string;
}

export interface ProbeResult {
  readonly greeting: Greeting;
  /** Absent when no TLS was asked for, or the server does not offer it (nothing was sent then). */
  readonly tls?: TlsOutcome;
}

/** Per-probe deadline: a local handshake takes milliseconds; a silent peer must not hold a scan. */
export const DEFAULT_PROBE_TIMEOUT_MS = 5_000;
/** How long to wait for the server to close after we did: it answers our FIN at once; past this, reset. */
const CLOSE_GRACE_MS = 1_000;
/** Contexts kept (per CA, version and suite list); a --details scan makes one per enumeration step. */
const MAX_CONTEXTS = 512;

/**
 * One SecureContext per CA, version and suite list, shared by every probe: building one parses the CA
 * and costs more than the handshake it serves (16% of a fleet scan's profile before, issue 13). Throws
 * OpenSSL's "no cipher match" when nothing is left to offer for the version.
 */
const contexts = new Map<string, tls.SecureContext>();
function secureContextFor(options: ProbeTlsOptions): tls.SecureContext {
  const version = NODE_TLS_VERSION[options.version];
  const ca = options.ca === undefined ? '' : options.ca.toString();
  const key = `${version}\n${options.ciphers}\n${ca}`;
  let context = contexts.get(key);
  if (!context) {
    context = tls.createSecureContext({
      minVersion: version,
      maxVersion: version,
      ciphers: options.ciphers,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    });
    if (contexts.size >= MAX_CONTEXTS) contexts.clear();
    contexts.set(key, context);
  }
  return context;
}

export async function probe(
  endpoint: Endpoint,
  options?: ProbeTlsOptions,
  timeoutMs = DEFAULT_PROBE_TIMEOUT_MS,
): Promise<ProbeResult> {
  const socket = net.connect({ host: endpoint.host, port: endpoint.port });
  socket.setNoDelay(true);
  // Late resets after we are done (the server closing its end) must not become uncaught errors.
  socket.on('error', ignore);
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    socket.destroy(timeoutError(endpoint, timeoutMs));
  }, timeoutMs);
  try {
    await connected(socket, endpoint);
    const packet = await readFirstPacket(socket, 'server greeting');
    if (isErrPacket(packet.payload)) throw refusedByServer(endpoint, decodeErrPacket(packet.payload));
    const greeting = decodeGreeting(packet.payload);
    if (!options || !offersTls(greeting)) {
      await closeFirst(socket);
      return { greeting };
    }
    socket.write(sslRequestPacket(greeting));
    const tls = await handshake(socket, options);
    // A handshake cut by our deadline is no answer: reporting it as "refused" would hide suites.
    if (timedOut) throw timeoutError(endpoint, timeoutMs);
    return { greeting, tls };
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    clearTimeout(deadline);
  }
}

function ignore(): void {}

function connected(socket: net.Socket, endpoint: Endpoint): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(connectError(endpoint, err));
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

/** Ends our side and resolves once the server has closed its side, or resets after a grace period. */
function closeFirst(socket: net.Socket | tls.TLSSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) {
      resolve();
      return;
    }
    const grace = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    socket.once('close', () => {
      clearTimeout(grace);
      resolve();
    });
    // Our FIN (after close_notify on a TLS socket); the server answers with its own and closes.
    socket.end();
    socket.resume();
  });
}

/**
 * The TLS handshake of one probe. Resolves with 'accepted' after our close_notify and the server's close,
 * or 'refused' when the server (or OpenSSL, for lack of a common suite) ends the handshake.
 */
function handshake(socket: net.Socket, options: ProbeTlsOptions): Promise<TlsOutcome> {
  return new Promise((resolve) => {
    let secure: tls.TLSSocket;
    try {
      secure = tls.connect({
        socket,
        secureContext: secureContextFor(options),
        servername: options.servername,
        // The probe judges the certificate itself (verified, hostnameMatch); it must see every chain.
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
      });
    } catch (err) {
      // "No cipher match": nothing left to offer for this version.
      socket.destroy();
      resolve({ kind: 'refused', reason: causeText(err) });
      return;
    }
    let accepted: TlsOutcome | undefined;
    secure.on('error', (err) => {
      socket.destroy();
      resolve(accepted ?? { kind: 'refused', reason: causeText(err) });
    });
    secure.once('close', () =>
      resolve(accepted ?? { kind: 'refused', reason: 'connection closed during the handshake' }),
    );
    secure.once('secureConnect', () => {
      accepted = {
        kind: 'accepted',
        protocol: versionFromNode(secure.getProtocol()) ?? options.version,
        cipher: secure.getCipher().name,
        ...(options.takeChain?.() === false ? {} : { certificate: peerChain(secure) }),
      };
      void closeFirst(secure);
    });
  });
}

function peerChain(secure: tls.TLSSocket): PeerChain {
  const peer = secure.getPeerCertificate(true);
  return {
    chain: chainOf(peer),
    peer,
    authorized: secure.authorized,
    ...(secure.authorizationError ? { authorizationError: String(secure.authorizationError) } : {}),
  };
}

/** Leaf first, following issuerCertificate until it points to itself (a root) or runs out. */
function chainOf(peer: tls.DetailedPeerCertificate): Buffer[] {
  const chain: Buffer[] = [];
  let cert: tls.DetailedPeerCertificate | undefined = peer;
  while (cert?.raw && chain.length < 10) {
    chain.push(cert.raw);
    const next: tls.DetailedPeerCertificate | undefined = cert.issuerCertificate;
    if (!next || next === cert || next.raw?.equals(cert.raw)) break;
    cert = next;
  }
  return chain;
}

function connectError(endpoint: Endpoint, err: Error): DbtlsError {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${endpoint.host}:${endpoint.port}`;
  if (err instanceof DbtlsError) return err;
  if (code === 'ECONNREFUSED') {
    return new DbtlsError('CONNECTION_REFUSED', `could not connect to ${where}: connection refused`, {
      hint: 'check the host and port, and that the server is running and listening on TCP (not only a socket)',
      kind: 'runtime',
      cause: err,
    });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new DbtlsError('HOST_NOT_FOUND', `could not connect to ${where}: the host name does not resolve`, {
      hint: 'check the spelling of the host, or use its IP address',
      kind: 'runtime',
      cause: err,
    });
  }
  return new DbtlsError('CONNECTION_FAILED', `could not connect to ${where}: ${causeText(err)}`, {
    hint: 'check the network path to the server (firewall, security group, routing)',
    kind: 'runtime',
    cause: err,
  });
}

function timeoutError(endpoint: Endpoint, timeoutMs: number): DbtlsError {
  return new DbtlsError(
    'CONNECT_TIMEOUT',
    `could not connect to ${endpoint.host}:${endpoint.port}: no answer within ${timeoutMs} ms`,
    {
      hint: 'check that the host and port are right and that no firewall drops the packets; raise --timeout for slow links',
      kind: 'runtime',
    },
  );
}

/** Host blocked by max_connect_errors (1129) and too many connections (1040) arrive as an ERR greeting. */
function refusedByServer(endpoint: Endpoint, err: { code: number; message: string }): DbtlsError {
  return new DbtlsError(
    'SERVER_REFUSED',
    `could not inspect ${endpoint.host}:${endpoint.port}: the server answered error ${err.code} (${UNAUTHENTICATED}): ${peerText(err.message)}`,
    {
      hint:
        err.code === ER_HOST_IS_BLOCKED
          ? 'this host hit max_connect_errors; on the server run FLUSH HOSTS (or mariadb-admin flush-hosts) before inspecting again'
          : 'retry when the server accepts connections again',
      kind: 'runtime',
      details: { serverError: err.code },
    },
  );
}
