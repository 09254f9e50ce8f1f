/**
 * `server enable` killed at every rename (issue 10 item 17), against a real MariaDB that reads its TLS
 * settings from the fragment enable writes: strace injects SIGKILL at the Nth rename(2) of the real CLI,
 * for each N until a run completes, replacing the certificate the server serves by another one (given as
 * files, then issued by the CA with --issue). After each kill: the key and certificate behind the server's
 * paths match and are the old pair or the new one; the server, really restarted from its option files,
 * starts and serves that pair; an account that must use TLS logs in, verifying the server; with --issue
 * the CA index agrees with its files; and the same command run again succeeds and serves its certificate.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import type { Ca } from '../../../src/ca/store.js';
import { probeServedCertificate } from '../../../src/server/tls/reload.js';
import { runCli } from '../../harness/cli.js';
import {
  assertCaAgrees,
  dbtlsKilledAt,
  dbtlsUnderStrace,
  eachKillPoint,
  sameKey,
  tempLeftovers,
  wasKilled,
} from '../../harness/kill-points.js';
import { type MariadbInstance, startMariadb, type UserSpec } from '../../harness/mariadb.js';
import { mariadbClient } from '../../harness/oracles.js';
import { writeServedFiles } from '../../harness/served-files.js';

const USERS: UserSpec[] = [{ name: 'app', password: 'app-pw', require: 'SSL', grants: 'USAGE ON *.*' }];

let tmp: string;
let ca: Ca;
let otherCa: Ca;
let db: MariadbInstance;
let pwFile: string;
const ssl = (f = '') => path.join(tmp, 'ssl', f);
const fragment = () => path.join(tmp, 'conf.d', 'ssl-config.cnf');

const fingerprintOf = (pem: string | Buffer) =>
  new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-enable-kill-'));
  ca = initCa(path.join(tmp, 'ca'), { passphrase: undefined, cn: 'enable kill-point CA' });
  otherCa = initCa(path.join(tmp, 'other-ca'), { passphrase: undefined, cn: 'another CA' });
  writeServedFiles(ca, ssl(), fragment());
  // The server's TLS settings come from the fragment alone: a restart proves what enable left there.
  db = await startMariadb({ users: USERS, extra: { [`!include ${fragment()}`]: true } });
  assert.equal(await db.sql('SELECT @@have_ssl'), 'YES\n');
  pwFile = path.join(tmp, 'admin.pw');
  fs.writeFileSync(pwFile, db.admin.password, { mode: 0o600 });
});

after(async () => {
  await db?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const enableArgs = (...source: string[]) => [
  'server',
  'enable',
  `127.0.0.1:${db.port}`,
  '--user',
  db.admin.user,
  '--password-file',
  pwFile,
  '--admin-ca',
  path.join(ca.dir, 'root.pem'),
  '--dir',
  ssl(),
  '--config-file',
  fragment(),
  ...source,
];

/** The pair behind the server's paths: matching (node and openssl agree), and its certificate's fingerprint. */
async function pairOnDisk(what: string): Promise<string> {
  const cert = fs.readFileSync(ssl('server-cert.pem'));
  const key = createPrivateKey(fs.readFileSync(ssl('server-key.pem')));
  assert.ok(
    new X509Certificate(cert).checkPrivateKey(key),
    `${what}: the key does not match the certificate`,
  );
  assert.ok(await sameKey(ssl('server-cert.pem'), ssl('server-key.pem')), `${what}: openssl disagrees`);
  assert.equal(fs.statSync(ssl('server-key.pem')).mode & 0o777, 0o600, `${what}: the key is 0600`);
  return fingerprintOf(cert);
}

/** A real restart from the option files: it starts (a mismatched pair aborts it) and serves the pair on disk. */
async function restartServes(what: string, fingerprint: string): Promise<void> {
  await db.restart();
  assert.equal(await db.sql('SELECT @@have_ssl'), 'YES\n', `${what}: TLS after the restart`);
  const served = await probeServedCertificate(db.host, db.port);
  assert.equal(served.fingerprint, fingerprint, `${what}: the restarted server serves the pair on disk`);
  const login = await mariadbClient({
    port: db.port,
    user: 'app',
    password: 'app-pw',
    ssl: { ca: path.join(ca.dir, 'root.pem'), verifyServerCert: true },
    sql: 'SELECT CURRENT_USER()',
  });
  assert.ok(login.ok, `${what}: the REQUIRE SSL account logs in, verifying the server: ${login.stderr}`);
}

/**
 * One kill point: `args` killed at rename n, then the checks above; then the same command again, which must
 * serve `wanted()` (the new certificate, known once the run that issues it has completed).
 */
async function killPoint(
  n: number,
  args: readonly string[],
  newFingerprint: () => string | undefined,
  syscall = 'rename',
): Promise<'killed' | 'completed'> {
  const what = `${syscall} #${n}`;
  const oldFingerprint = await pairOnDisk(`${what}, before`);
  const r = await dbtlsKilledAt({ syscall, n }, args);
  if (r.code === 0) return 'completed';
  assert.ok(wasKilled(r), `${what}: killed, not failed (${r.code}): ${r.stderr}`);
  const onDisk = await pairOnDisk(what);
  const fresh = newFingerprint();
  assert.ok(
    onDisk === oldFingerprint || onDisk === fresh,
    `${what}: the pair on disk is the old one or the new one`,
  );
  await restartServes(what, onDisk);
  const again = await runCli(args);
  assert.equal(again.code, 0, `${what}: the same command again: ${again.stderr}`);
  const served = (await probeServedCertificate(db.host, db.port)).fingerprint;
  assert.equal(served, await pairOnDisk(`${what}, after the next run`));
  if (fresh !== undefined) assert.equal(served, fresh, `${what}: the next run serves the new certificate`);
  assert.deepEqual(tempLeftovers(ssl()), [], `${what}: no temp file left in ${ssl()}`);
  return 'killed';
}

/**
 * Puts the pair the server serves back as plain files, with ca.pem the root alone and the fragment as an
 * operator wrote it: each kill point then starts from the first replacement, which converts the files
 * (served-pair.ts), and rewrites ca.pem and the fragment. The server's state does not change.
 */
function resetToPlainFiles(): void {
  const cert = fs.readFileSync(ssl('server-cert.pem'));
  const key = fs.readFileSync(ssl('server-key.pem'));
  for (const f of fs.readdirSync(ssl())) fs.rmSync(ssl(f), { recursive: true, force: true });
  fs.writeFileSync(ssl('server-cert.pem'), cert);
  fs.writeFileSync(ssl('server-key.pem'), key, { mode: 0o600 });
  fs.writeFileSync(ssl('ca.pem'), ca.caPem());
  fs.writeFileSync(
    fragment(),
    `# written by hand\n[mysqld]\nssl_cert = ${ssl('server-cert.pem')}\nssl_key = ${ssl('server-key.pem')}\nssl_ca = ${ssl('ca.pem')}\n`,
  );
}

/** A new server certificate as files, with a CA file that also trusts another CA (so ca.pem changes too). */
function givenPair(name: string): { args: string[]; fingerprint: string } {
  const given = path.join(tmp, name);
  const next = issueCertificate(ca, { profile: 'server', cn: 'localhost', ip: ['127.0.0.1'] });
  fs.mkdirSync(given);
  fs.writeFileSync(path.join(given, 'cert.pem'), next.chainPem);
  fs.writeFileSync(path.join(given, 'key.pem'), next.keyPem!, { mode: 0o600 });
  fs.writeFileSync(path.join(given, 'ca.pem'), ca.caPem() + otherCa.caPem());
  const files = ['--server-cert', 'cert.pem', '--server-key', 'key.pem', '--server-ca', 'ca.pem'];
  return {
    args: enableArgs(...files.map((f) => (f.startsWith('--') ? f : path.join(given, f)))),
    fingerprint: next.cert.fingerprint,
  };
}

test('server enable --server-cert killed at every rename of a first replacement: a matching pair, the old or the new, that the restarted server serves', async (t) => {
  let round = 0;
  const completedAt = await eachKillPoint(async (n) => {
    resetToPlainFiles();
    const given = givenPair(`given-${++round}`);
    return killPoint(n, given.args, () => given.fingerprint);
  });
  t.diagnostic(`server enable --server-cert makes ${completedAt - 1} renames from plain files`);
  // The conversion (a generation of the old pair, live, two links), the new generation, the switch, ca.pem,
  // the fragment.
  assert.equal(completedAt - 1, 8);
  assert.equal(fs.lstatSync(ssl('server-key.pem')).isSymbolicLink(), true);
});

test('server enable --server-cert killed at each connect (the admin session, then the prover after FLUSH SSL): the same', async (t) => {
  let round = 0;
  const completedAt = await eachKillPoint(async (n) => {
    const given = givenPair(`given-connect-${++round}`);
    return killPoint(n, given.args, () => given.fingerprint, 'connect');
  });
  t.diagnostic(`server enable makes ${completedAt - 1} connects`);
  assert.equal(completedAt - 1, 2);
});

test('server enable --server-cert: a write of the new certificate failing with ENOSPC switches nothing; the server restarts; the next run succeeds', async () => {
  const before = await pairOnDisk('before');
  const given = givenPair('given-enospc');
  const r = await dbtlsUnderStrace(
    [
      '-P',
      path.join(ssl('dbtls-server-cert'), 'incoming', 'cert.pem'),
      '-e',
      'trace=write',
      '-e',
      'inject=write:error=ENOSPC',
    ],
    given.args,
  );
  assert.equal(r.code, 3, r.stderr);
  assert.match(
    r.stderr,
    /^error\[WRITE_FAILED\]: could not write the new server key and certificate in .*: ENOSPC/m,
  );
  assert.equal(await pairOnDisk('after ENOSPC'), before, 'nothing switched');
  assert.deepEqual(tempLeftovers(ssl()), []);
  assert.equal(fs.existsSync(path.join(ssl('dbtls-server-cert'), 'incoming')), false);
  await restartServes('after ENOSPC', before);
  const again = await runCli(given.args);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await probeServedCertificate(db.host, db.port)).fingerprint, given.fingerprint);
});

/** The fingerprints of every certificate under the server's directory (paths and generations). */
function certificatesUnder(dir: string): Set<string> {
  const out = new Set<string>();
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const file = path.join(dir, f);
    if (!/cert\.pem$/.test(f) || !fs.statSync(file).isFile()) continue;
    out.add(fingerprintOf(fs.readFileSync(file)));
  }
  return out;
}

test('server enable --issue killed at every rename: the same, and the CA index agrees with its files', async (t) => {
  const args = enableArgs('--issue', '--ca-dir', ca.dir, '--ip', '127.0.0.1');
  const undelivered: string[] = [];
  const completedAt = await eachKillPoint(async (n) => {
    const before = new Set(readIndex(ca.dir).map((e) => e.serial));
    const outcome = await killPoint(n, args, () => undefined);
    if (outcome === 'completed') return outcome;
    assertCaAgrees(ca.dir, `--issue, rename #${n}`);
    const onDisk = certificatesUnder(ssl());
    for (const e of readIndex(ca.dir)) {
      if (!before.has(e.serial) && e.status === 'valid' && !onDisk.has(e.fingerprint))
        undelivered.push(`rename #${n}: ${e.serial}`);
    }
    return outcome;
  });
  t.diagnostic(`server enable --issue makes ${completedAt - 1} renames`);
  assertCaAgrees(ca.dir, 'after the completed run');
  assert.deepEqual(undelivered, [], 'no valid certificate whose key never reached the server');
});
