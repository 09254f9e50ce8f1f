/**
 * The client matrix (issue 9): every snippet dbtls prints for a client that can run here, in every mode
 * it prints, run AS PRINTED by the real driver (only the password filled in, from MYSQL_PWD) against
 * real MariaDB servers with a good certificate, one for another host, an IP-only one, a localhost-only
 * one and one from another CA, and through a TLS-stripping relay and an active attacker that asks for
 * mysql_clear_password (with and without CLIENT_SSL in its greeting). Expected, per the mode the client
 * enforces: verify-full passes only the servers whose certificate holds the address dialled; verify-ca
 * also the other-host ones; trust every server with TLS; and no TLS mode lets a single user-name or
 * password byte reach either attacker. Servers start once and are shared; cells run 6 at a time.
 * Not run here (no Oracle software on Debian): mysql-cli and jdbc-mysql (docs/verification.md).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Snippet, type SnippetClient, snippet } from '../../../src/deploy/snippets.js';
import { SSL_MODES, type SslMode } from '../../../src/tls/ssl-mode.js';
import { startDowngradeRelay } from '../../harness/attacker.js';
import { PROJECT_ROOT, runCli } from '../../harness/cli.js';
import { Drivers, type Runner } from '../../harness/drivers.js';
import { startClearPasswordAttacker } from '../../harness/fake-server.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

const USER = 'matrix_app';
const PASSWORD = 'Matrix-pw-7f3a9c';
const MTLS_USER = 'matrix_mtls';
const KEYSTORE_PASSWORD = 'keystore-pw-5d21';
const DATABASE = 'db';
const PARALLEL = 6;
const MODES: readonly SslMode[] = ['disable', 'trust', 'verify-ca', 'verify-full'];

/** Each runner and the snippet it reads. */
const RUNNERS: readonly [Runner, SnippetClient, 'jks'?][] = [
  ['mariadb-cli', 'mariadb-cli'],
  ['my.cnf:mariadb', 'my.cnf'],
  ['my.cnf:mariadb-dump', 'my.cnf'],
  ['my.cnf:mysqlclient', 'my.cnf'],
  ['my.cnf:DBD::MariaDB', 'my.cnf'],
  ['my.cnf:DBD::mysql', 'my.cnf'],
  ['my.cnf:ruby-mysql2', 'my.cnf'],
  ['jdbc-mariadb', 'jdbc-mariadb'],
  // The same driver with Java stores dbtls writes: a JKS truststore instead of the PEM CA, a JKS keystore.
  ['jdbc-mariadb', 'jdbc-mariadb', 'jks'],
  ['mysql2', 'mysql2'],
  ['mariadb-node', 'mariadb-node'],
  ['go', 'go'],
  ['python', 'python'],
  ['php-mysqli', 'php-mysqli'],
  ['php-pdo', 'php-pdo'],
  ['perl-mariadb', 'perl-mariadb'],
  ['perl-mysql', 'perl-mysql'],
];

/** A server set-up and what it lets each effective mode do, for a client dialling `host` (127.0.0.1). */
interface Peer {
  readonly name: string;
  readonly tls?: (pki: TestPki) => { ca?: string; cert: string; key: string };
  /** Dial this name instead, at the server of the peer named `server`. */
  readonly byName?: { host: 'localhost'; server: string };
  readonly attacker?: 'strip' | 'clear-password' | 'clear-password-ssl';
  readonly passes: (effective: SslMode) => boolean;
}
const PEERS: readonly Peer[] = [
  { name: 'good', tls: (p) => ({ ca: p.ca, ...p.server }), passes: () => true },
  { name: 'ip-only', tls: (p) => ({ ca: p.ca, ...p.ipOnly }), passes: () => true },
  {
    name: 'other-host',
    tls: (p) => ({ ca: p.ca, ...p.wrongHost }),
    passes: (m) => !SSL_MODES[m].verifiesHostname,
  },
  {
    name: 'localhost-only',
    tls: (p) => ({ ca: p.ca, ...p.localhostOnly }),
    passes: (m) => !SSL_MODES[m].verifiesHostname,
  },
  { name: 'other-ca', tls: (p) => ({ ...p.otherServer }), passes: (m) => !SSL_MODES[m].verifiesChain },
  // By the DNS name localhost: the IP-only certificate is now the one for another host.
  { name: 'good, by name', byName: { host: 'localhost', server: 'good' }, passes: () => true },
  {
    name: 'ip-only, by name',
    byName: { host: 'localhost', server: 'ip-only' },
    passes: (m) => !SSL_MODES[m].verifiesHostname,
  },
  {
    name: 'localhost-only, by name',
    byName: { host: 'localhost', server: 'localhost-only' },
    passes: () => true,
  },
  { name: 'stripping relay', attacker: 'strip', passes: (m) => m === 'disable' },
  { name: 'clear-password attacker', attacker: 'clear-password', passes: () => false },
  { name: 'clear-password attacker with CLIENT_SSL', attacker: 'clear-password-ssl', passes: () => false },
];

interface Cell {
  readonly runner: Runner;
  /** The runner, and ' (JKS)' when the Java stores are JKS files. */
  readonly label: string;
  readonly mode: SslMode;
  readonly mtls: boolean;
  readonly peer: Peer;
  /** The snippet, or the code it was refused with. */
  readonly made: Snippet | { refused: string; message: string };
  /** For an attacker cell: its recording. */
  readonly captured?: () => Buffer;
}

let pki: TestPki;
let work: string;
let drivers: Drivers;
const servers = new Map<string, MariadbInstance>();
const closers: (() => Promise<void>)[] = [];
const cells: Cell[] = [];
const results = new Map<Cell, { ok: boolean; cipher: string; output: string }>();
/** What `dbtls export p12|jks|truststore` printed: their Java hints are run too. */
const exportOutput: Record<'p12' | 'jks' | 'truststore', string> = { p12: '', jks: '', truststore: '' };

function make(
  client: SnippetClient,
  host: string,
  port: number,
  mode: SslMode,
  mtls: boolean,
  jks: boolean,
): Cell['made'] {
  const java = client === 'jdbc-mariadb';
  try {
    return snippet({
      client,
      target: `${host}:${port}`,
      mode,
      mutualTls: mtls ? 'enable' : 'disable',
      ...(jks ? { truststore: path.join(work, 'truststore.jks') } : { ca: pki.ca }),
      ...(mtls ? { cert: pki.client.cert, key: pki.client.key } : {}),
      ...(mtls && java ? { keystore: path.join(work, jks ? 'client.jks' : 'client.p12') } : {}),
      user: mtls ? MTLS_USER : USER,
      database: DATABASE,
    });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { refused: e.code ?? String(err), message: e.message ?? '' };
  }
}

async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

describe('client matrix: every snippet, run by its real driver, against good, wrong and hostile servers', () => {
  before(async () => {
    pki = await makeTestPki();
    work = fs.mkdtempSync(path.join(PROJECT_ROOT, 'node_modules', '.dbtls-matrix-'));
    // The client keystore as dbtls writes it (PKCS#12, modern profile), for Connector/J.
    fs.writeFileSync(path.join(work, 'ks-pass'), `${KEYSTORE_PASSWORD}\n`, { mode: 0o600 });
    const ks = await runCli([
      'export',
      'p12',
      '--cert',
      pki.client.cert,
      '--key',
      pki.client.key,
      '--chain',
      pki.ca,
      '--alias',
      'client',
      '--password-file',
      path.join(work, 'ks-pass'),
      '--out',
      path.join(work, 'client.p12'),
    ]);
    assert.equal(ks.code, 0, ks.stderr);
    const pass = ['--password-file', path.join(work, 'ks-pass')];
    const jks = await runCli(
      ['export', 'jks', '--cert', pki.client.cert, '--key', pki.client.key, '--chain', pki.ca].concat([
        '--alias',
        'client',
        ...pass,
        '--out',
        path.join(work, 'client.jks'),
      ]),
    );
    assert.equal(jks.code, 0, jks.stderr);
    const trust = await runCli(
      ['export', 'truststore', '--format', 'jks', '--ca', pki.ca, ...pass].concat([
        '--out',
        path.join(work, 'truststore.jks'),
      ]),
    );
    assert.equal(trust.code, 0, trust.stderr);
    Object.assign(exportOutput, { p12: ks.stdout, jks: jks.stdout, truststore: trust.stdout });
    const users = [
      { name: USER, password: PASSWORD },
      { name: MTLS_USER, password: PASSWORD, require: 'X509' as const },
    ];
    await Promise.all(
      PEERS.filter((p) => p.tls).map(async (peer) => {
        // connect_timeout: a JVM on a loaded 2-core machine may take more than the default 10 s to answer.
        const db = await startMariadb({ tls: peer.tls!(pki), users, extra: { connect_timeout: 120 } });
        await db.sql(`CREATE DATABASE IF NOT EXISTS ${DATABASE}`);
        servers.set(peer.name, db);
      }),
    );
    for (const peer of PEERS) {
      for (const [runner, client, stores] of RUNNERS) {
        for (const mode of MODES) {
          for (const mtls of SSL_MODES[mode].verifiesChain && peer.name === 'good'
            ? [false, true]
            : [false]) {
            let port: number;
            let captured: (() => Buffer) | undefined;
            if (peer.attacker === 'strip') {
              const relay = await startDowngradeRelay({ port: servers.get('good')!.port });
              closers.push(() => relay.close());
              port = relay.port;
              captured = () => relay.clientBytes();
            } else if (peer.attacker) {
              const fake = await startClearPasswordAttacker({
                offerSsl: peer.attacker === 'clear-password-ssl',
              });
              closers.push(() => fake.close());
              port = fake.port;
              captured = () => fake.clientBytes();
            } else {
              port = servers.get(peer.byName?.server ?? peer.name)!.port;
            }
            const host = peer.byName?.host ?? '127.0.0.1';
            const label = stores ? `${runner} (JKS)` : runner;
            const made = make(client, host, port, mode, mtls, stores === 'jks');
            cells.push({ runner, label, mode, mtls, peer, made, captured });
          }
        }
      }
    }
    drivers = new Drivers(work);
    const goTexts = cells
      .filter((c) => c.runner === 'go' && 'text' in c.made)
      .map((c) => (c.made as Snippet).text);
    await drivers.compile(goTexts);
    await pool(cells, PARALLEL, async (cell) => {
      if (!('text' in cell.made)) return;
      results.set(
        cell,
        await drivers.run(cell.runner, cell.made.text, {
          password: PASSWORD,
          user: cell.mtls ? MTLS_USER : USER,
          keystorePassword: KEYSTORE_PASSWORD,
        }),
      );
    });
  });

  after(async () => {
    await Promise.all(closers.map((c) => c()));
    await Promise.all([...servers.values()].map((s) => s.stop()));
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('what is refused is refused for the reason the mapping gives, and nothing else is', () => {
    const refused = new Set<string>();
    for (const cell of cells) {
      if ('text' in cell.made) continue;
      const what = `${cell.runner} ${cell.mode}: ${cell.made.message}`;
      if (
        cell.peer.byName &&
        /^(php|perl|my\.cnf)/.test(cell.runner) &&
        cell.made.refused === 'SNIPPET_TARGET_UNSUPPORTED'
      ) {
        // mysqlnd and libmariadb take localhost as the unix socket: refused (issue 9 item 3).
        continue;
      }
      // The mariadb client and the Perl drivers cannot say trust without a plaintext fallback.
      assert.equal(cell.made.refused, 'SNIPPET_MODE_UNSUPPORTED', what);
      assert.ok(
        (cell.mode === 'trust' && /^(mariadb-cli|my\.cnf|perl-)/.test(cell.runner)) ||
          (cell.mode === 'verify-full' && cell.runner === 'mysql2' && !cell.peer.byName),
        what,
      );
      refused.add(`${cell.runner} ${cell.mode}`);
    }
    // mysql2 by IP: refused (it would check the name localhost), never printed (issue 9 item 4).
    assert.ok(refused.has('mysql2 verify-full'));
    // By the name localhost, PHP, Perl and the Connector/C option file are refused in every mode.
    for (const runner of ['php-mysqli', 'php-pdo', 'perl-mariadb', 'perl-mysql', 'my.cnf:mysqlclient']) {
      const byName = cells.filter((c) => c.runner === runner && c.peer.byName);
      assert.ok(byName.length > 0 && byName.every((c) => !('text' in c.made)), runner);
    }
  });

  for (const peer of PEERS) {
    it(`${peer.name}: each mode connects exactly when the model says, encrypted unless disable`, () => {
      const wrong: string[] = [];
      for (const cell of cells.filter((c) => c.peer === peer)) {
        const r = results.get(cell);
        if (!r || !('text' in cell.made)) continue;
        const expected = peer.passes(cell.made.effectiveMode);
        const encrypted = SSL_MODES[cell.made.effectiveMode].encrypts === 'yes';
        const label = `${cell.label} ${cell.mode}${cell.mtls ? '+mTLS' : ''} (enforces ${cell.made.effectiveMode})`;
        if (r.ok !== expected)
          wrong.push(`${label}: ${r.ok ? 'connected' : 'refused'}\n${r.output.slice(0, 400)}`);
        else if (r.ok && cell.runner !== 'my.cnf:mariadb-dump' && (r.cipher !== '') !== encrypted)
          wrong.push(`${label}: cipher ${JSON.stringify(r.cipher)}`);
      }
      assert.deepEqual(wrong, [], wrong.join('\n\n'));
    });
  }

  it('no TLS mode sends a user-name or password byte to an attacker; disable does (the control)', () => {
    const leaks: string[] = [];
    let controls = 0;
    for (const cell of cells.filter((c) => c.captured && 'text' in c.made)) {
      const bytes = cell.captured!();
      const label = `${cell.peer.name}: ${cell.label} ${cell.mode}`;
      if (cell.mode === 'disable') {
        if (bytes.includes(USER)) controls++;
        continue;
      }
      if (bytes.includes(USER)) leaks.push(`${label}: the user name`);
      if (bytes.includes(PASSWORD)) leaks.push(`${label}: the password`);
    }
    assert.deepEqual(leaks, []);
    // Every plaintext client did send its user name through each attacker: the recording works.
    const plainCells = cells.filter((c) => c.captured && c.mode === 'disable' && 'text' in c.made).length;
    assert.equal(controls, plainCells);
  });

  it('mutual TLS: a REQUIRE X509 user gets in with the client certificate (or keystore) dbtls wrote', () => {
    const mtls = cells.filter((c) => c.mtls && 'text' in c.made);
    assert.ok(mtls.length >= RUNNERS.length);
    for (const cell of mtls)
      assert.ok(results.get(cell)?.ok, `${cell.label} ${cell.mode}: ${results.get(cell)?.output}`);
  });

  it('my.cnf: a CA path with a space, # and a quote is read alike by all six readers (item 6)', async () => {
    const dir = path.join(work, 'my dir #1');
    fs.mkdirSync(dir);
    const ca = path.join(dir, "o'ca.pem");
    fs.copyFileSync(pki.ca, ca);
    const text = (
      snippet({
        client: 'my.cnf',
        target: `127.0.0.1:${servers.get('good')!.port}`,
        mode: 'verify-full',
        ca,
        user: USER,
      }) as Snippet
    ).text;
    assert.ok(text.includes(`ssl-ca="${ca}"`), text);
    const readers = RUNNERS.filter(([, client]) => client === 'my.cnf').map(([runner]) => runner);
    await pool(readers, PARALLEL, async (runner) => {
      const r = await drivers.run(runner, text, { password: PASSWORD, user: USER });
      assert.ok(r.ok, `${runner}: ${r.output}`);
    });
  });

  it('the Connector/J lines `dbtls export p12|jks|truststore` print work as printed with 2.7.6 (item 1)', async () => {
    const port = servers.get('good')!.port;
    const cases = [
      { out: exportOutput.p12, user: MTLS_USER },
      { out: exportOutput.jks, user: MTLS_USER },
      { out: exportOutput.truststore, user: USER },
    ];
    for (const { out, user } of cases) {
      const line = out.split('\n').find((l) => l.startsWith('Java, MariaDB Connector/J'));
      assert.ok(line, out);
      // Only the placeholders the hint names are filled in: the server's address and the PEM CA.
      const url = /jdbc:mariadb:\S+/
        .exec(line)![0]
        .replace('HOST:3306', `127.0.0.1:${port}`)
        .replace('/path/to/ca.pem', pki.ca);
      const props = [...out.matchAll(/\b(keyStorePassword|keyPassword|trustStorePassword)\b/g)].map(
        (m) => m[1],
      );
      const text = `${url}\n# connection properties: ${props.join(', ')}\n`;
      const r = await drivers.run('jdbc-mariadb', text, {
        password: PASSWORD,
        user,
        keystorePassword: KEYSTORE_PASSWORD,
      });
      assert.ok(r.ok, `${url}\n${r.output}`);
      assert.notEqual(r.cipher, '');
    }
  });

  it('mariadb-dump reads the option file without a warning (database= is only for the interactive client)', () => {
    for (const cell of cells.filter((c) => c.runner === 'my.cnf:mariadb-dump' && c.peer.name === 'good')) {
      const r = results.get(cell);
      if (!r) continue;
      assert.ok(r.ok, r.output);
      assert.doesNotMatch(r.output, /warning|unknown variable/i, `${cell.mode}: ${r.output}`);
    }
  });
});
