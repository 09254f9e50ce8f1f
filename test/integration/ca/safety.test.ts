/**
 * The CA off the happy path through the real CLI (issue 10 items 3, 4, 5, 14, 17): refused issuance
 * records nothing, 8 racing issuers into one --out record exactly the one certificate delivered, long
 * and contradictory passphrases, output directories from hostile CNs, --dry-run changing nothing, and
 * the modes of everything dbtls creates under `umask 000`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import { writeLeafFiles } from '../../../src/ca/leaf-files.js';
import { revoke } from '../../../src/ca/revoke.js';
import { createCsr } from '../../../src/pki/csr.js';
import { generateKeyPair } from '../../../src/pki/keys.js';
import { type CliResult, dbtlsCommand, runCli } from '../../harness/cli.js';

let work: string;
before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-ca-safety-'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** Every file and directory under dir: name, mode and bytes. */
function hashDir(dir: string): string {
  const h = createHash('sha256');
  for (const rel of (fs.readdirSync(dir, { recursive: true }) as string[]).sort()) {
    const p = path.join(dir, rel);
    const st = fs.statSync(p);
    h.update(`${rel}\0${st.mode}\0`);
    if (st.isFile()) h.update(fs.readFileSync(p));
  }
  return h.digest('hex');
}

const clientEntries = (caDir: string) => readIndex(caDir).filter((e) => e.profile === 'client');
const serialOf = (file: string) => new X509Certificate(fs.readFileSync(file)).serialNumber.toLowerCase();

describe('issuance that fails or is refused records nothing (item 3)', () => {
  test('--out naming a file: exit 2 before signing, CA byte-identical', async () => {
    const caDir = path.join(work, 'file-out-ca');
    initCa(caDir, { passphrase: undefined });
    const file = path.join(work, 'a-file');
    fs.writeFileSync(file, 'not a directory\n');
    const before = hashDir(caDir);
    for (const profile of ['client', 'server']) {
      const r = await runCli(['issue', profile, '--cn', 'db1.example.com', '--out', file, '--ca-dir', caDir]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /error\[OUTPUT_EXISTS\]: could not write to .*a-file: it is a file, not a directory/,
      );
    }
    const under = await runCli([
      'issue',
      'client',
      '--cn',
      'u',
      '--out',
      path.join(file, 'u'),
      '--ca-dir',
      caDir,
    ]);
    assert.equal(under.code, 2, under.stderr);
    assert.match(
      under.stderr,
      /error\[NOT_A_DIRECTORY\]: could not write to .*a-file\/u: a part of the path is a file/,
    );
    assert.equal(hashDir(caDir), before);
    assert.equal(fs.readFileSync(file, 'utf8'), 'not a directory\n');
    const init = await runCli(['ca', 'init', '--no-passphrase', '--ca-dir', file]);
    assert.equal(init.code, 2, init.stderr);
    assert.match(
      init.stderr,
      /error\[DIR_INVALID\]: could not use .*a-file as the CA directory: it is a file/,
    );
    assert.doesNotMatch(init.stderr, /INTERNAL/);
  });

  test('8 parallel `issue client` into one --out: one delivered, one recorded, 7 refused', async () => {
    const caDir = path.join(work, 'race-ca');
    initCa(caDir, { passphrase: 'race passphrase', intermediate: true });
    const pw = path.join(work, 'race-pw');
    fs.writeFileSync(pw, 'race passphrase\n');
    const out = path.join(work, 'race-out');
    const runs = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        runCli([
          'issue',
          'client',
          '--cn',
          `racer_${i}`,
          '--out',
          out,
          '--ca-dir',
          caDir,
          '--passphrase-file',
          pw,
        ]),
      ),
    );
    const won = runs.filter((r) => r.code === 0);
    assert.equal(won.length, 1, runs.map((r) => r.stderr).join('\n'));
    for (const r of runs.filter((x) => x.code !== 0)) {
      assert.equal(r.code, 2);
      assert.match(r.stderr, /error\[OUTPUT_EXISTS\]/);
    }
    const entries = clientEntries(caDir);
    assert.equal(entries.length, 1, 'index entries == delivered certificates');
    assert.equal(entries[0]!.serial, serialOf(path.join(out, 'cert.pem')));
    assert.deepEqual(
      fs.readdirSync(path.join(caDir, 'certs')).length,
      2,
      'the intermediate and the one leaf, no orphan copy',
    );
    assert.deepEqual(fs.readdirSync(out).sort(), ['ca.pem', 'cert.pem', 'chain.pem', 'key.pem']);
  });

  test('8 parallel --cn-from batches into one --out: the names of one batch, each recorded once', async () => {
    const caDir = path.join(work, 'race-batch-ca');
    initCa(caDir, { passphrase: undefined });
    const out = path.join(work, 'race-batch-out');
    const names = path.join(work, 'race-names');
    fs.writeFileSync(names, 'r_a\nr_b\nr_c\n');
    const runs = await Promise.all(
      Array.from({ length: 8 }, () =>
        runCli(['issue', 'client', '--cn-from', names, '--out', out, '--ca-dir', caDir]),
      ),
    );
    assert.equal(runs.filter((r) => r.code === 0).length, 1, runs.map((r) => r.stderr).join('\n'));
    const entries = clientEntries(caDir);
    assert.equal(entries.length, 3);
    for (const e of entries) assert.equal(e.serial, serialOf(path.join(out, e.cn, 'cert.pem')));
  });

  test('sign --out an existing file: refused, nothing recorded', async () => {
    const caDir = path.join(work, 'sign-ca');
    initCa(caDir, { passphrase: undefined });
    const csr = path.join(work, 'sign.csr');
    fs.writeFileSync(
      csr,
      createCsr({
        subject: [{ type: 'CN', value: 'app' }],
        privateKey: generateKeyPair('ec-p256').privateKey,
      }),
    );
    const taken = path.join(work, 'taken.pem');
    fs.writeFileSync(taken, 'keep me\n');
    const before = hashDir(caDir);
    const r = await runCli(['sign', csr, '--profile', 'client', '--out', taken, '--ca-dir', caDir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /error\[OUTPUT_EXISTS\]/);
    assert.equal(hashDir(caDir), before);
  });
});

describe('ca init: passphrases and contradictory flags (item 4)', () => {
  test('1,024 bytes works end to end; 1,025 is refused before anything is written', async () => {
    const ok = path.join(work, 'pp-1024');
    const okPw = path.join(work, 'pp-1024.pw');
    fs.writeFileSync(okPw, `${'é'.repeat(511)}xy\n`); // 1,024 bytes of UTF-8
    const made = await runCli(['ca', 'init', '--intermediate', '--ca-dir', ok, '--passphrase-file', okPw]);
    assert.equal(made.code, 0, made.stderr);
    const leaf = await runCli([
      'issue',
      'client',
      '--cn',
      'u',
      '--out',
      path.join(work, 'pp-u'),
      '--ca-dir',
      ok,
      '--passphrase-file',
      okPw,
    ]);
    assert.equal(leaf.code, 0, leaf.stderr);

    for (const [name, text] of [
      ['ascii', 'x'.repeat(1025)],
      ['utf8', 'é'.repeat(513)],
    ]) {
      const dir = path.join(work, `pp-long-${name}`);
      const pw = `${dir}.pw`;
      fs.writeFileSync(pw, `${text}\n`);
      const r = await runCli(['ca', 'init', '--ca-dir', dir, '--passphrase-file', pw]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /error\[PASSPHRASE_TOO_LONG\]: could not create the CA: the passphrase is 102[56] bytes, more than the 1024/,
      );
      assert.equal(fs.existsSync(dir), false, 'a failed ca init leaves no CA (not even a directory)');
    }
  });

  test('--no-passphrase with --passphrase-file or DBTLS_CA_PASSPHRASE: usage error, nothing created', async () => {
    const pw = path.join(work, 'np.pw');
    fs.writeFileSync(pw, 'secret\n');
    const a = path.join(work, 'np-a');
    const r1 = await runCli(['ca', 'init', '--no-passphrase', '--passphrase-file', pw, '--ca-dir', a]);
    assert.equal(r1.code, 2);
    assert.match(
      r1.stderr,
      /error\[USAGE\]: could not run dbtls ca init: --no-passphrase contradicts --passphrase-file/,
    );
    const r2 = await runCli(['ca', 'init', '--no-passphrase', '--ca-dir', a], {
      env: { DBTLS_CA_PASSPHRASE: 'secret' },
    });
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /contradicts DBTLS_CA_PASSPHRASE/);
    assert.match(r2.stderr, /hint: unset DBTLS_CA_PASSPHRASE/);
    assert.equal(fs.existsSync(a), false);
  });

  test('an empty DBTLS_CA_PASSPHRASE is unset: no contradiction, and no empty passphrase', async () => {
    const a = path.join(work, 'empty-env-a');
    const empty = { env: { DBTLS_CA_PASSPHRASE: '' } };
    const plain = await runCli(['ca', 'init', '--no-passphrase', '--ca-dir', a], empty);
    assert.equal(plain.code, 0, plain.stderr);
    const b = path.join(work, 'empty-env-b');
    const init = await runCli(['ca', 'init', '--ca-dir', b], empty);
    assert.equal(init.code, 2, init.stderr);
    assert.match(init.stderr, /^error\[PASSPHRASE_REQUIRED\]: /);
    assert.equal(fs.existsSync(path.join(b, 'ca.json')), false);
    const pw = path.join(work, 'empty-env.pw');
    fs.writeFileSync(pw, 'secret\n');
    const made = await runCli(['ca', 'init', '--passphrase-file', pw, '--ca-dir', b]);
    assert.equal(made.code, 0, made.stderr);
    const issue = await runCli(
      ['issue', 'client', '--cn', 'app', '--out', path.join(work, 'ee'), '--ca-dir', b],
      empty,
    );
    assert.equal(issue.code, 2, issue.stderr);
    assert.match(issue.stderr, /^error\[PASSPHRASE_REQUIRED\]: could not unlock the CA/);
  });
});

describe('issue without --out: the directory comes from a sanitized CN (item 5)', () => {
  const cases: [cn: string, dir: string][] = [
    ['../../x', 'x'],
    ['/abs', 'abs'],
    ['/CN=x/O=evil', 'CN_x_O_evil'],
    ['..hidden', 'hidden'],
    ['.', 'client'],
    ['a b\\c', 'a_b_c'],
  ];
  test('each hostile name stays inside the working directory', async () => {
    const caDir = path.join(work, 'names-ca');
    initCa(caDir, { passphrase: undefined });
    const cwd = path.join(work, 'names', 'deep', 'cwd');
    fs.mkdirSync(cwd, { recursive: true });
    for (const [cn, dir] of cases) {
      const r = await runCli(['issue', 'client', '--cn', cn, '--ca-dir', caDir, '--json'], { cwd });
      assert.equal(r.code, 0, `${cn}: ${r.stderr}`);
      assert.equal(JSON.parse(r.stdout).files.cert, path.join(cwd, dir, 'cert.pem'), cn);
      assert.equal(serialOf(path.join(cwd, dir, 'cert.pem')), JSON.parse(r.stdout).serial);
    }
    // nothing anywhere but in cwd: not in its parents, not at /abs
    assert.deepEqual(fs.readdirSync(path.join(work, 'names')), ['deep']);
    assert.deepEqual(fs.readdirSync(path.join(work, 'names', 'deep')), ['cwd']);
    assert.equal(fs.existsSync('/abs'), false);
    assert.deepEqual(fs.readdirSync(cwd).sort(), cases.map(([, d]) => d).sort());
  });

  test('control characters: CN_INVALID, exit 2, nothing created', async () => {
    const caDir = path.join(work, 'names-ca');
    const cwd = path.join(work, 'names-ctl');
    fs.mkdirSync(cwd);
    const before = hashDir(caDir);
    for (const cn of ['evil\nname', 'bell\x07', 'esc\x1b[31m']) {
      const r = await runCli(['issue', 'client', '--cn', cn, '--ca-dir', caDir], { cwd });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /error\[CN_INVALID\]/);
      assert.doesNotMatch(r.stderr, /\x1b|\x07/, 'the name is never printed raw');
    }
    assert.deepEqual(fs.readdirSync(cwd), []);
    assert.equal(hashDir(caDir), before);
  });

  test('renew --expiring-within without --out: one sanitized directory per certificate', async () => {
    const caDir = path.join(work, 'renew-names-ca');
    const ca = initCa(caDir, { passphrase: undefined });
    issueCertificate(ca, { profile: 'client', cn: '../../escape', days: 3 });
    const cwd = path.join(work, 'renew-names', 'cwd');
    fs.mkdirSync(cwd, { recursive: true });
    const r = await runCli(['renew', '--expiring-within', '10', '--ca-dir', caDir], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(path.join(work, 'renew-names')), ['cwd']);
    assert.equal(fs.existsSync(path.join(work, 'escape')), false);
    assert.ok(fs.existsSync(path.join(cwd, 'escape', 'cert.pem')));
    // two CNs that sanitize to one directory: refused before anything is renewed
    issueCertificate(ca, { profile: 'client', cn: '/twin', days: 3 });
    issueCertificate(ca, { profile: 'client', cn: 'twin', days: 3 });
    const before = hashDir(caDir);
    const twins = await runCli(['renew', '--expiring-within', '10', '--ca-dir', caDir], { cwd });
    assert.equal(twins.code, 2, twins.stderr);
    assert.match(
      twins.stderr,
      /error\[OUTPUT_CONFLICT\]: could not renew \w+ and \w+: both would be written to .*\/twin/,
    );
    assert.equal(hashDir(caDir), before);
  });

  test('renew --expiring-within checks every certificate before it renews the first (a damaged copy of the second renewed nothing)', async () => {
    const caDir = path.join(work, 'renew-all-ca');
    const ca = initCa(caDir, { passphrase: undefined });
    issueCertificate(ca, { profile: 'client', cn: 'first', days: 3 });
    const second = issueCertificate(ca, { profile: 'client', cn: 'second', days: 3 });
    // The CA's copy of the second no longer is the certificate the index recorded.
    const copy = path.join(caDir, 'certs', `${second.entry.serial}.pem`);
    fs.writeFileSync(copy, issueCertificate(ca, { profile: 'client', cn: 'third', days: 90 }).certPem);
    const before = hashDir(caDir);
    const cwd = path.join(work, 'renew-all');
    fs.mkdirSync(cwd);
    const r = await runCli(['renew', '--expiring-within', '10', '--ca-dir', caDir], { cwd });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^error\\[CA_CORRUPT\\]: could not renew ${second.entry.serial}: `));
    assert.deepEqual(fs.readdirSync(cwd), [], 'the first was not renewed either');
    assert.equal(hashDir(caDir), before);
  });
});

describe('renew --out replaces only the certificate it renews', () => {
  test("renew --out naming another user's directory is refused: that user's key and the CA unchanged", async () => {
    const caDir = path.join(work, 'renew-into-ca');
    const ca = initCa(caDir, { passphrase: undefined });
    const cwd = path.join(work, 'renew-into');
    fs.mkdirSync(cwd);
    const alice = issueCertificate(ca, { profile: 'client', cn: 'alice' });
    writeLeafFiles(path.join(cwd, 'alice'), alice);
    issueCertificate(ca, { profile: 'server', cn: 'srv.example' });
    const aliceKey = fs.readFileSync(path.join(cwd, 'alice', 'key.pem'));
    const before = hashDir(caDir);
    const r = await runCli(['renew', '--cn', 'srv.example', '--out', 'alice', '--ca-dir', caDir], { cwd });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr,
      `error[OUTPUT_EXISTS]: could not renew into ${path.join(cwd, 'alice')}: it holds the certificate of "alice", not one of "srv.example"; nothing was written\n` +
        `hint: give --out the directory of "srv.example"'s certificate, or a new one\n`,
    );
    assert.deepEqual(fs.readFileSync(path.join(cwd, 'alice', 'key.pem')), aliceKey);
    assert.equal(hashDir(caDir), before);
    // Its own directory is renewed in place.
    const own = await runCli(['renew', '--cn', 'alice', '--out', 'alice', '--ca-dir', caDir], { cwd });
    assert.equal(own.code, 0, own.stderr);
    assert.notDeepEqual(fs.readFileSync(path.join(cwd, 'alice', 'key.pem')), aliceKey);
  });
});

describe('--dry-run changes nothing and names what it would do (item 14)', () => {
  test('revoke, crl, sign, renew', async () => {
    const caDir = path.join(work, 'dry-ca');
    const ca = initCa(caDir, { passphrase: 'dry passphrase', intermediate: true });
    const pw = path.join(work, 'dry.pw');
    fs.writeFileSync(pw, 'dry passphrase\n');
    const cwd = path.join(work, 'dry-cwd');
    fs.mkdirSync(cwd);
    const kept = issueCertificate(ca, { profile: 'client', cn: 'keeper' }).entry;
    const gone = issueCertificate(ca, { profile: 'server', cn: 'db9.example.com' }).entry;
    revoke(caDir, { serial: gone.serial, reason: 'keyCompromise' });
    const csr = path.join(cwd, 'req.csr');
    fs.writeFileSync(
      csr,
      createCsr({
        subject: [{ type: 'CN', value: 'db2.example.com' }],
        dnsNames: ['db2.example.com'],
        privateKey: generateKeyPair('ec-p256').privateKey,
      }),
    );
    const before = hashDir(caDir);
    const cwdBefore = hashDir(cwd);
    const dry = (args: string[]): Promise<CliResult> =>
      runCli([...args, '--dry-run', '--ca-dir', caDir, '--passphrase-file', pw], { cwd });

    const rv = await runCli(
      ['revoke', kept.serial, '--reason', 'superseded', '--dry-run', '--ca-dir', caDir],
      {
        cwd,
      },
    );
    assert.equal(rv.code, 0, rv.stderr);
    assert.match(
      rv.stdout,
      new RegExp(`Would revoke ${kept.serial} \\(client /O=dbtls/CN=keeper\\), reason superseded`),
    );
    const rvAgain = await runCli(['revoke', gone.serial, '--dry-run', '--ca-dir', caDir], { cwd });
    assert.equal(rvAgain.code, 2, 'the same checks as a real run');
    assert.match(rvAgain.stderr, /error\[ALREADY_REVOKED\]/);

    const crl = await dry(['crl', '--out', path.join(cwd, 'crl.pem')]);
    assert.equal(crl.code, 0, crl.stderr);
    assert.match(
      crl.stdout,
      new RegExp(`Would sign CRL #1 of /O=dbtls/CN=dbtls Intermediate CA: 1 revoked \\(${gone.serial}\\)`),
    );
    assert.match(crl.stdout, /Would sign CRL #1 of \/O=dbtls\/CN=dbtls Root CA: 0 revoked/);

    const sign = await dry(['sign', csr, '--profile', 'server', '--out', path.join(cwd, 'db2.pem')]);
    assert.equal(sign.code, 0, sign.stderr);
    assert.match(
      sign.stdout,
      /Would sign a server certificate for \/CN=db2.example.com .*issued by \/O=dbtls\/CN=dbtls Intermediate CA/,
    );
    assert.match(sign.stdout, / - "db2.example.com"/);

    const renew = await dry(['renew', '--cn', 'keeper']);
    assert.equal(renew.code, 0, renew.stderr);
    assert.match(
      renew.stdout,
      new RegExp(
        `Would renew ${kept.serial} \\(client /O=dbtls/CN=keeper\\) with a new key into ${cwd}/keeper`,
      ),
    );
    const renewJson = await dry(['renew', kept.serial, '--json']);
    assert.deepEqual(
      JSON.parse(renewJson.stdout).renew.map((r: { serial: string }) => r.serial),
      [kept.serial],
    );

    for (const r of [rv, crl, sign, renew]) assert.match(r.stdout, /Nothing was changed \(--dry-run\)/);
    assert.equal(hashDir(caDir), before, 'the CA directory is byte-identical');
    assert.equal(hashDir(cwd), cwdBefore, 'no output file written');
  });
});

/** dbtls with `umask 000`, through /bin/sh so that the umask is the process's own from its start. */
function runUmask000(args: readonly string[], cwd: string): Promise<number | null> {
  const [cmd, ...prefix] = dbtlsCommand();
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', 'umask 000 && exec "$@"', 'sh', cmd!, ...prefix, ...args], {
      cwd,
      env: { ...process.env, DBTLS_CA_PASSPHRASE: undefined },
      stdio: 'ignore',
    });
    child.on('error', reject);
    child.on('close', resolve);
  });
}

describe('modes under umask 000 (item 17)', () => {
  test('no directory or file dbtls creates is group- or world-writable; keys 0600; CA 0700', async () => {
    const root = path.join(work, 'umask');
    fs.mkdirSync(root);
    fs.chmodSync(root, 0o755);
    const caDir = path.join(root, 'nested', 'ca');
    for (const [f, text] of [
      ['names', 'm_1\nm_2\n'],
      ['names2', 'n_1\n'],
    ]) {
      fs.writeFileSync(path.join(root, f!), text!);
      fs.chmodSync(path.join(root, f!), 0o644); // the test's own files: not subject to its umask
    }
    assert.equal(
      await runUmask000(['ca', 'init', '--intermediate', '--no-passphrase', '--ca-dir', caDir], root),
      0,
    );
    assert.equal(await runUmask000(['issue', 'client', '--cn', 'solo', '--ca-dir', caDir], root), 0);
    assert.equal(
      await runUmask000(
        ['issue', 'server', '--cn', 'db.example.com', '--out', 'a/b/srv', '--ca-dir', caDir],
        root,
      ),
      0,
    );
    assert.equal(
      await runUmask000(['issue', 'client', '--cn-from', 'names', '--out', 'fleet', '--ca-dir', caDir], root),
      0,
    );
    fs.mkdirSync(path.join(root, 'fleet2'));
    fs.chmodSync(path.join(root, 'fleet2'), 0o755);
    assert.equal(
      await runUmask000(
        ['issue', 'client', '--cn-from', 'names2', '--out', 'fleet2', '--ca-dir', caDir],
        root,
      ),
      0,
    );
    const mode = (p: string) => fs.statSync(path.join(root, p)).mode & 0o777;
    assert.equal(mode('nested/ca'), 0o700);
    assert.equal(mode('nested/ca/certs'), 0o755);
    assert.equal(mode('nested/ca/root.key.pem'), 0o600);
    assert.equal(mode('nested/ca/intermediate.key.pem'), 0o600);
    for (const d of ['nested', 'solo', 'a', 'a/b', 'a/b/srv', 'fleet', 'fleet/m_1', 'fleet2/n_1']) {
      assert.equal(mode(d), 0o755, d);
    }
    for (const k of ['solo/key.pem', 'a/b/srv/key.pem', 'fleet/m_1/key.pem', 'fleet2/n_1/key.pem']) {
      assert.equal(mode(k), 0o600, k);
    }
    const loose = (fs.readdirSync(root, { recursive: true }) as string[]).filter(
      (p) => (fs.statSync(path.join(root, p)).mode & 0o022) !== 0,
    );
    assert.deepEqual(loose, [], 'nothing writable by group or others');
  });
});
