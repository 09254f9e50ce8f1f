/**
 * `server enable` when the server does not take the new files, against a real MariaDB: the proof that
 * the new certificate is served fails (strace makes every connection after the admin session's refused,
 * so the prover cannot reach the server; no test hook in the code). The files it replaced used to stay
 * on disk, unproven, for the next restart to load. Now: ENABLE_FAILED (exit 3), the previous files and
 * config fragment put back byte for byte with their modes, FLUSH SSL run again, the old certificate still
 * served, a real restart serving it too, and the same command without the fault succeeding. With
 * --issue, the certificate issued for the run is voided in the CA.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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
import { dbtlsUnderStrace } from '../../harness/kill-points.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { writeServedFiles } from '../../harness/served-files.js';

let tmp: string;
let ca: Ca;
let db: MariadbInstance;
const ssl = (f = '') => path.join(tmp, 'ssl', f);
const fragment = () => path.join(tmp, 'conf.d', 'ssl-config.cnf');

/** Each file under ssl/ and the fragment: its SHA-256 and mode. */
function onDisk(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const file of [...fs.readdirSync(ssl()).map((f) => ssl(f)), fragment()]) {
    const st = fs.statSync(file);
    if (st.isFile())
      out[file] =
        `${createHash('sha256').update(fs.readFileSync(file)).digest('hex')} ${(st.mode & 0o777).toString(8)}`;
  }
  return out;
}

/**
 * The real CLI with every connect(2) after its first refused: the admin session is the process's first
 * connection, the prover's the next one, so the proof fails after the files were installed and reloaded.
 */
function withProverRefused(args: readonly string[]) {
  return dbtlsUnderStrace(['-e', 'inject=connect:error=ECONNREFUSED:when=2+'], args);
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-enable-rollback-'));
  ca = initCa(path.join(tmp, 'ca'), { passphrase: undefined, cn: 'rollback CA' });
  writeServedFiles(ca, ssl(), fragment());
  db = await startMariadb({
    tls: { ca: ssl('ca.pem'), cert: ssl('server-cert.pem'), key: ssl('server-key.pem') },
    extra: { [`!include ${fragment()}`]: true },
  });
});

after(async () => {
  await db?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('server enable whose proof fails puts the previous files back and reloads them; the server keeps serving and restarts on them', async () => {
  const next = issueCertificate(ca, { profile: 'server', cn: 'localhost', ip: ['127.0.0.1'] });
  const given = path.join(tmp, 'given');
  fs.mkdirSync(given);
  fs.writeFileSync(path.join(given, 'cert.pem'), next.chainPem);
  fs.writeFileSync(path.join(given, 'key.pem'), next.keyPem!, { mode: 0o600 });
  fs.writeFileSync(path.join(given, 'ca.pem'), ca.caPem());
  const pwFile = path.join(tmp, 'admin-pw');
  fs.writeFileSync(pwFile, db.admin.password, { mode: 0o600 });
  const args = [
    'server',
    'enable',
    `127.0.0.1:${db.port}`,
    '--user',
    db.admin.user,
    '--password-file',
    pwFile,
    '--admin-ca',
    ssl('ca.pem'),
    '--server-cert',
    path.join(given, 'cert.pem'),
    '--server-key',
    path.join(given, 'key.pem'),
    '--server-ca',
    path.join(given, 'ca.pem'),
    '--dir',
    ssl(),
    '--config-file',
    fragment(),
  ];
  const before = onDisk();
  const servedBefore = await probeServedCertificate(db.host, db.port);
  const r = await withProverRefused(args);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  const [error, hint] = r.stderr.split('\n');
  assert.match(
    error!,
    /^error\[ENABLE_FAILED\]: could not enable TLS: .*; the previous server files were put back; ran FLUSH SSL$/,
  );
  assert.equal(hint, 'hint: fix the cause above and run the same `dbtls server enable` again');
  assert.deepEqual(onDisk(), before, 'every file byte for byte, with its mode');
  assert.equal((await probeServedCertificate(db.host, db.port)).fingerprint, servedBefore.fingerprint);
  await db.restart();
  assert.equal((await probeServedCertificate(db.host, db.port)).fingerprint, servedBefore.fingerprint);

  const ok = await runCli(args);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.equal((await probeServedCertificate(db.host, db.port)).fingerprint, next.cert.fingerprint);
});

test('server enable --issue whose proof fails also voids the certificate it issued (its key went with the files put back)', async () => {
  const pwFile = path.join(tmp, 'admin-pw');
  const before = onDisk();
  const indexBefore = readIndex(ca.dir).map((e) => e.serial);
  const r = await withProverRefused([
    'server',
    'enable',
    `127.0.0.1:${db.port}`,
    '--issue',
    '--ca-dir',
    ca.dir,
    '--user',
    db.admin.user,
    '--password-file',
    pwFile,
    '--admin-ca',
    ssl('ca.pem'),
    '--dir',
    ssl(),
    '--config-file',
    fragment(),
  ]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  const added = readIndex(ca.dir).filter((e) => !indexBefore.includes(e.serial));
  assert.equal(added.length, 1, 'one certificate was issued, once every check had passed');
  assert.equal(added[0]!.status, 'void');
  assert.match(
    r.stderr,
    new RegExp(
      `^error\\[ENABLE_FAILED\\]: could not enable TLS: .*; the previous server files were put back; ran FLUSH SSL; the certificate ${added[0]!.serial} issued for it was voided in the CA$`,
      'm',
    ),
  );
  assert.deepEqual(onDisk(), before);
});
