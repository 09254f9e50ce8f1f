/**
 * The proxy's TLS files at start: a key that is not the certificate's is KEY_MISMATCH from pki's key
 * comparison, before node's TLS sees the pair; files node cannot read stay TLS_MATERIAL_INVALID in its words.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startProxy } from '../../../src/proxy/proxy.js';
import { loadUpstreamTls } from '../../../src/proxy/upstream.js';
import type { TlsSettings } from '../../../src/tls/settings.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

let pki: TestPki;
let dir: string;

before(async () => {
  pki = await makeTestPki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-proxy-files-'));
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const mutual = (cert: string, key: string): TlsSettings => ({
  mode: 'verify-full',
  mutualTls: 'enable',
  ca: pki.ca,
  cert,
  key,
  minVersion: 'TLSv1.2',
});

describe('the upstream client certificate and key', () => {
  it('a key of another certificate: KEY_MISMATCH naming both files', () => {
    assert.throws(() => loadUpstreamTls(mutual(pki.client.cert, pki.otherClient.key)), {
      code: 'KEY_MISMATCH',
      message: `could not load the client certificate ${pki.client.cert}: the key ${pki.otherClient.key} does not belong to it`,
      hint: 'pass the key that was issued with this certificate (both from the same dbtls issue --out DIR)',
    });
  });

  it('the pair loads, with the certificate notAfter for the expiry metric', () => {
    const loaded = loadUpstreamTls(mutual(pki.client.cert, pki.client.key));
    assert.equal(loaded.floor, 'TLSv1.3');
    assert.ok(loaded.clientCertNotAfter instanceof Date);
  });

  it('a key file that is no key: TLS_MATERIAL_INVALID naming that file, not KEY_MISMATCH', () => {
    const garbage = path.join(dir, 'garbage.pem');
    fs.writeFileSync(garbage, 'this is not PEM\n');
    assert.throws(() => loadUpstreamTls(mutual(pki.client.cert, garbage)), {
      code: 'TLS_MATERIAL_INVALID',
      message: `could not load the client key ${garbage}: it holds no private key`,
      hint: 'pass the PEM key issued with the certificate (key.pem beside cert.pem from dbtls issue --out DIR)',
    });
  });
});

describe('--listen-cert/--listen-key', () => {
  it('a key of another certificate: KEY_MISMATCH before anything listens', async () => {
    await assert.rejects(
      startProxy({
        upstream: {
          host: '127.0.0.1',
          port: 1,
          tls: { mode: 'trust', mutualTls: 'disable', minVersion: 'TLSv1.2' },
        },
        listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
        listenTls: { cert: pki.server.cert, key: pki.otherServer.key },
      }),
      {
        code: 'KEY_MISMATCH',
        message: 'could not load --listen-cert/--listen-key: the key does not belong to the certificate',
      },
    );
  });
});
