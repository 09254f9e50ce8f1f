/**
 * `dbtls proxy` options as an operator types them, each run as a real child process against real MariaDB
 * servers: the DSN form of UPSTREAM, --tls-min (against a server capped at TLS 1.2 too), --servername,
 * --allow-remote-plaintext, ssl-modes that would relay in plaintext, broken and unreadable TLS files at
 * start, and the [::1] and unix socket listeners.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { mysql2SslVersion, SSL_VERSION_SQL } from '../../harness/proxy.js';
import { type ProxyProcess, spawnProxy } from '../../harness/proxy-process.js';

const PASSWORD = 'cli-options-pw-31';
const X509_USER = 'opt_x509';
const SUBJECT_USER = 'opt_subject';

let pki: TestPki;
/** TLS 1.2 and 1.3, the test server certificate (DNS:localhost, IP:127.0.0.1). */
let db: MariadbInstance;
/** TLS 1.2 only. */
let only12: MariadbInstance;
/** A certificate for DNS:localhost only: dialled as 127.0.0.1 it fails verify-full without --servername. */
let localhostOnly: MariadbInstance;
let dir: string;
const running: ProxyProcess[] = [];

/** --ca, --cert and --key of the test PKI. */
const files = () => ['--ca', pki.ca, '--cert', pki.client.cert, '--key', pki.client.key];

async function proxyTo(upstream: string, ...args: string[]): Promise<ProxyProcess> {
  const p = await spawnProxy([upstream, ...args]);
  running.push(p);
  return p;
}

/** The error a mysql2 login with no TLS settings gets through the proxy on `port`. */
async function loginError(port: number, user = X509_USER): Promise<{ errno?: number; sqlMessage?: string }> {
  try {
    const c = await mysql.createConnection({ host: '127.0.0.1', port, user, password: PASSWORD });
    await c.end();
  } catch (err) {
    return err as { errno?: number; sqlMessage?: string };
  }
  return assert.fail('the login through the proxy succeeded');
}

before(async () => {
  pki = await makeTestPki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-proxy-cli-'));
  const users = [
    { name: X509_USER, password: PASSWORD, require: 'X509' as const },
    { name: SUBJECT_USER, password: PASSWORD, require: { subject: pki.client.subject } },
  ];
  const tls = { ca: pki.ca, cert: pki.server.cert, key: pki.server.key };
  [db, only12, localhostOnly] = await Promise.all([
    startMariadb({ tls, users }),
    startMariadb({ tls, users, tlsVersion: 'TLSv1.2' }),
    startMariadb({ tls: { ...tls, cert: pki.localhostOnly.cert, key: pki.localhostOnly.key }, users }),
  ]);
});

after(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await Promise.all([db?.stop(), only12?.stop(), localhostOnly?.stop()]);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('UPSTREAM and the upstream TLS flags', () => {
  it('the DSN form (ssl-mode, ssl-ca, ssl-cert, ssl-key) logs in as REQUIRE SUBJECT of the certificate it names', async () => {
    const dsn = `mysql://127.0.0.1:${db.port}/?ssl-mode=verify-full&ssl-ca=${pki.ca}&ssl-cert=${pki.client.cert}&ssl-key=${pki.client.key}`;
    const p = await proxyTo(dsn, '--listen', '127.0.0.1:0');
    assert.match(
      p.lines()[0]!,
      new RegExp(
        `info listening on 127\\.0\\.0\\.1:${p.port}; upstream 127\\.0\\.0\\.1:${db.port} with ssl-mode verify-full and mutual TLS$`,
      ),
    );
    // No --cert on the command line: only the DSN's certificate can satisfy REQUIRE SUBJECT.
    assert.match(await mysql2SslVersion({ port: p.port }, SUBJECT_USER, PASSWORD), /^TLSv1\.[23]$/);
  });

  it('--tls-min TLSv1.3: the server sees TLSv1.3; a server capped at TLS 1.2 passes without it and fails with it', async () => {
    const p13 = await proxyTo(
      `127.0.0.1:${db.port}`,
      ...files(),
      '--tls-min',
      'TLSv1.3',
      '--listen',
      '127.0.0.1:0',
    );
    assert.equal(await mysql2SslVersion({ port: p13.port }, SUBJECT_USER, PASSWORD), 'TLSv1.3');
    // The control: the TLS 1.2 server is reachable and verified with the default minimum.
    const p12 = await proxyTo(
      `127.0.0.1:${only12.port}`,
      ...files(),
      '--run-connection-test',
      '--listen',
      '127.0.0.1:0',
    );
    assert.match(
      p12.lines()[0]!,
      /info connection test passed: 127\.0\.0\.1:\d+ \(.*MariaDB.*\) verified as verify-full over TLSv1\.2 /,
    );
    assert.equal(await mysql2SslVersion({ port: p12.port }, SUBJECT_USER, PASSWORD), 'TLSv1.2');
    // With the 1.3 minimum: the connection test fails at start (exit 1) ...
    const refused = await runCli([
      'proxy',
      `127.0.0.1:${only12.port}`,
      ...files(),
      '--tls-min',
      'TLSv1.3',
      '--run-connection-test',
      '--listen',
      '127.0.0.1:0',
    ]);
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, '');
    assert.match(
      refused.stderr,
      new RegExp(
        `^error\\[TLS_HANDSHAKE_FAILED\\]: could not complete the TLS handshake with 127\\.0\\.0\\.1:${only12.port}: the server and this side have no TLS version in common \\(ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION\\)\nhint: `,
      ),
    );
    // ... and a running proxy answers the client with the same cause.
    const p = await proxyTo(
      `127.0.0.1:${only12.port}`,
      ...files(),
      '--tls-min',
      'TLSv1.3',
      '--listen',
      '127.0.0.1:0',
    );
    const err = await loginError(p.port);
    assert.equal(err.errno, 1043);
    assert.match(
      String(err.sqlMessage),
      /^dbtls proxy: could not complete the TLS handshake with 127\.0\.0\.1:\d+: the server and this side have no TLS version in common \(ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION\) \(TLS_HANDSHAKE_FAILED\); hint: /,
    );
  });

  it('--servername is the name verify-full checks: localhost passes, none or another name is HOSTNAME_MISMATCH', async () => {
    const upstream = `127.0.0.1:${localhostOnly.port}`;
    const named = await proxyTo(upstream, ...files(), '--servername', 'localhost', '--listen', '127.0.0.1:0');
    assert.match(await mysql2SslVersion({ port: named.port }, SUBJECT_USER, PASSWORD), /^TLSv1\.[23]$/);
    const cases = [
      { args: [] as string[], name: '127.0.0.1' },
      { args: ['--servername', 'db2.example'], name: 'db2.example' },
    ];
    for (const c of cases) {
      const p = await proxyTo(upstream, ...files(), ...c.args, '--listen', '127.0.0.1:0');
      const err = await loginError(p.port, SUBJECT_USER);
      assert.equal(err.errno, 1043);
      assert.match(
        String(err.sqlMessage),
        new RegExp(
          `^dbtls proxy: could not verify the certificate of 127\\.0\\.0\\.1:${localhostOnly.port} for the name ${c.name.replace(/\./g, '\\.')}: .* \\(HOSTNAME_MISMATCH\\); hint: `,
        ),
      );
    }
  });

  it('a DSN with ssl-mode disabled or preferred is refused (SSL_MODE_INVALID, exit 2): it would relay in plaintext', async () => {
    for (const [given, mode] of [
      ['disabled', 'disable'],
      ['DISABLED', 'disable'],
      ['preferred', 'preferred'],
    ] as const) {
      const r = await runCli([
        'proxy',
        `mysql://127.0.0.1:${db.port}/?ssl-mode=${given}&ssl-ca=${pki.ca}`,
        '--listen',
        '127.0.0.1:0',
      ]);
      assert.equal(r.code, 2, `ssl-mode=${given}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, '', 'nothing listened');
      assert.equal(
        r.stderr,
        `error[SSL_MODE_INVALID]: could not start the proxy with ssl-mode ${mode}: it would relay in plaintext\n` +
          'hint: use --ssl-mode verify-full (the default) with --ca FILE\n',
      );
    }
  });
});

describe('TLS files that cannot be used at start: error[CODE], exit 2, no stack trace', () => {
  it('a garbage certificate, key or CA file', async () => {
    const garbage = path.join(dir, 'garbage.pem');
    fs.writeFileSync(garbage, 'this is not PEM\n');
    const cases = [
      {
        flag: '--cert',
        stderr: new RegExp(
          `^error\\[TLS_MATERIAL_INVALID\\]: could not load the client certificate ${garbage}: it holds no PEM certificate\nhint: pass the PEM certificate dbtls issued for the client \\(check it with: dbtls cert show FILE\\)\n$`,
        ),
      },
      {
        flag: '--key',
        stderr: new RegExp(
          `^error\\[TLS_MATERIAL_INVALID\\]: could not load the client key ${garbage}: it holds no private key\nhint: pass the PEM key issued with the certificate \\(key\\.pem beside cert\\.pem from dbtls issue --out DIR\\)\n$`,
        ),
      },
      {
        flag: '--ca',
        stderr: new RegExp(
          `^error\\[TLS_MATERIAL_INVALID\\]: could not load the CA certificate ${garbage}: it holds no PEM certificate\nhint: `,
        ),
      },
    ];
    for (const c of cases) {
      const args = files();
      args[args.indexOf(c.flag) + 1] = garbage;
      const r = await runCli(['proxy', `127.0.0.1:${db.port}`, ...args, '--listen', '127.0.0.1:0']);
      assert.equal(r.code, 2, `${c.flag}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, '', `${c.flag}: nothing listened`);
      assert.match(r.stderr, c.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('an unreadable certificate file: FILE_UNREADABLE naming it', async () => {
    const locked = path.join(dir, 'locked-cert.pem');
    fs.copyFileSync(pki.client.cert, locked);
    fs.chmodSync(locked, 0o000);
    // root reads any file through CAP_DAC_OVERRIDE: the proxy runs without it (and CAP_DAC_READ_SEARCH).
    const prefix =
      process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search'] : [];
    const args = files();
    args[args.indexOf('--cert') + 1] = locked;
    const p = await spawnProxy([`127.0.0.1:${db.port}`, ...args, '--listen', '127.0.0.1:0'], {
      prefix,
      expectExit: true,
    });
    const exit = await p.exited;
    assert.equal(exit.code, 2, p.stderr());
    assert.deepEqual(p.lines(), []);
    assert.equal(
      p.stderr(),
      `error[FILE_UNREADABLE]: could not read the client certificate ${locked}: EACCES: permission denied, open '${locked}'\n` +
        'hint: check the file permissions, or run as a user who may read it\n',
    );
  });
});

describe('listeners', () => {
  it('a plaintext listener on 0.0.0.0: refused without --allow-remote-plaintext (LISTEN_NOT_LOOPBACK), serving with it', async () => {
    const refused = await runCli(['proxy', `127.0.0.1:${db.port}`, ...files(), '--listen', '0.0.0.0:0']);
    assert.equal(refused.code, 2);
    assert.equal(refused.stdout, '');
    assert.equal(
      refused.stderr,
      'error[LISTEN_NOT_LOOPBACK]: could not listen on 0.0.0.0:0: the client leg is plaintext, so anyone on that network could read passwords and data\n' +
        'hint: listen on 127.0.0.1, [::1] or a unix: socket (the proxy belongs next to the application); pass --allow-remote-plaintext only on a network you trust\n',
    );
    const p = await proxyTo(
      `127.0.0.1:${db.port}`,
      ...files(),
      '--listen',
      '0.0.0.0:0',
      '--allow-remote-plaintext',
    );
    assert.match(p.lines()[0]!, /info listening on 0\.0\.0\.0:\d+; upstream /);
    assert.match(await mysql2SslVersion({ port: p.port }, X509_USER, PASSWORD), /^TLSv1\.[23]$/);
  });

  it('[::1]:PORT and a unix socket with the mode given: both serve a login, the socket file has that mode', async (t) => {
    const probe = net.createServer();
    const v6 = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(0, '::1', () => probe.close(() => resolve(true)));
    });
    if (!v6) {
      t.skip('this machine has no IPv6 loopback (::1 cannot be bound)');
      return;
    }
    const socket = path.join(dir, 'proxy.sock');
    const p = await proxyTo(
      `127.0.0.1:${db.port}`,
      ...files(),
      '--listen',
      '[::1]:0',
      '--listen',
      `unix:${socket}:0600`,
    );
    assert.match(
      p.lines()[0]!,
      new RegExp(`info listening on \\[::1\\]:${p.port}, unix:${socket}; upstream `),
    );
    assert.equal((fs.statSync(socket).mode & 0o777).toString(8), '600');
    const v6conn = await mysql.createConnection({
      host: '::1',
      port: p.port,
      user: X509_USER,
      password: PASSWORD,
    });
    try {
      const [rows] = await v6conn.query(SSL_VERSION_SQL);
      assert.match(String((rows as { Value: string }[])[0]?.Value), /^TLSv1\.[23]$/);
    } finally {
      await v6conn.end();
    }
    assert.match(await mysql2SslVersion({ socket }, SUBJECT_USER, PASSWORD), /^TLSv1\.[23]$/);
  });
});
