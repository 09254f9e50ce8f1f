import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { DbtlsError } from '../../../src/errors.js';
import { capabilitiesOf } from '../../../src/server/flavor.js';
import { cnfValue, parseTlsVersions, renderConfig } from '../../../src/server/tls/config.js';
import { type EnableOptions, planEnable } from '../../../src/server/tls/enable.js';
import { revertStatements } from '../../../src/server/tls/enable-rollback.js';
import { serverFilePaths } from '../../../src/server/tls/install.js';
import { checkMaterial, type ServerMaterial } from '../../../src/server/tls/material.js';
import { makeTestPki } from '../../harness/pki.js';

const code = (c: string) => (e: unknown) => e instanceof DbtlsError && e.code === c;
const files = serverFilePaths('/etc/mysql/ssl');
const material: ServerMaterial = { certPem: 'unused', keyPem: 'unused', caPem: 'unused' };
const options: EnableOptions = {
  files,
  configFile: '/etc/mysql/conf.d/ssl-config.cnf',
  material,
  tlsVersions: ['TLSv1.2', 'TLSv1.3'],
  requireSecureTransport: false,
};
const sameVars = new Map([
  ['have_ssl', 'YES'],
  ['ssl_ca', '/etc/mysql/ssl/ca.pem'],
  ['ssl_cert', '/etc/mysql/ssl/server-cert.pem'],
  ['ssl_key', '/etc/mysql/ssl/server-key.pem'],
  ['tls_version', 'TLSv1.3,TLSv1.2'],
  ['ssl_cipher', ''],
  ['require_secure_transport', 'OFF'],
]);
const offVars = new Map([
  ['have_ssl', 'DISABLED'],
  ['ssl_ca', ''],
  ['ssl_cert', ''],
  ['ssl_key', ''],
  ['tls_version', 'TLSv1.2,TLSv1.3'],
  ['require_secure_transport', 'OFF'],
]);

describe('planEnable', () => {
  it('MariaDB with TLS already at the same paths: FLUSH SSL online', () => {
    const plan = planEnable(capabilitiesOf('10.11.19-MariaDB'), sameVars, options);
    assert.deepEqual(plan.statements, ['FLUSH SSL']);
    assert.equal(plan.restartRequired, false);
    assert.deepEqual(plan.reasons, []);
    assert.deepEqual(
      plan.files.map((f) => [f.path, f.mode, f.content === undefined]),
      [
        ['/etc/mysql/ssl/server-key.pem', 0o600, true],
        ['/etc/mysql/ssl/server-cert.pem', 0o644, false],
        ['/etc/mysql/ssl/ca.pem', 0o644, false],
      ],
    );
  });
  it('MariaDB first enablement: restart, with the reason', () => {
    const plan = planEnable(capabilitiesOf('10.11.19-MariaDB'), offVars, options);
    assert.equal(plan.restartRequired, true);
    assert.deepEqual(plan.statements, []);
    assert.match(plan.reasons[0]!, /TLS is off \(have_ssl=DISABLED\)/);
  });
  it('MariaDB reading its certificate from elsewhere: restart', () => {
    const vars = new Map(sameVars);
    vars.set('ssl_cert', '/var/lib/mysql/server-cert.pem');
    const plan = planEnable(capabilitiesOf('10.11.19-MariaDB'), vars, options);
    assert.equal(plan.restartRequired, true);
    assert.match(plan.reasons[0]!, /reads its certificate from \/var\/lib\/mysql\/server-cert.pem/);
  });
  it('MariaDB with a different tls_version: restart (read-only)', () => {
    const plan = planEnable(capabilitiesOf('10.11.19-MariaDB'), sameVars, {
      ...options,
      tlsVersions: ['TLSv1.3'],
    });
    assert.equal(plan.restartRequired, true);
    assert.match(plan.reasons.join(), /tls_version is TLSv1.3,TLSv1.2, wanted TLSv1.3/);
  });
  it('require_secure_transport is set after the proof, and only when off', () => {
    const caps = capabilitiesOf('10.11.19-MariaDB');
    const plan = planEnable(caps, sameVars, { ...options, requireSecureTransport: true });
    assert.deepEqual(plan.finalStatements, ['SET GLOBAL require_secure_transport = ON']);
    assert.match(plan.config.text, /^require_secure_transport = ON$/m);
    const on = new Map(sameVars);
    on.set('require_secure_transport', 'ON');
    assert.deepEqual(planEnable(caps, on, { ...options, requireSecureTransport: true }).finalStatements, []);
  });
  it('refuses require_secure_transport where the server has none', () => {
    assert.throws(
      () =>
        planEnable(capabilitiesOf('10.4.30-MariaDB'), sameVars, { ...options, requireSecureTransport: true }),
      code('REQUIRE_SECURE_TRANSPORT_UNSUPPORTED'),
    );
  });
  it('MySQL 8.0.16+ first enablement: SET PERSIST + ALTER INSTANCE RELOAD TLS, no restart', () => {
    const plan = planEnable(capabilitiesOf('8.0.36'), offVars, {
      ...options,
      cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256',
    });
    assert.equal(plan.restartRequired, false);
    assert.deepEqual(plan.statements, [
      "SET PERSIST ssl_ca = '/etc/mysql/ssl/ca.pem'",
      "SET PERSIST ssl_cert = '/etc/mysql/ssl/server-cert.pem'",
      "SET PERSIST ssl_key = '/etc/mysql/ssl/server-key.pem'",
      "SET PERSIST ssl_cipher = 'ECDHE-ECDSA-AES128-GCM-SHA256'",
      'ALTER INSTANCE RELOAD TLS',
    ]);
  });
  it('MySQL 8.0.16+ at the same paths: only the reload', () => {
    assert.deepEqual(planEnable(capabilitiesOf('8.0.36'), sameVars, options).statements, [
      'ALTER INSTANCE RELOAD TLS',
    ]);
  });
  it('MySQL 5.7: restart, no online reload', () => {
    const plan = planEnable(capabilitiesOf('5.7.44'), sameVars, options);
    assert.equal(plan.restartRequired, true);
    assert.match(plan.reasons.join(), /cannot reload TLS online/);
  });
});

describe('config fragment', () => {
  it('renders a deterministic [mysqld] group', () => {
    const text = renderConfig({
      ca: '/etc/mysql/ssl/ca.pem',
      cert: '/etc/mysql/ssl/server-cert.pem',
      key: '/etc/mysql/ssl/server-key.pem',
      crl: '/etc/mysql/ssl/crl.pem',
      tlsVersions: ['TLSv1.2', 'TLSv1.3'],
      cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256',
      requireSecureTransport: true,
    });
    assert.equal(
      text.split('\n').slice(3).join('\n'),
      [
        '[mysqld]',
        'ssl_ca = /etc/mysql/ssl/ca.pem',
        'ssl_cert = /etc/mysql/ssl/server-cert.pem',
        'ssl_key = /etc/mysql/ssl/server-key.pem',
        'ssl_crl = /etc/mysql/ssl/crl.pem',
        'tls_version = TLSv1.2,TLSv1.3',
        'ssl_cipher = ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256',
        'require_secure_transport = ON',
        '',
      ].join('\n'),
    );
  });
  it('quotes values the option-file parser would cut', () => {
    assert.equal(cnfValue('/etc/my ssl/ca.pem'), '"/etc/my ssl/ca.pem"');
    assert.equal(cnfValue('/a#b'), '"/a#b"');
    assert.equal(cnfValue('a"b\\c d'), '"a\\"b\\\\c d"');
    assert.throws(() => cnfValue('a\nb'), code('CONFIG_VALUE_INVALID'));
  });
  it('parses TLS versions, refusing 1.0 and 1.1', () => {
    assert.deepEqual(parseTlsVersions('TLSv1.3,TLSv1.2'), ['TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(parseTlsVersions('1.3'), ['TLSv1.3']);
    assert.deepEqual(parseTlsVersions('tlsv1.2, TLSv1.2'), ['TLSv1.2']);
    assert.throws(() => parseTlsVersions('TLSv1.1,TLSv1.2'), code('TLS_VERSION_INSECURE'));
    assert.throws(() => parseTlsVersions('TLSv1'), code('TLS_VERSION_INSECURE'));
    assert.throws(() => parseTlsVersions(','), code('TLS_VERSION_UNKNOWN'));
  });
});

describe('checkMaterial (certificates from the openssl test PKI)', () => {
  it('accepts a matching key and chain and returns the fingerprint', async () => {
    const pki = await makeTestPki();
    const read = (f: string) => fs.readFileSync(f, 'utf8');
    const facts = checkMaterial({
      certPem: read(pki.server.cert),
      keyPem: read(pki.server.key),
      caPem: read(pki.ca),
    });
    assert.match(facts.fingerprint, /^[0-9a-f]{64}$/);
  });
  it('refuses a key of another certificate (KEY_MISMATCH) and a foreign CA (CHAIN_BROKEN)', async () => {
    const pki = await makeTestPki();
    const read = (f: string) => fs.readFileSync(f, 'utf8');
    assert.throws(
      () =>
        checkMaterial({ certPem: read(pki.server.cert), keyPem: read(pki.client.key), caPem: read(pki.ca) }),
      code('KEY_MISMATCH'),
    );
    assert.throws(
      () =>
        checkMaterial({
          certPem: read(pki.server.cert),
          keyPem: read(pki.server.key),
          caPem: read(pki.otherCa),
        }),
      code('CHAIN_BROKEN'),
    );
    assert.throws(
      () => checkMaterial({ certPem: 'garbage', keyPem: read(pki.server.key), caPem: read(pki.ca) }),
      code('CERT_MALFORMED'),
    );
    assert.throws(
      () => checkMaterial({ certPem: read(pki.server.cert), keyPem: 'garbage', caPem: read(pki.ca) }),
      code('KEY_MALFORMED'),
    );
  });
});

describe('taking server enable back on MySQL 8 (revertStatements, from the manual: SET PERSIST, RESET PERSIST)', () => {
  const statements = [
    "SET PERSIST ssl_ca = '/etc/mysql/ssl/ca.pem'",
    "SET PERSIST ssl_cert = '/etc/mysql/ssl/server-cert.pem'",
    "SET PERSIST ssl_key = '/etc/mysql/ssl/server-key.pem'",
    'ALTER INSTANCE RELOAD TLS',
  ];
  const running = new Map([
    ['ssl_ca', '/var/lib/mysql/ca.pem'],
    ['ssl_cert', '/var/lib/mysql/server-cert.pem'],
    ['ssl_key', "/var/lib/mysql/o'key.pem"],
  ]);

  it('a variable persisted before gets its persisted value; one that was not is RESET and set back for now', () => {
    const persisted = new Map([['ssl_ca', '/etc/old/ca.pem']]);
    assert.deepEqual(revertStatements(statements, running, persisted), [
      "SET PERSIST ssl_ca = '/etc/old/ca.pem'",
      'RESET PERSIST IF EXISTS ssl_cert',
      "SET GLOBAL ssl_cert = '/var/lib/mysql/server-cert.pem'",
      'RESET PERSIST IF EXISTS ssl_key',
      "SET GLOBAL ssl_key = '/var/lib/mysql/o''key.pem'",
      'ALTER INSTANCE RELOAD TLS',
    ]);
  });

  it('MariaDB (FLUSH SSL alone): the reload again, nothing persisted', () => {
    assert.deepEqual(revertStatements(['FLUSH SSL'], running, new Map()), ['FLUSH SSL']);
  });
});
