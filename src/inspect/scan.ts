/**
 * The TLS scan: which protocol versions the server accepts and, per version, which cipher suites, in
 * the server's preference order. The method is sslscan's: offer every candidate, note the suite the
 * server picks, offer the rest without it, until the server refuses. Versions are scanned in parallel
 * under a small concurrency bound; within a version the probes are necessarily sequential.
 *
 * Posture mode (`enumerate: false`, a fleet scan's default) stops after each version's first answer:
 * one connection per version, the suite the server prefers, and the chain; issue 13 needs 1,000 targets
 * in 10 s, and a full enumeration costs 8-9 connections per target for facts a fleet rarely needs.
 */

import type { TcpEndpoint } from '../client/dial.js';
import { TLS_VERSIONS, type TlsVersion } from '../tls/versions.js';
import { candidateCiphers, cipherBits, cipherWeakness, hasForwardSecrecy } from './ciphers.js';
import { DEFAULT_PROBE_TIMEOUT_MS, type PeerChain, probe } from './probe.js';
import type { AcceptedCipher, TlsFacts } from './report.js';

export interface ScanOptions {
  readonly ca?: string | Buffer | undefined;
  readonly servername?: string | undefined;
  /** Connections open at once: kind to the server, still fast (4 versions scan side by side). */
  readonly concurrency?: number;
  readonly timeoutMs?: number;
  /** Every accepted suite (default true); false: each version's preferred suite only (posture mode). */
  readonly enumerate?: boolean | undefined;
  /** A bound shared with other scans (a fleet's per-host and total bounds); each probe runs inside it. */
  readonly gate?: Gate | undefined;
}

/** Runs a task when a bound allows it. */
export type Gate = <T>(task: () => Promise<T>) => Promise<T>;

export const DEFAULT_SCAN_CONCURRENCY = 4;
/** More suites than any OpenSSL offers for one version: a server that keeps accepting is misbehaving. */
const MAX_SUITES_PER_VERSION = 200;

export interface ScanResult extends TlsFacts {
  /** The chain of the first accepted handshake, and its verdict: what the inspector judges. */
  readonly sample?: PeerChain;
}

export async function scanTls(endpoint: TcpEndpoint, options: ScanOptions = {}): Promise<ScanResult> {
  const own = semaphore(options.concurrency ?? DEFAULT_SCAN_CONCURRENCY);
  const gate = options.gate;
  const limit: Gate = gate ? (task) => own(() => gate(task)) : own;
  const enumerate = options.enumerate ?? true;
  let probes = 0;
  let sample: PeerChain | undefined;
  // The first accepted handshake takes the chain; every later one skips the costly parse.
  let chainTaken = false;
  const takeChain = () => {
    if (chainTaken) return false;
    chainTaken = true;
    return true;
  };
  // The first probe that fails (deadline, blocked host, reset) ends the whole scan: the versions scanned
  // side by side open nothing more, and nothing is retried.
  let failed = false;
  const probeOnce = async (version: TlsVersion, ciphers: string) => {
    if (failed) return undefined;
    probes++;
    try {
      return await probe(
        endpoint,
        { version, ciphers, ca: options.ca, servername: options.servername, takeChain },
        options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
      );
    } catch (err) {
      failed = true;
      throw err;
    }
  };
  const scanVersion = async (version: TlsVersion) => {
    const found: string[] = [];
    while (found.length < MAX_SUITES_PER_VERSION) {
      const ciphers = candidateCiphers(version, found);
      if (ciphers === undefined) break;
      const result = await limit(() => probeOnce(version, ciphers));
      if (result === undefined) break;
      const outcome = result.tls;
      if (outcome?.kind === 'accepted' && outcome.certificate) sample ??= outcome.certificate;
      // A server that refuses, or picks a suite we did not offer again, ends the enumeration.
      if (outcome?.kind !== 'accepted' || outcome.protocol !== version || found.includes(outcome.cipher))
        break;
      found.push(outcome.cipher);
      if (!enumerate) break;
    }
    return { version, found };
  };
  const perVersion = await Promise.all(TLS_VERSIONS.map(scanVersion));
  const versions = Object.fromEntries(perVersion.map((v) => [v.version, v.found.length > 0])) as Record<
    TlsVersion,
    boolean
  >;
  // Newest version first, as sslscan lists them.
  const ciphers: AcceptedCipher[] = [...perVersion]
    .reverse()
    .flatMap((v) => v.found.map((name) => describeCipher(v.version, name)));
  return { versions, ciphers, probes, ...(sample ? { sample } : {}) };
}

export function describeCipher(version: TlsVersion, name: string): AcceptedCipher {
  const weakness = cipherWeakness(name);
  return {
    version,
    name,
    bits: cipherBits(name),
    ...(weakness ? { weakness } : {}),
    forwardSecrecy: hasForwardSecrecy(name),
  };
}

/** At most `n` tasks at once, started in call order. */
export function semaphore(n: number): Gate {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
