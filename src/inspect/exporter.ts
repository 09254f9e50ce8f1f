/**
 * `dbtls exporter`: a Prometheus exporter in the multi-target pattern of the blackbox and ssl exporters
 * (issue 13). `GET /probe?target=host:port&module=NAME` runs one inspection and answers its metrics;
 * `/metrics` holds the exporter's own. A request that names no target, a bad one or an unknown module is
 * the caller's mistake: HTTP 400 with the reason. A target that cannot be inspected (does not resolve,
 * silent, garbage) is an answer: HTTP 200 with `dbtls_probe_success 0` and the error code, and a log line;
 * never a 500. The library never prints: log lines go to `options.log`.
 */

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { TcpEndpoint } from '../client/dial.js';
import { formatEndpoint } from '../client/dial.js';
import { causeText, DbtlsError, isDbtlsError } from '../errors.js';
import { parseHostPort } from '../tls/dsn.js';
import { masked } from '../util/safe-text.js';
import { DEFAULT_MODULE, type ExporterModules } from './exporter-config.js';
import { type ProbeOutcome, probeMetrics } from './exporter-metrics.js';
import { prepareInspection } from './inspect.js';

export interface ExporterOptions {
  readonly host: string;
  /** 0: any free port (the tests' choice); `address()` tells which. */
  readonly port: number;
  readonly modules: ExporterModules;
  /** One line per failed probe and per refused request. */
  readonly log?: ((line: string) => void) | undefined;
}

export interface Exporter {
  readonly address: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}

/** Seconds kept free of Prometheus's scrape timeout, so that our answer arrives before it gives up. */
const SCRAPE_MARGIN_S = 0.5;
/** Buckets for probe durations: a loopback posture probe is ~10 ms, a remote one with login ~1 s. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export async function startExporter(options: ExporterOptions): Promise<Exporter> {
  const own = ownMetrics();
  const log = options.log ?? (() => {});
  const server = http.createServer((req, res) => {
    handle(req, res, options.modules, own, log).catch((err) => {
      // Only a bug reaches here; the scrape still gets an answer, and the log says what happened.
      log(`internal error answering ${safe(req.url ?? '')}: ${safe(causeText(err))}`);
      if (!res.headersSent) send(res, 500, 'internal error, see the exporter log\n');
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new DbtlsError(
          'LISTEN_FAILED',
          `could not listen on ${options.host}:${options.port}: ${causeText(err)}`,
          {
            hint: 'choose another --listen address or stop what holds the port',
            cause: err,
          },
        ),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    address: { host: addr.address, port: addr.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

interface OwnMetrics {
  readonly registry: Registry;
  readonly probes: Counter<'module' | 'result'>;
  readonly duration: Histogram<'module'>;
  readonly errors: Counter<'code'>;
  readonly badRequests: Counter;
}

function ownMetrics(): OwnMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    probes: new Counter({
      name: 'dbtls_exporter_probes_total',
      help: 'Probes run, by module and result (success or failure)',
      labelNames: ['module', 'result'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'dbtls_exporter_probe_duration_seconds',
      help: 'How long probes took',
      labelNames: ['module'],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
    errors: new Counter({
      name: 'dbtls_exporter_probe_errors_total',
      help: 'Failed probes by dbtls error code',
      labelNames: ['code'],
      registers: [registry],
    }),
    badRequests: new Counter({
      name: 'dbtls_exporter_bad_requests_total',
      help: 'Requests refused with HTTP 400 (no target, a bad target, an unknown module)',
      registers: [registry],
    }),
  };
}

async function handle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  modules: ExporterModules,
  own: OwnMetrics,
  log: (line: string) => void,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://exporter');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, 'only GET is served\n');
    return;
  }
  if (url.pathname === '/metrics') {
    send(res, 200, await own.registry.metrics(), own.registry.contentType);
    return;
  }
  if (url.pathname === '/') {
    send(
      res,
      200,
      "dbtls exporter\n\n/probe?target=HOST:PORT&module=NAME  one inspection, as metrics\n/metrics  the exporter's own metrics\n",
    );
    return;
  }
  if (url.pathname !== '/probe') {
    send(res, 404, 'not found: try /probe?target=HOST:PORT or /metrics\n');
    return;
  }
  const moduleName = url.searchParams.get('module') ?? DEFAULT_MODULE;
  let endpoint: TcpEndpoint;
  try {
    endpoint = parseProbeTarget(url.searchParams.get('target'));
    if (!modules.has(moduleName)) {
      throw new DbtlsError(
        'MODULE_UNKNOWN',
        `could not probe: no module ${JSON.stringify(safe(moduleName))}`,
        {
          hint: `use one of ${[...modules.keys()].join(', ')}`,
        },
      );
    }
  } catch (err) {
    own.badRequests.inc();
    const e = err as DbtlsError;
    log(`refused ${safe(url.pathname + url.search)}: ${e.message}`);
    send(res, 400, `${e.message}\nhint: ${e.hint ?? ''}\n`);
    return;
  }
  const module = modules.get(moduleName)!;
  const timeoutMs = probeTimeout(
    module.options.timeoutMs,
    req.headers['x-prometheus-scrape-timeout-seconds'],
  );
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  let outcome: ProbeOutcome;
  try {
    const report = await prepareInspection(endpoint, { ...module.options, timeoutMs })();
    outcome = { report, seconds: seconds(), details: module.options.details === true };
  } catch (err) {
    const failure = isDbtlsError(err)
      ? { code: err.code, message: err.message }
      : {
          code: 'INSPECT_FAILED' as const,
          message: `could not inspect ${formatEndpoint(endpoint)}: ${causeText(err)}`,
        };
    outcome = { failure, seconds: seconds() };
    own.errors.inc({ code: failure.code });
    log(
      `probe ${formatEndpoint(endpoint)} module ${moduleName} failed: ${failure.code}: ${safe(failure.message)}`,
    );
  }
  own.probes.inc({ module: moduleName, result: 'failure' in outcome ? 'failure' : 'success' });
  own.duration.observe({ module: moduleName }, outcome.seconds);
  const { contentType, text } = await probeMetrics(outcome);
  send(res, 200, text, contentType);
}

function send(
  res: http.ServerResponse,
  status: number,
  body: string,
  contentType = 'text/plain; charset=utf-8',
): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * The module's timeout, shortened to fit Prometheus's scrape timeout (it sends it in a header), so that
 * a silent target answers `probe_success 0` instead of a scrape that timed out with no metrics at all.
 */
function probeTimeout(
  moduleMs: number | undefined,
  header: string | string[] | undefined,
): number | undefined {
  const scrape = Number(Array.isArray(header) ? header[0] : header);
  if (!(scrape > SCRAPE_MARGIN_S)) return moduleMs;
  const budget = Math.floor((scrape - SCRAPE_MARGIN_S) * 1000);
  return moduleMs === undefined ? budget : Math.min(moduleMs, budget);
}

/**
 * `host`, `host:port`, `[v6]` or `[v6]:port` by the one grammar in its strict form (the text comes from the
 * network), and nothing else: a DSN would carry options (and perhaps a password) that belong in a module.
 */
export function parseProbeTarget(text: string | null): TcpEndpoint {
  const bad = (why: string) =>
    new DbtlsError('TARGET_INVALID', `could not probe: ${why}`, {
      hint: 'ask for /probe?target=HOST:PORT (e.g. db1.example.com:3306); TLS settings belong in a module',
    });
  if (text === null || text === '') throw bad('the request names no target');
  return parseHostPort(text, {
    form: () => bad(`the target ${JSON.stringify(safe(text))} is not HOST or HOST:PORT`),
    port: (port) => bad(`the port ${safe(port)} is not from 1 to 65535`),
    strict: true,
  });
}

/**
 * Text that came from the network or a request, made printable: control and format characters (util/
 * safe-text.ts's one-line class, bidi overrides included) become `?`, long text is cut. `?` rather than an
 * escape: an HTTP client shows the answer as it is.
 */
export function safe(text: string): string {
  const shown = masked(text);
  return shown.length > 300 ? `${shown.slice(0, 300)}…` : shown;
}
