/**
 * The exporter against real peers (issue 13): a real Prometheus scrapes it through the multi-target
 * relabelling shipped in deploy/prometheus/scrape-config.yml, for real MariaDB servers (TLS off, a
 * certificate for the wrong host, a good one with require_secure_transport) and a closed port, and its
 * HTTP API gives the expected values per target. promtool checks the shipped rules and config, and its
 * rule tests prove the expiry alerts fire. Bad input: HTTP 400 for a bad request, probe_success 0 with the
 * error code (and a log line) for a target that does not resolve, is silent or answers garbage; a bad
 * modules file stops the start with its line number.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { type Exporter, startExporter } from '../../../src/inspect/exporter.js';
import { parseExporterConfig } from '../../../src/inspect/exporter-config.js';
import { PROJECT_ROOT, runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { run } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { freePort, type PrometheusInstance, startPrometheus } from './prometheus.js';

const APP = { name: 'exporter_app', password: 'exp-pw-7730' };
const SHIPPED = path.join(PROJECT_ROOT, 'deploy', 'prometheus');

let pki: TestPki;
let off: MariadbInstance;
let wrongHost: MariadbInstance;
let good: MariadbInstance;
let closedPort: number;
let tmp: string;
let exporter: Exporter;
const logLines: string[] = [];
const silentSockets: net.Socket[] = [];
let silent: net.Server;
let garbage: net.Server;

const t = (port: number) => `127.0.0.1:${port}`;

function file(name: string, text: string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text, { mode: 0o600 });
  return f;
}

async function listen(onConnection: (s: net.Socket) => void): Promise<net.Server> {
  const s = net.createServer(onConnection);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return s;
}

const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

function exporterUrl(pathAndQuery: string): string {
  return `http://${t(exporter.address.port)}${pathAndQuery}`;
}

async function get(pathAndQuery: string): Promise<{ status: number; body: string; type: string }> {
  const r = await fetch(exporterUrl(pathAndQuery));
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') ?? '' };
}

/** The samples of an exposition text, `name{labels}` -> value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-exporter-'));
  pki = await makeTestPki();
  [off, wrongHost, good, closedPort] = await Promise.all([
    startMariadb({ users: [APP] }),
    startMariadb({ tls: { ca: pki.ca, cert: pki.wrongHost.cert, key: pki.wrongHost.key }, users: [APP] }),
    startMariadb({
      tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
      requireSecureTransport: true,
      users: [APP],
    }),
    freePort(),
  ]);
  silent = await listen((s) => silentSockets.push(s));
  garbage = await listen((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  const config = file(
    'exporter.yml',
    [
      'modules:',
      '  default:',
      `    ca: ${pki.ca}`,
      '  login:',
      '    ssl-mode: verify-full',
      `    ca: ${pki.ca}`,
      `    user: ${APP.name}`,
      '    password-file: app-password',
      '    timeout: 5s',
      '  details:',
      `    ca: ${pki.ca}`,
      '    details: true',
      '  quick:',
      `    ca: ${pki.ca}`,
      '    timeout: 300ms',
      '',
    ].join('\n'),
  );
  file('app-password', `${APP.password}\n`);
  const modules = parseExporterConfig(fs.readFileSync(config, 'utf8'), config);
  exporter = await startExporter({ host: '127.0.0.1', port: 0, modules, log: (l) => logLines.push(l) });
});

after(async () => {
  for (const s of silentSockets) s.destroy();
  await Promise.all([
    exporter?.close(),
    new Promise((resolve) => silent?.close(resolve)),
    new Promise((resolve) => garbage?.close(resolve)),
    off?.stop(),
    wrongHost?.stop(),
    good?.stop(),
  ]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('a real Prometheus scrapes the exporter through the shipped multi-target relabelling', () => {
  let prometheus: PrometheusInstance | undefined;
  after(() => prometheus?.stop());

  it('finds each target’s values through its HTTP API', { timeout: 180_000 }, async () => {
    // The shipped config, with our targets, our exporter and a fast interval; the relabelling as shipped.
    const shipped = parseYaml(fs.readFileSync(path.join(SHIPPED, 'scrape-config.yml'), 'utf8'));
    const exporterAddr = t(exporter.address.port);
    const targets = [t(off.port), t(wrongHost.port), t(good.port), t(closedPort)];
    const [probeJob, ownJob] = shipped.scrape_configs;
    probeJob.params = { module: ['login'] };
    // The exporter fits its probe into the scrape timeout (minus 0.5 s): 3 s leaves room for a login on a
    // machine under load.
    probeJob.scrape_interval = '3s';
    probeJob.scrape_timeout = '3s';
    probeJob.static_configs = [{ targets }];
    const relabel = probeJob.relabel_configs;
    assert.equal(relabel.at(-1).replacement, '127.0.0.1:9442', 'the shipped exporter address');
    relabel.at(-1).replacement = exporterAddr;
    ownJob.scrape_interval = '1s';
    ownJob.static_configs = [{ targets: [exporterAddr] }];
    const config = { global: { scrape_interval: '1s' }, scrape_configs: [probeJob, ownJob] };
    prometheus = await startPrometheus(stringifyYaml(config));

    // Poll until every target has been scraped once (a generous deadline; no fixed sleep).
    const deadline = Date.now() + 120_000;
    // Every target scraped, and the good one's login done (a scrape whose login ran out of time has no
    // session series; the next scrape has them).
    const ready = async () =>
      (await prometheus!.query('dbtls_probe_success')).length === targets.length &&
      (await prometheus!.query(`dbtls_require_secure_transport{instance="${t(good.port)}"}`)).length === 1;
    while (!(await ready())) {
      assert.ok(Date.now() < deadline, 'Prometheus scraped every target within 120 s');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const value = async (promql: string) => {
      const r = await prometheus!.query(promql);
      assert.equal(r.length, 1, `${promql}: ${JSON.stringify(r)}`);
      return r[0]!.value;
    };
    const at = (port: number) => `instance="${t(port)}"`;
    // The relabelling made each database its own instance, scraped from the exporter with module=login.
    for (const port of [off.port, wrongHost.port, good.port]) {
      assert.equal(await value(`dbtls_probe_success{${at(port)},job="dbtls"}`), 1, t(port));
    }
    assert.equal(await value(`dbtls_probe_success{${at(closedPort)}}`), 0);
    assert.equal(await value(`dbtls_probe_error{${at(closedPort)},code="CONNECTION_REFUSED"}`), 1);
    assert.equal(await value(`up{${at(closedPort)}}`), 1, 'a failed probe is still a successful scrape');

    // TLS off: not offered, the critical finding, no certificate series.
    assert.equal(await value(`dbtls_tls_offered{${at(off.port)}}`), 0);
    assert.equal(
      await value(`dbtls_findings{${at(off.port)},severity="critical",code="tls-not-offered"}`),
      1,
    );
    assert.deepEqual(await prometheus.query(`dbtls_cert_not_after_seconds{${at(off.port)}}`), []);

    // The wrong host: the chain verifies against the module CA, the name does not match.
    assert.equal(await value(`dbtls_tls_offered{${at(wrongHost.port)}}`), 1);
    assert.equal(await value(`dbtls_cert_verified{${at(wrongHost.port)}}`), 1);
    assert.equal(await value(`dbtls_hostname_matches{${at(wrongHost.port)}}`), 0);
    assert.equal(
      await value(`dbtls_findings{${at(wrongHost.port)},code="hostname-mismatch"}`),
      1,
      JSON.stringify(await prometheus.query(`dbtls_findings{${at(wrongHost.port)}}`)),
    );

    // The good one: verified, named, TLS 1.2 and 1.3 only, plaintext login refused, require_secure_transport.
    const g = at(good.port);
    assert.equal(await value(`dbtls_cert_verified{${g}}`), 1);
    assert.equal(await value(`dbtls_hostname_matches{${g}}`), 1);
    for (const [version, accepted] of [
      ['TLSv1.0', 0],
      ['TLSv1.1', 0],
      ['TLSv1.2', 1],
      ['TLSv1.3', 1],
    ] as const) {
      assert.equal(await value(`dbtls_tls_version_accepted{${g},version="${version}"}`), accepted, version);
    }
    assert.equal(await value(`dbtls_tls_info{${g},version="TLSv1.3"}`), 1);
    assert.equal(await value(`dbtls_plaintext_login_accepted{${g}}`), 0);
    assert.equal(await value(`dbtls_require_secure_transport{${g}}`), 1);
    const leaf = new X509Certificate(fs.readFileSync(pki.server.cert));
    const notAfter = await prometheus.query(`dbtls_cert_not_after_seconds{${g},position="0"}`);
    assert.equal(notAfter.length, 1);
    assert.equal(notAfter[0]!.value, Date.parse(leaf.validTo) / 1000);
    assert.equal(notAfter[0]!.metric.serial, leaf.serialNumber.toLowerCase());
    assert.equal(
      await value(`dbtls_cert_not_before_seconds{${g},position="0"}`),
      Date.parse(leaf.validFrom) / 1000,
    );
    // Posture mode by default: no per-suite series.
    assert.deepEqual(await prometheus.query('dbtls_tls_cipher_accepted'), []);
    // The exporter's own metrics, scraped by the second job (it may not have scraped since the probes).
    const own = `sum by (result) (dbtls_exporter_probes_total{module="login"})`;
    for (;;) {
      const counts = Object.fromEntries((await prometheus.query(own)).map((r) => [r.metric.result, r.value]));
      if ((counts.failure ?? 0) >= 1 && (counts.success ?? 0) >= 3) break;
      assert.ok(Date.now() < deadline, `exporter's own metrics: ${JSON.stringify(counts)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  });
});

describe('promtool accepts what dbtls ships', () => {
  it('check rules and check config', async () => {
    const rules = await run('promtool', ['check', 'rules', path.join(SHIPPED, 'rules.yml')]);
    assert.equal(rules.code, 0, rules.stdout + rules.stderr);
    assert.match(rules.stdout, /SUCCESS: 8 rules found/);
    const config = await run('promtool', ['check', 'config', path.join(SHIPPED, 'scrape-config.yml')]);
    assert.equal(config.code, 0, config.stdout + config.stderr);
  });

  it('test rules: the expiry alerts fire for a certificate expiring in 5 days, not for one in 60', async () => {
    const cert = (instance: string, serial: string) =>
      `dbtls_cert_not_after_seconds{instance="${instance}",job="dbtls",position="0",subject="CN=${instance}",issuer="CN=CA",serial="${serial}"}`;
    const labels = (instance: string, serial: string, severity: string) => ({
      severity,
      instance,
      job: 'dbtls',
      position: '0',
      subject: `CN=${instance}`,
      issuer: 'CN=CA',
      serial,
    });
    // At 20 minutes, db1's certificate (expiring at 5 days after time 0) has 4d 23h 40m left.
    const summary = 'db1:3306: certificate CN=db1:3306 expires in 4d 23h 40m 0s';
    const tests = {
      rule_files: [path.join(SHIPPED, 'rules.yml')],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            { series: cert('db1:3306', '01'), values: `${5 * 86400}x60` },
            { series: cert('db2:3306', '02'), values: `${60 * 86400}x60` },
          ],
          alert_rule_test: [
            // Not yet: the rules wait 15 minutes, so a blip does not page.
            { eval_time: '10m', alertname: 'DbtlsCertificateExpiresIn7Days', exp_alerts: [] },
            {
              eval_time: '20m',
              alertname: 'DbtlsCertificateExpiresIn7Days',
              exp_alerts: [
                {
                  exp_labels: labels('db1:3306', '01', 'critical'),
                  exp_annotations: {
                    summary,
                    description:
                      'Clients with ssl-mode verify-ca or verify-full will refuse this server once it expires. Renew now: dbtls renew --expiring-within 7 (position 0, serial 01).',
                  },
                },
              ],
            },
            {
              eval_time: '20m',
              alertname: 'DbtlsCertificateExpiresIn30Days',
              exp_alerts: [
                {
                  exp_labels: labels('db1:3306', '01', 'warning'),
                  exp_annotations: {
                    summary,
                    description:
                      'Renew it: dbtls renew --expiring-within 30, then install it and run FLUSH SSL (MariaDB) or ALTER INSTANCE RELOAD TLS (MySQL). Position 0 in the chain, serial 01, issuer CN=CA.',
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    const testFile = file('rules.test.yml', stringifyYaml(tests));
    const r = await run('promtool', ['test', 'rules', testFile]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS/);
    // The test can fail: the same alert expected for the 60-day certificate is refused.
    const wrong = structuredClone(tests);
    wrong.tests[0]!.alert_rule_test[1]!.exp_alerts![0]!.exp_labels = labels('db2:3306', '02', 'critical');
    const w = await run('promtool', ['test', 'rules', file('rules.wrong.yml', stringifyYaml(wrong))]);
    assert.equal(w.code, 1, w.stdout + w.stderr);
  });
});

describe('bad input', () => {
  it('HTTP 400 with the reason for a request without a target, with a bad one, or an unknown module', async () => {
    const table: [string, RegExp][] = [
      ['/probe', /^could not probe: the request names no target\nhint: ask for \/probe\?target=HOST:PORT/],
      ['/probe?target=', /^could not probe: the request names no target/],
      [
        `/probe?target=${encodeURIComponent('mysql://root:pw@db:3306')}`,
        /^could not probe: the target "mysql:\/\/root:pw@db:3306" is not HOST or HOST:PORT/,
      ],
      ['/probe?target=db:99999', /^could not probe: the port 99999 is not from 1 to 65535/],
      [
        `/probe?target=${t(good.port)}&module=nope`,
        /^could not probe: no module "nope"\nhint: use one of default, login, details, quick/,
      ],
    ];
    for (const [url, message] of table) {
      const r = await get(url);
      assert.equal(r.status, 400, url);
      assert.match(r.body, message, url);
    }
    assert.equal((await get('/nothing')).status, 404);
    const post = await fetch(exporterUrl('/probe?target=db'), { method: 'POST' });
    assert.equal(post.status, 405);
  });

  it('a target that does not resolve, a silent one, one that answers garbage: probe_success 0, the code, a log line', async () => {
    const table: [string, string, string][] = [
      ['nonexistent.invalid:3306', 'default', 'HOST_NOT_FOUND'],
      [t(portOf(silent)), 'quick', 'CONNECT_TIMEOUT'],
      [t(portOf(garbage)), 'default', 'PROTOCOL_MALFORMED'],
      [t(closedPort), 'default', 'CONNECTION_REFUSED'],
    ];
    for (const [target, module, code] of table) {
      const r = await get(`/probe?target=${target}&module=${module}`);
      assert.equal(r.status, 200, target);
      assert.match(r.type, /^text\/plain; version=0\.0\.4/);
      const s = samples(r.body);
      assert.equal(s.get('dbtls_probe_success'), 0, target);
      assert.equal(s.get(`dbtls_probe_error{code="${code}"}`), 1, `${target}: ${r.body}`);
      assert.ok((s.get('dbtls_probe_duration_seconds') ?? -1) >= 0);
      // No other series: a failed probe says nothing it does not know.
      assert.deepEqual([...s.keys()].sort(), [
        'dbtls_probe_duration_seconds',
        `dbtls_probe_error{code="${code}"}`,
        'dbtls_probe_success',
      ]);
      assert.ok(
        logLines.some((l) => l.startsWith(`probe ${target} module ${module} failed: ${code}: could not`)),
        `log for ${target}: ${logLines.join('\n')}`,
      );
    }
    // What the garbage peer sent reaches the log printable only.
    assert.ok(logLines.every((l) => !/[\u0000-\u001f]/.test(l)));
  });

  it('a module with details enumerates suites; /metrics counts probes and errors', async () => {
    const r = samples((await get(`/probe?target=${t(good.port)}&module=details`)).body);
    assert.equal(r.get('dbtls_probe_success'), 1);
    const suites = [...r.keys()].filter((k) => k.startsWith('dbtls_tls_cipher_accepted{'));
    assert.ok(suites.length > 2, suites.join(', '));
    const posture = samples((await get(`/probe?target=${t(good.port)}`)).body);
    assert.equal([...posture.keys()].filter((k) => k.startsWith('dbtls_tls_cipher_accepted')).length, 0);
    const own = await get('/metrics');
    assert.equal(own.status, 200);
    const m = samples(own.body);
    assert.ok((m.get('dbtls_exporter_probes_total{module="details",result="success"}') ?? 0) >= 1);
    assert.ok((m.get('dbtls_exporter_probe_errors_total{code="HOST_NOT_FOUND"}') ?? 0) >= 1);
    assert.ok((m.get('dbtls_exporter_bad_requests_total') ?? 0) >= 5);
    assert.ok(m.has('process_cpu_seconds_total'));
  });

  it('a bad modules file stops the start with its line number (exit 2, nothing listening)', async () => {
    const ca = pki.ca;
    const table: [string, RegExp][] = [
      [
        `modules:\n  default:\n    ca: ${ca}\n    sslmode: verify-full\n`,
        /line 4: unknown key "sslmode" in module default$/m,
      ],
      [`module:\n  default: {}\n`, /line 1: unknown key "module" at the top level$/m],
      [
        `modules:\n  default:\n    timeout: 5\n`,
        /line 3: timeout "5" in module default is not a duration from 1ms to 5m$/m,
      ],
      [
        `modules:\n  a:\n    ssl-mode: verify-full\n  b:\n    ssl-mode: strict\n`,
        /line 4: module b: could not read the ssl-mode "strict"/m,
      ],
      [
        `modules:\n  a:\n    ca: missing.pem\n`,
        /line 2: module a: could not read CA certificate file .*missing\.pem: no such file$/m,
      ],
      [`modules:\n  a:\n    details: yes please\n`, /line 3: details in module a must be true or false$/m],
      [`modules:\n  a: [1\n`, /line \d+: not valid YAML/m],
      [`modules: {}\n`, /`modules` must map each module name to its settings/m],
    ];
    for (const [text, message] of table) {
      const config = file('bad.yml', text);
      const port = await freePort();
      const r = await runCli(['exporter', '--listen', t(port), '--config', config], { timeoutMs: 30_000 });
      assert.equal(r.code, 2, `${text}\n${r.stderr}`);
      assert.match(r.stderr, /^error\[EXPORTER_CONFIG_INVALID\]: could not read the exporter config /, text);
      assert.match(r.stderr, message, text);
      assert.match(r.stderr, /\nhint: /);
      assert.equal(r.stdout, '');
    }
    const usage = await runCli(['exporter']);
    assert.equal(usage.code, 2);
    assert.match(
      usage.stderr,
      /^error\[USAGE\]: could not run dbtls exporter: --listen HOST:PORT is required/,
    );
  });

  it('--print rules and --print scrape-config print the shipped files (with the --listen address)', async () => {
    const rules = await runCli(['exporter', '--print', 'rules']);
    assert.equal(rules.code, 0);
    assert.equal(rules.stdout, fs.readFileSync(path.join(SHIPPED, 'rules.yml'), 'utf8'));
    const scrape = await runCli(['exporter', '--print', 'scrape-config', '--listen', '10.0.0.7:9442']);
    assert.equal(scrape.code, 0);
    const shipped = fs.readFileSync(path.join(SHIPPED, 'scrape-config.yml'), 'utf8');
    assert.equal(scrape.stdout, shipped.split('127.0.0.1:9442').join('10.0.0.7:9442'));
    const bad = await runCli(['exporter', '--print', 'alerts']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error\[USAGE\]: could not print "alerts": expected rules or scrape-config/);
  });
});
