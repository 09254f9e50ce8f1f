/**
 * Kill points (issue 10 items 3, 4, 17): the real CLI under strace, which delivers SIGKILL when the
 * process enters its Nth rename(2) (or unlink(2)), at every write/rename of `ca init`, `issue` and an
 * `issue client --cn-from` batch. After each kill: either no CA or a complete one, the index agrees with
 * the delivered files once the next command has run, no staging directory or temp file holding a key is
 * left, and the same command run again succeeds without issuing duplicates.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type IndexEntry, readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { INIT_MARKER } from '../../../src/ca/store.js';
import { runCli } from '../../harness/cli.js';
import { dbtlsKilledAt, wasKilled } from '../../harness/kill-points.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { mariadbClient } from '../../harness/oracles.js';

let work: string;
before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-kill-'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** dbtls killed as it enters its Nth SYSCALL (test/harness/kill-points.ts). */
const runKilledAt = (syscall: 'rename' | 'unlink' | 'fchmod', n: number, args: readonly string[]) =>
  dbtlsKilledAt({ syscall, n }, args);
const killed = wasKilled;

/** Every name under root (recursively) that is a staging directory or an atomic-write temp file. */
function leftovers(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[]).filter((p) =>
    /dbtls-staging|\.tmp$|dbtls-init|\.init-/.test(path.basename(p)),
  );
}

/** The CA's index and its delivered files agree: each valid leaf once, delivered, key matching; no orphan. */
function assertAgrees(caDir: string, outOf: (e: IndexEntry) => string, cns: readonly string[]): void {
  assert.equal(fs.existsSync(path.join(caDir, 'pending.json')), false, 'no pending journal');
  const entries = readIndex(caDir).filter((e) => e.profile !== 'intermediate');
  const valid = entries.filter((e) => e.status === 'valid');
  for (const cn of cns) {
    const mine = valid.filter((e) => e.cn === cn);
    assert.equal(mine.length, 1, `exactly one valid certificate for ${cn}`);
    const dir = outOf(mine[0]!);
    const cert = new X509Certificate(fs.readFileSync(path.join(dir, 'cert.pem')));
    assert.equal(cert.serialNumber.toLowerCase(), mine[0]!.serial, `${dir}/cert.pem is the recorded one`);
    assert.ok(cert.checkPrivateKey(createPrivateKey(fs.readFileSync(path.join(dir, 'key.pem')))));
    assert.equal(fs.statSync(path.join(dir, 'key.pem')).mode & 0o777, 0o600);
  }
  assert.equal(valid.length, cns.length, 'no valid certificate beyond the delivered ones');
  // certs/ holds a copy of every recorded certificate and nothing else
  const copies = fs.readdirSync(path.join(caDir, 'certs')).filter((f) => !f.startsWith('.'));
  const recorded = new Set(readIndex(caDir).map((e) => `${e.serial}.pem`));
  for (const c of copies) assert.ok(recorded.has(c), `certs/${c} is in the index`);
  assert.deepEqual(leftovers(caDir), []);
}

describe('ca init: SIGKILL at each of its 7 renames and at the marker removal', () => {
  const points: ['rename' | 'unlink', number][] = [
    ...[1, 2, 3, 4, 5, 6, 7].map((n) => ['rename', n] as ['rename', number]),
    ['unlink', 1],
  ];
  test('either no CA or a complete one; `ca init` afterwards works; no key left behind', async () => {
    await Promise.all(
      points.map(async ([syscall, n]) => {
        const dir = path.join(work, `init-${syscall}-${n}`);
        fs.mkdirSync(dir); // an existing empty directory, the case of issue 10 item 4
        fs.writeFileSync(`${dir}.pw`, 'kill point passphrase\n');
        const args = ['ca', 'init', '--intermediate', '--ca-dir', dir, '--passphrase-file', `${dir}.pw`];
        // The marker's removal counted on its own path: the CA lock's pid file is unlinked before it.
        const r =
          syscall === 'unlink'
            ? await dbtlsKilledAt({ syscall, n, path: path.join(dir, INIT_MARKER) }, args)
            : await runKilledAt(syscall, n, args);
        assert.ok(killed(r), `${syscall} #${n}: killed (${r.code}) ${r.stderr}`);
        const show = await runCli(['ca', 'show', '--json', '--ca-dir', dir]);
        // every kill point here precedes the marker's removal: no CA, and it says why and what to do
        assert.equal(show.code, 2, `${syscall} #${n}: ${show.stdout}`);
        assert.match(show.stderr, /error\[CA_NOT_FOUND\].*interrupted/);
        const issue = await runCli(['issue', 'client', '--cn', 'u', '--out', `${dir}-u`, '--ca-dir', dir]);
        assert.match(issue.stderr, /error\[CA_NOT_FOUND\]/);
        const again = await runCli(args);
        assert.equal(again.code, 0, `${syscall} #${n}: ${again.stderr}`);
        assert.deepEqual(leftovers(dir), [], `${syscall} #${n}: no temp file holding a key`);
        assert.deepEqual(
          fs.readdirSync(work).filter((f) => f.startsWith(`.init-${syscall}-${n}`)),
          [],
          'no hidden build directory beside it',
        );
        assert.equal(fs.existsSync(path.join(dir, '.dbtls-init-incomplete')), false);
        const ok = await runCli([
          'issue',
          'client',
          '--cn',
          'u',
          '--out',
          `${dir}-u`,
          '--ca-dir',
          dir,
          '--passphrase-file',
          `${dir}.pw`,
        ]);
        assert.equal(ok.code, 0, ok.stderr);
        assertAgrees(dir, () => `${dir}-u`, ['u']);
      }),
    );
  });
});

describe('issue client --cn: SIGKILL at each rename', () => {
  // renames: 1 journal, 2-5 the four staged files, 6 the CA's copy, 7 the directory into place
  test('the next command settles it: delivered and recorded, or neither', async () => {
    await Promise.all(
      [1, 2, 3, 4, 5, 6, 7, 8].map(async (n) => {
        const caDir = path.join(work, `single-${n}`, 'ca');
        initCa(caDir, { passphrase: undefined });
        const out = path.join(work, `single-${n}`, 'out');
        const args = ['issue', 'client', '--cn', 'victim', '--out', out, '--ca-dir', caDir];
        const r = await runKilledAt('rename', n, args);
        if (n === 8)
          assert.equal(r.code, 0, 'seven renames in all'); // the control: no 8th rename
        else assert.ok(killed(r), `rename #${n}: killed (${r.code})`);
        const next = await runCli([
          'issue',
          'client',
          '--cn',
          'other',
          '--out',
          `${out}-other`,
          '--ca-dir',
          caDir,
        ]);
        assert.equal(next.code, 0, next.stderr);
        const delivered = fs.existsSync(path.join(out, 'cert.pem'));
        // the journal is written by rename 1 and the index line after rename 6: before that, nothing issued
        assert.equal(delivered, n >= 7, `rename #${n}: delivered ${delivered}`);
        const cns = delivered ? ['victim', 'other'] : ['other'];
        assertAgrees(caDir, (e) => (e.cn === 'victim' ? out : `${out}-other`), cns);
        assert.deepEqual(leftovers(path.dirname(out)), [], `rename #${n}: no staging directory left`);
      }),
    );
  });
});

describe('issue client --cn-from: SIGKILL during the batch, then the same command again', () => {
  const cns = ['b_0', 'b_1', 'b_2', 'b_3', 'b_4'];
  // into a new --out: rename 1 journal, 2 the staging directory becomes --out;
  // into an existing --out: rename 1 journal, 2..6 one rename per user directory;
  // fchmod 11 of 20 (four files a user): mid-way through signing, keys already on disk
  const cells: { existing: boolean; syscall: 'rename' | 'fchmod'; n: number }[] = [
    ...[1, 2].map((n) => ({ existing: false, syscall: 'rename' as const, n })),
    ...[1, 2, 4, 6].map((n) => ({ existing: true, syscall: 'rename' as const, n })),
    { existing: false, syscall: 'fchmod', n: 11 },
    { existing: true, syscall: 'fchmod', n: 11 },
  ];
  test('no valid certificate left undelivered; the re-run succeeds without duplicates', async () => {
    await Promise.all(
      cells.map(async ({ existing, syscall, n }) => {
        const base = path.join(work, `batch-${existing ? 'existing' : 'new'}-${syscall}-${n}`);
        const caDir = path.join(base, 'ca');
        initCa(caDir, { passphrase: undefined });
        const out = path.join(base, 'out');
        if (existing) fs.mkdirSync(out);
        fs.writeFileSync(path.join(base, 'names'), `${cns.join('\n')}\n`);
        const args = [
          'issue',
          'client',
          '--cn-from',
          path.join(base, 'names'),
          '--out',
          out,
          '--ca-dir',
          caDir,
        ];
        const r = await runKilledAt(syscall, n, args);
        assert.ok(killed(r), `${syscall} #${n}: killed (${r.code}) ${r.stderr}`);
        if (syscall === 'fchmod') {
          assert.equal(readIndex(caDir).length, 0, 'killed before the commit');
          assert.ok(leftovers(base).length > 0, 'a staging directory holding keys, until the next command');
        }
        const again = await runCli([...args, '--json']);
        assert.equal(again.code, 0, `${syscall} #${n}: ${again.stderr}`);
        assert.equal(JSON.parse(again.stdout).length, cns.length);
        assertAgrees(caDir, (e) => path.join(out, e.cn), cns);
        assert.deepEqual(leftovers(base), [], `${syscall} #${n}: no staging directory left`);
        // from rename 2 on the first run had committed: the re-run completed it instead of issuing again;
        // before that it had recorded nothing, and the re-run issued the batch once
        const all = readIndex(caDir).filter((e) => e.profile === 'client');
        assert.equal(all.length, cns.length, `${syscall} #${n}: nothing issued twice, nothing void`);
        assert.ok(all.every((e) => e.status === 'valid'));
      }),
    );
  });
});

test('`dbtls list` after a crash settles the issuance first: what it lists is what was delivered', async () => {
  const base = path.join(work, 'list-settles');
  const caDir = path.join(base, 'ca');
  initCa(caDir, { passphrase: undefined });
  const out = path.join(base, 'out');
  fs.writeFileSync(path.join(base, 'names'), 'l_0\nl_1\n');
  const batch = ['issue', 'client', '--cn-from', path.join(base, 'names'), '--out', out, '--ca-dir', caDir];
  assert.ok(killed(await runKilledAt('rename', 2, batch)), 'killed after the commit, before delivery');
  assert.equal(fs.existsSync(out), false);
  assert.equal(leftovers(base).length, 1, 'the staging directory, until the next command');
  const list = await runCli(['list', '--json', '--ca-dir', caDir]);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(
    JSON.parse(list.stdout).map((e: IndexEntry) => `${e.cn} ${e.status}`),
    ['l_0 valid', 'l_1 valid'],
  );
  assertAgrees(caDir, (e) => path.join(out, e.cn), ['l_0', 'l_1']);
  assert.deepEqual(leftovers(base), []);
});

describe('what the recovery delivers works in a real MariaDB', () => {
  let db: MariadbInstance | undefined;
  after(() => db?.stop());

  test('repaired CA, a server certificate and a batch both delivered by recovery: REQUIRE SUBJECT login', async () => {
    const base = path.join(work, 'mariadb');
    fs.mkdirSync(base);
    const caDir = path.join(base, 'ca');
    const init = ['ca', 'init', '--intermediate', '--no-passphrase', '--ca-dir', caDir];
    assert.ok(killed(await runKilledAt('rename', 4, init)));
    assert.equal((await runCli(init)).code, 0);
    const srv = path.join(base, 'srv');
    const server = [
      'issue',
      'server',
      '--cn',
      'localhost',
      '--ip',
      '127.0.0.1',
      '--out',
      srv,
      '--ca-dir',
      caDir,
    ];
    assert.ok(killed(await runKilledAt('rename', 7, server)), 'killed after its commit, before delivery');
    assert.equal(fs.existsSync(srv), false);
    fs.writeFileSync(path.join(base, 'names'), 'b_0\nb_1\n');
    const out = path.join(base, 'users');
    const batch = ['issue', 'client', '--cn-from', path.join(base, 'names'), '--out', out, '--ca-dir', caDir];
    // rename 1: the recovery delivers the server directory; 2: the batch's journal; 3: its --out
    assert.ok(killed(await runKilledAt('rename', 3, batch)));
    assert.ok(
      fs.existsSync(path.join(srv, 'key.pem')),
      'the server certificate was delivered by the recovery',
    );
    const again = await runCli(batch);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Completed the interrupted batch: 2 client certificates/);
    const user = readIndex(caDir).find((e) => e.cn === 'b_1' && e.status === 'valid')!;
    db = await startMariadb({
      tls: {
        ca: path.join(srv, 'ca.pem'),
        cert: path.join(srv, 'chain.pem'),
        key: path.join(srv, 'key.pem'),
      },
      users: [{ name: 'b_1', password: 'pw', require: { subject: user.subject, issuer: user.issuer } }],
    });
    const login = await mariadbClient({
      port: db.port,
      user: 'b_1',
      password: 'pw',
      ssl: {
        ca: path.join(out, 'b_1', 'ca.pem'),
        cert: path.join(out, 'b_1', 'chain.pem'),
        key: path.join(out, 'b_1', 'key.pem'),
        verifyServerCert: true,
      },
      sql: 'SELECT CURRENT_USER()',
    });
    assert.ok(login.ok, login.stderr);
    assert.match(login.stdout, /b_1@%/);
    assertAgrees(caDir, (e) => (e.profile === 'server' ? srv : path.join(out, e.cn)), [
      'localhost',
      'b_0',
      'b_1',
    ]);
  });
});

describe('sign CSR... --out-dir: SIGKILL during the run, then the same command again', () => {
  const cns = ['k0.example.com', 'k1.example.com', 'k2.example.com'];
  // into a new --out-dir: rename 1 journal, 2 the staging directory becomes --out-dir;
  // into an existing one: rename 1 journal, 2..4 one rename per certificate;
  // fchmod 3 of 6 (the staged file and the CA's copy of each): mid-way through signing
  const cells: { existing: boolean; syscall: 'rename' | 'fchmod'; n: number }[] = [
    ...[1, 2].map((n) => ({ existing: false, syscall: 'rename' as const, n })),
    ...[1, 2, 3].map((n) => ({ existing: true, syscall: 'rename' as const, n })),
    { existing: false, syscall: 'fchmod', n: 3 },
  ];
  test('nothing recorded without its file; the re-run signs each CSR once', async () => {
    await Promise.all(
      cells.map(async ({ existing, syscall, n }) => {
        const base = path.join(work, `sign-${existing ? 'existing' : 'new'}-${syscall}-${n}`);
        const caDir = path.join(base, 'ca');
        initCa(caDir, { passphrase: undefined });
        const out = path.join(base, 'certs');
        if (existing) fs.mkdirSync(out);
        const csrFiles = [];
        for (const cn of cns) {
          const made = await runCli(['csr', '--cn', cn, '--out', path.join(base, cn)]);
          assert.equal(made.code, 0, made.stderr);
          csrFiles.push(path.join(base, cn, 'csr.pem'));
        }
        const args = ['sign', ...csrFiles, '--profile', 'server', '--out-dir', out, '--ca-dir', caDir];
        const r = await runKilledAt(syscall, n, args);
        assert.ok(killed(r), `${syscall} #${n}: killed (${r.code}) ${r.stderr}`);
        if (syscall === 'fchmod') assert.equal(readIndex(caDir).length, 0, 'killed before the commit');
        const again = await runCli([...args, '--json']);
        assert.equal(again.code, 0, `${syscall} #${n}: ${again.stderr}`);
        assert.deepEqual(
          JSON.parse(again.stdout).map((c: { cn: string; files: { cert: string } }) => [c.cn, c.files.cert]),
          cns.map((cn) => [cn, path.join(out, `${cn}.pem`)]),
        );
        const all = readIndex(caDir).filter((e) => e.profile === 'server');
        assert.equal(all.length, cns.length, `${syscall} #${n}: nothing signed twice, nothing void`);
        for (const e of all) {
          assert.equal(e.status, 'valid');
          const cert = new X509Certificate(fs.readFileSync(path.join(out, `${e.cn}.pem`)));
          assert.equal(cert.serialNumber.toLowerCase(), e.serial, `${e.cn}.pem is the recorded one`);
          const key = createPrivateKey(fs.readFileSync(path.join(base, e.cn, 'key.pem')));
          assert.ok(cert.checkPrivateKey(key), 'it certifies the key that made the CSR');
        }
        assert.equal(fs.existsSync(path.join(caDir, 'pending.json')), false);
        assert.deepEqual(leftovers(base), [], `${syscall} #${n}: no staging directory left`);
      }),
    );
  });

  test('bad input: one CSR with two files is a usage error, a tampered one changes nothing', async () => {
    const base = path.join(work, 'sign-bad');
    const caDir = path.join(base, 'ca');
    initCa(caDir, { passphrase: undefined });
    for (const cn of ['b0.example.com', 'b1.example.com']) {
      assert.equal((await runCli(['csr', '--cn', cn, '--out', path.join(base, cn)])).code, 0);
    }
    const files = ['b0.example.com', 'b1.example.com'].map((cn) => path.join(base, cn, 'csr.pem'));
    const two = await runCli([
      'sign',
      ...files,
      '--profile',
      'server',
      '--out',
      path.join(base, 'x.pem'),
      '--ca-dir',
      caDir,
    ]);
    assert.equal(two.code, 2);
    assert.match(two.stderr, /^error\[USAGE\]: could not run dbtls sign: 2 CSRs need --out-dir DIR/);
    const text = fs.readFileSync(files[1]!, 'utf8');
    const der = Buffer.from(text.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.indexOf(Buffer.from('b1.example'))] = 0x63; // 'c': the signature no longer matches
    fs.writeFileSync(
      files[1]!,
      `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`,
    );
    const bad = await runCli([
      'sign',
      ...files,
      '--profile',
      'server',
      '--out-dir',
      path.join(base, 'certs'),
      '--ca-dir',
      caDir,
    ]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(
      bad.stderr,
      /^error\[CSR_SIGNATURE_INVALID\]: could not verify the CSR ".*b1\.example\.com\/csr\.pem": /,
    );
    assert.equal(readIndex(caDir).length, 0);
    assert.equal(fs.existsSync(path.join(base, 'certs')), false);
    assert.deepEqual(fs.readdirSync(path.join(caDir, 'certs')), []);
  });
});
