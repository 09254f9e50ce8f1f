import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DbtlsError } from '../../../src/errors.js';
import { clientOptions } from '../../../src/tls/mycnf.js';
import { parseTarget, type TargetFlags } from '../../../src/tls/settings.js';
import { parseTlsMinVersion } from '../../../src/tls/versions.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DbtlsError, String(err));
    return err.code;
  }
  return undefined;
}

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-settings-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function cnf(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

describe('target text', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['db.example.com', { host: 'db.example.com', port: 3306 }],
    ['db.example.com:3307', { host: 'db.example.com', port: 3307 }],
    ['[::1]:3308', { host: '::1', port: 3308 }],
    ['::1', { host: '::1', port: 3306 }],
    ['mysql://app@db:3310/shop', { host: 'db', port: 3310, user: 'app', database: 'shop' }],
    ['mariadb://app@[::1]/shop', { host: '::1', port: 3306, user: 'app', database: 'shop' }],
    ['mysql://a%40b@db', { host: 'db', user: 'a@b' }],
  ];
  for (const [text, want] of cases) {
    it(`reads ${text}`, () => {
      const t = parseTarget(text, {}, {});
      for (const [k, v] of Object.entries(want))
        assert.equal((t as unknown as Record<string, unknown>)[k], v, k);
      assert.equal(t.tls.mode, 'verify-full', 'secure by default');
      assert.equal(t.tls.minVersion, 'TLSv1.2');
      assert.equal(t.tls.mutualTls, 'disable');
    });
  }

  it('reads DSN TLS parameters in every spelling', () => {
    const a = parseTarget(
      'mysql://u@h/?ssl-mode=VERIFY_CA&ssl-ca=/ca.pem&ssl-cert=/c.pem&ssl-key=/k.pem',
      {},
      {},
    );
    assert.deepEqual(
      { ...a.tls },
      {
        mode: 'verify-ca',
        mutualTls: 'enable',
        ca: '/ca.pem',
        cert: '/c.pem',
        key: '/k.pem',
        minVersion: 'TLSv1.2',
      },
    );
    const b = parseTarget(
      'mysql://u@h?sslMode=verify-full&sslCa=/ca.pem&mutualTls=disable&sslCert=/c&sslKey=/k&servername=db.internal&tls-min=1.3',
      {},
      {},
    );
    assert.equal(b.tls.mode, 'verify-full');
    assert.equal(b.tls.mutualTls, 'disable');
    assert.equal(b.tls.servername, 'db.internal');
    assert.equal(b.tls.minVersion, 'TLSv1.3');
    assert.equal(parseTarget('mysql://u@h?ssl_mode=require', {}, {}).tls.mode, 'trust');
  });

  const bad: [string, string][] = [
    ['mysql://u:secret@h/db', 'TARGET_PASSWORD_IN_DSN'],
    ['mysql://u@h?ssl-mdoe=disable', 'TARGET_INVALID'],
    ['postgres://u@h', 'TARGET_INVALID'],
    ['h:99999', 'TARGET_INVALID'],
    ['h:12:13', 'TARGET_INVALID'],
    ['mysql://u@h?ssl-mode=maybe', 'SSL_MODE_UNKNOWN'],
    ['mysql://u@h?ssl-mode=trust&mutualTls=enable', 'SSL_MODE_INVALID'],
    ['mysql://u@h?tls-min=TLSv1.1', 'TLS_VERSION_INSECURE'],
  ];
  for (const [text, want] of bad) {
    it(`refuses ${text} with ${want}`, () => {
      assert.equal(
        code(() => parseTarget(text, {}, {})),
        want,
      );
    });
  }

  it('never echoes a DSN password in the error', () => {
    try {
      parseTarget('mysql://u:hunter2@h/db', {}, {});
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof DbtlsError);
      assert.doesNotMatch(`${err.message} ${err.hint}`, /hunter2/);
    }
  });

  it('parses TLS minimum versions', () => {
    assert.equal(parseTlsMinVersion('TLSv1.3'), 'TLSv1.3');
    assert.equal(parseTlsMinVersion('1.2'), 'TLSv1.2');
    assert.equal(
      code(() => parseTlsMinVersion('1.0')),
      'TLS_VERSION_INSECURE',
    );
    assert.equal(
      code(() => parseTlsMinVersion('ssl3')),
      'TLS_VERSION_UNKNOWN',
    );
  });
});

describe('my.cnf', () => {
  it('reads [client] groups, quotes, comments, dashes and underscores, !include and !includedir', () => {
    cnf('conf.d/20-b.cnf', '[client]\nssl_key = /b/key.pem\n');
    cnf('conf.d/10-a.cnf', '[client]\nssl-key = /a/key.pem\nssl-cert=/a/cert.pem\n');
    cnf('conf.d/ignored.txt', '[client]\nssl-cert=/nope\n');
    cnf('inc.cnf', '[client]\nuser = "app user" # a comment\n');
    const main = cnf(
      'my.cnf',
      `# top\n[mysqld]\nssl-ca=/server-side\n[client]\nssl-ca = '/etc/ca.pem'\n; comment\n!include inc.cnf\n!includedir ${path.join(dir, 'conf.d')}\n[dbtls]\nssl-mode=VERIFY_CA\n`,
    );
    const o = clientOptions(main);
    assert.equal(o.get('ssl-ca'), '/etc/ca.pem');
    assert.equal(o.get('user'), 'app user');
    assert.equal(o.get('ssl-key'), '/b/key.pem');
    assert.equal(o.get('ssl-cert'), '/a/cert.pem');
    assert.equal(o.get('ssl-mode'), 'VERIFY_CA');
  });

  it('refuses an include loop and options outside a group', () => {
    const loop = cnf('loop.cnf', '[client]\n!include loop.cnf\n');
    assert.equal(
      code(() => clientOptions(loop)),
      'MYCNF_INCLUDE_LOOP',
    );
    assert.equal(
      code(() => clientOptions(cnf('nogroup.cnf', 'ssl-ca=/x\n'))),
      'MYCNF_MALFORMED',
    );
    assert.equal(
      code(() => clientOptions(path.join(dir, 'missing.cnf'))),
      'FILE_NOT_FOUND',
    );
  });

  it('maps ssl-verify-server-cert to verify-full and skip-ssl to disable', () => {
    const v = cnf('verify.cnf', '[client]\nssl-verify-server-cert\nssl-ca=/ca.pem\n');
    assert.equal(parseTarget('h', { mode: undefined, defaultsFile: v }, {}).tls.mode, 'verify-full');
    const s = cnf('skip.cnf', '[client]\nskip-ssl\n');
    assert.equal(parseTarget('h', { defaultsFile: s }, {}).tls.mode, 'disable');
    const t = cnf('tlsv.cnf', '[client]\ntls-version=TLSv1.3,TLSv1.2\nssl-mode=REQUIRED\n');
    assert.equal(parseTarget('h', { defaultsFile: t }, {}).tls.minVersion, 'TLSv1.2');
    assert.equal(parseTarget('h', { defaultsFile: t }, {}).tls.mode, 'trust');
  });
});

describe('precedence: flag > DSN > my.cnf > env > default', () => {
  // One row per setting: each layer offers a value; removing the highest layers one by one must reveal the next.
  const layers = ['flag', 'dsn', 'my.cnf', 'env', 'default'] as const;
  const rows: {
    setting: 'mode' | 'ca' | 'minVersion' | 'user';
    values: [string, string, string, string, string];
    read: (t: ReturnType<typeof parseTarget>) => unknown;
  }[] = [
    {
      setting: 'mode',
      values: ['verify-ca', 'trust', 'disable', 'preferred', 'verify-full'],
      read: (t) => t.tls.mode,
    },
    {
      setting: 'ca',
      values: ['/flag.pem', '/dsn.pem', '/cnf.pem', '/env.pem', ''],
      read: (t) => t.tls.ca ?? '',
    },
    {
      setting: 'minVersion',
      values: ['TLSv1.3', 'TLSv1.2', 'TLSv1.3', 'TLSv1.2', 'TLSv1.2'],
      read: (t) => t.tls.minVersion,
    },
    { setting: 'user', values: ['fu', 'du', 'cu', 'eu', ''], read: (t) => t.user ?? '' },
  ];
  const dsnKey = { mode: 'ssl-mode', ca: 'ssl-ca', minVersion: 'tls-min', user: '' } as const;
  const cnfKey = { mode: 'ssl-mode', ca: 'ssl-ca', minVersion: 'tls-version', user: 'user' } as const;
  const envKey = {
    mode: 'DBTLS_SSL_MODE',
    ca: 'DBTLS_SSL_CA',
    minVersion: 'DBTLS_TLS_MIN',
    user: 'DBTLS_USER',
  } as const;
  for (const row of rows) {
    for (let top = 0; top < layers.length; top++) {
      it(`${row.setting} from ${layers[top]} when the layers above are empty`, () => {
        const [f, d, c, e, def] = row.values;
        const flags: Record<string, string> = {};
        if (top <= 0) flags[row.setting] = f;
        let text = 'h';
        if (top <= 1)
          text = row.setting === 'user' ? `mysql://${d}@h` : `mysql://h?${dsnKey[row.setting]}=${d}`;
        const file = cnf(
          `prec-${row.setting}-${top}.cnf`,
          top <= 2 ? `[client]\n${cnfKey[row.setting]}=${c}\n` : '[client]\n',
        );
        const env: NodeJS.ProcessEnv = top <= 3 ? { [envKey[row.setting]]: e } : {};
        const t = parseTarget(text, { ...(flags as TargetFlags), defaultsFile: file }, env);
        assert.equal(row.read(t), row.values[top] ?? def);
        assert.equal(t.sources?.[row.setting], layers[top]);
      });
    }
  }

  it('takes the password from my.cnf over MYSQL_PWD, and mutual TLS from cert+key', () => {
    const file = cnf(
      'pw.cnf',
      '[client]\npassword=fromfile\nssl-cert=/c.pem\nssl-key=/k.pem\nssl-ca=/ca.pem\n',
    );
    const t = parseTarget('h', { defaultsFile: file }, { MYSQL_PWD: 'fromenv' });
    assert.equal(t.password, 'fromfile');
    assert.equal(t.tls.mutualTls, 'enable');
    assert.equal(parseTarget('h', {}, { MYSQL_PWD: 'fromenv' }).password, 'fromenv');
    assert.equal(parseTarget('h', {}, { DBTLS_DEFAULTS_FILE: file }).tls.cert, '/c.pem');
  });
});

describe('half a client pair', () => {
  it('a certificate without its key (or a key without its certificate) is TLS_MATERIAL_INVALID, naming where it came from', () => {
    const table: [string, TargetFlags, NodeJS.ProcessEnv, string][] = [
      [
        'h',
        { cert: '/c.pem' },
        {},
        'could not use the client certificate /c.pem (from the command line): no client key was given with it',
      ],
      [
        'mysql://u@h/?ssl-key=/k.pem',
        {},
        {},
        'could not use the client key /k.pem (from the DSN): no client certificate was given with it',
      ],
    ];
    for (const [text, flags, env, message] of table) {
      assert.throws(() => parseTarget(text, flags, env), { code: 'TLS_MATERIAL_INVALID', message });
    }
    // mutual TLS switched off: a stray certificate is not used, and not an error.
    assert.equal(parseTarget('h', { cert: '/c.pem', mutualTls: 'disable' }, {}).tls.mutualTls, 'disable');
  });
});

describe('servername', () => {
  it('a host name or an IP address from any source; anything else is SERVERNAME_INVALID naming the source', () => {
    assert.equal(
      parseTarget('10.0.0.5', { servername: 'db1.example.com' }, {}).tls.servername,
      'db1.example.com',
    );
    assert.equal(parseTarget('db', { servername: '10.0.0.5' }, {}).tls.servername, '10.0.0.5');
    assert.equal(parseTarget('db', { servername: 'fd00::5' }, {}).tls.servername, 'fd00::5');
    // What node's checkServerIdentity accepts: an underscore, one trailing dot.
    assert.equal(parseTarget('db', { servername: 'my_db' }, {}).tls.servername, 'my_db');
    assert.equal(parseTarget('db', { servername: 'db.example.com.' }, {}).tls.servername, 'db.example.com.');
    const table: [string, TargetFlags, NodeJS.ProcessEnv, string][] = [
      ['h', { servername: 'a b' }, {}, 'could not use the servername "a b" (from the command line)'],
      [
        'mysql://h/?servername=*.example.com',
        {},
        {},
        'could not use the servername "*.example.com" (from the DSN)',
      ],
      [
        'h',
        {},
        { DBTLS_SSL_SERVERNAME: 'db\n1' },
        'could not use the servername "db\\n1" (from the environment)',
      ],
      [
        'h',
        { servername: 'db..example.com' },
        {},
        'could not use the servername "db..example.com" (from the command line)',
      ],
    ];
    for (const [text, flags, env, message] of table) {
      assert.throws(() => parseTarget(text, flags, env), {
        code: 'SERVERNAME_INVALID',
        message: `${message}: it is neither a host name nor an IP address`,
      });
    }
  });
});
