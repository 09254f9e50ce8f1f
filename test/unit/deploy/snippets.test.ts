import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_MAPPINGS, parseHostPort, SNIPPET_CLIENTS, snippet } from '../../../src/deploy/snippets.js';
import { SSL_MODE_NAMES, SSL_MODES, type SslMode } from '../../../src/tls/ssl-mode.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

const FILES = { ca: '/etc/db/ca.pem', cert: '/etc/db/client.pem', key: '/etc/db/client.key' };
const JAVA = { keystore: '/etc/db/keystore.jks', truststore: '/etc/db/truststore.jks' };

describe('snippet mappings are data keyed by the ssl-mode model', () => {
  it('every client covers exactly the modes of SSL_MODES', () => {
    assert.deepEqual(Object.keys(CLIENT_MAPPINGS).sort(), [...SNIPPET_CLIENTS].sort());
    for (const client of SNIPPET_CLIENTS) {
      assert.deepEqual(Object.keys(CLIENT_MAPPINGS[client].modes).sort(), [...SSL_MODE_NAMES].sort(), client);
    }
  });

  it('no client expresses preferred, and none enforces less than the mode asked', () => {
    for (const client of SNIPPET_CLIENTS) {
      const modes = CLIENT_MAPPINGS[client].modes;
      assert.equal(modes.preferred.expressed, false, client);
      for (const mode of SSL_MODE_NAMES) {
        const s = modes[mode];
        if (!s.expressed) continue;
        const asked = SSL_MODES[mode];
        const got = SSL_MODES[s.effective];
        assert.ok(!asked.verifiesChain || got.verifiesChain, `${client} ${mode}`);
        assert.ok(!asked.verifiesHostname || got.verifiesHostname, `${client} ${mode}`);
        assert.equal(got.encrypts, asked.encrypts, `${client} ${mode}`);
        // Enforcing more than asked is allowed only with a note that says so.
        if (s.effective !== mode) assert.ok(s.note, `${client} ${mode} needs a note`);
      }
    }
  });

  it('refuses preferred for every client with SSL_MODE_INSECURE', () => {
    for (const client of SNIPPET_CLIENTS) {
      assert.equal(
        code(() => snippet({ client, target: 'db', mode: 'preferred', ...FILES })),
        'SSL_MODE_INSECURE',
      );
    }
  });

  it('refuses mutual TLS with disable or trust (SSL_MODE_INVALID)', () => {
    for (const mode of ['disable', 'trust'] as SslMode[]) {
      assert.equal(
        code(() => snippet({ client: 'mysql2', target: 'db', mode, mutualTls: 'enable', ...FILES })),
        'SSL_MODE_INVALID',
      );
    }
  });

  it('names the missing file (MATERIAL_MISSING)', () => {
    assert.equal(
      code(() => snippet({ client: 'mysql2', target: 'db', mode: 'verify-ca' })),
      'MATERIAL_MISSING',
    );
    assert.equal(
      code(() =>
        snippet({ client: 'go', target: 'db', mode: 'verify-full', mutualTls: 'enable', ca: FILES.ca }),
      ),
      'MATERIAL_MISSING',
    );
    assert.equal(
      code(() => snippet({ client: 'jdbc-mysql', target: 'db', mode: 'verify-full', ca: FILES.ca })),
      'MATERIAL_MISSING',
    );
  });

  it('parses targets', () => {
    assert.deepEqual(parseHostPort('db.example.com'), { host: 'db.example.com', port: 3306 });
    assert.deepEqual(parseHostPort('10.0.0.5:3307'), { host: '10.0.0.5', port: 3307 });
    assert.deepEqual(parseHostPort('[::1]:3308'), { host: '::1', port: 3308 });
    assert.equal(
      code(() => parseHostPort('db:99999')),
      'TARGET_INVALID',
    );
    assert.equal(
      code(() => parseHostPort('mysql://x')),
      'TARGET_INVALID',
    );
  });
});

describe('snippet texts spell out every flag', () => {
  const cases: { name: string; req: Parameters<typeof snippet>[0]; text: string }[] = [
    {
      name: 'mysql CLI verify-full with mutual TLS',
      req: {
        client: 'mysql-cli',
        target: 'db:3306',
        mode: 'verify-full',
        mutualTls: 'enable',
        user: 'app',
        ...FILES,
      },
      text: '# password: MYSQL_PWD or an option file given with --defaults-extra-file, never on the command line\nmysql --host=db --port=3306 --user=app --ssl-mode=VERIFY_IDENTITY --ssl-ca=/etc/db/ca.pem --ssl-cert=/etc/db/client.pem --ssl-key=/etc/db/client.key --tls-version=TLSv1.2,TLSv1.3\n',
    },
    {
      name: 'mysql CLI trust gives no CA (REQUIRED verifies nothing)',
      req: { client: 'mysql-cli', target: 'db', mode: 'trust', ...FILES },
      text: '# password: MYSQL_PWD or an option file given with --defaults-extra-file, never on the command line\nmysql --host=db --port=3306 --user=app --ssl-mode=REQUIRED --tls-version=TLSv1.2,TLSv1.3\n',
    },
    {
      name: 'mariadb CLI disable',
      req: { client: 'mariadb-cli', target: 'db', mode: 'disable' },
      text: '# password: MYSQL_PWD or an option file given with --defaults-extra-file, never on the command line\nmariadb --host=db --port=3306 --user=app --skip-ssl\n',
    },
    {
      name: 'MariaDB Connector/J verify-full with a keystore',
      req: {
        client: 'jdbc-mariadb',
        target: 'db:3306',
        mode: 'verify-full',
        mutualTls: 'enable',
        database: 'shop',
        ...FILES,
        ...JAVA,
      },
      text: 'jdbc:mariadb://db:3306/shop?sslMode=verify-full&serverSslCert=/etc/db/ca.pem&keyStore=/etc/db/keystore.jks&keyStoreType=JKS&enabledSslProtocolSuites=TLSv1.2,TLSv1.3\n# connection properties, from your secret store (never in the URL): user, password, keyStorePassword, keyPassword (when it differs)\n',
    },
    {
      name: 'MySQL Connector/J verify-ca with a PKCS#12 truststore',
      req: { client: 'jdbc-mysql', target: 'db', mode: 'verify-ca', truststore: '/etc/db/trust.p12' },
      text: 'jdbc:mysql://db:3306/?sslMode=VERIFY_CA&trustCertificateKeyStoreUrl=file:/etc/db/trust.p12&trustCertificateKeyStoreType=PKCS12&fallbackToSystemTrustStore=false&tlsVersions=TLSv1.2,TLSv1.3\n# connection properties, from your secret store (never in the URL): user, password, trustCertificateKeyStorePassword\n',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(snippet(c.req).text, c.text);
    });
  }

  it('no snippet carries a password', () => {
    for (const client of SNIPPET_CLIENTS) {
      for (const mode of ['disable', 'verify-full'] as SslMode[]) {
        const text = snippet({ client, target: 'db', mode, ...FILES, ...JAVA }).text;
        assert.doesNotMatch(text, /--password/, `${client} ${mode}`);
        assert.doesNotMatch(text, /^password\s*=/m, `${client} ${mode}`);
        // Code reads it from the environment: every password assignment names MYSQL_PWD.
        for (const m of text.matchAll(/(?:password|Passwd)\s*[:=]\s*(.*)/g)) {
          if (!m[0].includes('MYSQL_PWD') && !m[0].startsWith('password=.'))
            assert.fail(`${client} ${mode}: ${m[0]}`);
        }
      }
    }
  });

  it('PyMySQL: verify flags spelled out, and a guard against its plaintext fallback', () => {
    const text = snippet({ client: 'python', target: 'db', mode: 'verify-ca', ...FILES }).text;
    assert.match(text, /ssl_verify_cert=True/);
    assert.match(text, /ssl_verify_identity=False/);
    assert.match(text, /if not self\.server_capabilities & CLIENT\.SSL:/);
  });

  it('go verify-ca verifies the chain itself, verify-full sets ServerName', () => {
    const ca = snippet({ client: 'go', target: 'db', mode: 'verify-ca', ...FILES }).text;
    assert.match(ca, /InsecureSkipVerify: true/);
    assert.match(ca, /VerifyPeerCertificate/);
    const full = snippet({ client: 'go', target: 'db', mode: 'verify-full', ...FILES }).text;
    assert.match(full, /ServerName: "db"/);
    assert.doesNotMatch(full, /InsecureSkipVerify/);
    assert.match(
      snippet({ client: 'go', target: 'db', mode: 'trust' }).text,
      /cfg\.TLSConfig = "skip-verify"/,
    );
  });
});
