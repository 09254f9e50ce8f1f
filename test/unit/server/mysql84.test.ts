/**
 * MySQL 8.4 (issue 11 item 7), which no server here can run: have_ssl is gone (deprecated in 8.0.26,
 * removed in 8.4, manual "What Is New in MySQL 8.4"), so whether TLS is live is read from
 * performance_schema.tls_channel_status (8.0.21+, manual 29.12.22.9), and only server/flavor.ts knows that.
 * The greeting is built field by field as the manual's Protocol::HandshakeV10 describes an 8.4 server's;
 * the SQL peer is a small faithful stand-in answering with 8.4's variable set and tls_channel_status rows
 * (docs/verification.md).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DbtlsError } from '../../../src/errors.js';
import { sessionTlsLiveness } from '../../../src/inspect/session.js';
import {
  CLIENT_CONNECT_WITH_DB,
  CLIENT_LONG_PASSWORD,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  hasCapability,
} from '../../../src/protocol/capabilities.js';
import { decodeGreeting, encodeGreeting } from '../../../src/protocol/handshake.js';
import type { AdminSession, Row } from '../../../src/server/admin/session.js';
import {
  capabilitiesOf,
  parseServerVersion,
  serverCapabilities,
  TLS_CHANNEL_STATUS_SQL,
  tlsLiveFromRows,
  tlsLiveQuery,
  tlsVariableNames,
} from '../../../src/server/flavor.js';
import { locateServedFiles } from '../../../src/server/rotation/plan.js';
import { planEnable } from '../../../src/server/tls/enable.js';
import { serverFilePaths } from '../../../src/server/tls/install.js';
import { serverStatus } from '../../../src/server/tls/status.js';

/** SHOW GLOBAL VARIABLES LIKE '%ssl%' / 'tls%' on MySQL 8.4 (manual, "Server System Variables"): no have_ssl. */
function mysql84Variables(dir: string): Record<string, string> {
  return {
    admin_ssl_ca: '',
    ssl_ca: path.join(dir, 'ca.pem'),
    ssl_cert: path.join(dir, 'server-cert.pem'),
    ssl_key: path.join(dir, 'server-key.pem'),
    ssl_cipher: '',
    ssl_crl: '',
    ssl_fips_mode: 'OFF',
    ssl_session_cache_mode: 'ON',
    tls_version: 'TLSv1.2,TLSv1.3',
    tls_ciphersuites: '',
    require_secure_transport: 'OFF',
  };
}

const VERSION_84 = '8.4.2';

/** A stand-in for an 8.4 server's SQL answers: variables, tls_channel_status, an empty mysql.user. */
function mysql84Session(
  dir: string,
  enabled: 'Yes' | 'No',
  port: number,
): AdminSession & { readonly asked: string[] } {
  const vars = mysql84Variables(dir);
  const asked: string[] = [];
  const version = parseServerVersion(VERSION_84, 'mysql');
  return {
    asked,
    options: { host: '127.0.0.1', port, user: 'root', tls: { mode: 'verify-full' } },
    version,
    capabilities: serverCapabilities(version),
    account: { user: 'root', host: 'localhost' },
    tlsProtocol: 'TLSv1.3',
    async query(sql: string): Promise<Row[]> {
      asked.push(sql);
      if (sql === TLS_CHANNEL_STATUS_SQL) return [{ VALUE: enabled }];
      if (/have_ssl/.test(sql) && !sql.startsWith('SHOW GLOBAL VARIABLES WHERE')) {
        throw new Error("ER_UNKNOWN_SYSTEM_VARIABLE: Unknown system variable 'have_ssl'");
      }
      const names = /IN \((.*)\)$/.exec(sql)?.[1];
      if (sql.startsWith('SHOW GLOBAL VARIABLES WHERE') && names) {
        const wanted = names.split(', ').map((n) => n.slice(1, -1));
        return wanted.filter((n) => n in vars).map((n) => ({ Variable_name: n, Value: vars[n] }));
      }
      if (sql.startsWith('SELECT User, Host, ssl_type')) return [];
      throw new Error(`unexpected query ${sql}`);
    },
    async close() {},
  };
}

let tmp: string;
let closedPort: number;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-mysql84-'));
  for (const f of ['ca.pem', 'server-cert.pem', 'server-key.pem']) fs.writeFileSync(path.join(tmp, f), '');
  // A port nothing listens on: the served-certificate probe must be attempted, and fail visibly.
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closedPort = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('MySQL 8.4: capabilities from server/flavor.ts alone', () => {
  it('the greeting of an 8.4 server (Protocol::HandshakeV10) reads as MySQL 8.4 with TLS offered', () => {
    const capabilities =
      CLIENT_LONG_PASSWORD |
      CLIENT_CONNECT_WITH_DB |
      CLIENT_PROTOCOL_41 |
      CLIENT_SSL |
      CLIENT_SECURE_CONNECTION |
      CLIENT_PLUGIN_AUTH;
    const bytes = encodeGreeting({
      protocolVersion: 10,
      serverVersion: VERSION_84,
      connectionId: 8,
      scramble: Buffer.alloc(20, 0x41),
      capabilities,
      charset: 255, // utf8mb4_0900_ai_ci, 8.0+'s default
      status: 2,
      authPluginName: 'caching_sha2_password',
      flavor: 'mysql',
    });
    const greeting = decodeGreeting(bytes);
    assert.equal(greeting.flavor, 'mysql');
    assert.ok(hasCapability(greeting.capabilities, CLIENT_SSL));
    const caps = capabilitiesOf(greeting.serverVersion, greeting.flavor);
    assert.deepEqual(
      {
        flavor: caps.version.flavor,
        reload: caps.reloadStatement,
        privilege: caps.reloadPrivilege,
        live: caps.tlsLiveFrom,
        plugin: caps.defaultAuthPlugin,
        versions: caps.tlsVersions,
      },
      {
        flavor: 'mysql',
        reload: 'ALTER INSTANCE RELOAD TLS',
        privilege: 'CONNECTION_ADMIN',
        live: 'tls_channel_status',
        plugin: 'caching_sha2_password',
        versions: ['TLSv1.2', 'TLSv1.3'],
      },
    );
  });

  const sources: [string, string][] = [
    ['8.4.2', 'tls_channel_status'],
    ['8.0.21', 'tls_channel_status'],
    ['8.0.20', 'have_ssl'],
    ['5.7.44', 'have_ssl'],
    ['10.11.19-MariaDB', 'have_ssl'],
  ];
  for (const [version, source] of sources) {
    it(`${version}: TLS liveness from ${source}`, () =>
      assert.equal(capabilitiesOf(version).tlsLiveFrom, source));
  }

  it('reads liveness from the rows each source returns', () => {
    const mysql = capabilitiesOf('8.4.2');
    const mariadb = capabilitiesOf('10.11.19-MariaDB');
    assert.equal(tlsLiveQuery(mysql), TLS_CHANNEL_STATUS_SQL);
    assert.equal(tlsLiveQuery(mariadb), "SHOW GLOBAL VARIABLES LIKE 'have_ssl'");
    assert.equal(tlsLiveFromRows(mysql, [{ VALUE: 'Yes' }]), true);
    assert.equal(tlsLiveFromRows(mysql, [{ VALUE: 'No' }]), false);
    assert.equal(tlsLiveFromRows(mysql, []), false);
    assert.equal(tlsLiveFromRows(mariadb, [{ Variable_name: 'have_ssl', Value: 'YES' }]), true);
    assert.equal(tlsLiveFromRows(mariadb, [{ Variable_name: 'have_ssl', Value: 'DISABLED' }]), false);
  });
});

describe('MySQL 8.4: rotation and status work without have_ssl', () => {
  it('rotate finds the served files when tls_channel_status says Enabled = Yes', async () => {
    const session = mysql84Session(tmp, 'Yes', closedPort);
    const files = await locateServedFiles(session);
    assert.deepEqual(files, {
      cert: path.join(tmp, 'server-cert.pem'),
      key: path.join(tmp, 'server-key.pem'),
      ca: path.join(tmp, 'ca.pem'),
    });
    assert.ok(session.asked.includes(TLS_CHANNEL_STATUS_SQL));
  });

  it('rotate refuses a server whose main channel has TLS disabled, with TLS_NOT_ENABLED', async () => {
    await assert.rejects(locateServedFiles(mysql84Session(tmp, 'No', closedPort)), {
      code: 'TLS_NOT_ENABLED',
    });
  });

  it('status reports TLS live and probes the served certificate (no silent skip)', async () => {
    const status = await serverStatus(mysql84Session(tmp, 'Yes', closedPort));
    assert.equal(status.tlsLive, true);
    assert.equal(status.haveSsl, 'unknown');
    assert.equal(status.tlsVersion, 'TLSv1.2,TLSv1.3');
    assert.equal(status.reloadStatement, 'ALTER INSTANCE RELOAD TLS');
    // The probe was attempted: nothing listens on the port, so it failed and said so.
    assert.match(
      status.probeError ?? '',
      /^CONNECTION_REFUSED: could not connect to 127\.0\.0\.1:\d+: the connection was refused/,
    );
  });

  it('status with TLS off does not probe', async () => {
    const status = await serverStatus(mysql84Session(tmp, 'No', closedPort));
    assert.deepEqual([status.tlsLive, status.served, status.probeError], [false, undefined, undefined]);
  });
});

describe('MySQL 8.4: the variables asked for and the verdicts shown come from flavor.ts', () => {
  it('no have_ssl is asked of a server that tells TLS in tls_channel_status; MariaDB and 8.0.20 still have it', () => {
    assert.deepEqual(tlsVariableNames(capabilitiesOf(VERSION_84)), [
      'ssl_ca',
      'ssl_cert',
      'ssl_key',
      'ssl_crl',
      'ssl_cipher',
      'tls_version',
      'require_secure_transport',
      'version',
    ]);
    assert.equal(tlsVariableNames(capabilitiesOf('10.11.19-MariaDB'))[0], 'have_ssl');
    assert.equal(tlsVariableNames(capabilitiesOf('8.0.20'))[0], 'have_ssl');
    // MySQL 5.7.9: neither tls_version (5.7.10) nor require_secure_transport (5.7.8) is missing by accident.
    const old = tlsVariableNames(capabilitiesOf('5.7.9'));
    assert.deepEqual([old.includes('tls_version'), old.includes('require_secure_transport')], [false, true]);
  });

  it('server status never names have_ssl to 8.4 and shows the channel as its evidence', async () => {
    const session = mysql84Session(tmp, 'Yes', closedPort);
    const status = await serverStatus(session);
    assert.deepEqual(
      session.asked.filter((q) => /have_ssl/.test(q)),
      [],
    );
    assert.equal(status.tlsLiveEvidence, 'tls_channel_status mysql_main Enabled=Yes');
    const off = await serverStatus(mysql84Session(tmp, 'No', closedPort));
    assert.deepEqual([off.tlsLive, off.tlsLiveEvidence], [false, 'tls_channel_status mysql_main Enabled=No']);
  });

  it('server enable on 8.4 (no have_ssl among the variables): SET PERSIST and ALTER INSTANCE RELOAD TLS', () => {
    const vars = new Map(Object.entries(mysql84Variables('/var/lib/mysql')));
    const plan = planEnable(capabilitiesOf(VERSION_84), vars, {
      files: serverFilePaths('/etc/mysql/ssl'),
      configFile: '/etc/mysql/conf.d/ssl-config.cnf',
      material: { certPem: '', keyPem: '', caPem: '' },
      tlsVersions: ['TLSv1.2', 'TLSv1.3'],
      requireSecureTransport: false,
    });
    assert.deepEqual(plan.statements, [
      "SET PERSIST ssl_ca = '/etc/mysql/ssl/ca.pem'",
      "SET PERSIST ssl_cert = '/etc/mysql/ssl/server-cert.pem'",
      "SET PERSIST ssl_key = '/etc/mysql/ssl/server-key.pem'",
      'ALTER INSTANCE RELOAD TLS',
    ]);
    assert.deepEqual([plan.restartRequired, plan.reasons], [false, []]);
  });

  it('the inspector shows the flavor verdict: have_ssl on MariaDB, tls_channel_status on 8.4, none if unreadable', async () => {
    const asked: string[] = [];
    const answering = (rows: Record<string, unknown>[]) => ({
      async query(sql: string) {
        asked.push(sql);
        return rows;
      },
    });
    const v84 = { ...mysql84Variables(tmp), version: VERSION_84 };
    assert.deepEqual(await sessionTlsLiveness(answering([{ VALUE: 'Yes' }]), v84), {
      live: true,
      evidence: 'tls_channel_status mysql_main Enabled=Yes',
    });
    assert.deepEqual(asked, [TLS_CHANNEL_STATUS_SQL]);
    const refused = {
      async query(): Promise<never> {
        throw new DbtlsError('QUERY_FAILED', 'could not run the SQL: SELECT command denied (1142)');
      },
    };
    assert.equal(await sessionTlsLiveness(refused, v84), undefined);
    asked.length = 0;
    const mariadb = { have_ssl: 'YES', version: '10.11.19-MariaDB-0+deb12u1' };
    assert.deepEqual(await sessionTlsLiveness(answering([]), mariadb), {
      live: true,
      evidence: 'have_ssl=YES',
    });
    assert.deepEqual(asked, [], 'MariaDB answers from the variables already read');
  });
});
