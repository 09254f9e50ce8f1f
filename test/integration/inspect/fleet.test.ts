/**
 * Fleet scans against real servers: a clean MariaDB with our CA, one with TLS off, one that still accepts
 * TLS 1.1 and not 1.3, a closed port and a peer that never answers. Asserted through the real CLI: the table
 * row by row, the JSON, the exit codes, targets files; and, through relays that count, that no more targets
 * than --concurrency are ever in flight.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../../../src/cli/main.js';
import { createRenderer } from '../../../src/cli/render.js';
import {
  DEFAULT_FLEET_CONCURRENCY,
  inspectFleet,
  isFailedInspection,
  PER_HOST_CONNECTIONS,
} from '../../../src/inspect/fleet.js';
import type { InspectReport } from '../../../src/inspect/report.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { startCountingRelays } from './counting-relay.js';

const APP = { name: 'fleet_app', password: 'fleet-pw-5521' };
/** TLS 1.1 and 1.2 only, two ECDSA suites: legacy versions accepted, TLS 1.3 not. */
const LEGACY = {
  tlsVersion: 'TLSv1.1,TLSv1.2',
  sslCipher: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-GCM-SHA384:@SECLEVEL=0',
};
const MS_PER_DAY = 86_400_000;
const REFUSED_HINT =
  'check the host and port, and that the server is running and listening on TCP (not only a socket)';

let pki: TestPki;
let clean: MariadbInstance;
let off: MariadbInstance;
let legacy: MariadbInstance;
/** A port nothing listens on. */
let closedPort: number;
/** A peer that accepts and never says a word (a firewall that lets SYN through, a hung server). */
let silent: net.Server;
const silentSockets: net.Socket[] = [];
let tmp: string;
let version: string;

const t = (port: number) => `127.0.0.1:${port}`;
const cleanT = () => t(clean.port);
const offT = () => t(off.port);
const legacyT = () => t(legacy.port);
const closedT = () => t(closedPort);
const silentT = () => t((silent.address() as net.AddressInfo).port);

/** Days left on the test server certificate, counted as the inspector counts them. */
function daysLeft(at: number): number {
  const notAfter = Date.parse(new X509Certificate(fs.readFileSync(pki.server.cert)).validTo);
  return Math.floor((notAfter - at) / MS_PER_DAY);
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function file(name: string, text: string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text, { mode: 0o600 });
  return f;
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-fleet-'));
  pki = await makeTestPki();
  const tls = { ca: pki.ca, cert: pki.server.cert, key: pki.server.key };
  [clean, off, legacy, closedPort] = await Promise.all([
    startMariadb({ tls, users: [APP] }),
    startMariadb({ users: [APP] }),
    startMariadb({ tls, ...LEGACY, users: [APP] }),
    freePort(),
  ]);
  silent = net.createServer((socket) => {
    silentSockets.push(socket);
    socket.on('error', () => {});
    socket.resume();
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  version = (await clean.sql('SELECT VERSION()')).trim();
});

after(async () => {
  for (const s of silentSockets) s.destroy();
  silent?.close();
  await Promise.all([clean?.stop(), off?.stop(), legacy?.stop()]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('dbtls inspect with several targets', () => {
  it('prints one row per target, then each target findings; a refused host stops nothing (exit 1)', async () => {
    const start = Date.now();
    const r = await runCli(['inspect', closedT(), cleanT(), offT(), legacyT(), '--ca', pki.ca]);
    const days = daysLeft(start);
    assert.equal(daysLeft(Date.now()), days, 'the days left changed during the run; run again');
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, '', 'no progress on a pipe, no warning');
    const server = `mariadb ${version}`;
    const col = (cell: string) => cell.padEnd(server.length);
    const offReport = (await runCli(['inspect', offT(), '--json'])).stdout;
    const legacyReport = JSON.parse(
      (await runCli(['inspect', legacyT(), '--ca', pki.ca, '--json'])).stdout,
    ) as InspectReport;
    const offFinding = (JSON.parse(offReport) as InspectReport).findings[0]!;
    assert.deepEqual(
      legacyReport.findings.map((f) => `${f.id}:${f.severity}`),
      ['tls-legacy-versions:high', 'tls13-not-accepted:info'],
    );
    const [legacyHigh, legacyInfo] = legacyReport.findings;
    assert.deepEqual(r.stdout.split('\n'), [
      `TARGET           ${col('SERVER')}  TLS      WORST     DAYS  ERROR`,
      `${closedT()}  ${col('-')}  -        -         -     CONNECTION_REFUSED`,
      `${cleanT()}  ${server}  1.2,1.3  none      ${days}  -`,
      `${offT()}  ${server}  off      critical  -     -`,
      `${legacyT()}  ${server}  1.1,1.2  high      ${days}  -`,
      '',
      closedT(),
      `  ERROR    CONNECTION_REFUSED: could not connect to ${closedT()}: connection refused`,
      `           hint: ${REFUSED_HINT}`,
      '',
      offT(),
      `  CRITICAL tls-not-offered: ${offFinding.message}`,
      `           fix: ${offFinding.fix}`,
      '',
      legacyT(),
      `  HIGH     tls-legacy-versions: ${legacyHigh!.message}`,
      `           fix: ${legacyHigh!.fix}`,
      `  INFO     tls13-not-accepted: ${legacyInfo!.message}`,
      `           fix: ${legacyInfo!.fix}`,
      '',
      `4 targets, 1 not inspected; failing at high and above or not inspected: ${closedT()}, ${offT()}, ${legacyT()}`,
      '',
    ]);
  });

  it('--details prints each target full report after the table, exactly as a single inspection prints it', async () => {
    const r = await runCli(['inspect', cleanT(), legacyT(), '--ca', pki.ca, '--details']);
    assert.equal(r.code, 1, r.stderr);
    const single = await Promise.all(
      [cleanT(), legacyT()].map((target) => runCli(['inspect', target, '--ca', pki.ca])),
    );
    const lines = r.stdout.split('\n');
    const footer = `2 targets, all inspected; failing at high and above or not inspected: ${legacyT()}`;
    assert.equal(lines.slice(3).join('\n'), `\n${single[0]!.stdout}\n${single[1]!.stdout}\n${footer}\n`);
  });

  it('--json --details: { targets, summary }; each inspected target is the single-target report', async () => {
    const r = await runCli([
      'inspect',
      closedT(),
      cleanT(),
      offT(),
      legacyT(),
      silentT(),
      '--ca',
      pki.ca,
      '--timeout',
      '400',
      '--details',
      '--json',
    ]);
    assert.equal(r.code, 1, r.stderr);
    const fleet = JSON.parse(r.stdout) as { targets: unknown[]; summary: unknown };
    assert.deepEqual(Object.keys(fleet), ['targets', 'summary']);
    assert.deepEqual(fleet.summary, {
      targets: 5,
      inspected: 3,
      notInspected: 2,
      worstSeverity: 'critical',
      byWorstSeverity: { critical: 1, high: 1, medium: 0, low: 0, info: 0, none: 1 },
      failOn: 'high',
      failing: [closedT(), offT(), legacyT(), silentT()],
    });
    assert.deepEqual(fleet.targets[0], {
      target: closedT(),
      error: {
        code: 'CONNECTION_REFUSED',
        message: `could not connect to ${closedT()}: connection refused`,
        hint: REFUSED_HINT,
      },
    });
    assert.deepEqual(fleet.targets[4], {
      target: silentT(),
      error: {
        code: 'CONNECT_TIMEOUT',
        message: `could not connect to ${silentT()}: no answer within 400 ms`,
        hint: 'check that the host and port are right and that no firewall drops the packets; raise --timeout for slow links',
      },
    });
    // The same object a single inspection prints, but for its clock and connection ids.
    const volatile = (report: unknown) => {
      const { inspectedAt: _at, server, ...rest } = report as InspectReport;
      return { ...rest, server: { ...server, connectionId: 0 } };
    };
    for (const [i, target] of [
      [1, cleanT()],
      [2, offT()],
      [3, legacyT()],
    ] as const) {
      const single = await runCli(['inspect', target, '--ca', pki.ca, '--json']);
      assert.deepEqual(volatile(fleet.targets[i]), volatile(JSON.parse(single.stdout)), target);
    }
  });

  it('--fail-on applies to every target; a target that could not be inspected always fails', async () => {
    const table: [string[], number][] = [
      [[cleanT(), `mysql://${cleanT()}?ssl-mode=verify-full`], 0],
      [[cleanT(), legacyT()], 1],
      [[cleanT(), legacyT(), '--fail-on', 'critical'], 0],
      [[cleanT(), offT(), '--fail-on', 'critical'], 1],
      [[cleanT(), closedT(), '--fail-on', 'critical'], 1],
      [[cleanT(), legacyT(), '--fail-on', 'info'], 1],
    ];
    const got: string[] = [];
    for (const [args] of table) {
      const r = await runCli(['inspect', ...args, '--ca', pki.ca, '--json']);
      got.push(`${args.join(' ')} -> ${r.code}`);
    }
    assert.deepEqual(
      got,
      table.map(([args, code]) => `${args.join(' ')} -> ${code}`),
    );
  });

  it('one TARGET is the command as it was: a report object, and exit 3 when it cannot be reached', async () => {
    const r = await runCli(['inspect', cleanT(), '--ca', pki.ca, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as InspectReport;
    assert.equal(report.target, cleanT());
    assert.equal('targets' in report, false);
    const refused = await runCli(['inspect', closedT(), '--ca', pki.ca]);
    assert.equal(refused.code, 3); // a runtime failure (issue 10 item 16), was 2
    assert.equal(refused.stdout, '');
    assert.equal(
      refused.stderr,
      `error[CONNECTION_REFUSED]: could not connect to ${closedT()}: connection refused\nhint: ${REFUSED_HINT}\n`,
    );
  });

  it('credentials apply to every target, and a DSN brings its own user', async () => {
    const pw = file('pw', `${APP.password}\n`);
    const r = await runCli([
      'inspect',
      cleanT(),
      offT(),
      `mysql://${APP.name}@${legacyT()}?ssl-mode=trust`,
      '--user',
      APP.name,
      '--password-file',
      pw,
      '--ca',
      pki.ca,
      '--json',
    ]);
    assert.equal(r.code, 1, r.stderr);
    const [c, o, l] = (JSON.parse(r.stdout) as { targets: InspectReport[] }).targets;
    assert.equal(c?.session?.account, `${APP.name}@%`, JSON.stringify(c?.sessionError));
    assert.deepEqual(o?.sessionError, {
      code: 'TLS_NOT_OFFERED',
      message: 'no login attempted: the server offers no TLS and credentials are never sent in clear',
    });
    assert.equal(l?.session?.account, `${APP.name}@%`, JSON.stringify(l?.sessionError));
    assert.ok(c?.findings.some((f) => f.id === 'plaintext-login-accepted'));
    // The DSN's user alone, without --user: the password file serves it.
    const dsnOnly = await runCli([
      'inspect',
      `mysql://${APP.name}@${cleanT()}`,
      `mysql://${APP.name}@${legacyT()}?ssl-mode=trust`,
      '--password-file',
      pw,
      '--ca',
      pki.ca,
      '--json',
    ]);
    const accounts = (JSON.parse(dsnOnly.stdout) as { targets: InspectReport[] }).targets.map(
      (x) => x.session?.account,
    );
    assert.deepEqual(accounts, [`${APP.name}@%`, `${APP.name}@%`]);
  });
});

describe('--targets-from', () => {
  it('reads a file and stdin (-): comments and blank lines skipped, command-line targets first', async () => {
    const list = file('fleet.txt', `# production\n\n${cleanT()}   # primary\n  ${offT()}\n# ${legacyT()}\n`);
    const r = await runCli(
      ['inspect', closedT(), '--targets-from', list, '--targets-from', '-', '--ca', pki.ca, '--json'],
      { input: `${legacyT()}\n# the end\n` },
    );
    assert.equal(r.code, 1, r.stderr);
    const { targets } = JSON.parse(r.stdout) as { targets: { target: string }[] };
    assert.deepEqual(
      targets.map((x) => x.target),
      [closedT(), cleanT(), offT(), legacyT()],
    );
  });

  it('a file of one target still gives the fleet shape; a repeated target is inspected once, with a warning', async () => {
    const one = file('one.txt', `${cleanT()}\n`);
    const r = await runCli(['inspect', cleanT(), '--targets-from', one, '--ca', pki.ca, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, `warning: ${one} line 1 repeats a target; it is inspected once\n`);
    const fleet = JSON.parse(r.stdout) as { targets: InspectReport[] };
    assert.deepEqual(
      fleet.targets.map((x) => x.target),
      [cleanT()],
    );
  });

  it('refuses a bad file before any connection: the line is named, exit 2', async () => {
    const silentPort = (silent.address() as net.AddressInfo).port;
    const before = silentSockets.length;
    const cases: [string, string, string][] = [
      [
        'two.txt',
        `${silentT()}\n${cleanT()} ${offT()}\n`,
        'error[TARGETS_INVALID]: could not read the targets in',
      ],
      [
        'dsn.txt',
        `${silentT()}\nmysql://u:secret@127.0.0.1:${silentPort}\n`,
        'error[TARGET_PASSWORD_IN_DSN]:',
      ],
      ['empty.txt', '# nothing yet\n\n', 'error[USAGE]: could not run dbtls inspect: no target in'],
    ];
    for (const [name, text, error] of cases) {
      const f = file(name, text);
      const r = await runCli(['inspect', '--targets-from', f]);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.ok(r.stderr.startsWith(error), `${name}: ${r.stderr}`);
      assert.ok(!r.stderr.includes('secret'), 'a password in a DSN is never echoed');
      if (name === 'two.txt') assert.match(r.stderr, /two\.txt: line 2 holds more than one word/);
      if (name === 'dsn.txt') assert.match(r.stderr, /dsn\.txt line 2: could not /);
    }
    // A CA file that cannot be read is refused before the first connection too.
    const r = await runCli(['inspect', silentT(), closedT(), '--ca', path.join(tmp, 'missing.pem')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error\[FILE_NOT_FOUND\]/);
    assert.equal(silentSockets.length, before, 'no connection was opened');
  });
});

describe('concurrency', () => {
  it('never has more than --concurrency targets in flight, counted on the network', async () => {
    const upstreams = [clean, off, legacy, clean, legacy].map((db) => ({ host: db.host, port: db.port }));
    for (const concurrency of [1, 2]) {
      const relays = await startCountingRelays(upstreams);
      try {
        const fleet = await inspectFleet(
          relays.ports.map((port) => ({ host: '127.0.0.1', port })),
          { concurrency, inspect: { ca: pki.ca } },
        );
        assert.equal(fleet.targets.filter(isFailedInspection).length, 0);
        assert.equal(relays.maxTargets(), concurrency, `--concurrency ${concurrency}`);
        // Each target keeps its own probe bound underneath.
        assert.ok(relays.maxConnections() <= concurrency * 4, `${relays.maxConnections()} connections`);
        assert.ok(relays.accepted().every((n) => n >= 1));
      } finally {
        await relays.close();
      }
    }
  });

  it('never more than 4 connections to one server, however many targets name it', async () => {
    const relays = await startCountingRelays([{ host: clean.host, port: clean.port }]);
    try {
      const port = relays.ports[0]!;
      // Six targets, one server: different servernames make them six inspections (the CLI dedupes text).
      const names = ['localhost', 'a.example', 'b.example', 'c.example', 'd.example', 'e.example'];
      const fleet = await inspectFleet(
        names.map((servername) => ({ host: '127.0.0.1', port, options: { servername } })),
        { concurrency: 6, inspect: { ca: pki.ca } },
      );
      assert.equal(fleet.targets.filter(isFailedInspection).length, 0);
      assert.ok(relays.maxConnections() <= PER_HOST_CONNECTIONS, `${relays.maxConnections()} connections`);
      assert.equal(relays.maxConnections(), PER_HOST_CONNECTIONS, 'the bound is reached, not undershot');
      // Posture mode: the greeting, then one handshake per version.
      assert.equal(relays.accepted()[0], 6 * 5);
    } finally {
      await relays.close();
    }
    // --max-connections bounds the whole fleet.
    const upstreams = [clean, legacy, clean, legacy].map((db) => ({ host: db.host, port: db.port }));
    const many = await startCountingRelays(upstreams);
    try {
      const fleet = await inspectFleet(
        many.ports.map((port) => ({ host: '127.0.0.1', port })),
        { concurrency: 4, maxConnections: 3, inspect: { ca: pki.ca } },
      );
      assert.equal(fleet.targets.filter(isFailedInspection).length, 0);
      assert.ok(many.maxConnections() <= 3, `${many.maxConnections()} connections`);
    } finally {
      await many.close();
    }
  });

  it('posture mode (the default): each version once, its preferred suite, the same chain and verdicts', async () => {
    const r = await runCli(['inspect', cleanT(), legacyT(), offT(), '--ca', pki.ca, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const fleet = JSON.parse(r.stdout) as { targets: InspectReport[] };
    for (const report of fleet.targets) {
      const single = JSON.parse((await runCli(['inspect', report.target, '--ca', pki.ca, '--json'])).stdout);
      assert.deepEqual(report.tls.versions, single.tls.versions, report.target);
      assert.deepEqual(report.certificate, single.certificate, report.target);
      const accepted = Object.values(report.tls.versions).filter(Boolean).length;
      // One connection for the greeting, one per version; a server without TLS gets the greeting only.
      assert.equal(report.tls.probes, report.server.tlsOffered ? 5 : 1, report.target);
      assert.equal(report.tls.ciphers.length, accepted, report.target);
      // Each version's suite is the one the full enumeration lists first (the server's preference).
      for (const c of report.tls.ciphers) {
        const first = single.tls.ciphers.find((s: { version: string }) => s.version === c.version);
        assert.deepEqual(c, first, `${report.target} ${c.version}`);
      }
    }
  });

  it('--concurrency through the CLI, default 4; 0 is refused', async () => {
    const upstreams = Array.from({ length: 6 }, (_, i) => (i % 2 ? clean : legacy)).map((db) => ({
      host: db.host,
      port: db.port,
    }));
    const relays = await startCountingRelays(upstreams);
    try {
      const targets = relays.ports.map(t);
      const one = await runCli(['inspect', ...targets, '--ca', pki.ca, '--concurrency', '1', '--json']);
      assert.equal(one.code, 1, one.stderr);
      assert.equal(relays.maxTargets(), 1);
      const all = await runCli(['inspect', ...targets, '--ca', pki.ca, '--json']);
      assert.equal(all.code, 1, all.stderr);
      assert.ok(relays.maxTargets() <= DEFAULT_FLEET_CONCURRENCY, String(relays.maxTargets()));
      assert.ok(relays.maxTargets() >= 2, 'targets ran side by side');
    } finally {
      await relays.close();
    }
    const zero = await runCli(['inspect', cleanT(), offT(), '--concurrency', '0']);
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /^error\[USAGE\]: could not parse --concurrency 0/);
  });
});

describe('progress', () => {
  it('counts finished targets on a TTY stderr, and ends the line before the table', async () => {
    let stdout = '';
    let stderr = '';
    const render = createRenderer(
      { write: (text) => (stdout += text), isTTY: false },
      { write: (text) => (stderr += text), isTTY: true },
    );
    const code = await run(['inspect', cleanT(), closedT(), '--ca', pki.ca], render);
    assert.equal(code, 1);
    // done/total, then the rate so far and the time left at that rate; each update clears the line's tail.
    assert.match(
      stderr,
      /^\rinspected 0\/2 \(0%\)\x1b\[K\rinspected 1\/2 \(50%\), \d+\.\d\/s, ETA \d+ s\x1b\[K\rinspected 2\/2 \(100%\), \d+\.\d\/s, ETA 0 s\x1b\[K\n$/,
    );
    assert.match(stdout, /^TARGET /);
  });
});
