import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { evaluateFindings, type InspectFacts, parseSeverity } from '../../../src/inspect/findings.js';
import { type ChainEntry, type Finding, failsAt } from '../../../src/inspect/report.js';
import { describeCipher } from '../../../src/inspect/scan.js';
import { PROJECT_ROOT } from '../../harness/cli.js';

/** Facts of a healthy server: TLS 1.2 + 1.3, strong suites, a CA-issued leaf valid for a year. */
const LEAF: ChainEntry = {
  subject: '/CN=db.example',
  issuer: '/O=dbtls/CN=dbtls root',
  sans: ['DNS:db.example', 'IP:10.0.0.5'],
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

const HEALTHY: InspectFacts = {
  target: 'db.example:3306',
  inspectedAt: '2026-01-01T00:00:00.000Z',
  server: {
    version: '10.11.19-MariaDB',
    flavor: 'mariadb',
    tlsOffered: true,
    authPlugin: 'mysql_native_password',
    connectionId: 7,
  },
  tls: {
    versions: { 'TLSv1.0': false, 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': true },
    ciphers: [
      describeCipher('TLSv1.3', 'TLS_AES_256_GCM_SHA384'),
      describeCipher('TLSv1.2', 'ECDHE-ECDSA-AES256-GCM-SHA384'),
    ],
    probes: 6,
  },
  certificate: {
    chain: [LEAF],
    verified: true,
    trustAnchor: 'ca-file',
    checkedName: 'db.example',
    hostnameMatch: true,
  },
};

/** The certificate MariaDB 11.4+ generates when none is configured (src/inspect/zero-config.ts). */
const GENERATED: Partial<ChainEntry> = {
  subject: '/CN=MariaDB Server',
  issuer: '/CN=MariaDB Server',
  sans: [],
  serial: '00',
  keyType: 'RSA',
  keyBits: 4096,
  signatureAlgorithm: 'sha256WithRSAEncryption',
  selfSigned: true,
};

function withLeaf(
  patch: Partial<ChainEntry>,
  cert: Partial<NonNullable<InspectFacts['certificate']>> = {},
): InspectFacts {
  const base = HEALTHY.certificate as NonNullable<InspectFacts['certificate']>;
  return { ...HEALTHY, certificate: { ...base, ...cert, chain: [{ ...LEAF, ...patch }] } };
}

function ids(findings: Finding[]): string[] {
  return findings.map((f) => `${f.id}:${f.severity}`);
}

const CASES: { name: string; facts: InspectFacts; expect: string[] }[] = [
  { name: 'healthy server: nothing to report', facts: HEALTHY, expect: [] },
  {
    name: 'no TLS at all',
    facts: {
      ...HEALTHY,
      server: { ...HEALTHY.server, tlsOffered: false },
      tls: {
        versions: { 'TLSv1.0': false, 'TLSv1.1': false, 'TLSv1.2': false, 'TLSv1.3': false },
        ciphers: [],
        probes: 1,
      },
      certificate: null,
    },
    expect: ['tls-not-offered:critical'],
  },
  {
    name: 'TLS 1.0 and 1.1 still accepted, no 1.3',
    facts: {
      ...HEALTHY,
      tls: {
        ...HEALTHY.tls,
        versions: { 'TLSv1.0': true, 'TLSv1.1': true, 'TLSv1.2': true, 'TLSv1.3': false },
      },
    },
    expect: ['tls-legacy-versions:high', 'tls13-not-accepted:info'],
  },
  {
    name: 'TLS 1.3 only (TLS 1.2 not accepted)',
    facts: {
      ...HEALTHY,
      tls: {
        ...HEALTHY.tls,
        versions: { 'TLSv1.0': false, 'TLSv1.1': false, 'TLSv1.2': false, 'TLSv1.3': true },
      },
    },
    expect: ['tls12-not-accepted:low'],
  },
  {
    name: 'weak and non-forward-secret suites',
    facts: {
      ...HEALTHY,
      tls: {
        ...HEALTHY.tls,
        ciphers: [
          describeCipher('TLSv1.2', 'ECDHE-ECDSA-NULL-SHA'),
          describeCipher('TLSv1.2', 'AES256-GCM-SHA384'),
        ],
      },
    },
    expect: ['weak-ciphers:high', 'no-forward-secrecy:low'],
  },
  {
    name: 'TLS offered, but no version completes a handshake',
    facts: {
      ...HEALTHY,
      tls: {
        versions: { 'TLSv1.0': false, 'TLSv1.1': false, 'TLSv1.2': false, 'TLSv1.3': false },
        ciphers: [],
        probes: 5,
      },
      certificate: null,
    },
    expect: ['tls-handshake-failed:high'],
  },
  {
    name: 'an expired intermediate: chain-cert-expired, not also untrusted',
    facts: {
      ...HEALTHY,
      certificate: {
        ...(HEALTHY.certificate as NonNullable<InspectFacts['certificate']>),
        chain: [LEAF, { ...LEAF, subject: '/CN=dbtls intermediate', isCa: true, daysLeft: -2 }],
        verified: false,
        verifyError: 'CERT_HAS_EXPIRED',
      },
    },
    expect: ['chain-cert-expired:critical'],
  },
  { name: 'expires in 10 days', facts: withLeaf({ daysLeft: 10 }), expect: ['cert-expiring:medium'] },
  { name: 'expires in exactly 30 days: not yet reported', facts: withLeaf({ daysLeft: 30 }), expect: [] },
  {
    name: 'expired: not also untrusted',
    facts: withLeaf({ daysLeft: -3 }, { verified: false, verifyError: 'CERT_HAS_EXPIRED' }),
    expect: ['cert-expired:critical'],
  },
  {
    name: 'wrong host name',
    facts: withLeaf({ sans: ['DNS:wrong.example'] }, { hostnameMatch: false, checkedName: 'db.example' }),
    expect: ['hostname-mismatch:high'],
  },
  {
    name: 'untrusted CA',
    facts: withLeaf({}, { verified: false, verifyError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }),
    expect: ['cert-untrusted:high'],
  },
  {
    name: 'self-signed, pinned with --ca',
    facts: withLeaf({ selfSigned: true, issuer: '/CN=db.example' }),
    expect: ['cert-self-signed:info'],
  },
  {
    // Issue 9 item 10: the old expectation (cert-self-signed:medium alone) let a man in the middle with a
    // self-signed certificate pass an inspection with --ca at the default --fail-on high.
    name: 'self-signed, not in --ca: untrusted (high), whatever made it',
    facts: withLeaf(
      { selfSigned: true, issuer: '/CN=db.example' },
      { verified: false, verifyError: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
    ),
    expect: ['cert-untrusted:high', 'cert-self-signed:medium'],
  },
  {
    name: 'self-signed, no --ca (system store): reported as self-signed only',
    facts: withLeaf(
      { selfSigned: true, issuer: '/CN=db.example' },
      { verified: false, verifyError: 'DEPTH_ZERO_SELF_SIGNED_CERT', trustAnchor: 'system' },
    ),
    expect: ['cert-self-signed:medium'],
  },
  {
    name: 'a self-signed certificate of a MariaDB 11.4 is not, by its version alone, the generated one',
    facts: {
      ...withLeaf(
        { selfSigned: true, issuer: '/CN=db.example' },
        { verified: false, verifyError: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
      ),
      server: { ...HEALTHY.server, version: '11.4.2-MariaDB' },
    },
    expect: ['cert-untrusted:high', 'cert-self-signed:medium'],
  },
  {
    name: 'the MariaDB 11.4+ generated certificate (name, self-signed, no SAN), whatever the version string',
    facts: withLeaf(GENERATED, { verified: false, verifyError: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
    expect: ['cert-untrusted:high', 'server-generated-cert:medium'],
  },
  {
    name: 'the generated certificate, no --ca (system store): the generated-certificate finding only',
    facts: withLeaf(GENERATED, {
      verified: false,
      verifyError: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      trustAnchor: 'system',
    }),
    expect: ['server-generated-cert:medium'],
  },
  {
    name: 'the generated certificate pinned with --ca: still reported (it changes at every restart)',
    facts: withLeaf(GENERATED),
    expect: ['server-generated-cert:medium'],
  },
  {
    name: 'a CA-issued certificate named MariaDB Server is not the generated one',
    facts: withLeaf({ subject: '/CN=MariaDB Server', sans: ['DNS:db.example'] }),
    expect: [],
  },
  {
    name: 'a self-signed certificate named MariaDB Server with a SAN was made by hand',
    facts: withLeaf(
      { ...GENERATED, sans: ['DNS:db.example'] },
      { verified: false, verifyError: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
    ),
    expect: ['cert-untrusted:high', 'cert-self-signed:medium'],
  },
  {
    name: 'small RSA key and SHA-1 signature',
    facts: withLeaf({ keyType: 'RSA', keyBits: 1024, signatureAlgorithm: 'sha1WithRSAEncryption' }),
    expect: ['rsa-key-small:high', 'weak-signature:medium'],
  },
  {
    name: 'plaintext login accepted, require_secure_transport off',
    facts: {
      ...HEALTHY,
      session: {
        user: 'app',
        account: 'app@%',
        variables: { require_secure_transport: 'OFF' },
        plaintextLogin: { attempted: true, refused: false },
      },
    },
    expect: ['plaintext-login-accepted:high', 'require-secure-transport-off:medium'],
  },
  {
    name: 'plaintext login accepted by policy (learnt over TLS, not tried)',
    facts: {
      ...HEALTHY,
      session: {
        user: 'app',
        account: 'app@%',
        variables: { require_secure_transport: 'OFF' },
        sslType: '',
        plaintextLogin: { attempted: false, refused: false, basis: 'policy' },
      },
    },
    expect: ['plaintext-login-accepted:high', 'require-secure-transport-off:medium'],
  },
  {
    name: 'plaintext login: unknown policy is no finding of its own',
    facts: {
      ...HEALTHY,
      session: {
        user: 'app',
        account: 'app@%',
        variables: {},
        plaintextLogin: { attempted: false, basis: 'policy' },
      },
    },
    expect: [],
  },
  {
    name: 'plaintext login refused, require_secure_transport on',
    facts: {
      ...HEALTHY,
      session: {
        user: 'app',
        account: 'app@%',
        variables: { require_secure_transport: 'ON' },
        plaintextLogin: { attempted: true, refused: true, errorCode: 1045 },
      },
    },
    expect: [],
  },
];

describe('evaluateFindings', () => {
  for (const c of CASES) {
    it(c.name, () => {
      assert.deepEqual(ids(evaluateFindings(c.facts)), c.expect);
    });
  }

  it('gives every finding a message and a fix', () => {
    for (const c of CASES) {
      for (const f of evaluateFindings(c.facts)) {
        assert.match(f.id, /^[a-z0-9]+(-[a-z0-9]+)*$/);
        assert.ok(f.message.length > 10 && !f.message.includes('\n'), f.id);
        assert.ok(f.fix.length > 10, f.id);
      }
    }
  });

  it('documents every finding, with its severity, in docs/inspect.md', () => {
    const page = fs.readFileSync(path.join(PROJECT_ROOT, 'docs/inspect.md'), 'utf8');
    for (const c of CASES) {
      for (const f of evaluateFindings(c.facts)) {
        assert.match(page, new RegExp(`^\\| \`${f.id}\` \\| [^|]*${f.severity}`, 'm'), f.id);
      }
    }
  });

  it('writes MySQL fixes as online statements and MariaDB fixes as my.cnf edits', () => {
    const legacy = { ...HEALTHY.tls.versions, 'TLSv1.0': true };
    const maria = evaluateFindings({ ...HEALTHY, tls: { ...HEALTHY.tls, versions: legacy } });
    const mysql = evaluateFindings({
      ...HEALTHY,
      server: { ...HEALTHY.server, flavor: 'mysql' },
      tls: { ...HEALTHY.tls, versions: legacy },
    });
    assert.match(maria[0]?.fix ?? '', /\[mysqld\]/);
    assert.equal(mysql[0]?.fix, "SET PERSIST tls_version = 'TLSv1.2,TLSv1.3'; ALTER INSTANCE RELOAD TLS;");
  });

  it('quotes the account in the REQUIRE SSL fix', () => {
    const [f] = evaluateFindings({
      ...HEALTHY,
      session: {
        user: "o'neil",
        account: "o'neil@10.%",
        variables: {},
        plaintextLogin: { attempted: true, refused: false },
      },
    });
    assert.match(f?.fix ?? '', /^ALTER USER 'o''neil'@'10\.%' REQUIRE SSL;/);
  });

  it('writes every dbtls command of a fix as shell words: an account or CN with a quote or a space stays one word', () => {
    const [plaintext] = evaluateFindings({
      ...HEALTHY,
      session: {
        user: "o'hara",
        account: "o'hara@%",
        variables: {},
        plaintextLogin: { attempted: true, refused: false },
      },
    });
    assert.equal(
      plaintext?.fix,
      `ALTER USER 'o''hara'@'%' REQUIRE SSL; (or dbtls require ADMIN_TARGET 'o'\\''hara@%' --ssl --verify-password-file PASSWORD_FILE, PASSWORD_FILE holding its password for the check login), or SET GLOBAL require_secure_transport = ON;`,
    );
    const expiring = evaluateFindings(withLeaf({ subject: '/O=Acme/CN=Acme DB Server', daysLeft: 10 }));
    assert.equal(
      expiring.find((f) => f.id === 'cert-expiring')?.fix,
      "dbtls rotate db.example:3306 (re-issues and reloads online), or dbtls renew --cn 'Acme DB Server', install the new files at the same paths, then dbtls server reload db.example:3306",
    );
  });

  it('names server enable with the target and --issue when the server offers no TLS', () => {
    const [f] = evaluateFindings({
      ...HEALTHY,
      server: { ...HEALTHY.server, tlsOffered: false },
      certificate: null,
    });
    assert.equal(
      f?.fix,
      'on the server host, dbtls server enable db.example:3306 --issue --socket /run/mysqld/mysqld.sock (it issues the server certificate from the dbtls CA, made first with dbtls ca init, and writes the TLS config), or set ssl_cert/ssl_key/ssl_ca in [mysqld] and restart',
    );
  });
});

describe('severities', () => {
  it('parses names case-insensitively and refuses others', () => {
    assert.equal(parseSeverity('HIGH'), 'high');
    assert.equal(parseSeverity('critical'), 'critical');
    assert.equal(parseSeverity('severe'), undefined);
  });

  it('fails at or above the threshold', () => {
    const findings = evaluateFindings(withLeaf({ daysLeft: 10 }));
    assert.equal(failsAt({ findings }, 'medium'), true);
    assert.equal(failsAt({ findings }, 'high'), false);
    assert.equal(failsAt({ findings: [] }, 'info'), false);
  });
});
