/**
 * The proxy's /metrics as Prometheus reads it (issue 12), from a real `dbtls proxy` child in front of a real
 * MariaDB: a certificate expiry gauge has no sample while the date is unknown (a 0 would fire every expiry
 * alert) and the certificate's real remaining lifetime once known; dbtls_proxy_bytes_total counts a
 * session that is still open, and does not go down when it closes.
 */
import * as assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { mysql2Login } from '../../harness/proxy.js';
import { freePort, type ProxyProcess, spawnProxy } from '../../harness/proxy-process.js';

const PASSWORD = 'metrics-pw-12';
const USER = 'metrics_x509';
const UPSTREAM_EXPIRY = 'dbtls_proxy_upstream_certificate_expiry_seconds';
const CLIENT_EXPIRY = 'dbtls_proxy_client_certificate_expiry_seconds';
/** notAfter has whole seconds, and the scrape is read in another process: a few seconds of slack. */
const SLACK_SECONDS = 5;

let pki: TestPki;
let db: MariadbInstance;
const running: ProxyProcess[] = [];

/** A proxy child to the test server with /metrics on a port of its own; `args` replace --cert/--key. */
async function proxy(args = ['--cert', pki.client.cert, '--key', pki.client.key]) {
  const http = await freePort();
  const p = await spawnProxy([
    `127.0.0.1:${db.port}`,
    '--ca',
    pki.ca,
    ...args,
    '--listen',
    '127.0.0.1:0',
    '--http',
    `127.0.0.1:${http}`,
  ]);
  running.push(p);
  return { p, http };
}

/** The scrape, with the wall-clock interval it was taken in. */
async function scrape(http: number): Promise<{ text: string; from: number; to: number }> {
  const from = Date.now();
  const r = await fetch(`http://127.0.0.1:${http}/metrics`);
  assert.equal(r.status, 200);
  const text = await r.text();
  return { text, from, to: Date.now() };
}

/** The value of the sample `name` (with its labels, as printed), or undefined when there is no sample line. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

function notAfterOf(pemFile: string): number {
  return new Date(new X509Certificate(fs.readFileSync(pemFile)).validTo).getTime();
}

/** The gauge equals the seconds from the scrape to `notAfter`. */
function assertRemaining(s: { text: string; from: number; to: number }, name: string, notAfter: number) {
  const value = sample(s.text, name);
  assert.ok(value !== undefined, `${name} has a sample:\n${s.text}`);
  const low = (notAfter - s.to) / 1000 - SLACK_SECONDS;
  const high = (notAfter - s.from) / 1000 + SLACK_SECONDS;
  assert.ok(value >= low && value <= high, `${name} ${value} not within [${low}, ${high}]`);
  // A real lifetime (the test PKI's leaves live for months), not 0 or a date in the past.
  assert.ok(value > 86_400, `${name} ${value}`);
}

before(async () => {
  pki = await makeTestPki();
  db = await startMariadb({
    tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
    users: [{ name: USER, password: PASSWORD, require: 'X509' }],
  });
});

after(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await db?.stop();
});

describe('certificate expiry gauges', () => {
  it('the upstream gauge has no sample before the first upstream handshake, then the served certificate’s remaining seconds', async () => {
    const { p, http } = await proxy();
    const first = await scrape(http);
    // Declared (HELP and TYPE), but no sample: the upstream certificate has not been seen yet.
    assert.match(first.text, new RegExp(`^# TYPE ${UPSTREAM_EXPIRY} gauge$`, 'm'));
    assert.equal(sample(first.text, UPSTREAM_EXPIRY), undefined, first.text);
    // --cert is loaded at start: its expiry is known at once.
    assertRemaining(first, CLIENT_EXPIRY, notAfterOf(pki.client.cert));

    const c = await mysql2Login({ port: p.port }, USER, PASSWORD);
    await c.query('SELECT 1');
    await c.end();
    assertRemaining(await scrape(http), UPSTREAM_EXPIRY, notAfterOf(pki.server.cert));
  });

  it('the client gauge has no sample without --cert', async () => {
    const { http } = await proxy([]);
    const s = await scrape(http);
    assert.match(s.text, new RegExp(`^# TYPE ${CLIENT_EXPIRY} gauge$`, 'm'));
    assert.equal(sample(s.text, CLIENT_EXPIRY), undefined, s.text);
    assert.equal(sample(s.text, UPSTREAM_EXPIRY), undefined, s.text);
  });
});

describe('dbtls_proxy_bytes_total', () => {
  const TO_CLIENT = 'dbtls_proxy_bytes_total{direction="upstream_to_client"}';
  const FROM_CLIENT = 'dbtls_proxy_bytes_total{direction="client_to_upstream"}';

  it('counts an open session at scrape time, and does not go down when it closes', async () => {
    const { p, http } = await proxy();
    const c = await mysql2Login({ port: p.port }, USER, PASSWORD);
    const query = "SELECT REPEAT('x', 100000) AS x";
    const [rows] = await c.query(query);
    assert.equal((rows as { x: string }[])[0]?.x.length, 100_000);

    // The session is still open: nothing has been added at close yet.
    const open = await scrape(http);
    assert.match(open.text, /^dbtls_proxy_connections_open 1$/m);
    const toClient = sample(open.text, TO_CLIENT);
    const fromClient = sample(open.text, FROM_CLIENT);
    assert.ok(toClient !== undefined && toClient >= 100_000, `${TO_CLIENT} ${toClient}`);
    assert.ok(fromClient !== undefined && fromClient >= query.length, `${FROM_CLIENT} ${fromClient}`);

    await c.end();
    // The proxy sees the close asynchronously: scrape until it counts no open session.
    const deadline = Date.now() + 30_000;
    let closed = await scrape(http);
    while (!/^dbtls_proxy_connections_open 0$/m.test(closed.text)) {
      assert.ok(Date.now() < deadline, 'the proxy still counts the session as open');
      await new Promise((r) => setTimeout(r, 50));
      closed = await scrape(http);
    }
    const toClientAfter = sample(closed.text, TO_CLIENT)!;
    const fromClientAfter = sample(closed.text, FROM_CLIENT)!;
    assert.ok(toClientAfter >= toClient, `${TO_CLIENT} went down: ${toClient} -> ${toClientAfter}`);
    assert.ok(fromClientAfter >= fromClient, `${FROM_CLIENT} went down: ${fromClient} -> ${fromClientAfter}`);
  });
});
