/**
 * The profile (issue 14 item 14): where it is, what it may hold, and the one precedence for every key:
 * flag > environment > profile > default.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { adminTargetSlots, type Parsed, parse } from '../../../src/cli/args.js';
import type { OptionTable } from '../../../src/cli/command.js';
import { run } from '../../../src/cli/main.js';
import {
  loadProfile,
  type Profile,
  parseProfile,
  profileLocation,
  resolveSettings,
  withProfile,
} from '../../../src/cli/profile.js';
import { DbtlsError } from '../../../src/errors.js';
import { capture } from './capture.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-profile-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function failure(fn: () => unknown): { code: string; message: string; hint: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DbtlsError, String(err));
    return { code: err.code, message: err.message, hint: err.hint ?? '' };
  }
  assert.fail('expected a DbtlsError');
}

describe('profile location', () => {
  it('--profile, else DBTLS_PROFILE, else $XDG_CONFIG_HOME/dbtls/profile, else ~/.config/dbtls/profile', () => {
    const env = { DBTLS_PROFILE: '/e/p', XDG_CONFIG_HOME: '/x', HOME: '/h' };
    assert.deepEqual(profileLocation('/f/p', env), { file: '/f/p', named: true });
    assert.deepEqual(profileLocation(undefined, env), { file: '/e/p', named: true });
    assert.deepEqual(profileLocation(undefined, { XDG_CONFIG_HOME: '/x', HOME: '/h' }), {
      file: '/x/dbtls/profile',
      named: false,
    });
    assert.deepEqual(profileLocation(undefined, { HOME: '/h' }), {
      file: '/h/.config/dbtls/profile',
      named: false,
    });
  });
  it('the default file may be absent; a named one must exist', () => {
    assert.deepEqual(loadProfile(undefined, { XDG_CONFIG_HOME: path.join(dir, 'none') }), {
      file: undefined,
      values: {},
    });
    assert.equal(failure(() => loadProfile(path.join(dir, 'missing'), {})).code, 'FILE_NOT_FOUND');
  });
});

describe('profile format', () => {
  it('key = value lines, comments, relative paths against the profile directory', () => {
    const file = write(
      'ok',
      '# shared by the server commands\nca-dir = ca\n; socket\nsocket: /run/m.sock\nadmin-target = db1:3307\nssl-dir = ssl\n',
    );
    assert.deepEqual(loadProfile(file, {}), {
      file,
      values: {
        'ca-dir': path.join(dir, 'ca'),
        socket: '/run/m.sock',
        'admin-target': 'db1:3307',
        'ssl-dir': 'ssl',
      },
    });
  });
  it('refuses an unknown key with its line, a did-you-mean and the list of keys (PROFILE_KEY_UNKNOWN)', () => {
    const f = failure(() => parseProfile('ca-dir = a\nca_dir = b\n', '/p'));
    assert.equal(f.code, 'PROFILE_KEY_UNKNOWN');
    assert.equal(
      f.message,
      'could not read the profile /p, line 2: the key ca_dir is not known; did you mean ca-dir?',
    );
    assert.match(
      f.hint,
      /the keys are ca-dir, passphrase-file, admin-target, socket, password-file, ssl-dir/,
    );
    assert.equal(failure(() => parseProfile('ssl-mode = trust\n', '/p')).code, 'PROFILE_KEY_UNKNOWN');
  });
  for (const line of [
    'password = s3cret',
    'passphrase: x',
    'MYSQL_PWD = x',
    'admin-password = x',
    'secret = x',
  ]) {
    it(`refuses a secret: ${line} (PROFILE_SECRET), never echoing the value`, () => {
      const f = failure(() => parseProfile(`${line}\n`, '/p'));
      assert.equal(f.code, 'PROFILE_SECRET');
      assert.doesNotMatch(f.message, /s3cret|= x/);
      assert.match(f.hint, /password-file = PATH/);
    });
  }
  it('refuses a key without a value, twice, or with a control character (PROFILE_INVALID)', () => {
    for (const text of ['ca-dir\n', 'ca-dir =\n', 'ca-dir = a\nca-dir = b\n', 'socket = a\u0007b\n']) {
      assert.equal(failure(() => parseProfile(text, '/p')).code, 'PROFILE_INVALID', JSON.stringify(text));
    }
  });
});

describe('precedence: flag > environment > profile > default, for every key', () => {
  const options: OptionTable = {
    'ca-dir': { type: 'string' },
    'passphrase-file': { type: 'string' },
    socket: { type: 'string' },
    'password-file': { type: 'string' },
    dir: { type: 'string' },
  };
  const profile: Profile = {
    file: '/p',
    values: {
      'ca-dir': '/p/ca',
      'passphrase-file': '/p/pass',
      'admin-target': 'db1',
      socket: '/p/sock',
      'password-file': '/p/pw',
      'ssl-dir': '/p/ssl',
    },
  };
  const flags: Parsed = {
    values: {
      'ca-dir': 'f/ca',
      'passphrase-file': 'f/pass',
      socket: 'f/sock',
      'password-file': 'f/pw',
      dir: 'f/ssl',
    },
    positionals: ['f-db'],
  };
  const env = {
    DBTLS_CA_DIR: 'e/ca',
    DBTLS_CA_PASSPHRASE: 'secret',
    DBTLS_ADMIN_TARGET: 'e-db',
    MYSQL_PWD: 'pw',
  };
  const none: Parsed = { values: {}, positionals: [] };
  const table: [
    string,
    Parsed,
    NodeJS.ProcessEnv,
    Profile,
    boolean,
    Record<string, [string | undefined, string]>,
  ][] = [
    [
      'flags beat everything',
      flags,
      env,
      profile,
      true,
      {
        'ca-dir': ['f/ca', 'flag'],
        'passphrase-file': ['f/pass', 'flag'],
        'admin-target': ['f-db', 'flag'],
        socket: ['f/sock', 'flag'],
        'password-file': ['f/pw', 'flag'],
        'ssl-dir': ['f/ssl', 'flag'],
      },
    ],
    [
      'the environment beats the profile (a secret shows as its variable)',
      none,
      env,
      profile,
      false,
      {
        'ca-dir': ['e/ca', 'env'],
        'passphrase-file': ['$DBTLS_CA_PASSPHRASE', 'env'],
        'admin-target': ['e-db', 'env'],
        socket: ['/p/sock', 'profile'],
        'password-file': ['$MYSQL_PWD', 'env'],
        'ssl-dir': ['/p/ssl', 'profile'],
      },
    ],
    [
      'the profile beats the defaults',
      none,
      {},
      profile,
      false,
      {
        'ca-dir': ['/p/ca', 'profile'],
        'passphrase-file': ['/p/pass', 'profile'],
        'admin-target': ['db1', 'profile'],
        socket: ['/p/sock', 'profile'],
        'password-file': ['/p/pw', 'profile'],
        'ssl-dir': ['/p/ssl', 'profile'],
      },
    ],
    [
      'defaults',
      none,
      {},
      { file: undefined, values: {} },
      false,
      {
        'ca-dir': ['dbtls-ca', 'default'],
        'passphrase-file': [undefined, 'default'],
        'admin-target': [undefined, 'default'],
        socket: [undefined, 'default'],
        'password-file': [undefined, 'default'],
        'ssl-dir': [undefined, 'default'],
      },
    ],
  ];
  for (const [name, p, e, prof, targetGiven, expected] of table) {
    it(name, () => {
      const got = Object.fromEntries(
        resolveSettings(p, options, e, prof, targetGiven).map((s) => [s.key, [s.value, s.origin]]),
      );
      assert.deepEqual(got, expected);
    });
  }
  it('the command then reads the profile value as if typed, and nothing the environment or a flag gave', () => {
    const p = withProfile(none, options, { MYSQL_PWD: 'pw' }, () => profile, 1);
    assert.deepEqual(p.values, {
      'ca-dir': '/p/ca',
      'passphrase-file': '/p/pass',
      socket: '/p/sock',
      dir: '/p/ssl',
    });
    assert.deepEqual(p.positionals, ['db1']);
    // require ADMIN_TARGET USER@HOST: one positional given is the account; the target goes first.
    assert.deepEqual(
      withProfile({ values: {}, positionals: ["'app'@'%'"] }, options, {}, () => profile, 2).positionals,
      ['db1', "'app'@'%'"],
    );
    assert.deepEqual(
      withProfile(flags, options, {}, () => profile, 1),
      flags,
    );
  });
  it('the admin keys stay out of a command whose --password-file means another password', () => {
    const keystore: OptionTable = { 'password-file': { type: 'string' }, 'ca-dir': { type: 'string' } };
    assert.deepEqual(withProfile(none, keystore, {}, () => profile, 0).values, { 'ca-dir': '/p/ca' });
  });
  it('a command that takes none of the keys never reads the profile', () => {
    const p = withProfile(none, { json: { type: 'boolean' } }, {}, () => assert.fail('read'), 0);
    assert.deepEqual(p, none);
  });
  it('where ADMIN_TARGET goes, from the usage line', () => {
    assert.equal(adminTargetSlots('dbtls server status ADMIN_TARGET [--ca F]'), 1);
    assert.equal(adminTargetSlots('dbtls require ADMIN_TARGET USER@HOST --none|--ssl'), 2);
    assert.equal(adminTargetSlots('dbtls connect TARGET [-e SQL]'), 0);
    assert.equal(adminTargetSlots('dbtls list [--json]'), 0);
  });
  it('parse() applies it when the command context has a profile', () => {
    const ctx = { env: {}, profile: () => profile };
    assert.equal(parse([], options, 'dbtls x ADMIN_TARGET', ctx).values['ca-dir'], '/p/ca');
    assert.equal(parse([], options, 'dbtls x ADMIN_TARGET').values['ca-dir'], undefined);
  });
});

describe('dbtls config show', () => {
  const runShow = async (args: string[], env: NodeJS.ProcessEnv) => {
    const { out, render } = capture();
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      return { code: await run(['config', 'show', ...args], render), ...out };
    } finally {
      for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
      Object.assign(process.env, saved);
    }
  };
  const file = write('show', 'ca-dir = /srv/ca\nadmin-target = db1:3307\npassword-file = /srv/admin.pw\n');
  it('prints each value with its origin', async () => {
    const r = await runShow(['--profile-file', file, '--socket', '/s'], { DBTLS_CA_DIR: '', MYSQL_PWD: '' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        `profile: ${file}`,
        '  ca-dir           /srv/ca        profile',
        '  passphrase-file  -              default',
        '  admin-target     db1:3307       profile',
        '  socket           /s             flag',
        '  password-file    /srv/admin.pw  profile',
        '  ssl-dir          -              default',
        '',
      ].join('\n'),
    );
  });
  it('--json, from DBTLS_PROFILE, with the environment over the profile', async () => {
    const r = await runShow(['--json'], { DBTLS_PROFILE: file, DBTLS_ADMIN_TARGET: 'db2', MYSQL_PWD: '' });
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      profile: string;
      settings: { key: string; value?: string; origin: string }[];
    };
    assert.equal(doc.profile, file);
    assert.deepEqual(
      doc.settings.find((s) => s.key === 'admin-target'),
      { key: 'admin-target', value: 'db2', origin: 'env' },
    );
  });
  it('a profile with a secret stops the command with PROFILE_SECRET (exit 2)', async () => {
    const bad = write('secret', 'password = hunter2\n');
    // Named by the old spelling, which still works for one release with a warning.
    const r = await runShow(['--profile', bad], {});
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^warning: --profile FILE is now --profile-file FILE; the old name goes in the next release$/m,
    );
    assert.match(r.stderr, /^error\[PROFILE_SECRET\]: could not read the profile .*secret, line 1: /m);
    assert.doesNotMatch(r.stderr, /hunter2/);
  });
});

describe('a profile named on the command line is read, whatever the command takes from it', () => {
  const runCommand = async (args: string[]) => {
    const { out, render } = capture();
    return { code: await run(args, render), ...out };
  };
  it('a missing --profile-file fails a command that reads no key (it passed unnoticed)', async () => {
    const missing = path.join(dir, 'no-such-profile');
    const r = await runCommand(['list', '--ca-dir', path.join(dir, 'no-ca'), '--profile-file', missing]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `error[FILE_NOT_FOUND]: could not read the profile ${missing}: no such file\nhint: check the path\n`,
    );
  });
  it('`export jks --profile legacy` is USAGE, not a profile file named "legacy" (JKS has no such choice)', async () => {
    const r = await runCommand([
      'export',
      'jks',
      '--cert',
      'c.pem',
      '--key',
      'k.pem',
      '--alias',
      'a',
      '--password-file',
      'pw',
      '--out',
      'o.jks',
      '--profile',
      'legacy',
    ]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'error[USAGE]: could not parse the arguments: --profile legacy is the PKCS#12 encryption of `export p12` and `export truststore --format p12`; `dbtls export jks` has no such choice\n' +
        'hint: drop --profile here (JKS keystores have one encryption), or write a PKCS#12 keystore with export p12\n',
    );
  });
});
