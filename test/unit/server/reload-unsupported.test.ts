/**
 * A server that cannot reload TLS online (MariaDB before 10.4, MySQL before 8.0.16: no such server runs
 * here, so the session is a stand-in that refuses every statement). `rotate` and the CA rollover's server
 * stages used to find out after the change: rotate issued a certificate, switched the server's files,
 * failed the reload, switched back and voided the certificate (ROTATE_FAILED, exit 3); trust-both rewrote
 * ssl_ca and then failed. Now RELOAD_UNSUPPORTED (exit 2) comes before any statement, file or CA change.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initCa } from '../../../src/ca/init.js';
import { openCa } from '../../../src/ca/store.js';
import { DbtlsError } from '../../../src/errors.js';
import type { AdminSession, Row } from '../../../src/server/admin/session.js';
import { capabilitiesOf, parseServerVersion } from '../../../src/server/flavor.js';
import { runStage } from '../../../src/server/rotation/rollover-stages.js';
import { rotateServerCertificate } from '../../../src/server/rotation/rotate.js';

/** Every file below `dir` with its bytes, to show that nothing changed. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.set(path.relative(dir, p), fs.readFileSync(p, 'base64'));
    }
  };
  walk(dir);
  return files;
}

/** A session to a server of this version that records and refuses every statement. */
function oldServer(versionText: string): AdminSession & { readonly asked: string[] } {
  const asked: string[] = [];
  const version = parseServerVersion(versionText);
  return {
    asked,
    options: { host: '127.0.0.1', port: 1, user: 'root', tls: { mode: 'verify-full' } },
    version,
    capabilities: capabilitiesOf(versionText),
    account: { user: 'root', host: 'localhost' },
    tlsProtocol: 'TLSv1.2',
    async query(sql: string): Promise<Row[]> {
      asked.push(sql);
      throw new Error(`no statement should reach the server: ${sql}`);
    },
    async close() {},
  };
}

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-reload-unsupported-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const refused = (versionText: string, doing: string) => (err: unknown) => {
  assert.ok(err instanceof DbtlsError);
  assert.equal(err.code, 'RELOAD_UNSUPPORTED');
  assert.equal(err.exitCode, 2);
  assert.equal(
    err.message,
    `could not ${doing}: ${versionText} cannot reload TLS online (nothing was changed)`,
  );
  assert.match(err.hint ?? '', /MariaDB 10\.4\+ and MySQL 8\.0\.16\+ reload online/);
  return true;
};

describe('RELOAD_UNSUPPORTED before anything changes', () => {
  for (const versionText of ['10.3.39-MariaDB', '5.7.44', '8.0.15']) {
    it(`rotate on ${versionText}: no statement, no certificate issued`, async () => {
      const caDir = path.join(tmp, `rotate-${versionText}`);
      initCa(caDir, { passphrase: undefined });
      const before = snapshot(caDir);
      const session = oldServer(versionText);
      await assert.rejects(
        rotateServerCertificate(session, openCa(caDir)),
        refused(session.version.text, 'rotate the server certificate'),
      );
      assert.deepEqual(session.asked, []);
      assert.deepEqual(snapshot(caDir), before);
    });
  }

  it('CA rollover trust-both on 10.3: no statement, the CA directory and the rollover state unchanged', async () => {
    const caDir = path.join(tmp, 'rollover');
    initCa(caDir, { passphrase: undefined });
    await runStage(caDir, 'new-ca');
    const before = snapshot(caDir);
    const session = oldServer('10.3.39-MariaDB');
    await assert.rejects(
      runStage(caDir, 'trust-both', { session }),
      refused(session.version.text, 'run the rollover stage trust-both'),
    );
    assert.deepEqual(session.asked, []);
    assert.deepEqual(snapshot(caDir), before);
  });
});
