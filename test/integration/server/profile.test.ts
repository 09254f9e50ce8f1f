/**
 * The profile against a real MariaDB (issue 14 item 14): the server commands take their ADMIN_TARGET,
 * socket and password file from it, with nothing but the account on the command line.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';

describe('a profile gives the server commands their admin target (real MariaDB)', () => {
  let server: MariadbInstance;
  let work: string;
  let profile: string;

  before(async () => {
    server = await startMariadb({ users: [{ name: 'app', password: 'app secret' }] });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-profile-it-'));
    fs.writeFileSync(path.join(work, 'admin.pw'), `${server.admin.password}\n`, { mode: 0o600 });
    profile = path.join(work, 'profile');
    // password-file is relative: it is read next to the profile, whatever the working directory.
    fs.writeFileSync(
      profile,
      `admin-target = localhost\nsocket = ${server.socket}\npassword-file = admin.pw\n`,
    );
  });
  after(async () => {
    await server?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('users --json with no ADMIN_TARGET, socket or password on the command line', async () => {
    const r = await runCli(['users', '--user', server.admin.user, '--json'], {
      env: { DBTLS_PROFILE: profile },
      cwd: os.tmpdir(),
    });
    assert.equal(r.code, 0, r.stderr);
    const accounts = JSON.parse(r.stdout) as { user: string; host: string }[];
    assert.ok(
      accounts.some((a) => a.user === 'app' && a.host === '%'),
      r.stdout,
    );
  });

  it('server status through --profile FILE, over the socket the profile names', async () => {
    const r = await runCli([
      'server',
      'status',
      '--profile-file',
      profile,
      '--user',
      server.admin.user,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const status = JSON.parse(r.stdout) as { tlsLive: boolean; server: { flavor: string } };
    assert.equal(status.server.flavor, 'mariadb');
    assert.equal(status.tlsLive, false);
  });

  it('a flag beats the profile: another socket on the command line is the one dialled', async () => {
    const missing = path.join(work, 'no.sock');
    const r = await runCli([
      'server',
      'status',
      '--profile-file',
      profile,
      '--user',
      server.admin.user,
      '--socket',
      missing,
    ]);
    assert.equal(r.code, 3);
    assert.match(
      r.stderr,
      new RegExp(`^error\\[CONNECTION_REFUSED\\]: could not connect to ${missing}: `, 'm'),
    );
  });

  it('MYSQL_PWD beats the profile password file: a wrong one fails the login', async () => {
    const r = await runCli(['users', '--profile-file', profile, '--user', server.admin.user], {
      env: { MYSQL_PWD: 'not the password' },
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error\[AUTH_FAILED\]: .*Access denied for user 'dbtls_admin'/m);
  });

  it('with no profile the same command line lacks its ADMIN_TARGET', async () => {
    const r = await runCli(['users', '--user', server.admin.user]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error\[USAGE\]: could not run users: ADMIN_TARGET is missing/m);
  });
});
