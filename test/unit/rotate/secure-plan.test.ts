import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import { DbtlsError } from '../../../src/errors.js';
import { sandboxConfig } from '../../../src/sandbox/sandbox.js';
import { clientDir, leafProblem, missingNames, serverNames } from '../../../src/server/secure/plan.js';
import {
  EMPTY_RECORD,
  fileBefore,
  restoreFile,
  withFile,
  withIssued,
  withRequirement,
  withRequireSecureTransport,
  writeSecureState,
} from '../../../src/server/secure/state.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-secure-unit-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('serverNames', () => {
  const table: [
    string,
    string | undefined,
    string[],
    string[],
    { cn: string; dns: string[]; ip: string[] },
  ][] = [
    ['127.0.0.1', 'db1', [], [], { cn: '127.0.0.1', dns: ['localhost', 'db1'], ip: ['127.0.0.1'] }],
    ['localhost', '', [], [], { cn: 'localhost', dns: ['localhost'], ip: ['127.0.0.1'] }],
    [
      'DB.Example.com',
      'db',
      ['db.internal'],
      ['10.0.0.5'],
      { cn: 'db.example.com', dns: ['db.example.com', 'db', 'db.internal'], ip: ['10.0.0.5'] },
    ],
    ['10.1.2.3', 'bad name!', [], ['10.1.2.3'], { cn: '10.1.2.3', dns: [], ip: ['10.1.2.3'] }],
  ];
  for (const [host, hostname, dns, ip, want] of table) {
    it(`${host} + @@hostname ${JSON.stringify(hostname)}`, () => {
      assert.deepEqual(serverNames(host, hostname, dns, ip), want);
    });
  }
});

describe('leafProblem and missingNames', () => {
  const ca = initCa(path.join(tmp, 'ca'), { passphrase: undefined, cn: 'unit CA' });
  const other = initCa(path.join(tmp, 'other'), { passphrase: undefined, cn: 'other CA' });
  const now = new Date();
  const leaf = issueCertificate(ca, {
    profile: 'server',
    cn: 'localhost',
    dns: ['localhost'],
    ip: ['127.0.0.1'],
    now,
  }).cert;
  const names = serverNames('127.0.0.1', undefined);
  const valid = new Set([leaf.serial]);

  it('accepts a valid leaf of this CA with every name', () => {
    assert.equal(leafProblem({ cert: leaf, issuer: ca.issuer, validSerials: valid, now, names }), undefined);
  });
  it('names each reason to replace a leaf', () => {
    assert.match(
      leafProblem({ cert: leaf, issuer: other.issuer, validSerials: valid, now })!,
      /not issued by this CA/,
    );
    assert.equal(
      leafProblem({ cert: leaf, issuer: ca.issuer, validSerials: new Set(), now }),
      'the CA index does not list it as valid',
    );
    const late = new Date(leaf.notAfter.getTime() - 10 * 86_400_000);
    assert.match(
      leafProblem({ cert: leaf, issuer: ca.issuer, validSerials: valid, now: late })!,
      /expires in 10 day\(s\)/,
    );
    const more = serverNames('db.example.com', undefined);
    assert.equal(
      leafProblem({ cert: leaf, issuer: ca.issuer, validSerials: valid, now, names: more }),
      'it does not name db.example.com',
    );
    assert.deepEqual(missingNames(leaf, more), ['db.example.com']);
    assert.match(
      leafProblem({ cert: leaf, issuer: ca.issuer, validSerials: valid, now, cn: 'app' })!,
      /not CN=app/,
    );
  });
  it('compares the CN, not the end of the one-line subject (a CN holding "/CN=app" is not CN=app)', () => {
    const trap = issueCertificate(ca, { profile: 'client', cn: 'x/CN=app', now }).cert;
    const check = { cert: trap, issuer: ca.issuer, validSerials: new Set([trap.serial]), now };
    assert.equal(leafProblem({ ...check, cn: 'app' }), 'its subject is /O=dbtls/CN=x\\/CN=app, not CN=app');
    assert.equal(leafProblem({ ...check, cn: 'x/CN=app' }), undefined);
  });
});

describe('clientDir', () => {
  it('puts a user under DIR and refuses names that leave it', () => {
    assert.equal(clientDir('/out', { user: 'app', host: '%' }), '/out/app');
    for (const user of ['../x', 'a/b', '..', '']) {
      assert.throws(
        () => clientDir('/out', { user, host: '%' }),
        (e: unknown) => e instanceof DbtlsError && e.code === 'ACCOUNT_INVALID',
      );
    }
  });
});

describe('secure state', () => {
  it('keeps the first snapshot of each thing, so undo restores the state before the first run', () => {
    let r = withFile(EMPTY_RECORD, { path: '/f', previous: null });
    r = withFile(r, { path: '/f', previous: 'eA==' });
    r = withIssued(withIssued(r, 'aa'), 'aa');
    r = withRequirement(r, { user: 'app', host: '%', before: { type: 'NONE' } });
    r = withRequirement(r, { user: 'app', host: '%', before: { type: 'X509' } });
    r = withRequireSecureTransport(withRequireSecureTransport(r, 'OFF'), 'ON');
    assert.deepEqual(r, {
      createdCa: false,
      files: [{ path: '/f', previous: null }],
      issued: ['aa'],
      createdDirs: [],
      requirements: [{ user: 'app', host: '%', before: { type: 'NONE' } }],
      requireSecureTransportBefore: 'OFF',
    });
  });

  it('restores a replaced file with its mode, removes a created one, and writes the state only when it changed', () => {
    const f = path.join(tmp, 'key.pem');
    fs.writeFileSync(f, 'old key', { mode: 0o600 });
    const snap = fileBefore(f);
    fs.writeFileSync(f, 'new key');
    assert.equal(restoreFile(snap), 'restored');
    assert.equal(fs.readFileSync(f, 'utf8'), 'old key');
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    const created = fileBefore(path.join(tmp, 'new.cnf'));
    fs.writeFileSync(path.join(tmp, 'new.cnf'), 'x');
    assert.equal(restoreFile(created), 'removed');
    assert.equal(fs.existsSync(path.join(tmp, 'new.cnf')), false);
    const state = { version: 1 as const, servers: { 'h:1': EMPTY_RECORD } };
    assert.equal(writeSecureState(tmp, state), true);
    assert.equal(writeSecureState(tmp, state), false);
    assert.equal(fs.statSync(path.join(tmp, 'secure.json')).mode & 0o777, 0o600);
  });
});

describe('sandboxConfig', () => {
  it('writes a private [mysqld] with TLS when asked and includes conf.d last', () => {
    const text = sandboxConfig(
      '/d',
      3307,
      { tls: { ca: '/c', cert: '/s', key: '/k' }, extra: { 'skip-grant': true, x: false } },
      true,
    );
    const lines = text.split('\n');
    assert.equal(lines[0], '[mysqld]');
    assert.equal(lines[1], 'user=root');
    for (const l of [
      'port=3307',
      'bind-address=127.0.0.1',
      'socket=/d/mysqld.sock',
      'ssl_ca=/c',
      'ssl_cert=/s',
      'ssl_key=/k',
      'skip-grant',
      'x=0',
    ]) {
      assert.ok(lines.includes(l), l);
    }
    assert.equal(lines.at(-2), '!includedir /d/conf.d');
    assert.equal(sandboxConfig('/d', 1, {}, false).includes('user=root'), false);
  });
});
