/**
 * The files a server names (@@ssl_cert, @@ssl_key, @@ssl_ca, @@ssl_crl, @@pid_file) are read from its
 * datadir when relative (MariaDB and MySQL change into it at start; MySQL's auto-generated certificate is
 * `server-cert.pem`). globalVariables resolves them, the one place (issue 11): rotation and server status
 * took a relative path as relative to where dbtls runs.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AdminSession, globalVariables, type Row } from '../../../src/server/admin/session.js';
import { parseServerVersion, serverCapabilities } from '../../../src/server/flavor.js';
import { locateServedFiles } from '../../../src/server/rotation/plan.js';
import { certDirOf } from '../../../src/server/secure/paths.js';
import { serverStatus } from '../../../src/server/tls/status.js';

let tmp: string;
let datadir: string;
let closedPort: number;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-server-files-'));
  datadir = path.join(tmp, 'data');
  fs.mkdirSync(datadir);
  for (const f of ['server-cert.pem', 'server-key.pem', 'ca.pem'])
    fs.writeFileSync(path.join(datadir, f), '');
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closedPort = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** MySQL 8.0.20 with auto-generated certificates: relative @@ssl_* (have_ssl still tells TLS is live). */
function session(vars: Record<string, string>): AdminSession & { readonly asked: string[] } {
  const asked: string[] = [];
  const version = parseServerVersion('8.0.20', 'mysql');
  return {
    asked,
    options: { host: '127.0.0.1', port: closedPort, user: 'root', tls: { mode: 'verify-full' } },
    version,
    capabilities: serverCapabilities(version),
    account: { user: 'root', host: 'localhost' },
    tlsProtocol: 'TLSv1.3',
    async query(sql: string): Promise<Row[]> {
      asked.push(sql);
      if (sql === "SHOW GLOBAL VARIABLES LIKE 'have_ssl'")
        return [{ Variable_name: 'have_ssl', Value: 'YES' }];
      const names = /^SHOW GLOBAL VARIABLES WHERE Variable_name IN \((.*)\)$/.exec(sql)?.[1];
      if (names) {
        const wanted = names.split(', ').map((n) => n.slice(1, -1));
        return wanted.filter((n) => n in vars).map((n) => ({ Variable_name: n, Value: vars[n] }));
      }
      if (sql.startsWith('SELECT User, Host, ssl_type')) return [];
      throw new Error(`unexpected query ${sql}`);
    },
    async close() {},
  };
}

const RELATIVE = (): Record<string, string> => ({
  have_ssl: 'YES',
  datadir: `${datadir}/`,
  ssl_cert: 'server-cert.pem',
  ssl_key: 'server-key.pem',
  ssl_ca: 'ca.pem',
  ssl_crl: '',
  pid_file: 'host.pid',
});

describe('globalVariables: the server files as absolute paths', () => {
  const cases: [string, Record<string, string>, string[], (string | undefined)[]][] = [
    [
      'relative: read from the datadir',
      { datadir: '/var/lib/mysql/', ssl_cert: 'server-cert.pem', ssl_crl: 'ssl/crl.pem', pid_file: 'h.pid' },
      ['ssl_cert', 'ssl_crl', 'pid_file'],
      ['/var/lib/mysql/server-cert.pem', '/var/lib/mysql/ssl/crl.pem', '/var/lib/mysql/h.pid'],
    ],
    [
      'absolute: unchanged',
      { datadir: '/var/lib/mysql/', ssl_cert: '/etc/mysql/ssl/server-cert.pem' },
      ['ssl_cert'],
      ['/etc/mysql/ssl/server-cert.pem'],
    ],
    ['empty: names no file', { datadir: '/var/lib/mysql/', ssl_ca: '' }, ['ssl_ca'], ['']],
    ['unknown to the server: absent', { datadir: '/d/' }, ['ssl_crl'], [undefined]],
    [
      'another variable is not a path',
      { datadir: '/d/', ssl_cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' },
      ['ssl_cipher'],
      ['ECDHE-ECDSA-AES128-GCM-SHA256'],
    ],
  ];
  for (const [name, vars, asked, want] of cases) {
    it(name, async () => {
      const got = await globalVariables(session(vars), asked);
      assert.deepEqual(
        asked.map((n) => got.get(n)),
        want,
      );
    });
  }

  it('asks for the datadir only with a file variable', async () => {
    const s = session({ datadir: '/d/', version: '8.0.20' });
    await globalVariables(s, ['version']);
    await globalVariables(s, ['ssl_key']);
    assert.deepEqual(s.asked, [
      "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('version')",
      "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('ssl_key', 'datadir')",
    ]);
  });
});

describe('the callers that took a relative path as relative to the working directory', () => {
  it('rotate finds the served files in the datadir (was SERVER_FILES_NOT_LOCAL)', async () => {
    assert.deepEqual(await locateServedFiles(session(RELATIVE())), {
      cert: path.join(datadir, 'server-cert.pem'),
      key: path.join(datadir, 'server-key.pem'),
      ca: path.join(datadir, 'ca.pem'),
    });
  });

  it('server status shows the files the server reads', async () => {
    const status = await serverStatus(session(RELATIVE()));
    assert.deepEqual(
      [status.sslCert, status.sslKey, status.sslCa, status.sslCrl, status.haveSsl],
      [
        path.join(datadir, 'server-cert.pem'),
        path.join(datadir, 'server-key.pem'),
        path.join(datadir, 'ca.pem'),
        '',
        'YES',
      ],
    );
  });

  it('secure and crl --install put their files next to the certificate the server reads', async () => {
    assert.equal(await certDirOf(session(RELATIVE())), datadir);
  });
});
