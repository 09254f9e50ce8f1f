import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CLIENT_MAPPINGS,
  SNIPPET_CLIENTS,
  type SnippetClient,
  type SnippetRequest,
  snippet,
} from '../../../src/deploy/snippets.js';
import type { DbtlsError } from '../../../src/errors.js';
import { parseHostPort } from '../../../src/tls/dsn.js';
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

  it('refuses preferred for every client with SSL_MODE_INVALID', () => {
    for (const client of SNIPPET_CLIENTS) {
      assert.equal(
        code(() => snippet({ client, target: 'db', mode: 'preferred', ...FILES })),
        'SSL_MODE_INVALID',
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

  it('writes an IPv6 host in brackets where each syntax needs them', () => {
    const table: [SnippetClient, string][] = [
      ['go', '\tcfg.Addr = "[::1]:3307"'],
      ['jdbc-mysql', 'jdbc:mysql://[::1]:3307/?sslMode=REQUIRED'],
      ['jdbc-mariadb', 'jdbc:mariadb://[::1]:3307/?useSsl=true'],
      ['php-pdo', "new PDO('mysql:host=[::1];port=3307'"],
      ['php-mysqli', "real_connect('::1', 'app', getenv('MYSQL_PWD'), null, 3307,"],
      ['perl-mariadb', "DBI->connect('DBI:MariaDB:host=[::1];port=3307'"],
    ];
    for (const [client, line] of table) {
      const mode = client.startsWith('perl') ? 'verify-full' : 'trust';
      const { text } = snippet({ client, target: '[::1]:3307', mode, ca: FILES.ca });
      assert.ok(text.includes(line), `${client}: ${text}`);
    }
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

const PLAINTEXT = 'ssl-mode disable: the password and every query cross the network in plaintext';
const UNVERIFIED =
  'ssl-mode trust encrypts but does not verify the server: an attacker in the middle can read everything';
const MARIADB_TRUST =
  'the mariadb client has no encrypt-without-verifying mode that fails closed: --ssl continues in plaintext when the server offers no TLS, and --ssl-verify-server-cert (the only switch that refuses) verifies the certificate';
const MARIADB_VERIFY_CA =
  'the mariadb client cannot verify the chain without the host name: --ssl-verify-server-cert checks both, so this is verify-full; connect with a name the server certificate holds';
const MYSQL_REQUIRED = '--ssl-mode=REQUIRED encrypts but verifies nothing, even when --ssl-ca is given';
const NOT_MYSQL =
  "MySQL's own clients do not read [client-mariadb]: use `dbtls snippet --for mysql-cli` for them";
const MYSQL_CLI_FOR =
  "this command is for Oracle's MySQL client 8.0+: MariaDB's client (also installed as `mysql` on many systems) stops with unknown variable 'ssl-mode'; use --for mariadb-cli for it";
const PHP_VERIFY_CA =
  "PHP's mysqlnd verifies the chain and the host name together (OpenSSL streams' verify_peer): this is verify-full; connect with a name the server certificate holds";
const PERL_TRUST =
  'DBD::MariaDB and DBD::mysql on libmariadb have no encrypt-without-verifying mode that fails closed: they refuse to enforce TLS unless the server certificate is verified';
const PERL_VERIFY_CA =
  'DBD::MariaDB and DBD::mysql enforce TLS only with the server certificate verified, host name included: this is verify-full; connect with a name the server certificate holds';
const EXACT = {
  disable: ['disable', [PLAINTEXT]],
  trust: ['trust', [UNVERIFIED]],
  'verify-ca': ['verify-ca', []],
  'verify-full': ['verify-full', []],
} as const;

/**
 * Every client in every mode: the mode it enforces and the exact warnings, or the exact refusal. A client
 * that cannot say a mode says so (refusal, or a stricter mode with a note), never approximates silently.
 */
const WARNINGS: Readonly<
  Record<SnippetClient, Record<Exclude<SslMode, 'preferred'>, readonly [string, readonly string[]]>>
> = {
  'mysql-cli': {
    disable: ['disable', [MYSQL_CLI_FOR, PLAINTEXT]],
    trust: ['trust', [MYSQL_REQUIRED, MYSQL_CLI_FOR, UNVERIFIED]],
    'verify-ca': ['verify-ca', [MYSQL_CLI_FOR]],
    'verify-full': ['verify-full', [MYSQL_CLI_FOR]],
  },
  'mariadb-cli': {
    ...EXACT,
    trust: ['refused', [MARIADB_TRUST]],
    'verify-ca': ['verify-full', [MARIADB_VERIFY_CA]],
  },
  'my.cnf': {
    disable: ['disable', [NOT_MYSQL, PLAINTEXT]],
    trust: ['refused', [MARIADB_TRUST]],
    'verify-ca': ['verify-full', [MARIADB_VERIFY_CA, NOT_MYSQL]],
    'verify-full': ['verify-full', [NOT_MYSQL]],
  },
  'jdbc-mariadb': EXACT,
  'jdbc-mysql': EXACT,
  mysql2: EXACT,
  'mariadb-node': EXACT,
  go: EXACT,
  python: EXACT,
  'php-mysqli': { ...EXACT, 'verify-ca': ['verify-full', [PHP_VERIFY_CA]] },
  'php-pdo': { ...EXACT, 'verify-ca': ['verify-full', [PHP_VERIFY_CA]] },
  'perl-mariadb': {
    ...EXACT,
    trust: ['refused', [PERL_TRUST]],
    'verify-ca': ['verify-full', [PERL_VERIFY_CA]],
  },
  'perl-mysql': {
    ...EXACT,
    trust: ['refused', [PERL_TRUST]],
    'verify-ca': ['verify-full', [PERL_VERIFY_CA]],
  },
};

describe('what each client can say, and the exact warnings', () => {
  for (const client of SNIPPET_CLIENTS) {
    it(client, () => {
      for (const [mode, [effective, warnings]] of Object.entries(WARNINGS[client]) as [
        SslMode,
        readonly [string, readonly string[]],
      ][]) {
        for (const mutualTls of mode.startsWith('verify')
          ? (['disable', 'enable'] as const)
          : (['disable'] as const)) {
          const req = { client, target: 'db', mode, mutualTls, ...FILES, ...JAVA };
          if (effective === 'refused') {
            assert.throws(
              () => snippet(req),
              (e: DbtlsError) =>
                e.code === 'SNIPPET_MODE_UNSUPPORTED' &&
                e.message === `could not write the ${client} snippet for ssl-mode ${mode}: ${warnings[0]}` &&
                /choose verify-full/.test(e.hint ?? ''),
              `${client} ${mode}`,
            );
            continue;
          }
          const s = snippet(req);
          assert.equal(s.effectiveMode, effective, `${client} ${mode}`);
          assert.deepEqual(s.warnings, warnings, `${client} ${mode} ${mutualTls}`);
        }
      }
    });
  }
});

/** Every client, mode and mutual TLS setting the client can express. */
function everySnippet(): [SnippetClient, SslMode, 'enable' | 'disable'][] {
  const out: [SnippetClient, SslMode, 'enable' | 'disable'][] = [];
  for (const client of SNIPPET_CLIENTS) {
    for (const mode of SSL_MODE_NAMES) {
      if (!CLIENT_MAPPINGS[client].modes[mode].expressed) continue;
      out.push([client, mode, 'disable']);
      if (SSL_MODES[mode].verifiesChain) out.push([client, mode, 'enable']);
    }
  }
  return out;
}

/** The spelling in each client's text that makes it refuse a server without TLS (fail closed). */
const FAILS_CLOSED: Readonly<Record<SnippetClient, RegExp>> = {
  'mysql-cli': /--ssl-mode=(REQUIRED|VERIFY_CA|VERIFY_IDENTITY) /,
  'mariadb-cli': /--ssl-verify-server-cert=1 /,
  // libmariadb's option-file reader takes a bare boolean key as 0 (issue 9 item 2).
  'my.cnf': /^ssl-verify-server-cert=1$/m,
  // Connector/J 2.x has no sslMode: without useSsl=true it connects in plaintext (issue 9 item 1).
  'jdbc-mariadb': /\?useSsl=true&/,
  'jdbc-mysql': /\?sslMode=(REQUIRED|VERIFY_CA|VERIFY_IDENTITY)&/,
  mysql2: /^ {2}ssl: \{$/m,
  'mariadb-node': /^ {2}ssl: \{$/m,
  go: /cfg\.TLSConfig = "(skip-verify|dbtls)"/,
  python: /^connection = TlsOnlyConnection\($/m,
  'php-mysqli': /, MYSQLI_CLIENT_SSL(\)| \| MYSQLI_CLIENT_SSL_DONT_VERIFY_SERVER_CERT\));$/m,
  'php-pdo': /^ {4}PDO::MYSQL_ATTR_SSL_(CA|CIPHER) => '/m,
  'perl-mariadb': /^ {4}mariadb_ssl_verify_server_cert => 1,/m,
  'perl-mysql': /^ {4}mysql_ssl_verify_server_cert => 1,/m,
};

describe('never a mode that falls back to plaintext', () => {
  it('every TLS snippet has its fail-closed spelling, and no snippet says preferred or a bare --ssl', () => {
    for (const [client, mode, mutualTls] of everySnippet()) {
      const text = snippet({ client, target: 'db', mode, mutualTls, ...FILES, ...JAVA }).text;
      const what = `${client} ${mode} ${mutualTls}`;
      assert.doesNotMatch(text, /prefer/i, what);
      assert.doesNotMatch(text, /(^|\s)--ssl(\s|$)|^ssl$/m, what);
      if (client === 'perl-mysql' || client === 'perl-mariadb') {
        // A Perl snippet that asks for TLS must also verify (the pair that fails closed, measured).
        assert.equal(/_ssl => 1,/.test(text), /_ssl_verify_server_cert => 1,/.test(text), what);
      }
      if (mode === 'disable') assert.doesNotMatch(text, FAILS_CLOSED[client], what);
      else assert.match(text, FAILS_CLOSED[client], what);
    }
  });
});

describe('snippet texts spell out every flag', () => {
  it('Connector/J: the keystore and truststore types are always explicit', () => {
    const jdbc = (client: 'jdbc-mariadb' | 'jdbc-mysql', keystore: string, keystoreType?: 'JKS' | 'PKCS12') =>
      snippet({
        client,
        target: 'db',
        mode: 'verify-full',
        mutualTls: 'enable',
        ...FILES,
        keystore,
        truststore: '/etc/db/trust.p12',
        ...(keystoreType ? { keystoreType } : {}),
      }).text;
    assert.match(jdbc('jdbc-mariadb', '/k.p12'), /&keyStore=\/k\.p12&keyStoreType=PKCS12&/);
    assert.match(jdbc('jdbc-mariadb', '/k.jks'), /&keyStoreType=JKS&/);
    assert.match(jdbc('jdbc-mariadb', '/k.store', 'PKCS12'), /&keyStoreType=PKCS12&/);
    // MariaDB Connector/J with a truststore rather than a PEM CA: its type explicit too.
    const trustOnly = snippet({
      client: 'jdbc-mariadb',
      target: 'db',
      mode: 'verify-ca',
      truststore: '/etc/db/trust.jks',
    }).text;
    assert.match(
      trustOnly,
      /\?useSsl=true&disableSslHostnameVerification=true&trustStore=\/etc\/db\/trust\.jks&trustStoreType=JKS&/,
    );
    assert.match(trustOnly, /never in the URL\): user, password, trustStorePassword\n/);
    const mysql = jdbc('jdbc-mysql', '/k.jks');
    assert.match(mysql, /&trustCertificateKeyStoreType=PKCS12&/);
    assert.match(mysql, /&clientCertificateKeyStoreType=JKS&/);
    assert.match(mysql, /&fallbackToSystemTrustStore=false&/);
  });

  it('go: each import once, and each one used', () => {
    for (const [, mode, mutualTls] of everySnippet().filter(([c]) => c === 'go')) {
      const text = snippet({ client: 'go', target: 'db', mode, mutualTls, ...FILES }).text;
      const imports = [...text.matchAll(/^\t"([^"]+)"$/gm)].map((m) => m[1]!);
      assert.equal(new Set(imports).size, imports.length, `${mode} ${mutualTls}: ${imports.join(', ')}`);
      for (const pkg of imports) {
        const name = pkg.split('/').pop()!;
        assert.match(text, new RegExp(`\\b${name}\\.`), `${mode} ${mutualTls}: ${pkg} unused`);
      }
      assert.equal(text.split('{').length, text.split('}').length, `${mode} ${mutualTls}: braces`);
    }
  });

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
      text: "# for Oracle's MySQL client 8.0+ (`mysql --version` says 'Ver 8'); MariaDB's client is `dbtls snippet --for mariadb-cli`\n# password: MYSQL_PWD or an option file given with --defaults-extra-file, never on the command line\nmysql --host=db --port=3306 --protocol=TCP --user=app --ssl-mode=VERIFY_IDENTITY --ssl-ca=/etc/db/ca.pem --ssl-cert=/etc/db/client.pem --ssl-key=/etc/db/client.key --tls-version=TLSv1.2,TLSv1.3\n",
    },
    {
      name: 'mysql CLI trust gives no CA (REQUIRED verifies nothing)',
      req: { client: 'mysql-cli', target: 'db', mode: 'trust', ...FILES },
      text: "# for Oracle's MySQL client 8.0+ (`mysql --version` says 'Ver 8'); MariaDB's client is `dbtls snippet --for mariadb-cli`\n# password: MYSQL_PWD or an option file given with --defaults-extra-file, never on the command line\nmysql --host=db --port=3306 --protocol=TCP --user=app --ssl-mode=REQUIRED --tls-version=TLSv1.2,TLSv1.3\n",
    },
    {
      name: 'mariadb CLI disable',
      req: { client: 'mariadb-cli', target: 'db', mode: 'disable' },
      text: '# password: MYSQL_PWD or an option file given with --defaults-extra-file, never on the command line\nmariadb --host=db --port=3306 --protocol=TCP --user=app --skip-ssl\n',
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
      text: "jdbc:mariadb://db:3306/shop?useSsl=true&serverSslCert=/etc/db/ca.pem&keyStore=/etc/db/keystore.jks&keyStoreType=JKS&enabledSslProtocolSuites=TLSv1.2,TLSv1.3\n# MariaDB Connector/J 2.x and 3.x (run against 2.7.6 on Java 17): useSsl=true, not sslMode, which 2.x ignores\n# connection properties, from your secret store (never in the URL): user, password, keyStorePassword, keyPassword (the key entry's password; dbtls export writes it equal to keyStorePassword)\n",
    },
    {
      name: 'MariaDB Connector/J: each mode in the words 2.x and 3.x both read',
      req: { client: 'jdbc-mariadb', target: 'db', mode: 'trust' },
      text: 'jdbc:mariadb://db:3306/?useSsl=true&trustServerCertificate=true&enabledSslProtocolSuites=TLSv1.2,TLSv1.3\n# MariaDB Connector/J 2.x and 3.x (run against 2.7.6 on Java 17): useSsl=true, not sslMode, which 2.x ignores\n# connection properties, from your secret store (never in the URL): user, password\n',
    },
    {
      name: 'MariaDB Connector/J disable',
      req: { client: 'jdbc-mariadb', target: 'db', mode: 'disable' },
      text: 'jdbc:mariadb://db:3306/?useSsl=false\n# MariaDB Connector/J 2.x and 3.x (run against 2.7.6 on Java 17): useSsl=true, not sslMode, which 2.x ignores\n# connection properties, from your secret store (never in the URL): user, password\n',
    },
    {
      name: 'my.cnf: =1 on the boolean, TCP, the database only for the interactive client',
      req: {
        client: 'my.cnf',
        target: 'db.example.com:3307',
        mode: 'verify-full',
        database: 'shop',
        ...FILES,
      },
      text: '# ssl-mode verify-full, for MariaDB clients: mariadb, mariadb-dump and\n# Connector/C programs (mysqlclient, DBD::MariaDB, DBD::mysql, ruby-mysql2). Run against libmariadb 3.3 (MariaDB 10.11).\n# Use it with --defaults-extra-file=FILE (or --defaults-file=FILE); keep the file 0600 if you add password=.\n[client-mariadb]\nhost=db.example.com\nport=3307\nprotocol=TCP\nuser=app\nssl-ca=/etc/db/ca.pem\nssl-verify-server-cert=1\ntls-version=TLSv1.2,TLSv1.3\n\n[mysql]\ndatabase=shop\n',
    },
    {
      name: 'my.cnf: a value with a space, # or a backslash is double-quoted',
      req: { client: 'my.cnf', target: 'db', mode: 'verify-full', user: 'a b', ca: '/etc/my db/#1\\ca.pem' },
      text: '# ssl-mode verify-full, for MariaDB clients: mariadb, mariadb-dump and\n# Connector/C programs (mysqlclient, DBD::MariaDB, DBD::mysql, ruby-mysql2). Run against libmariadb 3.3 (MariaDB 10.11).\n# Use it with --defaults-extra-file=FILE (or --defaults-file=FILE); keep the file 0600 if you add password=.\n[client-mariadb]\nhost=db\nport=3306\nprotocol=TCP\nuser="a b"\nssl-ca="/etc/my db/#1\\\\ca.pem"\nssl-verify-server-cert=1\ntls-version=TLSv1.2,TLSv1.3\n',
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

  it('a control character in any value is refused for every client, before any text is made (item 6)', () => {
    const fields = ['target', 'ca', 'cert', 'key', 'keystore', 'truststore', 'user', 'database'] as const;
    const bad = ['\n', '\r', '\u0000', '\t', '\u001b[31m', '\u007f', '\u0085', '\u2028'];
    for (const [client, mode, mutualTls] of everySnippet()) {
      for (const field of fields) {
        for (const c of bad) {
          const req: SnippetRequest = { client, target: 'db', mode, mutualTls, ...FILES, ...JAVA };
          const value = `${req[field] ?? 'x'}${c}init-command=DROP DATABASE prod`;
          assert.throws(
            () => snippet({ ...req, [field]: value }),
            (e: DbtlsError) =>
              e.code === 'SNIPPET_VALUE_INVALID' &&
              e.message.includes('holds a control character') &&
              !/[\n\r\u0000]/.test(e.message),
            `${client} ${mode} ${field} ${JSON.stringify(c)}`,
          );
        }
      }
    }
  });

  it('mysql2 verify-full by IP is refused; by name it checks the name (item 4)', () => {
    assert.throws(
      () => snippet({ client: 'mysql2', target: '10.0.0.5:3306', mode: 'verify-full', ...FILES }),
      (e: DbtlsError) =>
        e.code === 'SNIPPET_MODE_UNSUPPORTED' &&
        /dbtls proxy/.test(e.hint ?? '') &&
        /DNS name/.test(e.hint ?? ''),
    );
    assert.match(
      snippet({ client: 'mysql2', target: '10.0.0.5', mode: 'verify-ca', ...FILES }).text,
      /verifyIdentity: false/,
    );
    assert.match(
      snippet({ client: 'mysql2', target: 'db.example.com', mode: 'verify-full', ...FILES }).text,
      /verifyIdentity: true/,
    );
  });

  it('mariadb-node verify-full by IP checks the dialled address, by name the servername (item 5)', () => {
    const ip = snippet({ client: 'mariadb-node', target: '10.0.0.5', mode: 'verify-full', ...FILES }).text;
    assert.match(ip, /^import tls from 'node:tls';$/m);
    assert.match(
      ip,
      /checkServerIdentity: \(_name, cert\) => tls\.checkServerIdentity\("10\.0\.0\.5", cert\),/,
    );
    assert.doesNotMatch(ip, /servername:/);
    const name = snippet({
      client: 'mariadb-node',
      target: 'db.example.com',
      mode: 'verify-full',
      ...FILES,
    }).text;
    assert.match(name, /servername: "db\.example\.com"/);
    assert.doesNotMatch(name, /node:tls/);
  });

  it('PHP, Perl and my.cnf: localhost (the unix socket there) is refused; a ; in a DSN value too', () => {
    // my.cnf too: libmariadb reads protocol=TCP as 0 and takes localhost as the socket (measured).
    for (const client of ['php-mysqli', 'php-pdo', 'perl-mariadb', 'perl-mysql', 'my.cnf'] as const) {
      assert.equal(
        code(() => snippet({ client, target: 'localhost:3307', mode: 'verify-full', ...FILES })),
        'SNIPPET_TARGET_UNSUPPORTED',
        client,
      );
    }
    for (const client of ['php-pdo', 'perl-mariadb', 'perl-mysql'] as const) {
      assert.equal(
        code(() => snippet({ client, target: 'db', mode: 'verify-full', database: 'a;port=1', ...FILES })),
        'SNIPPET_VALUE_INVALID',
        client,
      );
    }
  });

  it('PHP and Perl quote every value for their single-quoted strings', () => {
    const ca = "/etc/o'brien\\ca.pem";
    for (const client of ['php-mysqli', 'php-pdo', 'perl-mariadb', 'perl-mysql'] as const) {
      const text = snippet({ client, target: 'db', mode: 'verify-full', ...FILES, ca, user: "o'k" }).text;
      assert.ok(text.includes("'/etc/o\\'brien\\\\ca.pem'"), `${client}:\n${text}`);
      assert.ok(text.includes("'o\\'k'"), `${client}:\n${text}`);
    }
  });

  it('no snippet carries a password, in any mode', () => {
    for (const [client, mode, mutualTls] of everySnippet()) {
      const text = snippet({ client, target: 'db', mode, mutualTls, ...FILES, ...JAVA }).text;
      assert.doesNotMatch(text, /--password/, `${client} ${mode}`);
      assert.doesNotMatch(text, /^password\s*=/m, `${client} ${mode}`);
      // Code reads it from the environment: every password assignment names MYSQL_PWD.
      for (const m of text.matchAll(/(?:password|Passwd)\s*[:=]\s*(.*)/g)) {
        if (!m[0].includes('MYSQL_PWD') && !m[0].startsWith('password=.'))
          assert.fail(`${client} ${mode}: ${m[0]}`);
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

describe('the target goes into URLs, DSNs and code unquoted, so it must be a host name or an address', () => {
  it('refuses ?, &, ;, spaces and quotes in every client, with TARGET_INVALID; names and addresses pass', () => {
    for (const client of SNIPPET_CLIENTS) {
      for (const target of ['db1?sslMode=DISABLED&x=', 'db1;rm -rf /', 'db1 x', "db'1", 'db1/x']) {
        assert.throws(
          () => snippet({ client, target, mode: 'verify-full', ...FILES }),
          (err: DbtlsError) => err.code === 'TARGET_INVALID' || err.code === 'USAGE',
          `${client} ${target}`,
        );
      }
      for (const target of ['db1.example.com:3307', 'db_1', '10.0.0.5', '[::1]:3307']) {
        // Taken as a target (a client may still refuse the mode for it: mysql2 cannot verify an IP).
        try {
          assert.ok(snippet({ client, target, mode: 'verify-full', ...FILES, ...JAVA }).text.length > 0);
        } catch (err) {
          assert.notEqual((err as DbtlsError).code, 'TARGET_INVALID', `${client} ${target}`);
        }
      }
    }
  });
});
