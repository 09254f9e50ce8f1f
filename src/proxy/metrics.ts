/**
 * The proxy's health and metrics over HTTP, in the Cloud SQL Auth Proxy's vocabulary: /liveness (the
 * process serves), /readiness (the upstream has been reached and verified once, and there is room below
 * --max-connections), /metrics (Prometheus text, prom-client, names prefixed dbtls_proxy_).
 */
import * as http from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly open: Gauge;
  readonly total: Counter;
  readonly handshake: Histogram;
  readonly failures: Counter<'code'>;
  /** Bytes of the connections closed so far; `live` sums the open ones (set by the proxy). */
  readonly bytes = {
    fromClient: 0,
    toClient: 0,
    live: (): { fromClient: number; toClient: number } => ({ fromClient: 0, toClient: 0 }),
  };
  readonly resumed: Counter;
  readonly rsa: Counter;
  readonly prewarm: Counter<'outcome'>;
  upstreamNotAfter: Date | undefined;
  clientNotAfter: Date | undefined;

  constructor() {
    const registers = [this.registry];
    this.open = new Gauge({
      name: 'dbtls_proxy_connections_open',
      help: 'Client connections open now',
      registers,
    });
    this.total = new Counter({
      name: 'dbtls_proxy_connections_total',
      help: 'Client connections accepted',
      registers,
    });
    this.handshake = new Histogram({
      name: 'dbtls_proxy_upstream_handshake_seconds',
      help: 'Upstream TLS handshake (SSLRequest to verified) duration',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.resumed = new Counter({
      name: 'dbtls_proxy_upstream_tls_resumed_total',
      help: 'Upstream TLS handshakes that resumed a session',
      registers,
    });
    this.rsa = new Counter({
      name: 'dbtls_proxy_caching_sha2_rsa_total',
      help: "caching_sha2_password full authentications answered with the proxy's RSA key",
      registers,
    });
    this.prewarm = new Counter({
      name: 'dbtls_proxy_prewarm_total',
      help: 'Clients given a prewarmed connection: used, or fallback (other capabilities: a fresh one)',
      labelNames: ['outcome'],
      registers,
    });
    this.failures = new Counter({
      name: 'dbtls_proxy_failures_total',
      help: 'Connections that failed, by dbtls error code',
      labelNames: ['code'],
      registers,
    });
    const bytes = this.bytes;
    new Counter({
      name: 'dbtls_proxy_bytes_total',
      help: "Bytes on the client leg's connections, open and closed (TLS records under --listen-cert)",
      labelNames: ['direction'],
      registers,
      // Read at scrape time from the open sockets: no per-chunk work, and a session open for hours counts.
      collect() {
        const live = bytes.live();
        this.reset();
        this.inc({ direction: 'client_to_upstream' }, bytes.fromClient + live.fromClient);
        this.inc({ direction: 'upstream_to_client' }, bytes.toClient + live.toClient);
      },
    });
    const expiry = (name: string, help: string, date: () => Date | undefined) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const d = date();
          // Unknown (no client certificate, no upstream seen yet): no sample, rather than a 0 that alerts.
          if (d) this.set((d.getTime() - Date.now()) / 1000);
          else this.remove();
        },
      });
    expiry(
      'dbtls_proxy_upstream_certificate_expiry_seconds',
      'Seconds until the upstream server certificate expires (as last seen)',
      () => this.upstreamNotAfter,
    );
    expiry(
      'dbtls_proxy_client_certificate_expiry_seconds',
      "Seconds until the proxy's client certificate expires",
      () => this.clientNotAfter,
    );
  }
}

export interface HealthState {
  ready(): boolean;
}

/** GET /liveness, /readiness, /metrics; anything else 404. */
export function createHealthServer(metrics: ProxyMetrics, state: HealthState): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/liveness') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readiness') {
      const ready = state.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ok\n' : 'not ready\n');
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
}
