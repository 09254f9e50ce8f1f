/**
 * The ssl-mode model against real servers: every mode x every server situation gives the outcome
 * DESIGN.md predicts, for dbtls's client and, where it has the same mode, for the `mariadb` CLI.
 * One mariadbd, restarted with the TLS files of each column (restart keeps users and datadir).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '../../../src/client/connect.js';
import { DbtlsError } from '../../../src/errors.js';
import type { Target } from '../../../src/tls/settings.js';
import type { SslMode } from '../../../src/tls/ssl-mode.js';
import { type MariadbInstance, type MariadbOptions, startMariadb } from '../../harness/mariadb.js';
import { mariadbClient } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

type Column =
  | 'no TLS'
  | 'our CA'
  | 'other host name'
  | 'expired'
  | 'untrusted CA'
  | 'REQUIRE X509 user'
  | 'require_secure_transport';
/** `tls` = logged in over TLS, `plain` = logged in without it, else the error code. */
type Outcome = 'tls' | 'plain' | string;

const COLUMNS: readonly Column[] = [
  'no TLS',
  'our CA',
  'other host name',
  'expired',
  'untrusted CA',
  'REQUIRE X509 user',
  'require_secure_transport',
];

// DESIGN.md, as outcomes. In the REQUIRE X509 column verify-ca and verify-full run with mutual TLS (the
// only modes that allow it); the other modes cannot present a certificate, so the server refuses them.
// MariaDB 10.11 answers a plaintext login under require_secure_transport with a plain 1045 (measured).
const EXPECTED: Readonly<Record<SslMode, readonly Outcome[]>> = {
  //             no TLS             our CA  other host name      expired         untrusted CA      X509 user      require_secure_transport
  disable: ['plain', 'plain', 'plain', 'plain', 'plain', 'AUTH_FAILED', 'AUTH_FAILED'],
  preferred: ['plain', 'tls', 'tls', 'tls', 'tls', 'AUTH_FAILED', 'tls'],
  trust: ['TLS_NOT_OFFERED', 'tls', 'tls', 'tls', 'tls', 'AUTH_FAILED', 'tls'],
  'verify-ca': ['TLS_NOT_OFFERED', 'tls', 'tls', 'CERT_EXPIRED', 'CERT_UNTRUSTED', 'tls', 'tls'],
  'verify-full': [
    'TLS_NOT_OFFERED',
    'tls',
    'HOSTNAME_MISMATCH',
    'CERT_EXPIRED',
    'CERT_UNTRUSTED',
    'tls',
    'tls',
  ],
};

// The mariadb CLI (10.11, libmariadb) where it has the same mode. It has no trust mode (--ssl falls back to
// plaintext) and no verify-ca. Measured here: --ssl-verify-server-cert checks the host name against
// 127.0.0.1 too (a certificate for wrong.example is refused), so it is verify-full; and --ssl-ca without
// verification still checks the chain, so preferred is --ssl without a CA.
const CLI_MODES: readonly { mode: SslMode; flags: string; ssl: false | { verifyServerCert: boolean } }[] = [
  { mode: 'disable', flags: '--skip-ssl', ssl: false },
  { mode: 'preferred', flags: '--ssl --skip-ssl-verify-server-cert', ssl: { verifyServerCert: false } },
  { mode: 'verify-full', flags: '--ssl --ssl-verify-server-cert --ssl-ca', ssl: { verifyServerCert: true } },
];

const USER = 'app';
const PASSWORD = 'app-pw-1';
const X509_USER = 'certuser';
const X509_PASSWORD = 'cert-pw-2';

let pki: TestPki;
let db: MariadbInstance;

function serverOptions(column: Column): MariadbOptions {
  const withCert = (cert: { cert: string; key: string }) => ({
    tls: { ca: pki.ca, cert: cert.cert, key: cert.key },
  });
  switch (column) {
    case 'no TLS':
      return {};
    case 'our CA':
    case 'REQUIRE X509 user':
      return withCert(pki.server);
    case 'other host name':
      return withCert(pki.wrongHost);
    case 'expired':
      return withCert(pki.expired);
    case 'untrusted CA':
      return withCert(pki.otherServer);
    case 'require_secure_transport':
      return { ...withCert(pki.server), requireSecureTransport: true };
  }
}

function target(mode: SslMode, column: Column): Target {
  const x509 = column === 'REQUIRE X509 user';
  const mutual = x509 && (mode === 'verify-ca' || mode === 'verify-full');
  return {
    host: db.host,
    port: db.port,
    user: x509 ? X509_USER : USER,
    password: x509 ? X509_PASSWORD : PASSWORD,
    tls: {
      mode,
      mutualTls: mutual ? 'enable' : 'disable',
      ca: pki.ca,
      ...(mutual ? { cert: pki.client.cert, key: pki.client.key } : {}),
      minVersion: 'TLSv1.2',
    },
  };
}

async function ourOutcome(mode: SslMode, column: Column): Promise<Outcome> {
  let conn: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    conn = await connect(target(mode, column));
    const rows = await conn.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
    const serverSays = String(rows[0]?.Value ?? '');
    // The server's own view must agree with the client's session facts.
    assert.equal(
      serverSays,
      conn.session.protocol ?? '',
      `${mode} / ${column}: server Ssl_version vs session facts`,
    );
    // verifiedAs names what protects the session: the mode itself, or less when preferred fell back.
    const protectedBy = mode === 'preferred' ? (conn.session.encrypted ? 'trust' : 'disable') : mode;
    assert.equal(conn.session.verifiedAs, protectedBy, `${mode} / ${column}: verifiedAs`);
    return conn.session.encrypted ? 'tls' : 'plain';
  } catch (err) {
    if (err instanceof DbtlsError) return err.code;
    throw err;
  } finally {
    await conn?.close();
  }
}

async function cliOutcome(
  ssl: false | { verifyServerCert: boolean },
  column: Column,
): Promise<'tls' | 'plain' | 'refused'> {
  const x509 = column === 'REQUIRE X509 user';
  const r = await mariadbClient({
    port: db.port,
    user: x509 ? X509_USER : USER,
    password: x509 ? X509_PASSWORD : PASSWORD,
    ssl:
      ssl === false
        ? false
        : ssl.verifyServerCert
          ? {
              ca: pki.ca,
              verifyServerCert: true,
              ...(x509 ? { cert: pki.client.cert, key: pki.client.key } : {}),
            }
          : { verifyServerCert: false },
    sql: "SHOW SESSION STATUS LIKE 'Ssl_version'",
  });
  if (!r.ok) return 'refused';
  return /Ssl_version\tTLSv1\.[23]/.test(r.stdout) ? 'tls' : 'plain';
}

before(async () => {
  pki = await makeTestPki();
  db = await startMariadb({
    users: [
      { name: USER, password: PASSWORD },
      { name: X509_USER, password: X509_PASSWORD, require: 'X509' },
    ],
  });
});
after(async () => {
  await db?.stop();
});

describe('ssl-mode matrix', () => {
  for (const column of COLUMNS) {
    it(`server: ${column}`, async () => {
      await db.restart(serverOptions(column));
      const col = COLUMNS.indexOf(column);
      const ours: string[] = [];
      const want: string[] = [];
      for (const mode of Object.keys(EXPECTED) as SslMode[]) {
        ours.push(`${mode}: ${await ourOutcome(mode, column)}`);
        want.push(`${mode}: ${EXPECTED[mode][col]}`);
      }
      assert.deepEqual(ours, want);
      const cli: string[] = [];
      const cliWant: string[] = [];
      for (const row of CLI_MODES) {
        const predicted = EXPECTED[row.mode][col] ?? '';
        cli.push(`${row.flags}: ${await cliOutcome(row.ssl, column)}`);
        cliWant.push(`${row.flags}: ${predicted === 'tls' || predicted === 'plain' ? predicted : 'refused'}`);
      }
      assert.deepEqual(cli, cliWant);
    });
  }
});
