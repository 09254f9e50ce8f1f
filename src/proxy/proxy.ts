/**
 * `dbtls proxy`: listeners for applications (loopback TCP or a unix socket, plaintext), one verified,
 * mutual-TLS upstream per client connection (relay.ts), certificate reload, health and metrics. The
 * library never prints: everything worth saying goes to `log` as a structured entry.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { type Origin, openOrigin } from '../client/origin.js';
import { tlsError } from '../client/tls-errors.js';
import { upgradeToTls } from '../client/upgrade.js';
import { causeText, DbtlsError } from '../errors.js';
import { checkPemKeyPair } from '../pki/chain.js';
import type { Target } from '../tls/settings.js';
import { checkProxyMode } from '../tls/ssl-mode.js';
import type { SecureTlsVersion } from '../tls/versions.js';
import { readUserFile } from '../util/files.js';
import { peerText } from '../util/safe-text.js';
import { checkListen, formatListen, type ListenAddress, listenOn } from './listen.js';
import { createHealthServer, ProxyMetrics } from './metrics.js';
import { DEFAULT_PREWARM_MAX_AGE_MS, type PrewarmOutcome, PrewarmPool } from './prewarm.js';
import { type RelayContext, relay, secureUpstream } from './relay.js';
import { Reloadable } from './reloadable.js';
import { generateProxyRsaKey } from './sha2.js';
import { asDbtls } from './sockets.js';
import { UpstreamTls } from './upstream.js';
import { errFrame, proxyErrorLine } from './wire-errors.js';

/** As the client layer's: a slow link passes, a black hole fails visibly. */
export const DEFAULT_PROXY_TIMEOUT_MS = 10_000;
/** How long SIGTERM waits for open sessions by default (Cloud SQL Auth Proxy's --max-sigterm-delay is 0). */
export const DEFAULT_SIGTERM_DELAY_MS = 0;

export interface ProxyLogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly code?: string;
  readonly [field: string]: unknown;
}

export interface ProxyOptions {
  /** host, port and the upstream TLS settings (mode, CA, client certificate and key, servername). */
  readonly upstream: Pick<Target, 'host' | 'port' | 'tls'>;
  readonly listen: readonly ListenAddress[];
  readonly allowRemotePlaintext?: boolean;
  /** Where /liveness, /readiness and /metrics are served (TCP). */
  readonly http?: { readonly host: string; readonly port: number };
  /** 0 or absent: unlimited. */
  readonly maxConnections?: number;
  readonly timeoutMs?: number;
  /** Re-read the TLS files when they change (default true). */
  readonly watch?: boolean;
  /**
   * The certificate and key files of TLS on the client leg (clients hard-wired to REQUIRED or VERIFY_*),
   * re-read like the upstream files.
   */
  readonly listenTls?: { readonly cert: string; readonly key: string };
  /** Upstream connections kept past TLS for the next clients (--prewarm N; 0 or absent: none). */
  readonly prewarm?: number;
  /** How long a prewarmed connection may wait (default 5 s, below the server's connect_timeout). */
  readonly prewarmMaxAgeMs?: number;
  /** The upstream already passed a handshake (--run-connection-test): ready before the first client. */
  readonly upstreamVerified?: boolean;
  /** The TLS floor that handshake settled on (ConnectionTestResult.floor), so no client meets the refusal again. */
  readonly upstreamFloor?: SecureTlsVersion;
  readonly log?: (entry: ProxyLogEntry) => void;
}

export interface RunningProxy {
  /** The addresses bound (a port 0 replaced by the real one). */
  readonly listening: readonly ListenAddress[];
  readonly http?: { readonly host: string; readonly port: number };
  readonly metrics: ProxyMetrics;
  /** Connections open now. */
  open(): number;
  /** Prewarmed upstream connections ready now (--prewarm). */
  prewarmed(): number;
  /** Re-reads the TLS files (SIGHUP); false when one set did not load (it stays as it was). */
  reload(): boolean;
  /** Stops accepting, waits up to `graceMs` for open sessions, then cuts the rest. */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * Every pooled connection that expires unused is a handshake error towards the server's
 * max_connect_errors (default 100) for a non-loopback proxy host: the pool stays well below it.
 */
export const MAX_PREWARM = 32;

function checkPrewarm(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_PREWARM) {
    throw new DbtlsError('USAGE', `could not use --prewarm ${n}: expected 0 to ${MAX_PREWARM}`, {
      hint: "a few connections cover a connect-per-query load; each unused one that expires counts towards the server's max_connect_errors (docs/proxy.md)",
    });
  }
}

export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  // The proxy exists to add TLS: a mode without it (or with a silent fallback) is refused up front.
  checkProxyMode(options.upstream.tls.mode);
  if (options.listen.length === 0) {
    throw new DbtlsError('USAGE', 'could not start the proxy: no --listen address', {
      hint: 'add --listen 127.0.0.1:3307 or --listen unix:/run/dbtls/mysql.sock',
    });
  }
  for (const addr of options.listen) checkListen(addr, options.allowRemotePlaintext === true);
  checkPrewarm(options.prewarm ?? 0);
  const log = options.log ?? (() => {});
  const { host, port, tls: settings } = options.upstream;
  const metrics = new ProxyMetrics();
  metrics.bytes.live = () => {
    let fromClient = 0;
    let toClient = 0;
    for (const s of sockets) {
      fromClient += s.bytesRead;
      toClient += s.bytesWritten;
    }
    return { fromClient, toClient };
  };
  const upstreamTls = new UpstreamTls(
    settings,
    {
      reloaded(loaded) {
        metrics.clientNotAfter = loaded.clientCertNotAfter;
        // Pooled connections present the old client certificate.
        prewarm?.drain();
        log({ level: 'info', msg: 'reloaded the TLS files; new connections use them' });
      },
      reloadFailed(err) {
        log({
          level: 'error',
          msg: `${proxyErrorLine(err)}; the previous files stay in use`,
          code: err.code,
        });
      },
    },
    options.upstreamFloor,
  );
  metrics.clientNotAfter = upstreamTls.current.clientCertNotAfter;
  const rsa = generateProxyRsaKey();
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROXY_TIMEOUT_MS;
  const max = options.maxConnections ?? 0;
  const sockets = new Set<net.Socket>();
  // Ready once a server answered inside verified TLS: under TLS 1.3 the handshake ends on our side before
  // the server has judged our client certificate, so a handshake alone does not prove a login can pass.
  let answeredOnce = options.upstreamVerified === true;
  let closing = false;

  const observer = {
    upstreamVerified(seconds: number, resumed: boolean, notAfter: Date | undefined) {
      metrics.handshake.observe(seconds);
      if (resumed) metrics.resumed.inc();
      if (notAfter) metrics.upstreamNotAfter = notAfter;
    },
    failed(err: DbtlsError) {
      metrics.failures.inc({ code: err.code });
      // A client that leaves before logging in is ordinary (health checks, port scans): not an error.
      const level = err.code === 'PROXY_CLIENT_CLOSED' ? 'info' : 'error';
      log({ level, msg: proxyErrorLine(err), code: err.code });
    },
    rsaExchange() {
      metrics.rsa.inc();
    },
    prewarmed(outcome: PrewarmOutcome) {
      metrics.prewarm.inc({ outcome });
    },
    upstreamAnswered() {
      answeredOnce = true;
    },
  };
  const listenFiles = options.listenTls;
  const localTls = listenFiles
    ? new Reloadable(() => loadListenTls(listenFiles), [listenFiles.cert, listenFiles.key], {
        reloaded() {
          log({ level: 'info', msg: 'reloaded --listen-cert/--listen-key; new connections use them' });
        },
        reloadFailed(err) {
          log({
            level: 'error',
            msg: `${proxyErrorLine(err)}; the previous files stay in use`,
            code: err.code,
          });
        },
      })
    : undefined;
  const base: RelayContext = { host, port, settings, upstreamTls, rsa, timeoutMs, observer };
  let prewarmFailing = false;
  const prewarm =
    (options.prewarm ?? 0) > 0
      ? new PrewarmPool(
          options.prewarm ?? 0,
          options.prewarmMaxAgeMs ?? DEFAULT_PREWARM_MAX_AGE_MS,
          async (sslRequest) => {
            const origin = await openOrigin(host, port, settings, timeoutMs);
            const secure = await secureUpstream(base, origin, Buffer.from(sslRequest));
            secure.on('error', () => {});
            secure.once('close', () => origin.socket.destroy());
            prewarmFailing = false;
            return { ...origin, secure, sslRequest };
          },
          (err) => {
            // Logged once per outage: the pool retries every second.
            if (prewarmFailing) return;
            prewarmFailing = true;
            const e = asDbtls(err);
            log({
              level: 'warn',
              msg: `prewarm: ${proxyErrorLine(e)}; clients connect directly`,
              code: e.code,
            });
          },
        )
      : undefined;
  const context: RelayContext = {
    ...base,
    ...(localTls ? { localTls } : {}),
    ...(prewarm ? { prewarm } : {}),
  };

  const onConnection = (client: net.Socket) => {
    if (closing) {
      client.destroy();
      return;
    }
    metrics.total.inc();
    if (max > 0 && sockets.size >= max) {
      const err = new DbtlsError(
        'PROXY_MAX_CONNECTIONS',
        `could not accept the connection: ${max} connections are open (--max-connections)`,
        {
          hint: 'close idle connections, size the application pool below the limit, or raise --max-connections',
        },
      );
      observer.failed(err);
      client.on('error', () => {});
      client.end(errFrame(0, err));
      setTimeout(() => client.destroy(), 2_000).unref();
      return;
    }
    sockets.add(client);
    metrics.open.set(sockets.size);
    relay(client, context).then(() => {
      sockets.delete(client);
      metrics.open.set(sockets.size);
      metrics.bytes.fromClient += client.bytesRead;
      metrics.bytes.toClient += client.bytesWritten;
    });
  };

  const servers: net.Server[] = [];
  const listening: ListenAddress[] = [];
  let httpServer: ReturnType<typeof createHealthServer> | undefined;
  try {
    for (const addr of options.listen) {
      const server = net.createServer({ noDelay: true }, onConnection);
      servers.push(server);
      listening.push(await listenOn(server, addr));
    }
    if (options.http) {
      httpServer = createHealthServer(metrics, {
        ready: () => answeredOnce && (max === 0 || sockets.size < max),
      });
      await listenOn(httpServer as unknown as net.Server, { kind: 'tcp', ...options.http });
    }
  } catch (err) {
    for (const s of servers) s.close();
    httpServer?.close();
    throw err;
  }
  if (options.watch !== false) {
    upstreamTls.watch();
    localTls?.watch();
  }
  const httpAddress = httpServer?.address() as net.AddressInfo | undefined;
  log({
    level: 'info',
    msg: `listening on ${listening.map(formatListen).join(', ')}; upstream ${formatListen({ kind: 'tcp', host, port })} with ssl-mode ${settings.mode}${settings.mutualTls === 'enable' ? ' and mutual TLS' : ''}`,
  });

  return {
    listening,
    ...(httpAddress && options.http ? { http: { host: options.http.host, port: httpAddress.port } } : {}),
    metrics,
    open: () => sockets.size,
    prewarmed: () => prewarm?.available ?? 0,
    reload: () => [upstreamTls, localTls].map((r) => r?.reload() ?? true).every(Boolean),
    async shutdown(graceMs = DEFAULT_SIGTERM_DELAY_MS) {
      closing = true;
      prewarm?.close();
      // close() stops accepting at once, but its callback waits for every open connection: awaited before
      // the deadline, it made --max-sigterm-delay wait for the sessions to end by themselves.
      const stopped = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      const deadline = Date.now() + graceMs;
      while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const s of sockets) s.destroy();
      await Promise.all(stopped);
      upstreamTls.close();
      localTls?.close();
      const httpStopped = new Promise<void>((resolve) =>
        httpServer ? httpServer.close(() => resolve()) : resolve(),
      );
      httpServer?.closeAllConnections();
      await httpStopped;
    },
  };
}

function loadListenTls(files: { cert: string; key: string }): tls.SecureContext {
  const cert = readUserFile(files.cert, 'the --listen-cert certificate');
  const key = readUserFile(files.key, 'the --listen-key key');
  const hint = 'pass a PEM certificate and its own key (dbtls issue server --cn localhost --ip 127.0.0.1)';
  checkPemKeyPair(
    cert,
    key,
    'could not load --listen-cert/--listen-key: the key does not belong to the certificate',
    hint,
  );
  try {
    return tls.createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
  } catch (err) {
    throw new DbtlsError(
      'TLS_MATERIAL_INVALID',
      `could not load --listen-cert/--listen-key: ${causeText(err)}`,
      {
        hint,
        cause: err,
      },
    );
  }
}

/** What `--run-connection-test` reports. */
export interface ConnectionTestResult {
  readonly protocol: string | null;
  readonly cipher: string;
  readonly serverVersion: string;
  readonly seconds: number;
  /** The lowest version later handshakes offer: TLSv1.2 once a verified 1.2-only server refused 1.3 (upstream.ts). */
  readonly floor: SecureTlsVersion;
}

/**
 * One upstream handshake with every check of the mode, then a close (no credentials exist here). Note for
 * non-loopback servers: a connection closed before authentication counts towards max_connect_errors.
 */
export async function connectionTest(
  upstream: Pick<Target, 'host' | 'port' | 'tls'>,
  timeoutMs = DEFAULT_PROXY_TIMEOUT_MS,
): Promise<ConnectionTestResult> {
  const upstreamTls = new UpstreamTls(upstream.tls, { reloaded() {}, reloadFailed() {} });
  const started = process.hrtime.bigint();
  const { origin, secure } = await verifiedUpstream(upstream, upstreamTls, timeoutMs);
  await serverVerdict(secure, upstream);
  const result = {
    protocol: secure.getProtocol(),
    cipher: secure.getCipher().name,
    serverVersion: peerText(origin.greeting.serverVersion), // the server's own text: logged
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    floor: upstreamTls.current.floor,
  };
  secure.destroy();
  return result;
}

/** How long a server that sends no session ticket gets to refuse our certificate (its alert comes at once). */
const VERDICT_WAIT_MS = 2_000;

/**
 * Under TLS 1.3 our side of the handshake ends before the server has judged our client certificate: a
 * refusal arrives as an alert one round trip later, an acceptance with the session tickets the server sends
 * then. So a test that presented a certificate waits for either, or for a quiet VERDICT_WAIT_MS.
 */
function serverVerdict(
  secure: tls.TLSSocket,
  upstream: Pick<Target, 'host' | 'port' | 'tls'>,
): Promise<void> {
  if (secure.getProtocol() !== 'TLSv1.3' || !upstream.tls.cert) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const settle = (err?: unknown) => {
      clearTimeout(timer);
      secure.off('session', accepted).off('error', settle).off('close', closed);
      if (err === undefined) return resolve();
      secure.destroy();
      reject(tlsError(err, upstream.tls, upstream.host, upstream.port));
    };
    const accepted = () => settle();
    const closed = () => settle(new Error('the server closed the connection right after the TLS handshake'));
    const timer = setTimeout(accepted, VERDICT_WAIT_MS);
    secure.on('session', accepted).on('error', settle).on('close', closed);
  });
}

/** One verified handshake; once more when the first showed a verified TLS 1.2-only upstream (upstream.ts). */
async function verifiedUpstream(
  upstream: Pick<Target, 'host' | 'port' | 'tls'>,
  upstreamTls: UpstreamTls,
  timeoutMs: number,
  retry = true,
): Promise<{ origin: Origin; secure: tls.TLSSocket }> {
  const loaded = upstreamTls.current;
  const origin = await openOrigin(upstream.host, upstream.port, upstream.tls, timeoutMs);
  try {
    const secure = await upgradeToTls(
      origin.socket,
      origin.greeting,
      { kind: 'verify', settings: upstream.tls, material: loaded.material, secureContext: loaded.context },
      { host: upstream.host, port: upstream.port, timeoutMs },
    );
    return { origin, secure };
  } catch (err) {
    const reported = await upstreamTls.afterFailure(err, loaded, { ...upstream, timeoutMs });
    if (retry && reported === err && upstreamTls.current !== loaded) {
      return verifiedUpstream(upstream, upstreamTls, timeoutMs, false);
    }
    throw reported;
  }
}
