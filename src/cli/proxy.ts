/** `dbtls proxy UPSTREAM --listen ADDR...`: the local sidecar (src/proxy/). Runs until SIGTERM or SIGINT. */
import { DbtlsError } from '../errors.js';
import { parseListen } from '../proxy/listen.js';
import {
  connectionTest,
  DEFAULT_PROXY_TIMEOUT_MS,
  type ProxyLogEntry,
  type RunningProxy,
  startProxy,
} from '../proxy/proxy.js';
import { address } from '../tls/dsn.js';
import { parseTarget } from '../tls/settings.js';
import { DEFAULT_SSL_MODE, MUTUAL_TLS_SETTINGS, TLS_REQUIRED_MODES } from '../tls/ssl-mode.js';
import type { SecureTlsVersion } from '../tls/versions.js';
import { oneLine } from '../util/safe-text.js';
import { flag, int, parse, str, strs, targetFlags } from './args.js';
import type { Command, CommandContext, OptionTable } from './command.js';
import { COMMON } from './options.js';

const PROXY_USAGE =
  'dbtls proxy UPSTREAM --listen 127.0.0.1:PORT|[::1]:PORT|unix:PATH[:MODE]... [--ssl-mode M] [--ca F|system] [--cert F --key F] [--mutual-tls enable|disable] [--defaults-file F] [--servername N] [--tls-min V] [--listen-cert F --listen-key F] [--http ADDR] [--max-connections N] [--prewarm N] [--max-sigterm-delay 30s] [--run-connection-test] [--json-logs] [--allow-remote-plaintext] [--connect-timeout MS]';

const PROXY_OPTIONS: OptionTable = {
  listen: {
    type: 'string',
    multiple: true,
    value: 'ADDR',
    description:
      'where applications connect: 127.0.0.1:PORT, [::1]:PORT or unix:/path[:MODE] (socket mode 0660 by default)',
  },
  'ssl-mode': {
    type: 'string',
    value: 'MODE',
    default: DEFAULT_SSL_MODE,
    choices: TLS_REQUIRED_MODES,
    description: 'how the upstream server is verified',
  },
  ca: {
    type: 'string',
    value: 'FILE',
    description: 'the CA that signed the server certificate (or "system")',
  },
  cert: {
    type: 'string',
    value: 'FILE',
    description: "the proxy's client certificate (the application needs none)",
  },
  key: { type: 'string', value: 'FILE', description: 'the key of --cert' },
  'mutual-tls': {
    type: 'string',
    choices: MUTUAL_TLS_SETTINGS,
    description: 'send the client certificate (on when --cert and --key are given)',
  },
  servername: {
    type: 'string',
    value: 'NAME',
    description: 'the name the server certificate must carry, when not the host',
  },
  'tls-min': COMMON['tls-min'],
  'defaults-file': {
    type: 'string',
    value: 'FILE',
    description: 'read [client] TLS settings from this my.cnf',
  },
  'listen-cert': {
    type: 'string',
    value: 'FILE',
    description:
      'TLS on the client leg, for clients hard-wired to ssl-mode REQUIRED or VERIFY_* (with --listen-key)',
  },
  'listen-key': { type: 'string', value: 'FILE', description: 'the key of --listen-cert' },
  http: {
    type: 'string',
    value: 'ADDR',
    description: 'serve /liveness, /readiness and /metrics (Prometheus) on HOST:PORT',
  },
  'max-connections': {
    type: 'string',
    value: 'N',
    default: 'unlimited',
    description: 'refuse further clients with an ERR packet (1040) beyond N open connections',
  },
  prewarm: {
    type: 'string',
    value: 'N',
    default: '0',
    description:
      'keep N upstream connections verified and waiting for the next clients (connect-per-query traffic; see docs/proxy.md)',
  },
  'max-sigterm-delay': {
    type: 'string',
    value: 'DURATION',
    default: '0s',
    description: 'on SIGTERM, stop accepting and wait this long (30s, 1500ms, 2m) for open sessions',
  },
  'run-connection-test': {
    type: 'boolean',
    description:
      'do one upstream handshake with every check first (ready at once when it passes); exit non-zero when it fails (1 a check, 2 bad input, 3 unreachable)',
  },
  'json-logs': { type: 'boolean', description: 'log one JSON object per line' },
  'allow-remote-plaintext': {
    type: 'boolean',
    description:
      'allow a plaintext listener on a non-loopback address (anyone on that network reads the traffic)',
  },
  'connect-timeout': {
    type: 'string',
    value: 'MS',
    default: '10000',
    description: 'deadline of each upstream step',
  },
};

/** `30s`, `1500ms`, `2m` or a bare number of seconds, as the Cloud SQL Auth Proxy's flag reads. */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(text);
  if (!m?.[1]) {
    throw new DbtlsError(
      'USAGE',
      `could not parse --${option} ${text}: expected a duration such as 30s, 1500ms or 2m`,
      {
        hint: `usage: ${PROXY_USAGE}`,
      },
    );
  }
  const n = Number.parseInt(m[1], 10);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

export const proxyCommand: Command = {
  name: ['proxy'],
  usage: PROXY_USAGE,
  options: PROXY_OPTIONS,
  examples: [
    'dbtls proxy db1.example.com:3306 --listen 127.0.0.1:3307 --ca ca.pem --cert app/cert.pem --key app/key.pem',
    'dbtls proxy db1.example.com --listen unix:/run/dbtls/mysql.sock --ca ca.pem --cert cert.pem --key key.pem --http 127.0.0.1:9090 --json-logs',
    'dbtls proxy db1.example.com --listen 127.0.0.1:3307 --ca ca.pem --run-connection-test --max-sigterm-delay 30s',
  ],
  summary:
    'a local sidecar: applications connect in plaintext on loopback, the proxy speaks verify-full + mutual TLS upstream',
  async run(argv, ctx: CommandContext) {
    const p = parse(argv, PROXY_OPTIONS, PROXY_USAGE, ctx);
    const [text, ...extra] = p.positionals;
    if (!text || extra.length > 0) {
      throw new DbtlsError('USAGE', 'could not run proxy: give exactly one UPSTREAM', {
        hint: `usage: ${PROXY_USAGE}`,
      });
    }
    const target = parseTarget(text, targetFlags(p), ctx.env);
    const listen = strs(p, 'listen').map((text) => parseListen(text));
    const httpText = str(p, 'http');
    const http = httpText === undefined ? undefined : parseListen(httpText, '--http');
    if (http && http.kind !== 'tcp') {
      throw new DbtlsError('USAGE', `could not use --http ${httpText}: it takes HOST:PORT`, {
        hint: 'e.g. --http 127.0.0.1:9090',
      });
    }
    const timeoutMs = int(p, 'connect-timeout', PROXY_USAGE) ?? DEFAULT_PROXY_TIMEOUT_MS;
    const delayText = str(p, 'max-sigterm-delay');
    const graceMs = delayText === undefined ? 0 : parseDuration(delayText, 'max-sigterm-delay');
    const jsonLogs = flag(p, 'json-logs');
    // One event, one line: a JSON document (its own escapes) or text whose newlines and controls, which a
    // message may quote from a peer, are shown as escapes.
    const log = (e: ProxyLogEntry) => {
      const time = new Date().toISOString();
      if (jsonLogs) ctx.render.jsonLine({ time, ...e });
      else ctx.render.lines(oneLine(`${time} ${e.level} ${e.msg}`));
    };
    const upstream = { host: target.host, port: target.port, tls: target.tls };
    const testFirst = flag(p, 'run-connection-test');
    let floor: SecureTlsVersion | undefined;
    if (testFirst) {
      const r = await connectionTest(upstream, timeoutMs);
      floor = r.floor;
      log({
        level: 'info',
        msg: `connection test passed: ${address(target.host, target.port)} (${r.serverVersion}) verified as ${target.tls.mode} over ${r.protocol} ${r.cipher} in ${(r.seconds * 1000).toFixed(1)} ms`,
      });
    }
    const maxConnections = int(p, 'max-connections', PROXY_USAGE);
    const prewarm = int(p, 'prewarm', PROXY_USAGE);
    const listenCert = str(p, 'listen-cert');
    const listenKey = str(p, 'listen-key');
    if ((listenCert === undefined) !== (listenKey === undefined)) {
      throw new DbtlsError('USAGE', 'could not use local TLS: --listen-cert and --listen-key go together', {
        hint: `usage: ${PROXY_USAGE}`,
      });
    }
    const proxy = await startProxy({
      upstream,
      listen,
      allowRemotePlaintext: flag(p, 'allow-remote-plaintext'),
      ...(http?.kind === 'tcp' ? { http: { host: http.host, port: http.port } } : {}),
      ...(maxConnections !== undefined ? { maxConnections } : {}),
      ...(prewarm !== undefined ? { prewarm } : {}),
      timeoutMs,
      upstreamVerified: testFirst,
      ...(floor ? { upstreamFloor: floor } : {}),
      ...(listenCert && listenKey
        ? {
            listenTls: { cert: listenCert, key: listenKey },
          }
        : {}),
      log,
    });
    await untilStopped(proxy, graceMs, log);
    return 0;
  },
};

/** SIGHUP reloads the TLS files; SIGTERM/SIGINT stop accepting and wait up to `graceMs` for sessions. */
function untilStopped(proxy: RunningProxy, graceMs: number, log: (e: ProxyLogEntry) => void): Promise<void> {
  return new Promise((resolve) => {
    const onHup = () => proxy.reload();
    const onStop = (signal: string) => {
      process.off('SIGHUP', onHup);
      log({
        level: 'info',
        msg: `${signal}: no new connections; waiting up to ${graceMs} ms for ${proxy.open()} open`,
      });
      proxy.shutdown(graceMs).then(() => {
        log({ level: 'info', msg: 'stopped' });
        resolve();
      });
    };
    process.on('SIGHUP', onHup);
    process.once('SIGTERM', () => onStop('SIGTERM'));
    process.once('SIGINT', () => onStop('SIGINT'));
  });
}

export const commands: Command[] = [proxyCommand];
