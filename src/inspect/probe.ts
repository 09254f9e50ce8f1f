/**
 * One probe: a real connection (client/dial.ts) that reads the server greeting and, when asked and offered,
 * upgrades under the observe policy (client/upgrade.ts) with exactly the versions and suites given. It
 * never sends a handshake response, so no credential ever leaves.
 *
 * Kind to the server: the probe closes first (TLS close_notify, then FIN) and is over only once the server
 * has closed its end too, so a caller's concurrency bound holds on the server as well (MariaDB logs each
 * such close as "closed normally without authentication"). Each probe still counts once as an aborted
 * connect, and towards max_connect_errors for a remote host: callers bound how many they open and retry
 * nothing.
 */
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { dial, type TcpEndpoint } from '../client/dial.js';
import { offersTls, type PeerChain, peerChain, upgradeToTls } from '../client/upgrade.js';
import { causeText } from '../errors.js';
import type { Greeting } from '../protocol/handshake.js';
import { NODE_TLS_VERSION, type TlsVersion, versionFromNode } from '../tls/versions.js';

export type { PeerChain };

export interface ProbeTlsOptions {
  readonly version: TlsVersion;
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
      readonly protocol: TlsVersion;
      readonly cipher: string;
      /** The peer's chain and its verdict, when this probe took it (`takeChain`). */
      readonly certificate?: PeerChain;
    }
  | { readonly kind: 'refused'; readonly reason: string };

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
  endpoint: TcpEndpoint,
  options?: ProbeTlsOptions,
  timeoutMs = DEFAULT_PROBE_TIMEOUT_MS,
): Promise<ProbeResult> {
  const at = { timeoutMs, purpose: 'inspect', brief: true, timeoutFlag: '--timeout' } as const;
  const { socket, greeting } = await dial(endpoint, at);
  // Late resets after we are done (the server closing its end) must not become uncaught errors.
  socket.on('error', () => {});
  if (!options || !offersTls(greeting)) {
    await closeFirst(socket);
    return { greeting };
  }
  let context: tls.SecureContext;
  try {
    context = secureContextFor(options);
  } catch (err) {
    // OpenSSL's "no cipher match": nothing left to offer for this version; nothing was sent.
    await closeFirst(socket);
    return { greeting, tls: { kind: 'refused', reason: causeText(err) } };
  }
  const observed = await upgradeToTls(
    socket,
    greeting,
    { kind: 'observe', secureContext: context, servername: options.servername },
    { ...endpoint, ...at },
  );
  if (observed.kind === 'refused') return { greeting, tls: observed };
  const { secure } = observed;
  const accepted: TlsOutcome = {
    kind: 'accepted',
    protocol: versionFromNode(secure.getProtocol()) ?? options.version,
    cipher: secure.getCipher().name,
    ...(options.takeChain?.() === false ? {} : { certificate: peerChain(secure) }),
  };
  await closeFirst(secure);
  return { greeting, tls: accepted };
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
