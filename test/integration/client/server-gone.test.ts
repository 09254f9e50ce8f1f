/**
 * A session whose server goes away (restart, crash, KILL) must surface as a rejected query with a dbtls
 * error, never as an unhandled 'error' event that takes the whole process down.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '../../../src/client/connect.js';
import { dial } from '../../../src/client/dial.js';
import { Handover } from '../../../src/client/handover.js';
import { upgradeToTls } from '../../../src/client/upgrade.js';
import { DbtlsError } from '../../../src/errors.js';
import { openSession } from '../../../src/server/admin/session.js';
import { loadTlsMaterial } from '../../../src/tls/options.js';
import type { TlsSettings } from '../../../src/tls/settings.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

let pki: TestPki;
let db: MariadbInstance;

describe('a session whose server goes away', () => {
  before(async () => {
    pki = await makeTestPki();
    db = await startMariadb({
      tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
      users: [{ name: 'app', password: 'app-pw' }],
    });
  });
  after(() => db?.stop());

  it('keeps QUERY_FAILED for a statement the server refuses, and the session stays usable', async () => {
    const conn = await connect({
      host: db.host,
      port: db.port,
      user: 'app',
      password: 'app-pw',
      tls: { mode: 'verify-full', mutualTls: 'disable', ca: pki.ca, minVersion: 'TLSv1.2' },
    });
    try {
      await assert.rejects(conn.query('SELECT * FROM no_such_db.no_such_table'), (err: unknown) => {
        assert.ok(err instanceof DbtlsError);
        assert.equal(err.code, 'QUERY_FAILED');
        assert.match(err.message, /no_such_db/);
        return true;
      });
      assert.deepEqual(await conn.query('SELECT 1 AS one'), [{ one: 1 }]);
    } finally {
      await conn.close();
    }
  });

  for (const how of ['restart', 'KILL'] as const) {
    it(`reports the lost link on the next query after a ${how}, and the process lives on`, async () => {
      const conn = await connect({
        host: db.host,
        port: db.port,
        user: 'app',
        password: 'app-pw',
        tls: { mode: 'verify-full', mutualTls: 'disable', ca: pki.ca, minVersion: 'TLSv1.2' },
      });
      const [row] = await conn.query('SELECT CONNECTION_ID() AS id');
      if (how === 'restart') await db.restart();
      else await db.sql(`KILL ${Number(row?.id)}`);
      // Give the driver time to see the socket close (its 'error' event fires here, unlistened = crash).
      await new Promise((r) => setTimeout(r, 300));
      await assert.rejects(conn.query('SELECT 1'), (err: unknown) => {
        assert.ok(err instanceof DbtlsError);
        assert.equal(err.code, 'CONNECTION_LOST');
        assert.match(err.message, /the connection was lost/);
        return true;
      });
      await conn.close();
    });
  }

  it("an admin session keeps the client's codes: QUERY_FAILED refused, CONNECTION_LOST after a KILL (was SQL_FAILED)", async () => {
    const session = await openSession({
      host: db.host,
      port: db.port,
      user: 'app',
      password: 'app-pw',
      tls: { mode: 'verify-full', ca: pki.ca },
    });
    try {
      await assert.rejects(session.query('SELECT * FROM no_such_db.no_such_table'), (err: unknown) => {
        assert.ok(err instanceof DbtlsError);
        assert.equal(err.code, 'QUERY_FAILED');
        assert.match(err.message, /^could not run SELECT \* FROM … on [^:]+:\d+: .*no_such_db/);
        return true;
      });
      const [row] = await session.query('SELECT CONNECTION_ID() AS id');
      await db.sql(`KILL ${Number(row?.id)}`);
      await new Promise((r) => setTimeout(r, 300));
      await assert.rejects(session.query('SELECT 1'), (err: unknown) => {
        assert.ok(err instanceof DbtlsError);
        assert.equal(err.code, 'CONNECTION_LOST');
        assert.match(err.message, /^could not run SELECT 1 on [^:]+:\d+: the connection was lost: /);
        assert.match(err.hint ?? '', /connect again/);
        return true;
      });
    } finally {
      await session.close();
    }
  });

  it('a driver that ends its stream while the TLS upgrade runs: the upgrade fails, nothing is uncaught', async () => {
    const settings: TlsSettings = {
      mode: 'verify-full',
      mutualTls: 'disable',
      ca: pki.ca,
      servername: 'wrong.example',
      minVersion: 'TLSv1.2',
    };
    const response = Buffer.alloc(36);
    response.writeUIntLE(32, 0, 3);
    response[3] = 1;
    response.writeUInt32LE(0x200 | 0x8000, 4); // CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION
    for (let i = 0; i < 20; i++) {
      const at = { host: db.host, port: db.port, timeoutMs: 5_000 };
      const { socket, greeting } = await dial(at, at);
      const handover = new Handover({
        socket,
        greetingFrame: Buffer.alloc(0),
        upgrade: (held) =>
          upgradeToTls(
            socket,
            greeting,
            { kind: 'verify', settings, material: loadTlsMaterial(settings), response: held },
            at,
          ),
      });
      handover.on('error', () => {});
      handover.resume();
      const closed = new Promise((r) => handover.once('close', r));
      handover.end(response);
      await closed;
      assert.ok(handover.failure, 'the upgrade failed');
      assert.equal(handover.secureSocket, undefined);
    }
  });
});
