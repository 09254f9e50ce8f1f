/**
 * TLS_NOT_OFFERED reads the same wherever dbtls meets a greeting without CLIENT_SSL (issue 11): a client
 * connecting and the server commands' certificate probe name what they could not do, then the same cause.
 * The peer is a local socket that sends the greeting of a real MariaDB 10.11 without TLS.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openOrigin } from '../../../src/client/origin.js';
import { DbtlsError } from '../../../src/errors.js';
import { probeServedCertificate } from '../../../src/server/tls/reload.js';
import { PROJECT_ROOT } from '../../harness/cli.js';

const PLAIN_GREETING = fs.readFileSync(
  path.join(PROJECT_ROOT, 'test/fixtures/protocol/mariadb-10.11-greeting.bin'),
);
const CAUSE =
  'the server (mariadb 10.11.19-MariaDB-0+deb12u1, unauthenticated, sent before TLS) does not offer TLS (no CLIENT_SSL in its greeting)';

async function refusal(fn: () => Promise<unknown>): Promise<DbtlsError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof DbtlsError) return err;
    throw err;
  }
  assert.fail('no error');
}

describe('TLS_NOT_OFFERED, one wording', () => {
  let server: net.Server;
  let port = 0;
  before(async () => {
    server = net.createServer((s) => {
      s.on('error', () => {});
      s.end(PLAIN_GREETING);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('connecting with ssl-mode trust and probing the served certificate tell the same cause', async () => {
    const settings = { mode: 'trust', mutualTls: 'disable', minVersion: 'TLSv1.2' } as const;
    const connecting = await refusal(() => openOrigin('127.0.0.1', port, settings, 5000));
    const probing = await refusal(() => probeServedCertificate('127.0.0.1', port, 5000));
    assert.equal(connecting.code, 'TLS_NOT_OFFERED');
    assert.equal(connecting.message, `could not connect to 127.0.0.1:${port} with ssl-mode trust: ${CAUSE}`);
    assert.equal(probing.code, 'TLS_NOT_OFFERED');
    assert.equal(probing.message, `could not probe TLS on 127.0.0.1:${port}: ${CAUSE}`);
    assert.deepEqual(probing.details, connecting.details);
    assert.equal(
      probing.hint,
      'enable TLS with `dbtls server enable` (the first enablement needs a restart)',
    );
  });
});
