/**
 * `dbtls proxy` as operations see it, each a real child process against real MariaDB servers: the log line
 * is the client's ERR message (text and --json-logs), /readiness before and after the first verified
 * upstream handshake (and at once with --run-connection-test), SIGTERM with open sessions past
 * --max-sigterm-delay, and the proxy's file descriptors (/proc/<pid>/fd) across 50 failures each of an
 * upstream that is down, has the wrong host name, strips TLS, and of --max-connections.
 */
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Relay, startDowngradeRelay } from '../../harness/attacker.js';
import { HOSTILE_ERR, RAW_CONTROL, startHostileServer } from '../../harness/hostile.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { mariadbClient } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { eventually, mysql2Login } from '../../harness/proxy.js';
import { fdCount, freePort, type ProxyProcess, spawnProxy } from '../../harness/proxy-process.js';

const PASSWORD = 'operations-pw-63';
const USER = 'ops_x509';

let pki: TestPki;
let db: MariadbInstance;
/** A certificate for DNS:localhost only, dialled as 127.0.0.1: HOSTNAME_MISMATCH. */
let wrongName: MariadbInstance;
let stripper: Relay;
let upstream: Switch;
const running: ProxyProcess[] = [];

type Mode = 'good' | 'wrong-host' | 'strip' | 'down';

/**
 * The proxy's upstream, switchable between faults on one port: a TCP forwarder to the good server, to the
 * wrong-name server or to the TLS-stripping relay; 'down' closes the listener (connection refused).
 */
class Switch {
  mode: Mode = 'good';
  port = 0;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly targets: Record<Exclude<Mode, 'down'>, number>) {}

  async set(mode: Mode): Promise<void> {
    this.mode = mode;
    if (mode === 'down' && this.server) {
      const s = this.server;
      this.server = undefined;
      for (const c of this.sockets) c.destroy();
      await new Promise<void>((r) => s.close(() => r()));
    } else if (mode !== 'down' && !this.server) {
      await this.listen();
    }
  }

  async listen(): Promise<void> {
    const server = net.createServer((client) => {
      if (this.mode === 'down') return client.destroy();
      const up = net.connect(this.targets[this.mode], '127.0.0.1');
      for (const s of [client, up]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          this.sockets.delete(s);
          client.destroy();
          up.destroy();
        });
      }
      client.pipe(up);
      up.pipe(client);
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', r));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  close(): Promise<void> {
    return this.set('down');
  }
}

/** A proxy child to `target` with the test PKI's files and `args`. */
async function proxy(target: number, ...args: string[]): Promise<ProxyProcess> {
  const p = await spawnProxy([
    `127.0.0.1:${target}`,
    '--ca',
    pki.ca,
    '--cert',
    pki.client.cert,
    '--key',
    pki.client.key,
    '--listen',
    '127.0.0.1:0',
    ...args,
  ]);
  running.push(p);
  return p;
}

/** A mysql2 login that must fail: its errno and the dbtls code in its message. */
async function refusal(port: number): Promise<{ errno?: number; sqlMessage?: string; code: string }> {
  try {
    const c = await mysql2Login({ port }, USER, PASSWORD);
    await c.end();
  } catch (err) {
    const e = err as { errno?: number; sqlMessage?: string };
    return { ...e, code: /\(([A-Z_]+)\); hint: /.exec(String(e.sqlMessage))?.[1] ?? '' };
  }
  return assert.fail('the login through the proxy succeeded');
}

async function currentUser(port: number): Promise<string> {
  const c = await mysql2Login({ port }, USER, PASSWORD);
  try {
    const [rows] = await c.query('SELECT CURRENT_USER() AS u');
    return String((rows as { u: string }[])[0]?.u);
  } finally {
    await c.end();
  }
}

async function get(port: number, p: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}${p}`);
  return `${r.status} ${await r.text()}`;
}

before(async () => {
  pki = await makeTestPki();
  const tls = { ca: pki.ca, cert: pki.server.cert, key: pki.server.key };
  const users = [{ name: USER, password: PASSWORD, require: 'X509' as const }];
  [db, wrongName] = await Promise.all([
    startMariadb({ tls, users }),
    startMariadb({ tls: { ...tls, cert: pki.localhostOnly.cert, key: pki.localhostOnly.key }, users }),
  ]);
  stripper = await startDowngradeRelay({ port: db.port });
  upstream = new Switch({ good: db.port, 'wrong-host': wrongName.port, strip: stripper.port });
  await upstream.listen();
});

after(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await upstream?.close();
  await stripper?.close();
  await Promise.all([db?.stop(), wrongName?.stop()]);
});

describe('the log line is the ERR packet the client got', () => {
  it('text logs: the timestamp, `error`, then exactly the message of the client error', async () => {
    const p = await proxy(wrongName.port);
    const err = await refusal(p.port);
    assert.equal(err.errno, 1043);
    assert.equal(err.code, 'HOSTNAME_MISMATCH');
    const line = await p.waitFor(/ error /, 'the error line');
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) error (.*)$/.exec(line);
    assert.ok(m, line);
    assert.equal(m[2], err.sqlMessage);
  });

  it('--json-logs: one record whose msg is the message of the client error, with its code', async () => {
    const p = await proxy(wrongName.port, '--json-logs');
    const err = await refusal(p.port);
    const record = JSON.parse(await p.waitFor(/"level":"error"/, 'the error record')) as Record<
      string,
      unknown
    >;
    assert.deepEqual(Object.keys(record), ['time', 'level', 'msg', 'code']);
    assert.match(String(record.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(
      { level: record.level, msg: record.msg, code: record.code },
      { level: 'error', msg: err.sqlMessage, code: 'HOSTNAME_MISMATCH' },
    );
  });
});

describe('log lines quote the server', () => {
  it('a hostile ERR text is one escaped text line, and a --json-logs record that parses, neither with a raw control', async () => {
    const hostile = await startHostileServer({ err: HOSTILE_ERR });
    try {
      for (const json of [false, true]) {
        const p = await proxy(hostile.port, ...(json ? ['--json-logs'] : []));
        const err = await refusal(p.port);
        assert.equal(err.code, 'SERVER_REFUSED');
        const line = await p.waitFor(/error/, 'the error line');
        assert.doesNotMatch(line, RAW_CONTROL);
        const msg = json ? String((JSON.parse(line) as { msg: unknown }).msg) : line;
        // The server's text, its escapes shown as text: \r, ESC and U+202E never reach a terminal or a shipper.
        assert.ok(
          msg.includes(String.raw`Too many connections\x0d\x1b[2K\u{202e}hs | xif/elpmaxe.live lruc`),
          msg,
        );
        assert.equal(p.lines().filter((l) => l.includes('Too many connections')).length, 1);
      }
    } finally {
      await hostile.close();
    }
  });
});

describe('/readiness', () => {
  it('503 until an upstream handshake verified (a failed one does not count), 200 after', async () => {
    await upstream.set('wrong-host');
    const http = await freePort();
    const p = await proxy(upstream.port, '--http', `127.0.0.1:${http}`);
    try {
      assert.equal(await get(http, '/liveness'), '200 ok\n');
      assert.equal(await get(http, '/readiness'), '503 not ready\n');
      assert.equal((await refusal(p.port)).code, 'HOSTNAME_MISMATCH');
      assert.equal(await get(http, '/readiness'), '503 not ready\n');
      await upstream.set('good');
      assert.equal(await currentUser(p.port), `${USER}@%`);
      assert.equal(await get(http, '/readiness'), '200 ok\n');
    } finally {
      await upstream.set('good');
    }
  });

  it('--run-connection-test: 200 at once after start, before any client', async () => {
    const http = await freePort();
    const p = await proxy(db.port, '--http', `127.0.0.1:${http}`, '--run-connection-test');
    assert.match(p.lines()[0]!, / info connection test passed: /);
    assert.equal(await get(http, '/readiness'), '200 ok\n');
  });
});

describe('shutdown', () => {
  it('SIGTERM past --max-sigterm-delay: the open session is cut (the client sees it), the process exits 0', async () => {
    const graceMs = 1500;
    const p = await proxy(db.port, '--max-sigterm-delay', `${graceMs}ms`);
    const sleeping = `SELECT SLEEP(30) AS ${USER}_sleeping`;
    const client = mariadbClient({ port: p.port, user: USER, password: PASSWORD, ssl: false, sql: sleeping });
    const sleepers = async () =>
      Number(await db.sql(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = '${sleeping}'`));
    const deadline = Date.now() + 20_000;
    while ((await sleepers()) !== 1) {
      assert.ok(Date.now() < deadline, 'the session reached the server');
      await new Promise((r) => setTimeout(r, 50));
    }
    const sent = Date.now();
    p.kill('SIGTERM');
    await p.waitFor(/SIGTERM/, 'the SIGTERM line');
    // Refused, or reset when it raced the listener's close (the line is printed just before it): not served.
    await assert.rejects(mysql2Login({ port: p.port }, USER, PASSWORD), /ECONNREFUSED|ECONNRESET/);
    const [seen, exit] = await Promise.all([client.then((r) => ({ ...r, at: Date.now() })), p.exited]);
    assert.equal(exit.code, 0);
    assert.equal(exit.signal, null);
    assert.equal(seen.code, 1);
    assert.match(seen.stderr, /^ERROR 2013 \(HY000\)( at line 1)?: Lost connection to server during query$/m);
    // Cut when the delay ran out, not before; the bound above is generous for a loaded CI machine.
    assert.ok(seen.at - sent >= graceMs - 100, `the session was cut after ${seen.at - sent} ms`);
    assert.ok(exit.at - sent >= graceMs - 100, `exited after ${exit.at - sent} ms`);
    assert.ok(exit.at - sent < graceMs + 8_000, `exited after ${exit.at - sent} ms`);
    assert.deepEqual(
      p.lines().map((l) => l.replace(/^\S+ /, '')),
      [
        `info listening on 127.0.0.1:${p.port}; upstream 127.0.0.1:${db.port} with ssl-mode verify-full and mutual TLS`,
        `info SIGTERM: no new connections; waiting up to ${graceMs} ms for 1 open`,
        'info stopped',
      ],
    );
    assert.equal(p.stderr(), '');
  });
});

describe('file descriptors', () => {
  it('50 failures each (upstream down, wrong host name, TLS stripped, --max-connections) leak none; a login works after each', async () => {
    const http = await freePort();
    const p = await proxy(upstream.port, '--max-connections', '1', '--http', `127.0.0.1:${http}`);
    // With one slot, the next attempt must wait until the proxy has seen the last session close.
    const idle = async () => {
      const deadline = Date.now() + 10_000;
      while (!/^dbtls_proxy_connections_open 0$/m.test(await get(http, '/metrics'))) {
        assert.ok(Date.now() < deadline, 'the proxy saw the last session close');
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    assert.equal(await currentUser(p.port), `${USER}@%`);
    await idle();
    const baseline = fdCount(p.pid);
    const settle = (after: string) =>
      eventually(
        () => fdCount(p.pid) <= baseline,
        `the fds after ${after} back to ${baseline} (${fdCount(p.pid)})`,
      );
    const faults: [Mode, number, string][] = [
      ['down', 1043, 'CONNECTION_REFUSED'],
      ['wrong-host', 1043, 'HOSTNAME_MISMATCH'],
      ['strip', 1043, 'TLS_NOT_OFFERED'],
    ];
    for (const [mode, errno, code] of faults) {
      await upstream.set(mode);
      for (let i = 0; i < 50; i++) {
        const err = await refusal(p.port);
        assert.deepEqual({ errno: err.errno, code: err.code }, { errno, code }, `${mode}, attempt ${i + 1}`);
        await idle();
      }
      await upstream.set('good');
      assert.equal(await currentUser(p.port), `${USER}@%`, `a login after ${mode}`);
      await idle();
      await settle(mode);
    }
    const held = await mysql2Login({ port: p.port }, USER, PASSWORD);
    try {
      for (let i = 0; i < 50; i++) {
        const err = await refusal(p.port);
        assert.deepEqual(
          { errno: err.errno, code: err.code },
          { errno: 1040, code: 'PROXY_MAX_CONNECTIONS' },
          `attempt ${i + 1}`,
        );
      }
    } finally {
      await held.end();
    }
    await idle();
    assert.equal(await currentUser(p.port), `${USER}@%`, 'a login after --max-connections');
    await idle();
    await settle('--max-connections');
    assert.equal(stripper.clientBytes().length, 0, 'not one byte went to the stripping relay');
  });
});
