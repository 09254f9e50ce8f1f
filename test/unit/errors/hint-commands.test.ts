/**
 * Every hint must work when pasted: a command a hint names carries the values the code knows (the CA
 * directory, a serial, a CN, a file), each quoted as one POSIX shell word, and a placeholder stands only
 * where the code cannot know the value. Each row asserts the exact hint.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { IndexEntry } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate, subjectCollisionCheck } from '../../../src/ca/issue.js';
import { checkLeafOutputDir, writeLeafFiles } from '../../../src/ca/leaf-files.js';
import { selectForRenewal } from '../../../src/ca/renew.js';
import { type Ca, incomplete, notFound } from '../../../src/ca/store.js';
import { withCaFlags } from '../../../src/cli/main.js';
import { tlsError, tlsNotOffered } from '../../../src/client/upgrade.js';
import { k8sSecrets } from '../../../src/deploy/k8s.js';
import { snippet } from '../../../src/deploy/snippets.js';
import { DbtlsError } from '../../../src/errors.js';
import { JCEKS_MAGIC, readJks } from '../../../src/keystore/jks.js';
import { stageDecision } from '../../../src/server/rotation/rollover.js';
import { PROJECT_ROOT } from '../../harness/cli.js';

const NOW = new Date('2026-03-01T12:00:00Z');

function hintOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DbtlsError, String(err));
    return err.hint;
  }
  assert.fail('no error was thrown');
}

let dir: string;
let ca: Ca;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls hint commands-'));
  ca = initCa(path.join(dir, 'my ca'), { passphrase: undefined, now: NOW, days: 1000 });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const ENTRY: IndexEntry = {
  serial: '0f'.repeat(16),
  cn: 'db1.example.com',
  subject: '/O=dbtls/CN=db1.example.com',
  issuer: '/O=dbtls/CN=dbtls Root CA',
  dnsNames: ['db1.example.com', 'db1'],
  ipAddresses: ['10.0.0.5'],
  profile: 'server',
  notBefore: '2026-01-01T00:00:00.000Z',
  notAfter: '2027-01-01T00:00:00.000Z',
  status: 'revoked',
  fingerprint: 'ab'.repeat(32),
  issuedBy: 'root',
};

describe('CA hints name the CA directory, the serial and the names', () => {
  it('a missing or half-made CA: `ca init` for the directory named, quoted', () => {
    assert.equal(
      notFound('/srv/my ca').hint,
      "run `dbtls ca init --ca-dir '/srv/my ca'` first, or point --ca-dir / DBTLS_CA_DIR at your CA directory",
    );
    assert.equal(
      incomplete('/srv/my ca').hint,
      "run `dbtls ca init --ca-dir '/srv/my ca'` again: it replaces the half-written files",
    );
  });

  it('a subject collision: the revoke in backticks, so that the CLI adds --ca-dir', () => {
    const check = subjectCollisionCheck([{ ...ENTRY, status: 'valid', cn: 'other' }]);
    assert.equal(
      hintOf(() => check('db1.example.com', ENTRY.subject)),
      `choose another CN, or revoke ${ENTRY.serial} first: \`dbtls revoke ${ENTRY.serial}\``,
    );
  });

  it('a revoked certificate: the issue command for its profile and names', () => {
    assert.equal(
      hintOf(() => selectForRenewal([ENTRY], { serial: ENTRY.serial })),
      'issue a new certificate instead: `dbtls issue server --cn db1.example.com --dns db1 --ip 10.0.0.5`',
    );
    const client: IndexEntry = { ...ENTRY, cn: "O'Brien", profile: 'client', dnsNames: [], ipAddresses: [] };
    assert.equal(
      hintOf(() => selectForRenewal([client], { serial: ENTRY.serial })),
      `issue a new certificate instead: \`dbtls issue client --cn 'O'\\''Brien'\``,
    );
  });

  it('an --out that holds a certificate: renew its serial into that directory', () => {
    const out = path.join(dir, 'app user');
    const issued = issueCertificate(ca, { profile: 'client', cn: 'app user', now: NOW });
    writeLeafFiles(out, issued, { noSync: true });
    assert.equal(
      hintOf(() => checkLeafOutputDir(out)),
      `choose another --out directory, or move the old files away first (to replace its certificate: \`dbtls renew ${issued.entry.serial} --out '${out}'\`)`,
    );
    // Without a readable cert.pem there is nothing to renew: no command.
    fs.rmSync(path.join(out, 'cert.pem'));
    assert.equal(
      hintOf(() => checkLeafOutputDir(out)),
      'choose another --out directory, or move the old files away first',
    );
  });
});

describe('the CLI adds the CA flags given to the CA commands a hint names', () => {
  const argv = ['rotate', 'db1', '--ca-rollover', '--stage', 'reissue', '--ca-dir', 'my ca'];
  it('rotate --ca-rollover --status gets --ca-dir (and --passphrase-file, once)', () => {
    const err = (() => {
      try {
        stageDecision(undefined, 'reissue');
      } catch (e) {
        return e;
      }
    })();
    const hint = (withCaFlags(err, [...argv, '--passphrase-file', 'pw file']) as DbtlsError).hint;
    assert.equal(
      hint,
      "run `dbtls rotate --ca-rollover --stage new-ca --ca-dir 'my ca' --passphrase-file 'pw file'` first; `dbtls rotate --ca-rollover --status --ca-dir 'my ca' --passphrase-file 'pw file'` shows where the rollover is",
    );
  });

  it('a line already carrying --passphrase-file does not get it twice', () => {
    const err = new DbtlsError('ROLLOVER_OUT_OF_ORDER', 'could not run the rollover stage reissue', {
      hint: "run `dbtls rotate db1 --ca-rollover --stage trust-both --passphrase-file 'pw file'` first",
    });
    assert.equal(
      (withCaFlags(err, ['rotate', 'db1', '--passphrase-file', 'pw file', '--ca-dir', 'my ca']) as DbtlsError)
        .hint,
      "run `dbtls rotate db1 --ca-rollover --stage trust-both --passphrase-file 'pw file' --ca-dir 'my ca'` first",
    );
  });

  it('issue, sign and ca get the flags too', () => {
    const err = new DbtlsError('CERT_NOT_FOUND', 'could not do it', {
      hint: '`dbtls issue client --cn app`, `dbtls sign csr.pem --profile client`, `dbtls ca show`',
    });
    assert.equal(
      (withCaFlags(err, ['renew', '--cn', 'app', '--ca-dir', 'my ca']) as DbtlsError).hint,
      "`dbtls issue client --cn app --ca-dir 'my ca'`, `dbtls sign csr.pem --profile client --ca-dir 'my ca'`, `dbtls ca show --ca-dir 'my ca'`",
    );
  });
});

describe('keystore, deploy and snippet hints name the real files', () => {
  it('JCEKS: the full keytool line for the file, converting it beside itself', () => {
    const jceks = Buffer.alloc(64);
    jceks.writeUInt32BE(JCEKS_MAGIC, 0);
    assert.equal(
      hintOf(() => readJks(jceks, 'pw', { file: 'app store.jceks' })),
      "convert it to PKCS#12, which dbtls reads: `keytool -importkeystore -srckeystore 'app store.jceks' -srcstoretype JCEKS -destkeystore 'app store.p12' -deststoretype pkcs12`",
    );
    assert.equal(
      hintOf(() => readJks(jceks, 'pw')),
      'convert it to PKCS#12, which dbtls reads: `keytool -importkeystore -srckeystore KEYSTORE_FILE -srcstoretype JCEKS -destkeystore keystore.p12 -deststoretype pkcs12`',
    );
  });

  it('an encrypted client key: openssl pkey on that file, to a new 0600 file beside it', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const encrypted = privateKey.export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'secret',
    });
    const fixture = (name: string) =>
      fs.readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/deploy/kubectl', name));
    const input = {
      mode: 'verify-full',
      mutualTls: 'enable',
      ca: fixture('ca.pem'),
      clientCert: fixture('client-cert.pem'),
      clientKey: Buffer.from(encrypted),
      keystorePassword: 'changeit1',
    } as const;
    assert.equal(
      hintOf(() => k8sSecrets({ ...input, clientKeyFile: "o'brien/key.pem" })),
      `database clients read the key without a passphrase: \`(set -C; umask 077; openssl pkey -in 'o'\\''brien/key.pem' > 'o'\\''brien/key-plain.pem')\`, then give --key 'o'\\''brien/key-plain.pem'`,
    );
    assert.equal(
      hintOf(() => k8sSecrets(input)),
      'database clients read the key without a passphrase: `(set -C; umask 077; openssl pkey -in KEY_FILE > key-plain.pem)` (KEY_FILE: the encrypted key given to --key), then give --key key-plain.pem',
    );
  });

  it('jdbc-mysql without a truststore: the export from the --ca given', () => {
    assert.equal(
      hintOf(() =>
        snippet({ client: 'jdbc-mysql', target: 'db1', mode: 'verify-full', ca: '/etc/db/my ca.pem' }),
      ),
      "MySQL Connector/J reads no PEM CA: make a truststore with `dbtls export truststore --format jks --ca '/etc/db/my ca.pem' --password-file TRUSTSTORE_PASSWORD_FILE --out truststore.jks` (TRUSTSTORE_PASSWORD_FILE: a file holding the password to protect it with) and add --truststore truststore.jks",
    );
  });
});

describe('client hints name the server dialled', () => {
  const settings = {
    mode: 'verify-full',
    mutualTls: 'disable',
    ca: '/ca.pem',
    minVersion: 'TLSv1.2',
  } as const;
  const nodeError = (code: string) => Object.assign(new Error(code), { code });
  it('an expired certificate: renew, then reload that server', () => {
    assert.equal(
      tlsError(nodeError('CERT_HAS_EXPIRED'), settings, 'db1', 3307).hint,
      'renew the server certificate (`dbtls renew --cn NAME`, NAME its CN, which `dbtls inspect db1:3307` shows) and reload it: `dbtls server reload db1:3307`',
    );
    assert.equal(
      tlsError(nodeError('UNABLE_TO_GET_ISSUER_CERT'), settings, '::1', 3306).hint,
      "pass --ca with the CA that signed the server certificate (`dbtls inspect '[::1]:3306'` shows its issuer)",
    );
  });

  it('a server without TLS: server enable with --issue, over the socket', () => {
    const facts = { flavor: 'mariadb', serverVersion: '10.11.6-MariaDB', capabilities: 0 } as const;
    assert.equal(
      tlsNotOffered('connect to db1:3306', facts).hint,
      'enable TLS on the server, on its host: `dbtls server enable ADMIN_TARGET --issue --socket /run/mysqld/mysqld.sock` (the socket its my.cnf names; no TLS is needed over it); if the server has TLS, something on the path strips it: do not connect',
    );
  });
});
