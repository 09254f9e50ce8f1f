/**
 * The inspector against one real MariaDB, restarted through the configurations a DBA meets: default TLS,
 * narrowed versions and suites, a certificate for another host, an expired one, and no TLS at all.
 * sslscan is the oracle for versions and suites; openssl for the certificate facts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isDbtlsError } from '../../../src/errors.js';
import { inspect } from '../../../src/inspect/inspect.js';
import type { InspectReport } from '../../../src/inspect/report.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { openssl, sClientStarttls, sslscan } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { firstClientMove, startRecordingRelay } from './recording-relay.js';

const APP = { name: 'inspect_app', password: 'app-secret-1' };
const APP_SSL = { name: 'inspect_app_ssl', password: 'app-secret-2' };
const APP_X509 = { name: 'inspect_app_x509', password: 'app-secret-3' };
/** The narrowed configuration: legacy versions back on, three ECDSA suites, one of them NULL. */
const NARROW_12 = {
  tlsVersion: 'TLSv1.1,TLSv1.2',
  sslCipher: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0',
};
const NARROW_13 = { tlsVersion: 'TLSv1.3', sslCipher: 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256' };

let pki: TestPki;
let db: MariadbInstance;
let tmp: string;

function ep() {
  return { host: db.host, port: db.port };
}

function ids(report: InspectReport): string[] {
  return report.findings.map((f) => `${f.id}:${f.severity}`);
}

/** Every suite as `version name bits`, in the order reported. */
function suites(list: readonly { version: string; name: string; bits: number }[]): string[] {
  return list.map((c) => `${c.version} ${c.name} ${c.bits}`);
}

async function assertEqualsSslscan(report: InspectReport): Promise<void> {
  const oracle = await sslscan({ host: db.host, port: db.port });
  assert.deepEqual(report.tls.versions, oracle.versions);
  assert.deepEqual(suites(report.tls.ciphers), suites(oracle.ciphers));
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-inspect-'));
  pki = await makeTestPki();
  db = await startMariadb({
    tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
    users: [APP, { ...APP_SSL, require: 'SSL' }, { ...APP_X509, require: 'X509' }],
  });
});

after(async () => {
  await db?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('default TLS configuration', () => {
  it('reports the versions and suites sslscan reports, in the same order', async () => {
    const report = await inspect(ep(), { ca: pki.ca });
    assert.equal(report.server.tlsOffered, true);
    assert.equal(report.server.flavor, 'mariadb');
    assert.match(report.server.version, /^10\.\d+\.\d+-MariaDB/);
    await assertEqualsSslscan(report);
    // Each version's refusal plus each accepted suite plus the greeting: nothing more.
    const accepted = Object.values(report.tls.versions).filter(Boolean).length;
    assert.ok(
      report.tls.probes <= report.tls.ciphers.length + 4 + 1 + accepted,
      `probes ${report.tls.probes}`,
    );
  });

  it('is clean with the right --ca: no finding above info, facts match openssl', async () => {
    const now = new Date('2026-06-01T00:00:00Z');
    const report = await inspect(ep(), { ca: pki.ca, now });
    assert.deepEqual(
      report.findings.filter((f) => f.severity !== 'info'),
      [],
    );
    const cert = report.certificate;
    assert.ok(cert);
    assert.equal(cert.verified, true);
    assert.equal(cert.hostnameMatch, true);
    assert.equal(cert.checkedName, '127.0.0.1');
    const leaf = cert.chain[0];
    assert.ok(leaf);
    const fp = await openssl(['x509', '-in', pki.server.cert, '-noout', '-fingerprint', '-sha256']);
    assert.equal(leaf.fingerprint, fp.stdout.trim().split('=')[1]?.replace(/:/g, '').toLowerCase());
    const end = await openssl(['x509', '-in', pki.server.cert, '-noout', '-enddate']);
    const notAfter = new Date(end.stdout.trim().replace('notAfter=', ''));
    assert.equal(leaf.notAfter, notAfter.toISOString());
    assert.equal(leaf.daysLeft, Math.floor((notAfter.getTime() - now.getTime()) / 86_400_000));
    assert.deepEqual(leaf.sans, ['DNS:localhost', 'IP:127.0.0.1']);
    assert.equal(leaf.keyType, 'EC');
    assert.equal(leaf.keyBits, 256);
    assert.equal(leaf.signatureAlgorithm, 'ecdsa-with-SHA256');
    assert.equal(leaf.selfSigned, false);
  });

  it('reports an untrusted chain when --ca is another CA, or with the system store', async () => {
    const other = await inspect(ep(), { ca: pki.otherCa });
    assert.equal(other.certificate?.verified, false);
    assert.equal(other.certificate?.trustAnchor, 'ca-file');
    assert.deepEqual(ids(other), ['cert-untrusted:high']);
    const system = await inspect(ep());
    assert.equal(system.certificate?.trustAnchor, 'system');
    assert.deepEqual(ids(system), ['cert-untrusted:high']);
  });

  it('checks the name given with servername instead of the address', async () => {
    const report = await inspect(ep(), { ca: pki.ca, servername: 'db.example' });
    assert.equal(report.certificate?.checkedName, 'db.example');
    assert.deepEqual(ids(report), ['hostname-mismatch:high']);
  });
});

describe('credentialed checks', () => {
  it('reads the TLS variables and finds a plaintext login accepted', async () => {
    const report = await inspect(ep(), {
      ca: pki.ca,
      credentials: { user: APP.name, password: APP.password },
    });
    const session = report.session;
    assert.ok(session, JSON.stringify(report.sessionError));
    assert.equal(session.account, `${APP.name}@%`);
    assert.match(session.protocol ?? '', /^TLSv1\.[23]$/);
    assert.equal(session.variables.have_ssl, 'YES');
    assert.equal(session.variables.require_secure_transport, 'OFF');
    assert.equal(session.variables.ssl_cert, pki.server.cert);
    // Issue 9 item 11: learnt over the verified session, no login in clear (it was a real attempt before).
    assert.equal(session.sslType, '');
    assert.deepEqual(session.plaintextLogin, { attempted: false, refused: false, basis: 'policy' });
    assert.deepEqual(
      ids(report).filter((id) => !id.endsWith(':info')),
      ['plaintext-login-accepted:high', 'require-secure-transport-off:medium'],
    );
  });

  it('makes a real plaintext login only when asked (plaintextCheck), and it agrees with the policy', async () => {
    const report = await inspect(ep(), {
      ca: pki.ca,
      credentials: { user: APP.name, password: APP.password },
      plaintextCheck: true,
    });
    assert.deepEqual(report.session?.plaintextLogin, { attempted: true, refused: false, basis: 'attempt' });
    assert.ok(ids(report).includes('plaintext-login-accepted:high'));
  });

  it('sends no credential byte in clear by default: every connection starts with an SSLRequest', async () => {
    const relay = await startRecordingRelay(ep());
    try {
      const via = { host: '127.0.0.1', port: relay.port };
      const credentials = { user: APP.name, password: APP.password };
      const report = await inspect(via, { ca: pki.ca, credentials });
      assert.equal(report.session?.plaintextLogin.refused, false, JSON.stringify(report.sessionError));
      const moves = relay.connections().map(firstClientMove);
      assert.ok(moves.includes('ssl-request'));
      assert.deepEqual(
        moves.filter((m) => m === 'clear-login'),
        [],
      );
      const all = Buffer.concat(relay.connections());
      assert.equal(all.indexOf(APP.name), -1, 'the user name never crosses in clear');
      // The oracle can fail: with the opt-in, exactly one connection logs in in clear, user name visible.
      const before = relay.connections().length;
      await inspect(via, { ca: pki.ca, credentials, plaintextCheck: true });
      const opted = relay.connections().slice(before);
      assert.equal(opted.map(firstClientMove).filter((m) => m === 'clear-login').length, 1);
      assert.notEqual(Buffer.concat(opted).indexOf(APP.name), -1);
    } finally {
      await relay.close();
    }
  });

  it('finds the plaintext login refused for a REQUIRE SSL account (error 1045)', async () => {
    const report = await inspect(ep(), {
      ca: pki.ca,
      credentials: { user: APP_SSL.name, password: APP_SSL.password },
    });
    assert.equal(report.session?.sslType, 'ANY');
    assert.deepEqual(report.session?.plaintextLogin, { attempted: false, refused: true, basis: 'policy' });
    assert.ok(!ids(report).includes('plaintext-login-accepted:high'));
    const tried = await inspect(ep(), {
      ca: pki.ca,
      credentials: { user: APP_SSL.name, password: APP_SSL.password },
      plaintextCheck: true,
    });
    assert.equal(tried.session?.plaintextLogin.refused, true);
    assert.equal(tried.session?.plaintextLogin.errorCode, 1045);
  });

  it('logs a REQUIRE X509 account in with --cert/--key, and plaintext is refused', async () => {
    const credentials = {
      user: APP_X509.name,
      password: APP_X509.password,
      cert: pki.client.cert,
      key: pki.client.key,
    };
    const report = await inspect(ep(), { ca: pki.ca, credentials, plaintextCheck: true });
    assert.equal(report.session?.account, `${APP_X509.name}@%`, JSON.stringify(report.sessionError));
    assert.equal(report.session?.sslType, 'X509');
    assert.equal(report.session?.plaintextLogin.refused, true);
    assert.equal(report.session?.plaintextLogin.errorCode, 1045);
  });

  it('finds plaintext refused for every account once require_secure_transport is ON', async () => {
    await db.sql('SET GLOBAL require_secure_transport = ON');
    try {
      const report = await inspect(ep(), {
        ca: pki.ca,
        credentials: { user: APP.name, password: APP.password },
      });
      assert.equal(report.session?.variables.require_secure_transport, 'ON');
      assert.deepEqual(report.session?.plaintextLogin, { attempted: false, refused: true, basis: 'policy' });
      const tried = await inspect(ep(), {
        ca: pki.ca,
        credentials: { user: APP.name, password: APP.password },
        plaintextCheck: true,
      });
      assert.equal(tried.session?.plaintextLogin.refused, true);
      assert.equal(tried.session?.plaintextLogin.errorCode, 1045);
      assert.deepEqual(
        report.findings.filter((f) => f.severity !== 'info'),
        [],
      );
    } finally {
      await db.sql('SET GLOBAL require_secure_transport = OFF');
    }
  });

  it('sends no credentials when the mode cannot verify the server', async () => {
    const report = await inspect(ep(), {
      ca: pki.otherCa,
      credentials: { user: APP.name, password: APP.password },
    });
    assert.equal(report.session, undefined);
    assert.equal(report.sessionError?.code, 'CERT_UNTRUSTED');
    const trusting = await inspect(ep(), {
      ca: pki.otherCa,
      sslMode: 'trust',
      credentials: { user: APP.name, password: APP.password },
    });
    assert.equal(trusting.session?.account, `${APP.name}@%`);
  });
});

describe('dbtls inspect (the CLI)', () => {
  const target = () => `${db.host}:${db.port}`;

  it('prints the JSON shape of issue 4, each value equal to what sslscan, openssl and the server say', async () => {
    const r = await runCli(['inspect', target(), '--ca', pki.ca, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const j = JSON.parse(r.stdout);
    // Issue 4: { target, server: { version, flavor, tlsOffered }, tls: { versions, ciphers: [ { version,
    // name, bits } ] }, certificate: { chain: [ { subject, issuer, sans, notAfter, daysLeft, fingerprint } ],
    // verified, hostnameMatch }, findings: [ { id, severity, message, fix } ] }, and a little more.
    assert.deepEqual(Object.keys(j), ['target', 'inspectedAt', 'server', 'tls', 'certificate', 'findings']);
    assert.equal(j.target, target());
    assert.equal(typeof j.server.connectionId, 'number');
    assert.deepEqual(j.server, {
      version: (await db.sql('SELECT VERSION()')).trim(),
      flavor: 'mariadb',
      tlsOffered: true,
      authPlugin: 'mysql_native_password',
      connectionId: j.server.connectionId,
      // Issue 9 item 12: the greeting's fields are marked as sent before TLS.
      unauthenticated: true,
    });
    const oracle = await sslscan({ host: db.host, port: db.port });
    assert.deepEqual(Object.keys(j.tls), ['versions', 'ciphers', 'probes']);
    assert.deepEqual(j.tls.versions, oracle.versions);
    assert.deepEqual(
      j.tls.ciphers.map((c: { version: string; name: string; bits: number }) => ({
        version: c.version,
        name: c.name,
        bits: c.bits,
      })),
      oracle.ciphers,
    );
    // One connection for the greeting, one per accepted suite, and one refusal closing each version.
    assert.equal(j.tls.probes, 1 + j.tls.ciphers.length + 4);
    // The chain as openssl s_client received it (MariaDB sends its ssl_ca after the leaf).
    const shown = await sClientStarttls({ port: db.port });
    assert.equal(j.certificate.chain.length, shown.peerChainPem.length);
    for (const [i, pem] of shown.peerChainPem.entries()) {
      const o = await openssl(
        [
          'x509',
          '-noout',
          '-subject',
          '-issuer',
          '-enddate',
          '-fingerprint',
          '-sha256',
          '-nameopt',
          'compat',
        ],
        { input: pem },
      );
      const field = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(o.stdout)?.[1]?.trim();
      const entry = j.certificate.chain[i];
      const notAfter = new Date(field('notAfter') ?? '');
      assert.equal(entry.subject, field('subject'));
      assert.equal(entry.issuer, field('issuer'));
      assert.equal(entry.notAfter, notAfter.toISOString());
      assert.equal(entry.daysLeft, Math.floor((notAfter.getTime() - Date.parse(j.inspectedAt)) / 86_400_000));
      assert.equal(entry.fingerprint, field('sha256 Fingerprint')?.replace(/:/g, '').toLowerCase());
    }
    assert.deepEqual(j.certificate.chain[0].sans, ['DNS:localhost', 'IP:127.0.0.1']);
    assert.deepEqual(j.certificate.chain[1].sans, []);
    assert.equal(j.certificate.verified, true);
    assert.equal(j.certificate.hostnameMatch, true);
    assert.deepEqual(j.findings, []);
  });

  it('gives each finding exactly id, severity, message and fix in --json', async () => {
    const r = await runCli(['inspect', target(), '--ca', pki.otherCa, '--json']);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).findings, [
      {
        id: 'cert-untrusted',
        severity: 'high',
        message:
          'the certificate chain does not verify against the given --ca (SELF_SIGNED_CERT_IN_CHAIN): verify-ca and verify-full clients refuse it',
        fix: 'pass the CA that issued the server certificate with --ca, or reissue the server certificate from your CA (dbtls issue server)',
      },
    ]);
  });

  it('exits 1 on a finding at or above --fail-on (default high), 0 below it, and prints the fix', async () => {
    const failing = await runCli(['inspect', target(), '--ca', pki.otherCa]);
    assert.equal(failing.code, 1, failing.stderr);
    assert.match(failing.stdout, /HIGH +cert-untrusted: /);
    assert.match(failing.stdout, /fix: pass the CA that issued the server certificate with --ca/);
    const lenient = await runCli(['inspect', target(), '--ca', pki.otherCa, '--fail-on', 'critical']);
    assert.equal(lenient.code, 0, lenient.stderr);
    const bad = await runCli(['inspect', target(), '--fail-on', 'severe']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error\[USAGE\]: could not parse --fail-on severe/m);
  });

  it('logs in with --user and --password-file and reports the plaintext login', async () => {
    const passwordFile = path.join(tmp, 'app.pw');
    fs.writeFileSync(passwordFile, `${APP.password}\n`, { mode: 0o600 });
    const r = await runCli([
      'inspect',
      target(),
      '--ca',
      pki.ca,
      '--user',
      APP.name,
      '--password-file',
      passwordFile,
      '--json',
    ]);
    assert.equal(r.code, 1, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(j.session.plaintextLogin, { attempted: false, refused: false, basis: 'policy' });
    assert.ok(j.findings.some((f: { id: string }) => f.id === 'plaintext-login-accepted'));
    assert.ok(!r.stdout.includes(APP.password) && !r.stderr.includes(APP.password));
    assert.equal(r.stderr, '', 'no warning without the opt-in');
    const opted = await runCli([
      'inspect',
      target(),
      '--ca',
      pki.ca,
      '--user',
      APP.name,
      '--password-file',
      passwordFile,
      '--plaintext-login-check',
      '--json',
    ]);
    assert.equal(opted.code, 1, opted.stderr);
    assert.deepEqual(JSON.parse(opted.stdout).session.plaintextLogin, {
      attempted: true,
      refused: false,
      basis: 'attempt',
    });
    assert.match(opted.stderr, /^warning: --plaintext-login-check logs in once WITHOUT TLS: /m);
    const noUser = await runCli(['inspect', target(), '--plaintext-login-check']);
    assert.equal(noUser.code, 2);
    assert.match(
      noUser.stderr,
      /^error\[USAGE\]: could not run dbtls inspect: --plaintext-login-check needs --user/m,
    );
  });

  it('names an unreachable server with a hint', async () => {
    const r = await runCli(['inspect', '127.0.0.1:1']);
    assert.equal(r.code, 3); // a runtime failure (issue 10 item 16), was 2
    assert.match(
      r.stderr,
      /^error\[CONNECTION_REFUSED\]: could not connect to 127\.0\.0\.1:1: connection refused$/m,
    );
    assert.match(r.stderr, /^hint: /m);
  });
});

describe('narrowed configurations', () => {
  it('TLS 1.1 + 1.2 with three suites: equal to sslscan, legacy and weak findings', async () => {
    await db.restart({ tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key }, ...NARROW_12 });
    const report = await inspect(ep(), { ca: pki.ca });
    await assertEqualsSslscan(report);
    assert.deepEqual(report.tls.versions, {
      'TLSv1.0': false,
      'TLSv1.1': true,
      'TLSv1.2': true,
      'TLSv1.3': false,
    });
    assert.deepEqual(ids(report), [
      'tls-legacy-versions:high',
      'weak-ciphers:high',
      'tls13-not-accepted:info',
    ]);
  });

  it('TLS 1.3 only with two suites: equal to sslscan', async () => {
    await db.restart({ tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key }, ...NARROW_13 });
    const report = await inspect(ep(), { ca: pki.ca });
    await assertEqualsSslscan(report);
    assert.deepEqual(
      report.tls.ciphers.map((c) => c.name),
      ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'],
    );
  });
});

describe('bad certificates and no TLS', () => {
  it('finds the certificate made for another host', async () => {
    await db.restart({ tls: { ca: pki.ca, cert: pki.wrongHost.cert, key: pki.wrongHost.key } });
    const report = await inspect(ep(), { ca: pki.ca });
    assert.equal(report.certificate?.verified, true);
    assert.equal(report.certificate?.hostnameMatch, false);
    assert.deepEqual(ids(report), ['hostname-mismatch:high']);
  });

  it('finds the expired certificate (and not a second, untrusted finding)', async () => {
    await db.restart({ tls: { ca: pki.ca, cert: pki.expired.cert, key: pki.expired.key } });
    const report = await inspect(ep(), { ca: pki.ca });
    assert.equal(report.certificate?.verifyError, 'CERT_HAS_EXPIRED');
    assert.ok((report.certificate?.chain[0]?.daysLeft ?? 0) < 0);
    assert.deepEqual(ids(report), ['cert-expired:critical']);
  });

  it('finds a server without TLS, and never logs in to it', async () => {
    await db.restart({});
    const report = await inspect(ep(), {
      ca: pki.ca,
      credentials: { user: APP.name, password: APP.password },
    });
    assert.equal(report.server.tlsOffered, false);
    assert.equal(report.certificate, null);
    assert.equal(report.tls.probes, 1);
    assert.deepEqual(ids(report), ['tls-not-offered:critical']);
    assert.equal(report.sessionError?.code, 'TLS_NOT_OFFERED');
  });
});

describe('unreachable and foreign peers', () => {
  async function withServer(
    onConnect: (s: net.Socket) => void,
    fn: (port: number) => Promise<void>,
  ): Promise<void> {
    const server = net.createServer(onConnect);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      await fn(port);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  async function code(promise: Promise<unknown>): Promise<string> {
    try {
      await promise;
      return 'resolved';
    } catch (err) {
      assert.ok(isDbtlsError(err), String(err));
      return err.code;
    }
  }

  it('names a refused connection', async () => {
    let freePort = 0;
    await withServer(
      () => {},
      async (port) => {
        freePort = port;
      },
    );
    assert.equal(await code(inspect({ host: '127.0.0.1', port: freePort })), 'CONNECTION_REFUSED');
  });

  it('names what a non-MySQL server sent', async () => {
    await withServer(
      (s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'),
      async (port) => {
        try {
          await inspect({ host: '127.0.0.1', port });
          assert.fail('resolved');
        } catch (err) {
          assert.ok(isDbtlsError(err));
          assert.equal(err.code, 'PROTOCOL_MALFORMED');
          assert.match(err.message, /HTTP\/1\.1 400/);
        }
      },
    );
  });

  it('gives up on a silent peer after the timeout', async () => {
    const held: net.Socket[] = [];
    await withServer(
      (s) => held.push(s),
      async (port) => {
        assert.equal(await code(inspect({ host: '127.0.0.1', port }, { timeoutMs: 300 })), 'CONNECT_TIMEOUT');
        for (const s of held) s.destroy();
      },
    );
  });
});
