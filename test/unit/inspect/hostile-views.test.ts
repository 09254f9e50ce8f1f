/**
 * Issue 9, item 12, one view at a time: a report whose every server-given field is hostile (a SAN with a
 * newline, CURRENT_USER() with a fake line, a TLS error naming a CN, a host from a targets file, a bidi
 * override) rendered as inspect's text, the HTML page and the exporter's metrics; the findings that quote
 * them; the client's error texts; and the renderer's --json-logs line. Exact outputs, no control character.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { humanFleet, humanReport } from '../../../src/cli/inspect-text.js';
import { formatEndpoint } from '../../../src/client/dial.js';
import { tlsError } from '../../../src/client/tls-errors.js';
import { probeMetrics } from '../../../src/inspect/exporter-metrics.js';
import { evaluateFindings, type InspectFacts } from '../../../src/inspect/findings.js';
import { summarizeFleet } from '../../../src/inspect/fleet.js';
import { renderHtml } from '../../../src/inspect/html.js';
import type { ChainEntry, InspectReport } from '../../../src/inspect/report.js';
import { describeCipher } from '../../../src/inspect/scan.js';
import { RAW_CONTROL } from '../../harness/hostile.js';
import { capture } from '../cli/capture.js';

const SAN = 'DNS:db\nfake line\x1b[2J\u202e.example';
const SAN_SHOWN = 'DNS:db\\x0afake line\\x1b[2J\\u{202e}.example';
const ACCOUNT = 'app\nhint: trust me@%';
const ACCOUNT_SHOWN = 'app\\x0ahint: trust me@%';
const HOST = 'db\u2028\u202e1';

const LEAF: ChainEntry = {
  subject: '/CN=evil\\x0Ahint: x',
  issuer: '/CN=root <b>',
  sans: [SAN],
  serial: '01',
  notBefore: '2026-01-01T00:00:00.000Z',
  notAfter: '2027-01-01T00:00:00.000Z',
  daysLeft: 365,
  fingerprint: 'ab'.repeat(32),
  keyType: 'EC',
  keyBits: 256,
  signatureAlgorithm: 'ecdsa-with-SHA256',
  selfSigned: false,
  isCa: false,
};

const FACTS: InspectFacts = {
  target: formatEndpoint({ host: HOST, port: 3306 }),
  inspectedAt: '2026-01-01T00:00:00.000Z',
  server: {
    version: '10.11.19-MariaDB',
    flavor: 'mariadb',
    tlsOffered: true,
    authPlugin: 'mysql_native_password',
    connectionId: 7,
    unauthenticated: true,
  },
  tls: {
    versions: { 'TLSv1.0': false, 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': true },
    ciphers: [describeCipher('TLSv1.3', 'TLS_AES_256_GCM_SHA384')],
    probes: 3,
  },
  certificate: {
    chain: [LEAF],
    verified: true,
    trustAnchor: 'ca-file',
    checkedName: 'db.example',
    hostnameMatch: false,
    hostnameError: "Host: db.example. is not cert's CN: evil\nhint: x",
  },
  session: {
    user: 'app',
    account: ACCOUNT,
    protocol: 'TLSv1.3',
    cipher: 'TLS_AES_256_GCM_SHA384',
    variables: { require_secure_transport: 'OFF' },
    tlsLive: { live: true, evidence: 'tls_channel_status mysql_main Enabled=YES\r\x1b[2K' },
    sslType: '',
    plaintextLogin: { attempted: false, refused: false, basis: 'policy' },
  },
};
const REPORT: InspectReport = { ...FACTS, findings: evaluateFindings(FACTS) };

function assertInert(text: string, where: string): void {
  const bad = RAW_CONTROL.exec(text);
  assert.equal(bad, null, `${where} holds ${JSON.stringify(bad?.[0])}: ${JSON.stringify(text)}`);
}

describe('the findings quote what the server sent, escaped', () => {
  it('hostname-mismatch names the SAN; plaintext-login-accepted names the account', () => {
    const byId = new Map(REPORT.findings.map((f) => [f.id, f]));
    assert.equal(
      byId.get('hostname-mismatch')?.message,
      `the server certificate does not name db.example (it names ${SAN_SHOWN}): verify-full clients refuse it`,
    );
    const plaintext = byId.get('plaintext-login-accepted');
    assert.ok(plaintext?.message.startsWith(`the server accepts plaintext logins for ${ACCOUNT_SHOWN} (`));
    assert.ok(
      plaintext?.fix.startsWith("ALTER USER 'app\\x0ahint: trust me'@'%' REQUIRE SSL;"),
      plaintext?.fix,
    );
    for (const f of REPORT.findings) assertInert(f.message + f.fix, f.id);
  });
});

describe("inspect's text", () => {
  it('one line per element, the hostile fields escaped', () => {
    const lines = humanReport(REPORT, 'high');
    for (const line of lines) {
      assert.ok(!line.includes('\n'), JSON.stringify(line));
      assertInert(line, 'a line');
    }
    assert.ok(lines.includes(`               names ${SAN_SHOWN}`));
    assert.ok(
      lines.includes(`  session      logged in as ${ACCOUNT_SHOWN} over TLSv1.3 TLS_AES_256_GCM_SHA384`),
    );
    assert.ok(
      lines.includes(
        '               TLS live yes (tls_channel_status mysql_main Enabled=YES\\x0d\\x1b[2K) require_secure_transport=OFF tls_version=?',
      ),
    );
    assert.equal(lines[0]?.startsWith('inspected db\\u{2028}\\u{202e}1:3306 ('), true, lines[0]);
  });

  it('a fleet: the table stays aligned around an escaped cell', () => {
    const fleet = { targets: [REPORT], summary: summarizeFleet([REPORT], 'high') };
    const lines = humanFleet(fleet, false);
    for (const line of lines) assertInert(line, 'a line');
    const [head, row] = lines;
    assert.equal(row!.indexOf('mariadb'), head!.indexOf('SERVER'));
  });
});

describe('the HTML page', () => {
  it('escapes for HTML after showing controls and bidi characters as escapes', () => {
    const fleet = { targets: [REPORT], summary: summarizeFleet([REPORT], 'high') };
    const html = renderHtml(fleet, new Date('2026-01-01T00:00:00Z'));
    assertInert(html, 'the page');
    assert.ok(html.includes('issued by /CN=root &lt;b&gt;'));
    assert.ok(html.includes(`(it names ${SAN_SHOWN})`));
    assert.ok(html.includes('>db\\u{2028}\\u{202e}1:3306</a>'));
  });
});

describe("the exporter's metrics", () => {
  it('label values in the exposition format: backslash, quote and newline escaped', async () => {
    const hostile: InspectReport = {
      ...REPORT,
      certificate: {
        ...REPORT.certificate!,
        chain: [{ ...LEAF, subject: '/CN=a"b\\c\nd', issuer: '/CN=root' }],
      },
    };
    const { text } = await probeMetrics({ report: hostile, seconds: 0.01, details: false });
    assert.match(
      text,
      /^dbtls_cert_not_after_seconds\{position="0",subject="\/CN=a\\"b\\\\c\\nd",issuer="\/CN=root",serial="01"\} 1798761600$/m,
    );
  });
});

describe("the client's error texts", () => {
  it('a host that cannot resolve is named escaped', () => {
    assert.equal(formatEndpoint({ host: 'db\nfake\x1b[2J', port: 3306 }), 'db\\x0afake\\x1b[2J:3306');
    assert.equal(formatEndpoint({ socket: '/run/x\u202e.sock' }), '/run/x\\u{202e}.sock');
  });

  it("HOSTNAME_MISMATCH keeps node's text on one line: it names the CN raw", () => {
    const err = Object.assign(new Error("Host: other.example. is not cert's CN: evil\nhint: run\x1b[31m"), {
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    const e = tlsError(
      err,
      { mode: 'verify-full', mutualTls: 'disable', minVersion: 'TLSv1.2' },
      'db\n1',
      3306,
    );
    assert.equal(e.code, 'HOSTNAME_MISMATCH');
    assert.equal(
      e.message,
      "could not verify the certificate of db\\x0a1:3306 for the name db\\x0a1: Host: other.example. is not cert's CN: evil\\x0ahint: run\\x1b[31m",
    );
  });
});

describe('the renderer', () => {
  it('jsonLine: one valid JSON document on one line, whatever the strings hold', () => {
    const { out, render } = capture();
    render.jsonLine({ msg: 'v\u202e\u009b\n\x1b[2J\u2028' });
    assert.equal(out.stdout, '{"msg":"v\\u202e\\u009b\\n\\u001b[2J\\u2028"}\n');
    assert.deepEqual(JSON.parse(out.stdout), { msg: 'v\u202e\u009b\n\x1b[2J\u2028' });
  });
});
