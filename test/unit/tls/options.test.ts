import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { PeerCertificate } from 'node:tls';
import { DbtlsError } from '../../../src/errors.js';
import { loadTlsMaterial, nodeTlsOptions } from '../../../src/tls/options.js';
import type { TlsSettings } from '../../../src/tls/settings.js';
import type { SslMode } from '../../../src/tls/ssl-mode.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

let pki: TestPki;
before(async () => {
  pki = await makeTestPki();
});

function settings(mode: SslMode, extra: Partial<TlsSettings> = {}): TlsSettings {
  return { mode, mutualTls: 'disable', minVersion: 'TLSv1.2', ...extra };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DbtlsError, String(err));
    return err.code;
  }
  return undefined;
}

function legacy(file: string): PeerCertificate {
  return new X509Certificate(fs.readFileSync(file)).toLegacyObject() as PeerCertificate;
}

describe('mode -> node TLS options', () => {
  // mode, rejectUnauthorized, does the identity check run
  const rows: [SslMode, boolean, boolean][] = [
    ['preferred', false, false],
    ['trust', false, false],
    ['verify-ca', true, false],
    ['verify-full', true, true],
  ];
  for (const [mode, reject, identity] of rows) {
    it(`${mode}: rejectUnauthorized ${reject}, host name checked ${identity}`, () => {
      const s = settings(mode, { ca: pki.ca });
      const o = nodeTlsOptions(s, loadTlsMaterial(s), '127.0.0.1');
      assert.equal(o.rejectUnauthorized, reject);
      assert.equal(o.minVersion, 'TLSv1.2');
      assert.equal(o.servername, undefined, 'no SNI for an IP address (RFC 6066 section 3)');
      assert.equal(o.ca !== undefined, reject, 'the CA is loaded only when the chain is verified');
      const wrong = o.checkServerIdentity?.('127.0.0.1', legacy(pki.wrongHost.cert));
      assert.equal(wrong !== undefined, identity);
      assert.equal(o.checkServerIdentity?.('127.0.0.1', legacy(pki.server.cert)), undefined);
    });
  }

  it('verify-full checks the --servername, and sends it as SNI', () => {
    const s = settings('verify-full', { ca: pki.ca, servername: 'wrong.example' });
    const o = nodeTlsOptions(s, loadTlsMaterial(s), '127.0.0.1');
    assert.equal(o.servername, 'wrong.example');
    assert.equal(o.checkServerIdentity?.('127.0.0.1', legacy(pki.wrongHost.cert)), undefined);
    assert.equal(
      (o.checkServerIdentity?.('127.0.0.1', legacy(pki.server.cert)) as NodeJS.ErrnoException | undefined)
        ?.code,
      'ERR_TLS_CERT_ALTNAME_INVALID',
    );
  });

  it('mutual TLS loads the certificate and key', () => {
    const s = settings('verify-ca', {
      ca: pki.ca,
      mutualTls: 'enable',
      cert: pki.client.cert,
      key: pki.client.key,
    });
    const m = loadTlsMaterial(s);
    assert.deepEqual(m.cert, fs.readFileSync(pki.client.cert));
    assert.deepEqual(m.key, fs.readFileSync(pki.client.key));
  });

  it('--ca system uses the bundled roots', () => {
    const m = loadTlsMaterial(settings('verify-full', { ca: 'system' }));
    assert.ok((m.ca?.length ?? 0) > 50);
  });

  const refused: [string, TlsSettings, string][] = [
    ['verify-full without a CA', settings('verify-full'), 'TLS_CA_REQUIRED'],
    ['verify-ca without a CA', settings('verify-ca'), 'TLS_CA_REQUIRED'],
    [
      'mutual TLS without a key',
      settings('verify-full', { ca: '/x', mutualTls: 'enable', cert: '/c' }),
      'TLS_CLIENT_CERT_REQUIRED',
    ],
    [
      'trust with mutual TLS',
      settings('trust', { mutualTls: 'enable', cert: '/c', key: '/k' }),
      'SSL_MODE_INVALID',
    ],
    ['a missing CA file', settings('verify-full', { ca: '/nonexistent/ca.pem' }), 'FILE_NOT_FOUND'],
  ];
  for (const [what, s, want] of refused) {
    it(`refuses ${what}: ${want}`, () => {
      assert.equal(
        code(() => loadTlsMaterial(s)),
        want,
      );
    });
  }

  it('needs nothing for disable and trust', () => {
    assert.deepEqual(loadTlsMaterial(settings('disable')), {});
    assert.deepEqual(loadTlsMaterial(settings('trust', { ca: pki.ca })), {});
  });
});

describe('the TLS 1.2 floor, whatever a library caller passes (issue 9, item 14)', () => {
  // TlsSettings types minVersion as 1.2 | 1.3, but a JavaScript caller (or a cast) can hand anything.
  const asIs = (minVersion: unknown) =>
    settings('verify-full', { ca: pki.ca, minVersion: minVersion as 'TLSv1.2' });
  for (const low of ['TLSv1', 'TLSv1.1', 'TLSv1.0']) {
    it(`refuses minVersion ${low} with TLS_VERSION_INSECURE, before any file or socket is touched`, () => {
      assert.equal(
        code(() => loadTlsMaterial(asIs(low))),
        'TLS_VERSION_INSECURE',
      );
      assert.equal(
        code(() => nodeTlsOptions(asIs(low), {}, 'db.example')),
        'TLS_VERSION_INSECURE',
      );
    });
  }
  it('refuses an unknown version (TLS_VERSION_UNKNOWN)', () => {
    assert.equal(
      code(() => nodeTlsOptions(asIs('SSLv3'), {}, 'db.example')),
      'TLS_VERSION_UNKNOWN',
    );
  });
  it('passes TLSv1.2 when none is given, and TLSv1.3 when asked', () => {
    assert.equal(nodeTlsOptions(asIs(undefined), {}, 'db.example').minVersion, 'TLSv1.2');
    assert.equal(nodeTlsOptions(asIs('TLSv1.3'), {}, 'db.example').minVersion, 'TLSv1.3');
  });
});

describe('the client certificate and key are checked before any connection', () => {
  const mutual = (cert: string, key: string) =>
    settings('verify-full', { ca: pki.ca, mutualTls: 'enable', cert, key });
  const scratch = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-client-pair-'));

  it('a key of another certificate: KEY_MISMATCH naming both files (OpenSSL said "key values mismatch" mid-handshake)', () => {
    assert.throws(() => loadTlsMaterial(mutual(pki.client.cert, pki.otherClient.key)), {
      code: 'KEY_MISMATCH',
      message: `could not load the client certificate ${pki.client.cert}: the key ${pki.otherClient.key} does not belong to it`,
      hint: 'pass the key that was issued with this certificate (both from the same dbtls issue --out DIR)',
    });
  });

  it('a certificate file that holds none: TLS_MATERIAL_INVALID naming it', () => {
    const dir = scratch();
    const notCert = path.join(dir, 'cert.pem');
    fs.copyFileSync(pki.client.key, notCert);
    assert.throws(() => loadTlsMaterial(mutual(notCert, pki.client.key)), {
      code: 'TLS_MATERIAL_INVALID',
      message: `could not load the client certificate ${notCert}: it holds no PEM certificate`,
      hint: 'pass the PEM certificate dbtls issued for the client (check it with: dbtls cert show FILE)',
    });
  });

  it('an encrypted key: TLS_MATERIAL_INVALID, and the hint writes a new 0600 plain copy when pasted (never over a file)', () => {
    const dir = scratch();
    const encrypted = path.join(dir, 'client key.pem'); // a space: the hint must quote it
    const key = createPrivateKey(fs.readFileSync(pki.client.key));
    fs.writeFileSync(
      encrypted,
      key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'pw-1234' }),
    );
    let hint = '';
    assert.throws(
      () => loadTlsMaterial(mutual(pki.client.cert, encrypted)),
      (err: unknown) => {
        assert.ok(err instanceof DbtlsError);
        assert.equal(err.code, 'TLS_MATERIAL_INVALID');
        assert.equal(
          err.message,
          `could not load the client key ${encrypted}: it is encrypted, and TLS client keys are read without a passphrase`,
        );
        hint = err.hint ?? '';
        return true;
      },
    );
    const command = /and pass that with --key: (\(set -C; umask 077; openssl pkey .*\))$/.exec(hint)?.[1];
    assert.ok(command, hint);
    const run = spawnSync(
      'bash',
      ['-c', command.replace('openssl pkey', 'openssl pkey -passin pass:pw-1234')],
      {
        cwd: dir,
        encoding: 'utf8',
      },
    );
    assert.equal(run.status, 0, run.stderr);
    const plain = path.join(dir, 'client-key.pem');
    assert.equal(fs.statSync(plain).mode & 0o777, 0o600);
    const m = loadTlsMaterial(mutual(pki.client.cert, plain));
    assert.deepEqual(m.key, fs.readFileSync(plain));
    // Pasted again, it refuses to write over the file (which could have kept a wider mode).
    const again = spawnSync(
      'bash',
      ['-c', command.replace('openssl pkey', 'openssl pkey -passin pass:pw-1234')],
      {
        cwd: dir,
        encoding: 'utf8',
      },
    );
    assert.notEqual(again.status, 0);
    assert.deepEqual(fs.readFileSync(plain), m.key);
  });

  it('a certificate our parser cannot read is left to OpenSSL (no pair check), as before', () => {
    const dir = scratch();
    const odd = path.join(dir, 'cert.pem');
    fs.writeFileSync(odd, '-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n');
    const m = loadTlsMaterial(mutual(odd, pki.client.key));
    assert.equal(m.clientCertificate, undefined);
    assert.deepEqual(m.cert, fs.readFileSync(odd));
  });
});
