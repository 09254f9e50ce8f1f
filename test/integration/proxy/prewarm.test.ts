/**
 * dbtls proxy --prewarm against a real MariaDB (connect_timeout 2 s) with real clients that have no TLS
 * settings: mysql2, the mariadb connector for node, the mariadb CLI and PyMySQL, each with and without a
 * default database (other capability flags, other character sets). A client that answers a pooled
 * greeting with the pooled SSLRequest's flags logs in on that very connection (its thread id is the
 * session's); one with other flags gets a fresh upstream and an auth switch; connections the server
 * closed (connect_timeout, KILL) are never handed out; an idle proxy stops dialling.
 */
import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mariadb from 'mariadb';
import mysql from 'mysql2/promise';
import type { RunningProxy } from '../../../src/proxy/proxy.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { run } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { eventually, startTestProxy, tcpPort } from '../../harness/proxy.js';

const USER = 'warm_x509';
const PASSWORD = 'warm-pw-8080';
const DB = 'warmdb';
const POOL = 2;
const SERVER_CONNECT_TIMEOUT_S = 2;
/** One row: the default database, the session's id, and the TLS version the server sees. */
const SQL =
  "SELECT IFNULL(DATABASE(), '-') AS d, CONNECTION_ID() AS id, VARIABLE_VALUE AS v FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_version'";

let pki: TestPki;
let db: MariadbInstance;
let proxy: RunningProxy;

interface Login {
  readonly database: string;
  readonly id: number;
  readonly tls: string;
  /** The thread id the client read from the greeting (undefined where the driver does not expose it). */
  readonly greetingId?: number;
}

type Driver = (port: number, database?: string) => Promise<Login>;

const row = (r: { d: string; id: number | bigint; v: string }, greetingId?: number): Login => ({
  database: r.d,
  id: Number(r.id),
  tls: r.v,
  ...(greetingId !== undefined ? { greetingId } : {}),
});

/** The node drivers' options: no TLS settings, a default database or none. */
const nodeOptions = (port: number, database?: string) => ({
  host: '127.0.0.1',
  port,
  user: USER,
  password: PASSWORD,
  ...(database ? { database } : {}),
});

const DRIVERS: Record<string, Driver> = {
  async mysql2(port, database) {
    const c = await mysql.createConnection(nodeOptions(port, database));
    try {
      const [rows] = await c.query(SQL);
      return row((rows as never[])[0]!, c.threadId);
    } finally {
      await c.end();
    }
  },
  async 'mariadb (node)'(port, database) {
    const c = await mariadb.createConnection(nodeOptions(port, database));
    try {
      return row((await c.query(SQL))[0], c.threadId ?? undefined);
    } finally {
      await c.end();
    }
  },
  async 'mariadb CLI'(port, database) {
    const r = await run(
      'mariadb',
      [
        '--no-defaults',
        '-h127.0.0.1',
        `-P${port}`,
        `-u${USER}`,
        '--skip-ssl',
        '-N',
        '-B',
        ...(database ? [database] : []),
        '-e',
        SQL,
      ],
      { env: { ...process.env, MYSQL_PWD: PASSWORD }, timeoutMs: 20_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const [d, id, v] = r.stdout.trim().split('\t');
    return row({ d: d!, id: Number(id), v: v! });
  },
  async PyMySQL(port, database) {
    const script = `
import os, sys, pymysql
kw = dict(host='127.0.0.1', port=int(sys.argv[1]), user=sys.argv[2], password=os.environ['PW'])
if len(sys.argv) > 3: kw['database'] = sys.argv[3]
c = pymysql.connect(**kw); cur = c.cursor(); cur.execute(sys.stdin.read())
print('\\t'.join(str(x) for x in cur.fetchone())); c.close()
`;
    const r = await run(
      '/usr/bin/python3',
      ['-c', script, String(port), USER, ...(database ? [database] : [])],
      {
        env: { ...process.env, PW: PASSWORD },
        input: SQL,
      },
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const [d, id, v] = r.stdout.trim().split('\t');
    return row({ d: d!, id: Number(id), v: v! });
  },
};

/** The server's connections that wait for a handshake response (the pool's), by id. */
async function waitingIds(): Promise<string[]> {
  const out = await db.sql(
    "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'unauthenticated user'",
  );
  return out.trim().split('\n').filter(Boolean);
}

async function outcomes(p: RunningProxy): Promise<{ used: number; fallback: number }> {
  const values = (await p.metrics.prewarm.get()).values;
  const of = (o: string) => values.find((v) => v.labels.outcome === o)?.value ?? 0;
  return { used: of('used'), fallback: of('fallback') };
}

before(async () => {
  pki = await makeTestPki();
  db = await startMariadb({
    tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
    users: [{ name: USER, password: PASSWORD, require: 'X509' }],
    extra: { connect_timeout: SERVER_CONNECT_TIMEOUT_S },
  });
  await db.sql(`CREATE DATABASE ${DB}`);
  proxy = await startTestProxy(pki, db.port, { prewarm: POOL });
});

after(async () => {
  await proxy?.shutdown(0);
  await db?.stop();
});

describe('--prewarm with four real drivers', () => {
  it('no pool before the first client; then the learned flags: pooled logins, a switch of driver falls back', async () => {
    assert.equal(proxy.prewarmed(), 0, 'nothing is dialled before a client shows its capabilities');
    let fallbacks = 0;
    for (const [name, driver] of Object.entries(DRIVERS)) {
      for (const database of [DB, undefined]) {
        for (let round = 0; round < 3; round++) {
          const before = await outcomes(proxy);
          const login = await driver(tcpPort(proxy), database);
          const after = await outcomes(proxy);
          const what = `${name} ${database ?? 'no database'} round ${round}`;
          assert.equal(login.database, database ?? '-', what);
          assert.match(login.tls, /^TLSv1\.[23]$/, what);
          const used = after.used - before.used;
          const fellBack = after.fallback - before.fallback;
          fallbacks += fellBack;
          if (round > 0) {
            // The same client again: its flags are the pool's, so it logs in on the pooled connection.
            assert.deepEqual([used, fellBack], [1, 0], what);
          }
          if (used === 1 && login.greetingId !== undefined) {
            assert.equal(
              login.greetingId,
              login.id,
              `${what}: the greeting handed over is the session's own`,
            );
          }
          await eventually(() => proxy.prewarmed() === POOL, `${what}: the pool to refill`);
        }
      }
    }
    assert.ok(fallbacks >= 3, `the drivers' flags differ, so switching driver fell back (${fallbacks})`);
    const failures = (await proxy.metrics.failures.get()).values.filter((v) => v.value > 0);
    assert.deepEqual(failures, []);
  });
});

describe('pooled connections the server closed are never handed out', () => {
  it("past the server's connect_timeout (a max age above it) every login still works", async () => {
    const p = await startTestProxy(pki, db.port, { prewarm: POOL, prewarmMaxAgeMs: 60_000 });
    try {
      await DRIVERS.mysql2!(tcpPort(p));
      await eventually(() => p.prewarmed() === POOL, 'the pool to fill');
      // The server cuts both after connect_timeout; the pool sees the close and drops them.
      await eventually(() => p.prewarmed() === 0, 'the server to close the pooled connections');
      for (let i = 0; i < 3; i++) assert.match((await DRIVERS.mysql2!(tcpPort(p))).tls, /^TLSv1\.[23]$/);
    } finally {
      await p.shutdown(0);
    }
  });

  it('KILLed right before the client arrives: the login falls back to a fresh connection', async () => {
    const p = await startTestProxy(pki, db.port, { prewarm: POOL, prewarmMaxAgeMs: 60_000 });
    try {
      await DRIVERS['mariadb (node)']!(tcpPort(p));
      await eventually(() => p.prewarmed() === POOL, 'the pool to fill');
      const ids = await waitingIds();
      assert.equal(ids.length, POOL, 'the pooled connections wait unauthenticated on the server');
      await db.sql(ids.map((id) => `KILL ${id};`).join(' '));
      const logins = await Promise.all([
        DRIVERS['mariadb (node)']!(tcpPort(p)),
        DRIVERS['mariadb (node)']!(tcpPort(p)),
      ]);
      for (const l of logins) assert.match(l.tls, /^TLSv1\.[23]$/);
    } finally {
      await p.shutdown(0);
    }
  });
});

describe('TLS files reloaded', () => {
  it('pooled connections (made with the old client certificate) are closed and dialled anew', async () => {
    const p = await startTestProxy(pki, db.port, { prewarm: POOL, prewarmMaxAgeMs: 60_000 });
    try {
      await DRIVERS.mysql2!(tcpPort(p));
      await eventually(() => p.prewarmed() === POOL, 'the pool to fill');
      const before = await waitingIds();
      assert.equal(before.length, POOL);
      assert.equal(p.reload(), true);
      await eventually(() => p.prewarmed() === POOL, 'the pool to fill again');
      // The server processes the closes asynchronously: poll until the old ids have left its list.
      let now = await waitingIds();
      for (
        const deadline = Date.now() + 10_000;
        now.some((id) => before.includes(id)) && Date.now() < deadline;
      ) {
        await new Promise((r) => setTimeout(r, 50));
        now = await waitingIds();
      }
      assert.deepEqual(
        now.filter((id) => before.includes(id)),
        [],
        'none of the connections made before the reload is left',
      );
      assert.equal(now.length, POOL, 'and as many new ones wait');
      assert.match((await DRIVERS.mysql2!(tcpPort(p))).tls, /^TLSv1\.[23]$/);
    } finally {
      await p.shutdown(0);
    }
  });
});

describe('an idle proxy', () => {
  it('closes expired connections, replaces them once, then stops dialling until the next client', async () => {
    const p = await startTestProxy(pki, db.port, { prewarm: POOL, prewarmMaxAgeMs: 400 });
    try {
      await DRIVERS.mysql2!(tcpPort(p));
      await eventually(() => p.prewarmed() === POOL, 'the pool to fill');
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(p.prewarmed(), 0, 'no demand: nothing re-dialled');
      const waiting = await db.sql(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'unauthenticated user'",
      );
      assert.equal(waiting.trim(), '0', 'the server holds no pooled connection');
      assert.match((await DRIVERS.mysql2!(tcpPort(p))).tls, /^TLSv1\.[23]$/);
      await eventually(() => p.prewarmed() === POOL, 'the pool to fill again after a client');
    } finally {
      await p.shutdown(0);
    }
  });
});
