/**
 * `dbtls connect` end to end (the real CLI in a child process) and the client options the matrix does not
 * cover: --servername, --tls-min, mutual TLS against REQUIRE SUBJECT, my.cnf, DSN rules, exit codes.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '../../../src/client/connect.js';
import { DbtlsError } from '../../../src/errors.js';
import { parseTarget } from '../../../src/tls/settings.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { openssl } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

const USER = 'app';
const PASSWORD = 'cli-pw-5521';
const SUBJECT_USER = 'subject_user';

let pki: TestPki;
let db: MariadbInstance;
let dir: string;
let passwordFile: string;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    const v = await p;
    if (v && typeof v === 'object' && 'close' in v) await (v as { close(): Promise<void> }).close();
    return 'ok';
  } catch (err) {
    if (err instanceof DbtlsError) return err.code;
    throw err;
  }
}

before(async () => {
  pki = await makeTestPki();
  db = await startMariadb({
    tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
    users: [
      { name: USER, password: PASSWORD },
      { name: SUBJECT_USER, password: PASSWORD, require: { subject: pki.client.subject } },
    ],
  });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-connect-'));
  passwordFile = path.join(dir, 'password');
  fs.writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
});
after(async () => {
  await db?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('dbtls connect', () => {
  it('verify-full with --json: the session facts agree with the server and with openssl', async () => {
    const r = await runCli([
      'connect',
      `127.0.0.1:${db.port}`,
      '--ca',
      pki.ca,
      '--user',
      USER,
      '--password-file',
      passwordFile,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.session.verifiedAs, 'verify-full');
    assert.equal(out.session.encrypted, true);
    const status = Object.fromEntries(
      out.rows.map((row: { Variable_name: string; Value: string }) => [row.Variable_name, row.Value]),
    );
    assert.equal(status.Ssl_version, out.session.protocol);
    assert.equal(status.Ssl_cipher, out.session.cipher);
    const fp = await openssl(['x509', '-in', pki.server.cert, '-noout', '-fingerprint', '-sha256']);
    assert.equal(out.session.fingerprint, fp.stdout.trim().split('=')[1]?.replace(/:/g, '').toLowerCase());
    assert.equal(out.session.peerChain[0].fingerprint, out.session.fingerprint);
    assert.equal(r.stderr, '');
  });

  it('a DSN with the password from MYSQL_PWD, human output, -e SQL', async () => {
    const dsn = `mysql://${USER}@localhost:${db.port}/mysql?ssl-mode=VERIFY_IDENTITY&ssl-ca=${encodeURIComponent(pki.ca)}`;
    const r = await runCli(['connect', dsn, '-e', 'SELECT DATABASE() AS db'], {
      env: { MYSQL_PWD: PASSWORD },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /verified as: +verify-full \(chain and host name localhost\)/);
    assert.match(r.stdout, /^db\s*\nmysql$/m);
  });

  it('trust works but warns; failures exit 1 (check) or 2 (input) with the error code', async () => {
    const trust = await runCli([
      'connect',
      `127.0.0.1:${db.port}`,
      '--ssl-mode',
      'REQUIRED',
      '--user',
      USER,
      '--password-file',
      passwordFile,
    ]);
    assert.equal(trust.code, 0, trust.stderr);
    assert.match(trust.stderr, /^warning: ssl-mode trust: encrypted but the server was NOT verified/m);

    const noCa = await runCli([
      'connect',
      `127.0.0.1:${db.port}`,
      '--user',
      USER,
      '--password-file',
      passwordFile,
    ]);
    assert.equal(noCa.code, 2);
    assert.match(
      noCa.stderr,
      /^error\[TLS_CA_REQUIRED\]: could not verify the server with ssl-mode verify-full/m,
    );

    const mismatch = await runCli([
      'connect',
      `127.0.0.1:${db.port}`,
      '--ca',
      pki.ca,
      '--servername',
      'wrong.example',
      '--user',
      USER,
      '--password-file',
      passwordFile,
    ]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /^error\[HOSTNAME_MISMATCH\]/m);

    const dsnPw = await runCli(['connect', `mysql://${USER}:${PASSWORD}@127.0.0.1:${db.port}/`]);
    assert.equal(dsnPw.code, 2);
    assert.match(dsnPw.stderr, /^error\[TARGET_PASSWORD_IN_DSN\]/m);
    assert.doesNotMatch(dsnPw.stderr + dsnPw.stdout, new RegExp(PASSWORD));

    // node takes a CA file with no certificate in it silently, and then blames the server: refused first.
    const emptyCa = path.join(dir, 'no-certificate.pem');
    fs.writeFileSync(emptyCa, 'not a certificate\n');
    const badCa = await runCli([
      'connect',
      `127.0.0.1:${db.port}`,
      '--ca',
      emptyCa,
      '--user',
      USER,
      '--password-file',
      passwordFile,
    ]);
    assert.equal(badCa.code, 2);
    assert.match(
      badCa.stderr,
      /^error\[TLS_MATERIAL_INVALID\]: could not load the CA certificate .*no-certificate\.pem: it holds no PEM certificate$/m,
    );
  });
});

describe('settings precedence, end to end: flag > DSN > my.cnf > environment > default', () => {
  // Each layer names another mode; the session the real CLI opens shows which one won.
  it('takes each setting from the highest layer that gives it', async () => {
    const cnf = path.join(dir, 'precedence.cnf');
    fs.writeFileSync(cnf, `[client]\nssl-mode=REQUIRED\nssl-ca=${pki.ca}\nuser=${USER}\n`);
    const env = { DBTLS_SSL_MODE: 'disable', DBTLS_DEFAULTS_FILE: cnf };
    const host = `127.0.0.1:${db.port}`;
    const rows: [string, string[], NodeJS.ProcessEnv, string][] = [
      ['flag', [`mysql://${host}/?ssl-mode=VERIFY_CA`, '--ssl-mode', 'verify-full'], env, 'verify-full'],
      ['DSN', [`mysql://${host}/?ssl-mode=VERIFY_CA`], env, 'verify-ca'],
      ['my.cnf', [host], env, 'trust'],
      ['environment', [host, '--user', USER], { DBTLS_SSL_MODE: 'disable' }, 'disable'],
      ['default', [host, '--user', USER, '--ca', pki.ca], {}, 'verify-full'],
    ];
    const got: string[] = [];
    for (const [layer, args, layerEnv] of rows) {
      const r = await runCli(['connect', ...args, '--password-file', passwordFile, '--json'], {
        env: layerEnv,
      });
      assert.equal(r.code, 0, `${layer}: ${r.stderr}`);
      const out = JSON.parse(r.stdout);
      assert.equal(out.target.mode, out.session.verifiedAs, layer);
      got.push(`${layer}: ${out.session.verifiedAs}`);
    }
    assert.deepEqual(
      got,
      rows.map(([layer, , , mode]) => `${layer}: ${mode}`),
    );
  });
});

describe('client options against the same server', () => {
  const base = () => ({ host: '127.0.0.1', port: db.port, password: PASSWORD });

  it('wrong password: AUTH_FAILED naming what the server said', async () => {
    try {
      await connect({
        ...base(),
        password: 'nope',
        user: USER,
        tls: { mode: 'verify-full', mutualTls: 'disable', ca: pki.ca, minVersion: 'TLSv1.2' },
      });
      assert.fail('expected AUTH_FAILED');
    } catch (err) {
      assert.ok(err instanceof DbtlsError);
      assert.equal(err.code, 'AUTH_FAILED');
      assert.match(err.message, /Access denied for user 'app'/);
    }
  });

  it('REQUIRE SUBJECT: our client certificate logs in, one from another CA does not', async () => {
    const tlsWith = (cert: { cert: string; key: string }) => ({
      mode: 'verify-full' as const,
      mutualTls: 'enable' as const,
      ca: pki.ca,
      cert: cert.cert,
      key: cert.key,
      minVersion: 'TLSv1.2' as const,
    });
    const conn = await connect({ ...base(), user: SUBJECT_USER, tls: tlsWith(pki.client) });
    assert.equal(conn.session.mutualTls, true);
    const rows = await conn.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
    assert.equal(rows[0]?.Value, conn.session.protocol);
    await conn.close();
    // The server (ssl_ca = our CA) rejects the foreign client certificate with a TLS alert (unknown_ca);
    // TLS 1.3 delivers it after the client's handshake completed, at the first read.
    assert.equal(
      await code(connect({ ...base(), user: SUBJECT_USER, tls: tlsWith(pki.otherClient) })),
      'CLIENT_CERT_REJECTED',
    );
  });

  it('an auth switch (ed25519) inside TLS: sequence ids stay in step through the handover', async () => {
    await db.sql("INSTALL SONAME 'auth_ed25519'");
    await db.sql(`CREATE OR REPLACE USER 'ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('${PASSWORD}')`);
    const conn = await connect({
      ...base(),
      user: 'ed',
      tls: { mode: 'verify-full', mutualTls: 'disable', ca: pki.ca, minVersion: 'TLSv1.2' },
    });
    const rows = await conn.query('SELECT CURRENT_USER() AS who');
    assert.equal(rows[0]?.who, 'ed@%');
    assert.equal(
      conn.session.authPlugin,
      'mysql_native_password',
      'the greeting offered native; the server switched',
    );
    await conn.close();
  });

  it('my.cnf [client] settings through --defaults-file', async () => {
    const cnf = path.join(dir, 'my.cnf');
    fs.writeFileSync(cnf, `[client]\nuser=${USER}\nssl-ca=${pki.ca}\nssl-verify-server-cert\n`);
    const t = parseTarget(`localhost:${db.port}`, { defaultsFile: cnf }, { MYSQL_PWD: PASSWORD });
    assert.equal(t.tls.mode, 'verify-full');
    const conn = await connect(t);
    assert.equal(conn.session.verifiedAs, 'verify-full');
    await conn.close();
  });

  it('--servername verifies against another name than the address dialled; --tls-min is enforced', async () => {
    await db.restart({
      tls: { ca: pki.ca, cert: pki.wrongHost.cert, key: pki.wrongHost.key },
      tlsVersion: 'TLSv1.2',
    });
    const tlsFor = (extra: { servername?: string; minVersion?: 'TLSv1.2' | 'TLSv1.3' }) => ({
      mode: 'verify-full' as const,
      mutualTls: 'disable' as const,
      ca: pki.ca,
      minVersion: 'TLSv1.2' as const,
      ...extra,
    });
    assert.equal(await code(connect({ ...base(), user: USER, tls: tlsFor({}) })), 'HOSTNAME_MISMATCH');
    const conn = await connect({ ...base(), user: USER, tls: tlsFor({ servername: 'wrong.example' }) });
    assert.equal(conn.session.protocol, 'TLSv1.2');
    await conn.close();
    assert.equal(
      await code(
        connect({
          ...base(),
          user: USER,
          tls: tlsFor({ servername: 'wrong.example', minVersion: 'TLSv1.3' }),
        }),
      ),
      'TLS_HANDSHAKE_FAILED',
    );
  });
});
