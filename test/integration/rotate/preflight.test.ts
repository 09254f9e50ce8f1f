/**
 * Rotation preflight against a real MariaDB (issue 10 items 8, 15): an admin account without RELOAD, or a
 * user who cannot write the server's directory, is refused before anything changes (no certificate issued,
 * no file replaced), with the exact GRANT statement or the path and its owner; the GRANT from the message
 * is then enough for the same rotation to succeed. `server enable --issue` too: the CA issues only once
 * every check passed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import type { Ca } from '../../../src/ca/store.js';
import { probeServedCertificate } from '../../../src/server/tls/reload.js';
import { runCli, worldReadableCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { run } from '../../harness/oracles.js';

let tmp: string;
let ca: Ca;
let db: MariadbInstance;
const ssl = (f = '') => path.join(tmp, 'ssl', f);
const caDir = () => path.join(tmp, 'ca');

/** SHA-256 of every file under a directory, by relative path: "nothing changed" made checkable. */
function treeHash(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    if (entry.isFile())
      out[path.relative(dir, full)] = createHash('sha256').update(fs.readFileSync(full)).digest('hex');
  }
  return out;
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-preflight-'));
  fs.chmodSync(tmp, 0o755);
  ca = initCa(caDir(), { passphrase: undefined, cn: 'preflight test CA' });
  const issued = issueCertificate(ca, {
    profile: 'server',
    cn: 'localhost',
    dns: ['localhost'],
    ip: ['127.0.0.1'],
  });
  fs.mkdirSync(ssl());
  fs.writeFileSync(ssl('server-cert.pem'), issued.chainPem);
  fs.writeFileSync(ssl('server-key.pem'), issued.keyPem!, { mode: 0o600 });
  fs.writeFileSync(ssl('ca.pem'), ca.caPem());
  fs.writeFileSync(path.join(tmp, 'ops.pw'), 'ops-pw\n', { mode: 0o644 });
  db = await startMariadb({
    // An operator who may read the grant tables but not FLUSH: what a least-privilege admin often is.
    users: [{ name: 'ops', password: 'ops-pw', grants: 'SELECT ON mysql.*' }],
    tls: { ca: ssl('ca.pem'), cert: ssl('server-cert.pem'), key: ssl('server-key.pem') },
  });
});

after(async () => {
  await db?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const rotateAsOps = (runner: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>) =>
  runner([
    'rotate',
    `127.0.0.1:${db.port}`,
    '--ca-dir',
    caDir(),
    '--user',
    'ops',
    '--password-file',
    path.join(tmp, 'ops.pw'),
  ]);

test('server enable --issue without RELOAD is refused before the CA issues anything (it used to record a certificate whose key was then lost)', async () => {
  const before = { ssl: treeHash(ssl()), ca: treeHash(caDir()) };
  const refused = await runCli([
    'server',
    'enable',
    `127.0.0.1:${db.port}`,
    '--issue',
    '--ca-dir',
    caDir(),
    '--admin-ca',
    ssl('ca.pem'),
    '--user',
    'ops',
    '--password-file',
    path.join(tmp, 'ops.pw'),
  ]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(
    refused.stderr,
    /^error\[PRIVILEGES_MISSING\]: could not enable TLS: the admin account 'ops'@'%' lacks RELOAD ON \*\.\* \(for FLUSH SSL\); nothing was changed\n/,
  );
  assert.deepEqual({ ssl: treeHash(ssl()), ca: treeHash(caDir()) }, before);
});

test('rotate without RELOAD is refused before anything changes, with the GRANT that fixes it; after that GRANT it succeeds', async () => {
  const served = await probeServedCertificate(db.host, db.port);
  const before = { ssl: treeHash(ssl()), ca: treeHash(caDir()) };
  const refused = await rotateAsOps((args) => runCli(args));
  assert.equal(refused.code, 2, refused.stderr);
  assert.equal(refused.stdout, '');
  assert.equal(
    refused.stderr,
    "error[PRIVILEGES_MISSING]: could not rotate the server certificate: the admin account 'ops'@'%' lacks RELOAD ON *.* (for FLUSH SSL); nothing was changed\n" +
      "hint: as an account that may grant them, run: GRANT RELOAD ON *.* TO 'ops'@'%'; or connect with --user as an account that has them\n",
  );
  // Nothing issued (the CA's index and certs/ are byte for byte the same), nothing replaced, nothing reloaded.
  assert.deepEqual({ ssl: treeHash(ssl()), ca: treeHash(caDir()) }, before);
  assert.equal((await probeServedCertificate(db.host, db.port)).fingerprint, served.fingerprint);

  const grant = /run: (GRANT [^;]+);/.exec(refused.stderr)?.[1];
  assert.ok(grant);
  await db.sql(`${grant};`);
  const ok = await rotateAsOps((args) => runCli(args));
  assert.equal(ok.code, 0, ok.stderr);
  assert.notEqual((await probeServedCertificate(db.host, db.port)).fingerprint, served.fingerprint);
});

test('rotate by a user who cannot write the server directory is refused before anything changes, naming the path and its owner', async () => {
  // The CA belongs to 'nobody' (it may issue), the server directory to root (it may not replace files there).
  const nobody = Number((await run('id', ['-u', 'nobody'])).stdout.trim());
  const nogroup = Number((await run('id', ['-g', 'nobody'])).stdout.trim());
  for (const entry of [
    caDir(),
    ...fs.readdirSync(caDir(), { recursive: true }).map((f) => path.join(caDir(), String(f))),
  ])
    fs.chownSync(entry, nobody, nogroup);
  fs.chmodSync(ssl(), 0o755);
  const served = await probeServedCertificate(db.host, db.port);
  const before = { ssl: treeHash(ssl()), ca: treeHash(caDir()) };
  // The checkout may sit under a directory nobody cannot enter (CI clones into `mktemp -d`): run a copy.
  const cli = worldReadableCli();
  const [node, ...prefix] = cli.command;
  const r = await rotateAsOps((args) =>
    run('setpriv', [`--reuid=${nobody}`, `--regid=${nogroup}`, '--clear-groups', node!, ...prefix, ...args]),
  ).finally(() => cli.dispose());
  assert.equal(r.code, 2, r.stderr);
  assert.equal(
    r.stderr,
    `error[PERMISSION_DENIED]: could not write the server certificate ${ssl('server-cert.pem')}: ${ssl().replace(/\/$/, '')} is owned by root (mode 755) and nobody may not write it; nothing was changed\n` +
      'hint: run the command as root (e.g. `sudo -u root dbtls …`) or with sudo, or pass a directory you can write\n',
  );
  assert.doesNotMatch(r.stderr, /INTERNAL/);
  assert.deepEqual({ ssl: treeHash(ssl()), ca: treeHash(caDir()) }, before);
  assert.equal((await probeServedCertificate(db.host, db.port)).fingerprint, served.fingerprint);
});

test("rotate --days past the CA's own end is refused before anything changes (it once made the rotation directory and retired leftovers first), in a dry run too", async () => {
  const served = await probeServedCertificate(db.host, db.port);
  const before = { ssl: treeHash(ssl()), ca: treeHash(caDir()) };
  for (const extra of [[], ['--dry-run']]) {
    const r = await rotateAsOps((args) => runCli([...args, '--days', '9000', ...extra]));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error\[DAYS_BEYOND_ISSUER\]: /, r.stderr);
  }
  assert.deepEqual({ ssl: treeHash(ssl()), ca: treeHash(caDir()) }, before);
  assert.equal((await probeServedCertificate(db.host, db.port)).fingerprint, served.fingerprint);
});
