/**
 * `dbtls rotate` off the happy path, against a real MariaDB (issue 10 items 6, 7, rotate --dry-run):
 * SIGKILL at every rename(2) in turn and injected write errors (ENOSPC, EIO) on the new key and
 * certificate, each followed by a REAL server restart (which aborts on a key that does not match its
 * certificate), the key and certificate on disk checked to match, and the next rotate succeeding; a
 * dry run that changes nothing; a certificate whose subject hides a second CN in another attribute.
 * Faults are injected by strace into the real CLI process (no test hook in the code).
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import type { Ca } from '../../../src/ca/store.js';
import { parseCertificate } from '../../../src/pki/certificate.js';
import { probeServedCertificate } from '../../../src/server/tls/reload.js';
import { runCli } from '../../harness/cli.js';
import { dbtlsUnderStrace } from '../../harness/kill-points.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { openssl } from '../../harness/oracles.js';

let tmp: string;
let ca: Ca;
let db: MariadbInstance;
const ssl = (f: string) => path.join(tmp, 'ssl', f);
const caDir = () => path.join(tmp, 'ca');
const pairDir = () => ssl('dbtls-server-cert');

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-rotate-faults-'));
  ca = initCa(caDir(), { passphrase: undefined, cn: 'faults test CA' });
  const issued = issueCertificate(ca, {
    profile: 'server',
    cn: 'localhost',
    dns: ['localhost'],
    ip: ['127.0.0.1'],
  });
  fs.mkdirSync(ssl(''));
  fs.writeFileSync(ssl('server-cert.pem'), issued.chainPem);
  fs.writeFileSync(ssl('server-key.pem'), issued.keyPem!, { mode: 0o600 });
  fs.writeFileSync(ssl('ca.pem'), ca.caPem());
  db = await startMariadb({
    tls: { ca: ssl('ca.pem'), cert: ssl('server-cert.pem'), key: ssl('server-key.pem') },
  });
  fs.writeFileSync(path.join(tmp, 'admin.pw'), `${db.admin.password}\n`, { mode: 0o600 });
});

after(async () => {
  await db?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const rotateArgs = (...extra: string[]) => [
  'rotate',
  `127.0.0.1:${db.port}`,
  '--ca-dir',
  caDir(),
  '--user',
  db.admin.user,
  '--password-file',
  path.join(tmp, 'admin.pw'),
  ...extra,
];

/** The real CLI under strace, with `strace` options before the command (the fault to inject). */
const rotateUnderStrace = (straceArgs: string[]) => dbtlsUnderStrace(straceArgs, rotateArgs());

/** The certificate the server's paths name now, and whether the key behind the other path matches it. */
function pairOnDisk(): { fingerprint: string; matches: boolean } {
  const cert = new X509Certificate(fs.readFileSync(ssl('server-cert.pem')));
  const keySpki = createPublicKey(fs.readFileSync(ssl('server-key.pem'))).export({
    type: 'spki',
    format: 'der',
  });
  const certSpki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return {
    fingerprint: cert.fingerprint256.replaceAll(':', '').toLowerCase(),
    matches: keySpki.equals(certSpki),
  };
}

/** The server restarted for real: it starts (a mismatched pair aborts it) and serves the pair on disk. */
async function restartAndCheck(what: string): Promise<void> {
  const disk = pairOnDisk();
  assert.ok(disk.matches, `${what}: the key on disk does not match the certificate`);
  await db.restart();
  const served = await probeServedCertificate(db.host, db.port);
  assert.equal(served.fingerprint, disk.fingerprint, `${what}: the restarted server serves the pair on disk`);
}

/** After a completed run: exactly one valid certificate for the server in the index, the one it serves. */
async function indexAgreesWithServer(what: string): Promise<void> {
  const served = await probeServedCertificate(db.host, db.port);
  const valid = readIndex(caDir()).filter((e) => e.status === 'valid' && e.profile === 'server');
  assert.deepEqual(
    valid.map((e) => e.fingerprint),
    [served.fingerprint],
    `${what}: no orphan certificate left valid`,
  );
}

function treeHash(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const st = fs.lstatSync(full);
    if (st.isSymbolicLink()) out[path.relative(dir, full)] = `-> ${fs.readlinkSync(full)}`;
    else if (st.isFile())
      out[path.relative(dir, full)] = createHash('sha256').update(fs.readFileSync(full)).digest('hex');
  }
  return out;
}

test('rotate --dry-run prints the plan and changes nothing: files, links, CA index and served certificate', async () => {
  const served = await probeServedCertificate(db.host, db.port);
  const before = { ssl: treeHash(ssl('')), ca: treeHash(caDir()) };
  const r = await runCli(rotateArgs('--dry-run'));
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], 'Dry run: nothing was changed. rotate would:');
  assert.ok(
    lines.includes('  issue      /O=dbtls/CN=localhost for localhost, 127.0.0.1 (ec-p256, new key)'),
    r.stdout,
  );
  assert.ok(
    lines.includes(`  write      the new key and certificate into ${pairDir()}/gen-<serial>/`),
    r.stdout,
  );
  assert.ok(
    lines.includes(
      `  link       ${ssl('server-cert.pem')} and ${ssl('server-key.pem')} through ${pairDir()}/live (first rotation)`,
    ),
    r.stdout,
  );
  assert.ok(lines.includes('  reload     FLUSH SSL, then prove the new certificate is served'), r.stdout);
  assert.ok(
    lines.includes(
      `  supersede  serial ${parseCertificate(fs.readFileSync(ssl('server-cert.pem'))).serial} (sha256 ${served.fingerprint})`,
    ),
  );
  assert.deepEqual({ ssl: treeHash(ssl('')), ca: treeHash(caDir()) }, before);
  assert.equal((await probeServedCertificate(db.host, db.port)).fingerprint, served.fingerprint);
  const json = await runCli(rotateArgs('--dry-run', '--json'));
  assert.equal(json.code, 0, json.stderr);
  const plan = JSON.parse(json.stdout) as { dryRun: boolean; convertsFiles: boolean; statement: string };
  assert.deepEqual([plan.dryRun, plan.convertsFiles, plan.statement], [true, true, 'FLUSH SSL']);
  assert.deepEqual({ ssl: treeHash(ssl('')), ca: treeHash(caDir()) }, before);
});

test('SIGKILL at every rename in turn, from plain files: the pair on disk always matches, the server restarts, the next rotate succeeds', async (t) => {
  assert.equal(fs.lstatSync(ssl('server-cert.pem')).isSymbolicLink(), false, 'starts from plain files');
  let killed = 0;
  for (let n = 1; ; n++) {
    const r = await rotateUnderStrace(['-e', 'trace=rename', '-e', `inject=rename:signal=SIGKILL:when=${n}`]);
    if (r.code === 0) break;
    assert.equal(r.code, 137, `rename ${n}: killed, not failed: ${r.stderr}`);
    killed++;
    await restartAndCheck(`killed at rename ${n}`);
    assert.ok(n < 40, 'the loop ends');
  }
  // Kill points: the CA's writes, the conversion (copy, live link, two path links), the new generation,
  // the switch, the index updates: well more than the two renames of the old code.
  assert.ok(killed >= 6, `${killed} kill points`);
  t.diagnostic(`${killed} kill points, each followed by a restart`);
  assert.equal(fs.lstatSync(ssl('server-cert.pem')).isSymbolicLink(), true);
  await restartAndCheck('after the run that completed');
  await indexAgreesWithServer('after the kills');
  const again = await runCli(rotateArgs());
  assert.equal(again.code, 0, again.stderr);
  await indexAgreesWithServer('after the next rotate');
  // Old generations are pruned: the live one and the one before it stay.
  const gens = fs.readdirSync(pairDir()).filter((e) => e.startsWith('gen-'));
  assert.equal(gens.length, 2, gens.join(' '));
});

for (const [file, error] of [
  ['key.pem', 'ENOSPC'],
  ['cert.pem', 'EIO'],
  ['cert.pem', 'ENOSPC'],
] as const) {
  test(`a write of the new ${file} failing with ${error}: exit 3, nothing switched, the new certificate voided, the server restarts, the next rotate succeeds`, async () => {
    const served = await probeServedCertificate(db.host, db.port);
    const before = treeHash(ssl(''));
    const r = await rotateUnderStrace([
      '-P',
      path.join(pairDir(), 'incoming', file),
      '-e',
      'trace=write',
      '-e',
      `inject=write:error=${error}`,
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^error\\[WRITE_FAILED\\]: could not write the new server key and certificate in ${pairDir()}: ${error}: `,
        'm',
      ),
    );
    assert.deepEqual(treeHash(ssl('')), before, 'nothing switched, no partial generation left');
    assert.equal((await probeServedCertificate(db.host, db.port)).fingerprint, served.fingerprint);
    await indexAgreesWithServer(`${file} ${error}`);
    const voided = readIndex(caDir()).at(-1)!;
    assert.equal(voided.status, 'void');
    await restartAndCheck(`${file} ${error}`);
    const next = await runCli(rotateArgs());
    assert.equal(next.code, 0, next.stderr);
    await indexAgreesWithServer(`${file} ${error}, then rotate`);
  });
}

test('a subject that hides a CN in another attribute is re-issued with the same attributes and SANs, never the hidden name', async () => {
  // What `dbtls sign` certifies from a CSR: O is the literal "x/CN=victim.example.com".
  const key = path.join(tmp, 'attack.key');
  const csr = path.join(tmp, 'attack.csr');
  const r = await openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    csr,
    '-subj',
    '/O=x\\/CN=victim.example.com/CN=attack.example.com',
    '-addext',
    'subjectAltName=DNS:attack.example.com,IP:127.0.0.1',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const signed = await runCli([
    'sign',
    csr,
    '--profile',
    'server',
    '--ca-dir',
    caDir(),
    '--out',
    path.join(tmp, 'attack.pem'),
  ]);
  assert.equal(signed.code, 0, signed.stderr);
  const attack = parseCertificate(fs.readFileSync(path.join(tmp, 'attack.pem')));
  assert.equal(attack.subject, '/O=x\\/CN=victim.example.com/CN=attack.example.com');
  // Install it as plain files (what an operator's own tooling leaves), and load it.
  for (const f of ['server-cert.pem', 'server-key.pem']) fs.rmSync(ssl(f));
  fs.writeFileSync(ssl('server-cert.pem'), fs.readFileSync(path.join(tmp, 'attack.pem')));
  fs.writeFileSync(ssl('server-key.pem'), fs.readFileSync(key), { mode: 0o600 });
  await db.sql('FLUSH SSL;');
  assert.equal((await probeServedCertificate(db.host, db.port)).fingerprint, attack.fingerprint);

  const res = await runCli(rotateArgs('--json'));
  assert.equal(res.code, 0, res.stderr);
  const fresh = parseCertificate(fs.readFileSync(ssl('server-cert.pem')));
  assert.notEqual(fresh.fingerprint, attack.fingerprint);
  assert.equal(fresh.subject, attack.subject, 'the same attributes, in the same order');
  assert.ok(fresh.subjectDer.equals(attack.subjectDer), 'the same subject, byte for byte');
  assert.deepEqual([...fresh.dnsNames], ['attack.example.com']);
  assert.deepEqual([...fresh.ipAddresses], ['127.0.0.1']);
  // openssl's own reading of the new certificate: its CN and SANs name only attack.example.com.
  const text = await openssl([
    'x509',
    '-in',
    ssl('server-cert.pem'),
    '-noout',
    '-ext',
    'subjectAltName',
    '-subject',
    '-nameopt',
    'multiline',
  ]);
  assert.match(text.stdout, /commonName\s+= attack\.example\.com/);
  assert.match(text.stdout, /DNS:attack\.example\.com, IP Address:127\.0\.0\.1/);
  assert.doesNotMatch(text.stdout, /DNS:victim/);
  await restartAndCheck('after re-issuing the hidden-CN certificate');
});
