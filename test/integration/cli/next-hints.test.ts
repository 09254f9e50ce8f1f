/**
 * Issue 14, item 5: every "Next:" command the CA flow prints works when pasted into a shell. The flow
 * runs with a non-default --ca-dir and a passphrase file (the hint must carry them) and a CN with a
 * quote in it (the hint must quote it); each printed command is run by bash, as a user would paste it,
 * with `dbtls` on the PATH.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commandLine } from '../../../src/cli/shell.js';
import { dbtlsCommand, runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { makeTestPki } from '../../harness/pki.js';

/** The flow's CA, given as a user would (a directory and a passphrase file whose names need quoting). */
const CA_FLAGS = ['--ca-dir', 'my ca', '--passphrase-file', 'ca pass.txt'];

let dir: string;
let binDir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-next-'));
  binDir = path.join(dir, 'bin');
  fs.mkdirSync(binDir);
  // `dbtls` on the PATH, as `npm install -g .` would put it.
  const [cmd, ...prefix] = dbtlsCommand();
  const words = [cmd!, ...prefix].map((w) => `'${w.replaceAll("'", `'\\''`)}'`).join(' ');
  fs.writeFileSync(path.join(binDir, 'dbtls'), `#!/bin/sh\nexec ${words} "$@"\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'ca pass.txt'), 'correct horse battery staple\n', { mode: 0o600 });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The command after `Next: ` (and after "on the CA host, "), or undefined. */
function nextCommand(stdout: string): string | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('Next: '));
  return line?.replace(/^Next: (on the CA host, )?/, '');
}

/** Runs a pasted command line in bash in the flow's directory; returns its stdout. */
function paste(commandLine: string): string {
  return execFileSync('bash', ['--norc', '--noprofile', '-c', commandLine], {
    cwd: dir,
    env: { ...process.env, PATH: `${binDir}:${process.env.PATH}`, DBTLS_CA_PASSPHRASE: '' },
    encoding: 'utf8',
  });
}

describe('pasted Next: hints', () => {
  it('ca init -> issue server (with the same --ca-dir and --passphrase-file)', async () => {
    const init = await runCli(['ca', 'init', ...CA_FLAGS], {
      cwd: dir,
    });
    assert.equal(init.code, 0, init.stderr);
    const next = nextCommand(init.stdout);
    assert.equal(
      next,
      "dbtls issue server --cn db1.example.com --out db1 --ca-dir 'my ca' --passphrase-file 'ca pass.txt'",
    );
    const out = paste(next!);
    assert.match(out, /^Created a new server certificate/);
    assert.ok(fs.existsSync(path.join(dir, 'db1', 'cert.pem')));
  });

  it('csr -> sign, for a CN with a quote in it, naming the files really written', async () => {
    const csr = await runCli(['csr', '--cn', "O'Brien", '--out', "o'brien"], { cwd: dir });
    assert.equal(csr.code, 0, csr.stderr);
    const next = nextCommand(csr.stdout)!;
    assert.equal(next, `dbtls sign 'o'\\''brien/csr.pem' --profile client --out 'o'\\''brien/cert.pem'`);
    const out = paste(`${next} --ca-dir 'my ca' --passphrase-file 'ca pass.txt'`);
    assert.match(out, /O'Brien/);
    assert.ok(fs.existsSync(path.join(dir, "o'brien", 'cert.pem')));
  });

  it('csr for a host name without --dns -> sign --profile server (the CN becomes the SAN)', async () => {
    const csr = await runCli(['csr', '--cn', 'db9.example.com', '--out', 'db9'], { cwd: dir });
    assert.equal(csr.code, 0, csr.stderr);
    const next = nextCommand(csr.stdout)!;
    assert.equal(next, 'dbtls sign db9/csr.pem --profile server --out db9/cert.pem');
    const out = paste(`${next} --ca-dir 'my ca' --passphrase-file 'ca pass.txt'`);
    assert.match(
      out,
      /^Signed a new server certificate valid for the following names:\n - "db9\.example\.com"\n/,
    );
  });

  it('issue client -> require names the account as one shell word', async () => {
    const issued = await runCli(['issue', 'client', '--cn', "O'Brien", '--out', 'ob2', ...CA_FLAGS], {
      cwd: dir,
    });
    assert.equal(issued.code, 0, issued.stderr);
    // No server named anywhere: the line says what goes in ADMIN_TARGET's place.
    assert.equal(
      nextCommand(issued.stdout.replace('Next: require it for the user: ', 'Next: ')),
      `dbtls require ADMIN_TARGET 'O'\\''Brien@%' --subject-of ob2/cert.pem --verify-cert ob2/cert.pem --verify-key ob2/key.pem   (ADMIN_TARGET: the server, host[:port] or a DSN)`,
    );
  });
});

/**
 * The server commands' hints (issue 14 item 5): no ADMIN_TARGET placeholder; the target and the admin
 * flags the user gave, spelled as the suggested command spells them, against a real MariaDB.
 */
describe('pasted server-command hints', () => {
  let server: MariadbInstance;
  let admin: string[];
  let target: string;
  before(async () => {
    const pki = await makeTestPki();
    // Client certificates of the flow's CA ('my ca', made by the first suite) log in too.
    const trusted = path.join(dir, 'server-trusts.pem');
    fs.writeFileSync(
      trusted,
      fs.readFileSync(pki.ca, 'utf8') + fs.readFileSync(path.join(dir, 'my ca', 'root.pem'), 'utf8'),
    );
    server = await startMariadb({
      tls: { ca: trusted, cert: pki.server.cert, key: pki.server.key },
      users: [{ name: 'app', password: 'app secret' }],
    });
    fs.copyFileSync(pki.ca, path.join(dir, 'db ca.pem'));
    fs.writeFileSync(path.join(dir, 'admin pw'), `${server.admin.password}\n`, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'app pw'), 'app secret\n', { mode: 0o600 });
    target = `127.0.0.1:${server.port}`;
    admin = ['--ca', 'db ca.pem', '--user', server.admin.user, '--password-file', 'admin pw'];
  });
  after(async () => {
    await server?.stop();
  });

  /** The command between backticks in a hint or warning line. */
  const quoted = (text: string, after: string) => new RegExp(`${after}\`([^\`]+)\``).exec(text)?.[1];

  it('users: the warning about a plaintext remote account names a require that works when pasted', async () => {
    const users = await runCli(['users', target, ...admin], { cwd: dir });
    assert.equal(users.code, 0, users.stderr);
    const fix = quoted(users.stderr, 'fix with ');
    assert.equal(
      fix,
      `dbtls require ${target} app@% --ssl --verify-password-file PASSWORD_FILE --ca 'db ca.pem' --user dbtls_admin --password-file 'admin pw'`,
    );
    assert.match(
      users.stderr,
      /` \(PASSWORD_FILE: a file holding the account's password, for the check login\)$/m,
    );
    // Pasted with the one word only the user knows filled in, for real: the account now needs TLS.
    const out = paste(fix!.replace('PASSWORD_FILE', "'app pw'"));
    assert.equal(
      out,
      "'app'@'%' now requires SSL (was none).\nChecked: a new session logged in as 'app'@'%' over TLSv1.3 ✓\n",
    );
  });

  it('issue client -> require names the server of DBTLS_ADMIN_TARGET and the check login, and works pasted', async () => {
    const issued = await runCli(['issue', 'client', '--cn', 'app', '--out', 'app', ...CA_FLAGS], {
      cwd: dir,
      env: { DBTLS_ADMIN_TARGET: target },
    });
    assert.equal(issued.code, 0, issued.stderr);
    const next = nextCommand(issued.stdout.replace('Next: require it for the user: ', 'Next: '));
    assert.equal(
      next,
      `dbtls require ${target} app@% --subject-of app/cert.pem --verify-cert app/cert.pem --verify-key app/key.pem`,
    );
    // Pasted with what only the user knows (the admin login, the account's password), for real: the
    // server now requires the certificate, and the check login with it passed.
    const out = paste(`${next} ${commandLine(admin)} --verify-password-file 'app pw'`);
    assert.equal(
      out,
      "'app'@'%' now requires SUBJECT '/O=dbtls/CN=app' (was SSL).\nChecked: a new session logged in as 'app'@'%' over TLSv1.3 ✓\n",
    );
    assert.equal(
      (await server.sql("SELECT ssl_type, x509_subject FROM mysql.user WHERE user = 'app'")).trim(),
      'SPECIFIED\t/O=dbtls/CN=app',
    );
  });

  it('issue server and sign --profile server -> server enable names the files written, and plans when pasted', async () => {
    const issued = await runCli(['issue', 'server', '--cn', 'db7.example.com', '--out', 'db7', ...CA_FLAGS], {
      cwd: dir,
      env: { DBTLS_ADMIN_TARGET: target },
    });
    assert.equal(issued.code, 0, issued.stderr);
    const enable = /^Next: install them on the server: (.*)$/m.exec(issued.stdout)?.[1];
    assert.equal(
      enable,
      `dbtls server enable ${target} --server-cert db7/chain.pem --server-key db7/key.pem --server-ca db7/ca.pem`,
    );
    assert.match(
      paste(`${enable} --admin-ca 'db ca.pem' --user dbtls_admin --password-file 'admin pw' --dry-run`),
      /^Dry run/m,
    );

    const csr = await runCli(['csr', '--cn', 'db8.example.com', '--dns', 'db8.example.com', '--out', 'db8'], {
      cwd: dir,
    });
    assert.equal(csr.code, 0, csr.stderr);
    const signed = await runCli(
      ['sign', 'db8/csr.pem', '--profile', 'server', '--out', 'db8/signed.pem', ...CA_FLAGS],
      { cwd: dir },
    );
    assert.equal(signed.code, 0, signed.stderr);
    const line = /^Next: install them on the server: (.*)$/m.exec(signed.stdout)?.[1];
    assert.equal(
      line,
      `dbtls server enable ADMIN_TARGET --server-cert db8/signed.pem --server-key db8/key.pem --server-ca 'my ca/root.pem'   (ADMIN_TARGET: the server, host[:port] or a DSN)`,
    );
    for (const f of ['db8/signed.pem', 'db8/key.pem', 'my ca/root.pem'])
      assert.ok(fs.existsSync(path.join(dir, f)), f);
  });

  it('require: an unknown account points at users with the same target and flags', async () => {
    const r = await runCli(['require', target, "'nobody'@'%'", '--ssl', ...admin], { cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error\[ACCOUNT_NOT_FOUND\]/m);
    const users = quoted(r.stderr, 'run ');
    assert.equal(
      users,
      `dbtls users ${target} --ca 'db ca.pem' --user dbtls_admin --password-file 'admin pw'`,
    );
    assert.doesNotMatch(r.stderr, /ADMIN_TARGET/);
    assert.match(paste(users!), /'app'\s*@'%'|'app'@'%'/);
  });
});
