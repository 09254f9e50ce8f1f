/**
 * The exporter's contract without a server: the exposition a report becomes (exact lines, so a renamed
 * metric or a new label fails here before a dashboard breaks), the probe target grammar, and the modules
 * file's errors with their line numbers.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { initCa } from '../../../src/ca/init.js';
import { caPath } from '../../../src/ca/store.js';
import { isDbtlsError } from '../../../src/errors.js';
import { parseProbeTarget, safe } from '../../../src/inspect/exporter.js';
import { parseExporterConfig } from '../../../src/inspect/exporter-config.js';
import { probeMetrics } from '../../../src/inspect/exporter-metrics.js';
import { prepareInspection } from '../../../src/inspect/inspect.js';
import type { InspectReport } from '../../../src/inspect/report.js';
import { describeCipher } from '../../../src/inspect/scan.js';
import { makeTestPki } from '../../harness/pki.js';

const REPORT: InspectReport = {
  target: 'db.example:3306',
  inspectedAt: '2026-01-01T00:00:00.000Z',
  server: {
    version: '10.11.19-MariaDB',
    flavor: 'mariadb',
    tlsOffered: true,
    authPlugin: 'mysql_native_password',
    connectionId: 7,
  } as InspectReport['server'],
  tls: {
    versions: { 'TLSv1.0': false, 'TLSv1.1': true, 'TLSv1.2': true, 'TLSv1.3': true },
    ciphers: [
      describeCipher('TLSv1.3', 'TLS_AES_256_GCM_SHA384'),
      describeCipher('TLSv1.2', 'ECDHE-ECDSA-AES256-GCM-SHA384'),
      describeCipher('TLSv1.1', 'ECDHE-ECDSA-AES128-SHA'),
    ],
    probes: 5,
  },
  certificate: {
    chain: [
      {
        subject: '/CN=db.example',
        issuer: '/CN=Root',
        sans: ['DNS:db.example'],
        serial: '0a',
        notBefore: '2026-01-01T00:00:00.000Z',
        notAfter: '2027-01-01T00:00:00.000Z',
        daysLeft: 365,
        fingerprint: 'ab'.repeat(32),
        keyType: 'EC',
        keyBits: 256,
        signatureAlgorithm: 'ecdsa-with-SHA256',
        selfSigned: false,
        isCa: false,
      },
    ],
    verified: true,
    trustAnchor: 'ca-file',
    checkedName: 'db.example',
    hostnameMatch: false,
  },
  session: {
    user: 'monitor',
    account: 'monitor@%',
    variables: { require_secure_transport: 'OFF' },
    plaintextLogin: { attempted: true, refused: false },
  },
  findings: [
    { id: 'tls-legacy-versions', severity: 'high', message: 'm', fix: 'f' },
    { id: 'hostname-mismatch', severity: 'medium', message: 'm', fix: 'f' },
  ],
};

const samples = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

describe('probe metrics', () => {
  it('a report: every contract metric, exactly', async () => {
    const { text, contentType } = await probeMetrics({ report: REPORT, seconds: 0.25, details: false });
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    const labels = 'position="0",subject="/CN=db.example",issuer="/CN=Root",serial="0a"';
    assert.deepEqual(samples(text), [
      'dbtls_probe_success 1',
      'dbtls_probe_duration_seconds 0.25',
      'dbtls_tls_offered 1',
      'dbtls_tls_version_accepted{version="TLSv1.0"} 0',
      'dbtls_tls_version_accepted{version="TLSv1.1"} 1',
      'dbtls_tls_version_accepted{version="TLSv1.2"} 1',
      'dbtls_tls_version_accepted{version="TLSv1.3"} 1',
      'dbtls_tls_info{version="TLSv1.3",cipher="TLS_AES_256_GCM_SHA384"} 1',
      `dbtls_cert_not_after_seconds{${labels}} 1798761600`,
      `dbtls_cert_not_before_seconds{${labels}} 1767225600`,
      'dbtls_cert_verified 1',
      'dbtls_hostname_matches 0',
      'dbtls_plaintext_login_accepted 1',
      'dbtls_require_secure_transport 0',
      'dbtls_findings{severity="high",code="tls-legacy-versions"} 1',
      'dbtls_findings{severity="medium",code="hostname-mismatch"} 1',
    ]);
    // Per-suite series only with details.
    const detailed = samples((await probeMetrics({ report: REPORT, seconds: 0.25, details: true })).text);
    assert.deepEqual(
      detailed.filter((l) => l.startsWith('dbtls_tls_cipher_accepted')),
      [
        'dbtls_tls_cipher_accepted{version="TLSv1.3",cipher="TLS_AES_256_GCM_SHA384"} 1',
        'dbtls_tls_cipher_accepted{version="TLSv1.2",cipher="ECDHE-ECDSA-AES256-GCM-SHA384"} 1',
        'dbtls_tls_cipher_accepted{version="TLSv1.1",cipher="ECDHE-ECDSA-AES128-SHA"} 1',
      ],
    );
  });

  it('the plaintext login: from the policy read over TLS or a real attempt; absent when unknown', async () => {
    const withLogin = (plaintextLogin: object) =>
      ({ ...REPORT, session: { ...REPORT.session!, plaintextLogin } }) as InspectReport;
    const value = async (plaintextLogin: object) =>
      samples(
        (await probeMetrics({ report: withLogin(plaintextLogin), seconds: 1, details: false })).text,
      ).find((l) => l.startsWith('dbtls_plaintext_login_accepted'));
    assert.equal(
      await value({ attempted: false, refused: true, basis: 'policy' }),
      'dbtls_plaintext_login_accepted 0',
    );
    assert.equal(
      await value({ attempted: true, refused: false, basis: 'attempt' }),
      'dbtls_plaintext_login_accepted 1',
    );
    assert.equal(await value({ attempted: false }), undefined);
  });

  it('a failure: success 0, the duration and the error code, nothing else', async () => {
    const { text } = await probeMetrics({
      failure: { code: 'CONNECT_TIMEOUT', message: 'could not connect' },
      seconds: 5,
    });
    assert.deepEqual(samples(text), [
      'dbtls_probe_success 0',
      'dbtls_probe_duration_seconds 5',
      'dbtls_probe_error{code="CONNECT_TIMEOUT"} 1',
    ]);
  });
});

describe('probe targets', () => {
  it('HOST, HOST:PORT, [v6]:PORT; anything else is TARGET_INVALID', () => {
    assert.deepEqual(parseProbeTarget('db1'), { host: 'db1', port: 3306 });
    assert.deepEqual(parseProbeTarget('db1.example.com:3307'), { host: 'db1.example.com', port: 3307 });
    assert.deepEqual(parseProbeTarget('[::1]:3306'), { host: '::1', port: 3306 });
    for (const bad of [null, '', 'mysql://u:p@db', 'db:0', 'db:70000', 'db 1', 'a/b', '::1']) {
      assert.throws(
        () => parseProbeTarget(bad),
        (e) => isDbtlsError(e) && e.code === 'TARGET_INVALID',
        String(bad),
      );
    }
    assert.equal(safe('a\u0000b\nc\u001b[31m'), 'a?b?c?[31m');
  });

  it('reads through the one host[:port] grammar, strict, with the probe request in the words', () => {
    assert.deepEqual(parseProbeTarget('[::1]:3307'), { host: '::1', port: 3307 });
    assert.deepEqual(parseProbeTarget('[::1]'), { host: '::1', port: 3306 });
    const table: [string, string][] = [
      ['db:x', 'could not probe: the port x is not from 1 to 65535'],
      ['db:', 'could not probe: the target "db:" is not HOST or HOST:PORT'],
      ['[::1]:0', 'could not probe: the port 0 is not from 1 to 65535'],
      ['db:123456', 'could not probe: the port 123456 is not from 1 to 65535'],
      ['::1:3306', 'could not probe: the target "::1:3306" is not HOST or HOST:PORT'],
      ['[db]:3306', 'could not probe: the target "[db]:3306" is not HOST or HOST:PORT'],
      ['db\u001b:1', 'could not probe: the target "db?:1" is not HOST or HOST:PORT'],
    ];
    for (const [text, message] of table) {
      assert.throws(
        () => parseProbeTarget(text),
        (e) => isDbtlsError(e) && e.code === 'TARGET_INVALID' && e.message === message,
        text,
      );
    }
  });
});

describe('modules file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-exporter-unit-'));
  const ca = path.join(dir, 'ca.pem');
  // A real CA certificate: the modules file's ca is parsed at start.
  fs.copyFileSync(caPath(initCa(path.join(dir, 'ca'), { passphrase: undefined }).dir, 'root'), ca);
  fs.writeFileSync(path.join(dir, 'pw'), 'secret\n');
  const file = path.join(dir, 'exporter.yml');

  it('resolves options, relative paths from the file, defaults', () => {
    const modules = parseExporterConfig(
      'modules:\n  a:\n    ca: ca.pem\n    timeout: 1.5s\n    user: mon\n    password-file: pw\n    details: true\n    plaintext-login-check: true\n  b:\n',
      file,
    );
    assert.deepEqual([...modules.keys()], ['a', 'b']);
    const a = modules.get('a')!.options;
    assert.equal(a.ca, ca);
    assert.equal(a.timeoutMs, 1500);
    assert.equal(a.details, true);
    assert.equal(a.plaintextCheck, true);
    assert.equal(modules.get('b')!.options.plaintextCheck, false);
    assert.deepEqual(a.credentials, { user: 'mon', password: 'secret', cert: undefined, key: undefined });
    assert.equal(modules.get('b')!.options.timeoutMs, 5000);
    assert.equal(modules.get('b')!.options.details, false);
  });

  it('names the line of each mistake', () => {
    const table: [string, string][] = [
      ['modules:\n  a:\n    ca: ca.pem\n    cipher: x\n', 'line 4: unknown key "cipher" in module a'],
      [
        'modules:\n  a:\n    timeout: 0s\n',
        'line 3: timeout "0s" in module a is not a duration from 1ms to 5m',
      ],
      [
        'modules:\n  a:\n    timeout: 10m\n',
        'line 3: timeout "10m" in module a is not a duration from 1ms to 5m',
      ],
      ['modules:\n  a:\n    cert: c.pem\n', 'line 3: module a needs cert and key together'],
      ['modules:\n  a:\n    cert: c.pem\n    key: k.pem\n', 'line 3: module a has cert and key but no user'],
      [
        `modules:\n  a:\n    ca: pw\n`,
        `line 3: the ca of module a (${path.join(dir, 'pw')}) holds no PEM certificate`,
      ],
      [
        'modules:\n  a:\n    ca: ca.pem\n    servername: "db\\nx"\n',
        'line 4: the servername of module a holds a space or a control character',
      ],
      ['modules:\n  a:\n    password-file: pw\n', 'line 3: module a has a password-file but no user'],
      [
        'modules:\n  a:\n    plaintext-login-check: true\n',
        'line 3: module a has plaintext-login-check but no user',
      ],
      [
        'modules:\n  a:\n    plaintext-login-check: 1\n',
        'line 3: plaintext-login-check in module a must be true or false',
      ],
      ['modules:\n  a:\n    ca: [x, y]\n', 'line 3: ca in module a needs a single value'],
      ['modules:\n  "a b":\n    ca: ca.pem\n', 'line 2: module name "a b" is not a plain word'],
      ['modules:\n  a:\n    ca: ca.pem\n    ca: ca.pem\n', 'line 4: not valid YAML (DUPLICATE_KEY)'],
      ['- a\n', 'line 1: expected a map with a `modules` key'],
      [
        'modules:\n  a:\n    user: mon\n    ssl-mode: disable\n',
        'line 2: module a: could not inspect with --ssl-mode disable: the credentialed login always uses TLS',
      ],
    ];
    for (const [text, message] of table) {
      assert.throws(
        () => parseExporterConfig(text, file),
        (e) =>
          isDbtlsError(e) &&
          e.code === 'EXPORTER_CONFIG_INVALID' &&
          e.message === `could not read the exporter config ${file}: ${message}` &&
          e.hint !== undefined,
        text,
      );
    }
  });
});

describe('client certificate and key, checked at start', () => {
  it("a module whose key is not its certificate's is refused before any scrape; so is a fleet inspection", async () => {
    const pki = await makeTestPki();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-exporter-pair-'));
    const file = path.join(dir, 'exporter.yml');
    const text = `modules:\n  a:\n    ca: ${pki.ca}\n    user: mon\n    cert: ${pki.client.cert}\n    key: ${pki.otherClient.key}\n`;
    assert.throws(
      () => parseExporterConfig(text, file),
      (e) =>
        isDbtlsError(e) &&
        e.code === 'EXPORTER_CONFIG_INVALID' &&
        e.message ===
          `could not read the exporter config ${file}: line 2: module a: could not load the client certificate ${pki.client.cert}: the key ${pki.otherClient.key} does not belong to it`,
    );
    // The library's fleet entry point: refused without a connection (port 1 answers nothing).
    assert.throws(
      () =>
        prepareInspection(
          { host: '127.0.0.1', port: 1 },
          { ca: pki.ca, credentials: { user: 'mon', cert: pki.client.cert, key: pki.otherClient.key } },
        ),
      { code: 'KEY_MISMATCH' },
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
