/**
 * The TLS scan: which protocol versions the server accepts and, per version, which cipher suites, in
 * the server's preference order. The method is sslscan's: offer every candidate, note the suite the
 * server picks, offer the rest without it, until the server refuses. Versions are scanned in parallel
 * under a small concurrency bound; within a version the probes are necessarily sequential.
 */
import {
  candidateCiphers,
  cipherBits,
  cipherWeakness,
  hasForwardSecrecy,
  TLS_VERSIONS,
  type TlsVersionName,
} from './ciphers.js';
import { DEFAULT_PROBE_TIMEOUT_MS, type Endpoint, probe, type TlsOutcome } from './probe.js';
import type { AcceptedCipher, TlsFacts } from './report.js';

export interface ScanOptions {
  readonly ca?: string | Buffer | undefined;
  readonly servername?: string | undefined;
  /** Connections open at once: kind to the server, still fast (4 versions scan side by side). */
  readonly concurrency?: number;
  readonly timeoutMs?: number;
}

export const DEFAULT_SCAN_CONCURRENCY = 4;
/** More suites than any OpenSSL offers for one version: a server that keeps accepting is misbehaving. */
const MAX_SUITES_PER_VERSION = 200;

export interface ScanResult extends TlsFacts {
  /** The first accepted handshake of the newest version: the chain the inspector judges. */
  readonly sample?: Extract<TlsOutcome, { kind: 'accepted' }>;
}

export async function scanTls(endpoint: Endpoint, options: ScanOptions = {}): Promise<ScanResult> {
  const limit = semaphore(options.concurrency ?? DEFAULT_SCAN_CONCURRENCY);
  let probes = 0;
  // The first probe that fails (deadline, blocked host, reset) ends the whole scan: the versions scanned
  // side by side open nothing more, and nothing is retried.
  let failed = false;
  const probeOnce = async (version: TlsVersionName, ciphers: string) => {
    if (failed) return undefined;
    probes++;
    try {
      return await probe(
        endpoint,
        { version, ciphers, ca: options.ca, servername: options.servername },
        options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
      );
    } catch (err) {
      failed = true;
      throw err;
    }
  };
  const scanVersion = async (version: TlsVersionName) => {
    const found: string[] = [];
    let first: Extract<TlsOutcome, { kind: 'accepted' }> | undefined;
    while (found.length < MAX_SUITES_PER_VERSION) {
      const ciphers = candidateCiphers(version, found);
      if (ciphers === undefined) break;
      const result = await limit(() => probeOnce(version, ciphers));
      if (result === undefined) break;
      const outcome = result.tls;
      // A server that refuses, or picks a suite we did not offer again, ends the enumeration.
      if (outcome?.kind !== 'accepted' || outcome.protocol !== version || found.includes(outcome.cipher))
        break;
      first ??= outcome;
      found.push(outcome.cipher);
    }
    return { version, found, first };
  };
  const perVersion = await Promise.all(TLS_VERSIONS.map(scanVersion));
  const versions = Object.fromEntries(perVersion.map((v) => [v.version, v.found.length > 0])) as Record<
    TlsVersionName,
    boolean
  >;
  // Newest version first, as sslscan lists them.
  const ciphers: AcceptedCipher[] = [...perVersion]
    .reverse()
    .flatMap((v) => v.found.map((name) => describeCipher(v.version, name)));
  const sample = [...perVersion].reverse().find((v) => v.first)?.first;
  return { versions, ciphers, probes, ...(sample ? { sample } : {}) };
}

export function describeCipher(version: TlsVersionName, name: string): AcceptedCipher {
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
function semaphore(n: number): <T>(task: () => Promise<T>) => Promise<T> {
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
