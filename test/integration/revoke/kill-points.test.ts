/**
 * `renew`, `revoke` and `crl` killed at every rename (issue 10 item 17): strace kills the real CLI as it
 * enters its Nth rename(2), for each N until a run completes, each kill point on its own copy of a CA with
 * an intermediate and three delivered client certificates. After each kill and the same command run again:
 * the CA index agrees with certs/ (every line has its file and each file its line, no serial twice, nothing
 * pending, no temp file); `renew` renewed each certificate once, into its directory, with a key that
 * matches; `revoke` revoked once; `crl` wrote a CRL that openssl verifies against the chain, whose number
 * was never published before.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import { leafDelivery } from '../../../src/ca/leaf-files.js';
import { runCli } from '../../harness/cli.js';
import {
  assertCaAgrees,
  dbtlsKilledAt,
  eachKillPoint,
  sameKey,
  tempLeftovers,
  wasKilled,
} from '../../harness/kill-points.js';
import { openssl } from '../../harness/oracles.js';

/** Two kill points at a time: the machine has two cores. */
const CONCURRENCY = 2;
const CNS = ['a_0', 'a_1', 'a_2'];

let work: string;
/** A CA with an intermediate and three client certificates valid for 5 days, delivered in users/<cn>. */
let template: string;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-ca-kill-'));
  template = path.join(work, 'template');
  const ca = initCa(path.join(template, 'ca'), { passphrase: undefined, intermediate: true });
  for (const cn of CNS) {
    issueCertificate(ca, { profile: 'client', cn, days: 5 }, leafDelivery(path.join(template, 'users', cn)));
  }
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** A fresh copy of the template for one kill point. */
function copy(name: string): { base: string; caDir: string; users: string } {
  const base = path.join(work, name);
  fs.cpSync(template, base, { recursive: true });
  return { base, caDir: path.join(base, 'ca'), users: path.join(base, 'users') };
}

describe('renew --expiring-within: SIGKILL at every rename, then the same command again', () => {
  test('each certificate renewed once, delivered into its directory with a matching key', async (t) => {
    const completedAt = await eachKillPoint(
      async (n) => {
        const { caDir, users } = copy(`renew-${n}`);
        // Without --out: each renewal goes to ./<cn>, whether the run renews three or the last one.
        const args = ['renew', '--expiring-within', '30', '--ca-dir', caDir];
        const r = await dbtlsKilledAt({ syscall: 'rename', n }, args, { cwd: users });
        const what = `rename #${n}`;
        if (r.code !== 0) {
          assert.ok(wasKilled(r), `${what}: killed, not failed (${r.code}): ${r.stderr}`);
          const again = await runCli(args, { cwd: users });
          assert.equal(again.code, 0, `${what}: the same command again: ${again.stderr}`);
        }
        assertCaAgrees(caDir, what);
        const entries = readIndex(caDir);
        for (const cn of CNS) {
          const [old, ...more] = entries.filter((e) => e.cn === cn && e.renewedFrom === undefined);
          assert.equal(more.length, 0);
          const renewals = entries.filter((e) => e.renewedFrom === old!.serial);
          assert.deepEqual(
            renewals.map((e) => e.status),
            ['valid'],
            `${what}: ${cn} renewed exactly once, nothing void`,
          );
          const dir = path.join(users, cn);
          const cert = new X509Certificate(fs.readFileSync(path.join(dir, 'cert.pem')));
          assert.equal(
            cert.serialNumber.toLowerCase(),
            renewals[0]!.serial,
            `${what}: ${dir} holds the renewal`,
          );
          const key = createPrivateKey(fs.readFileSync(path.join(dir, 'key.pem')));
          assert.ok(cert.checkPrivateKey(key), `${what}: the key in ${dir} matches its certificate`);
          assert.equal(fs.statSync(path.join(dir, 'key.pem')).mode & 0o777, 0o600);
        }
        assert.deepEqual(tempLeftovers(users), [], `${what}: no staging directory or temp file left`);
        return r.code === 0 ? 'completed' : 'killed';
      },
      { concurrency: CONCURRENCY },
    );
    t.diagnostic(`renewing three certificates makes ${completedAt - 1} renames`);
    // Each renewal: the journal, four staged files, the CA's copy, four renames into its directory.
    assert.equal(completedAt - 1, 30);
  });

  test('killed delivering the last renewal, the same command alone settles it', async () => {
    const { caDir, users } = copy('renew-last');
    const args = ['renew', '--expiring-within', '30', '--ca-dir', caDir];
    assert.ok(wasKilled(await dbtlsKilledAt({ syscall: 'rename', n: 27 }, args, { cwd: users })));
    const again = await runCli(args, { cwd: users });
    assert.equal(again.code, 0, again.stderr);
    assertCaAgrees(caDir, 'the re-run alone');
    assert.ok(await sameKey(path.join(users, 'a_2', 'cert.pem'), path.join(users, 'a_2', 'key.pem')));
  });
});

describe('renew --expiring-within --out DIR: killed with one renewal left to do', () => {
  test('the re-run delivers it to DIR/<cn>, where the first run would have, not into DIR itself', async () => {
    const { base, caDir, users } = copy('renew-out');
    const out = path.join(base, 'renewed');
    const args = ['renew', '--expiring-within', '30', '--out', out, '--ca-dir', caDir];
    // Rename 17: the first two renewals delivered, the third not begun (ten renames each, see above).
    assert.ok(wasKilled(await dbtlsKilledAt({ syscall: 'rename', n: 17 }, args)));
    const again = await runCli(args);
    assert.equal(again.code, 0, again.stderr);
    assertCaAgrees(caDir, 'the re-run with --out');
    assert.deepEqual(fs.readdirSync(out).sort(), CNS, 'one directory per certificate, nothing else in --out');
    for (const cn of CNS) {
      const renewal = readIndex(caDir).find((e) => e.cn === cn && e.renewedFrom !== undefined);
      const cert = new X509Certificate(fs.readFileSync(path.join(out, cn, 'cert.pem')));
      assert.equal(cert.serialNumber.toLowerCase(), renewal?.serial, `${cn}: its renewal in ${out}/${cn}`);
      assert.ok(await sameKey(path.join(out, cn, 'cert.pem'), path.join(out, cn, 'key.pem')));
    }
    assert.deepEqual(tempLeftovers(users), []);
  });
});

describe('revoke --cn: SIGKILL at its rename, then the same command again', () => {
  test('revoked once; the index is whole', async () => {
    const { caDir } = copy('revoke');
    const args = ['revoke', '--cn', 'a_1', '--reason', 'keyCompromise', '--ca-dir', caDir];
    const r = await dbtlsKilledAt({ syscall: 'rename', n: 1 }, args);
    assert.ok(wasKilled(r), `killed (${r.code}): ${r.stderr}`);
    assert.ok(
      readIndex(caDir).every((e) => e.status === 'valid'),
      'killed before the rename: nothing revoked',
    );
    const again = await runCli(args);
    assert.equal(again.code, 0, again.stderr);
    assertCaAgrees(caDir, 'after the next revoke');
    assert.deepEqual(
      readIndex(caDir)
        .filter((e) => e.profile === 'client')
        .map((e) => `${e.cn} ${e.status}`),
      ['a_0 valid', 'a_1 revoked', 'a_2 valid'],
    );
    const control = await dbtlsKilledAt({ syscall: 'rename', n: 1 }, [
      'revoke',
      '--cn',
      'a_2',
      '--ca-dir',
      caDir,
    ]);
    assert.ok(wasKilled(control), 'one rename: the index');
    assert.equal((await runCli(['revoke', '--cn', 'a_2', '--ca-dir', caDir])).code, 0);
    assert.equal((await runCli(args)).code, 2, 'a second revoke of a_1 is ALREADY_REVOKED');
  });
});

describe('the CA lock: left without a pid by an older dbtls, and SIGKILL before its removal', () => {
  test('the next command takes the lock over and succeeds', async () => {
    const { caDir } = copy('lock');
    const lock = path.join(caDir, '.lock');
    const args = (cn: string) => ['revoke', '--cn', cn, '--ca-dir', caDir];
    // This dbtls links a file already holding its pid (never empty); an older one could die between
    // creating the lock and writing its pid.
    fs.writeFileSync(lock, '');
    const started = Date.now();
    const next = await runCli(args('a_0'));
    assert.equal(next.code, 0, next.stderr);
    assert.ok(Date.now() - started < 30_000, 'taken over after a grace period, not after the 60 s timeout');
    const held = await dbtlsKilledAt({ syscall: 'unlink', n: 1, path: lock }, args('a_1'));
    assert.ok(wasKilled(held), held.stderr);
    assert.match(fs.readFileSync(lock, 'utf8'), /^\d+$/, 'the lock of a dead process');
    assert.equal((await runCli(args('a_2'))).code, 0);
    assertCaAgrees(caDir, 'after the lock was taken over');
    assert.deepEqual(
      readIndex(caDir)
        .filter((e) => e.profile === 'client')
        .map((e) => e.status),
      ['revoked', 'revoked', 'revoked'],
    );
    assert.equal(fs.existsSync(lock), false);
    assert.deepEqual(
      fs.readdirSync(caDir).filter((n) => n.startsWith('.lock')),
      [],
      'no pid file of a taker left beside it',
    );
  });
});

/** The CRL number and whether openssl verifies the CRL's signature with `issuer`. */
async function crlFacts(file: string, issuer: string): Promise<{ number: number; verified: boolean }> {
  const r = await openssl(['crl', '-in', file, '-noout', '-crlnumber', '-CAfile', issuer]);
  const number = /crlNumber=(?:0x)?([0-9A-Fa-f]+)/.exec(r.stdout)?.[1];
  return { number: Number.parseInt(number ?? 'NaN', 16), verified: /verify OK/.test(r.stderr + r.stdout) };
}

describe('crl --out: SIGKILL at every rename, then the same command again', () => {
  test('a CRL openssl verifies, in the CA and at --out, with a number never published before', async (t) => {
    const { caDir, base } = copy('crl');
    const out = path.join(base, 'published', 'crl.pem');
    fs.mkdirSync(path.dirname(out));
    const revoked = await runCli(['revoke', '--cn', 'a_0', '--ca-dir', caDir]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const args = ['crl', '--out', out, '--ca-dir', caDir];
    const first = await runCli(args);
    assert.equal(first.code, 0, first.stderr);
    const published = [(await crlFacts(out, path.join(caDir, 'intermediate.pem'))).number];
    // Kill points in turn on one CA: each run must publish a number above every one before it.
    const completedAt = await eachKillPoint(async (n) => {
      const what = `rename #${n}`;
      const r = await dbtlsKilledAt({ syscall: 'rename', n }, args);
      if (r.code !== 0) {
        assert.ok(wasKilled(r), `${what}: killed, not failed (${r.code}): ${r.stderr}`);
        const again = await runCli(args);
        assert.equal(again.code, 0, `${what}: ${again.stderr}`);
      }
      assert.equal(fs.readFileSync(out, 'utf8'), fs.readFileSync(path.join(caDir, 'crl.pem'), 'utf8'));
      const facts = await crlFacts(out, path.join(caDir, 'intermediate.pem'));
      assert.ok(facts.verified, `${what}: openssl verifies the intermediate's CRL`);
      assert.ok(facts.number > Math.max(...published), `${what}: CRL number ${facts.number} is new`);
      published.push(facts.number);
      assertCaAgrees(caDir, what);
      assert.deepEqual(tempLeftovers(path.dirname(out)), [], `${what}: no temp file beside --out`);
      return r.code === 0 ? 'completed' : 'killed';
    });
    t.diagnostic(`crl --out makes ${completedAt - 1} renames; published CRL numbers ${published.join(', ')}`);
    // ca.json (the number first), crl.pem, --out.
    assert.equal(completedAt - 1, 3);
  });
});
