/**
 * `dbtls revoke`, `dbtls list` and `dbtls crl` as a user runs them, with `openssl crl` as the oracle for
 * what the CRL file says: exactly the revoked serials, with reason, CRL number and authority key id, signed
 * by the CA that issued them (`-CAfile … -noout` verifies), next update 60 days ahead by default.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import type { Ca } from '../../../src/ca/store.js';
import { runCli } from '../../harness/cli.js';
import { openssl } from '../../harness/oracles.js';

let dir: string;
let ca: Ca;
const serials: Record<string, string> = {};
const DAY_MS = 86_400_000;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-revoke-cli-'));
  ca = initCa(path.join(dir, 'ca'), { passphrase: undefined, intermediate: true });
  for (const cn of ['alice', 'bob', 'carol', 'dave'])
    serials[cn] = issueCertificate(ca, { profile: 'client', cn }).entry.serial;
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const dbtls = (...args: string[]) => runCli([...args, '--ca-dir', ca.dir]);

interface OpensslCrl {
  readonly issuer: string;
  readonly crlNumber: number;
  readonly serials: string[];
  readonly reasons: string[];
  readonly hasAki: boolean;
  readonly lastUpdate: Date;
  readonly nextUpdate: Date;
}

/** Every CRL block of the file, as `openssl crl -text` reads it, each verified against the CA files. */
async function opensslCrls(file: string): Promise<OpensslCrl[]> {
  const blocks =
    fs.readFileSync(file, 'utf8').match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----\n/g) ?? [];
  const caFile = path.join(dir, 'chain.pem');
  fs.writeFileSync(caFile, ca.chainPem() + ca.caPem());
  const out: OpensslCrl[] = [];
  for (const [i, block] of blocks.entries()) {
    const one = `${file}.${i}`;
    fs.writeFileSync(one, block);
    const verified = await openssl(['crl', '-in', one, '-CAfile', caFile, '-noout']);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stderr, /verify OK/);
    const r = await openssl(['crl', '-in', one, '-noout', '-text']);
    assert.equal(r.code, 0, r.stderr);
    const t = r.stdout;
    out.push({
      issuer: /Issuer: (.*)/.exec(t)![1]!,
      crlNumber: Number.parseInt(/X509v3 CRL Number: \n\s*(\S+)/.exec(t)![1]!, 10),
      serials: [...t.matchAll(/Serial Number: ([0-9A-F]+)/g)]
        .map((m) => m[1]!.toLowerCase().replace(/^0+/, ''))
        .sort(),
      reasons: [...t.matchAll(/X509v3 CRL Reason Code: \n\s*(.+)/g)].map((m) => m[1]!.trim()),
      hasAki: /X509v3 Authority Key Identifier/.test(t),
      lastUpdate: new Date(/Last Update: (.*)/.exec(t)![1]!),
      nextUpdate: new Date(/Next Update: (.*)/.exec(t)![1]!),
    });
  }
  return out;
}

describe('revoke, list and crl through the CLI', () => {
  it('revoking marks the index; revoking twice is ALREADY_REVOKED with a hint, exit 2, index untouched', async () => {
    const first = await dbtls('revoke', serials.alice!, '--reason', 'keyCompromise');
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      new RegExp(`^Revoked ${serials.alice} \\(client /O=dbtls/CN=alice\\), reason keyCompromise\\.`),
    );
    // The next step carries the CA directory given (issue 14 item 5).
    assert.ok(
      first.stdout.includes(
        `Servers still accept it until they load a new CRL; to sign one, install it as ssl_crl and reload: dbtls crl --install ADMIN_TARGET --ca-dir ${ca.dir}   (ADMIN_TARGET: the server, host[:port] or a DSN)\n`,
      ),
      first.stdout,
    );
    const index = fs.readFileSync(path.join(ca.dir, 'index.jsonl'));
    for (const args of [[serials.alice!.toUpperCase()], ['--cn', 'alice']]) {
      const again = await dbtls('revoke', ...args);
      assert.equal(again.code, 2, again.stderr);
      assert.match(
        again.stderr,
        /^error\[ALREADY_REVOKED\]: could not revoke [^\n]+: it was already revoked on \d{4}-\d\d-\d\dT[^\n]+ \(keyCompromise\)\nhint: nothing to do; run `dbtls crl --ca-dir [^`]+` if servers/,
      );
      // The CA command a hint names carries the --ca-dir given, so that it reaches the same CA pasted.
      assert.ok(again.stderr.includes(`run \`dbtls crl --ca-dir ${ca.dir}\` if`), again.stderr);
      assert.equal(again.stdout, '');
    }
    const unknown = await dbtls('revoke', 'abcdef01');
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      /^error\[CERT_NOT_FOUND\][^\n]*\nhint: check the serial or CN with `dbtls list --ca-dir [^`]+`/,
    );
    const reason = await dbtls('revoke', serials.bob!, '--reason', 'stolen');
    assert.equal(reason.code, 2);
    assert.match(
      reason.stderr,
      /^error\[REASON_UNKNOWN\][^\n]*\nhint: use one of: unspecified, keyCompromise/,
    );
    assert.deepEqual(fs.readFileSync(path.join(ca.dir, 'index.jsonl')), index);
  });

  it('dbtls list shows the status of each certificate, in text and JSON', async () => {
    const r = await dbtls('revoke', '--cn', 'carol', '--reason', 'superseded');
    assert.equal(r.code, 0, r.stderr);
    const text = await dbtls('list');
    assert.equal(text.code, 0, text.stderr);
    const status = (cn: string) =>
      text.stdout
        .split('\n')
        .find((l) => l.startsWith(serials[cn]!))
        ?.split(/\s{2,}/)[2];
    assert.match(text.stdout, /^SERIAL\s+PROFILE\s+STATUS\s+EXPIRES\s+CN/);
    assert.deepEqual(['alice', 'bob', 'carol', 'dave'].map(status), ['revoked', 'valid', 'revoked', 'valid']);
    const json = await dbtls('list', '--json');
    const entries = JSON.parse(json.stdout) as { cn: string; status: string; revocationReason?: string }[];
    assert.deepEqual(
      entries.filter((e) => e.status === 'revoked').map((e) => [e.cn, e.revocationReason]),
      [
        ['alice', 'keyCompromise'],
        ['carol', 'superseded'],
      ],
    );
  });

  it('dbtls crl lists exactly the revoked serials per issuer (openssl crl -text), CRL number advancing', async () => {
    const out = path.join(dir, 'crl.pem');
    const before = Date.now();
    const r = await dbtls('crl', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fs.readFileSync(out), fs.readFileSync(path.join(ca.dir, 'crl.pem')));
    const [inter, root] = await opensslCrls(out);
    assert.equal(inter!.issuer, 'O = dbtls, CN = dbtls Intermediate CA');
    assert.equal(root!.issuer, 'O = dbtls, CN = dbtls Root CA');
    const revoked = readIndex(ca.dir).filter((e) => e.status === 'revoked');
    assert.deepEqual(inter!.serials, revoked.map((e) => e.serial.replace(/^0+/, '')).sort());
    assert.deepEqual(inter!.serials, [serials.alice, serials.carol].map((s) => s!.replace(/^0+/, '')).sort());
    assert.deepEqual(inter!.reasons.sort(), ['Key Compromise', 'Superseded']);
    assert.deepEqual(root!.serials, []);
    assert.ok(inter!.hasAki && root!.hasAki);
    // 60 days by default; openssl prints whole seconds.
    const days = (inter!.nextUpdate.getTime() - inter!.lastUpdate.getTime()) / DAY_MS;
    assert.equal(days, 60);
    assert.ok(inter!.lastUpdate.getTime() >= before - 1000);

    const again = await dbtls('crl', '--out', out, '--days', '7');
    assert.equal(again.code, 0, again.stderr);
    const [inter2] = await opensslCrls(out);
    assert.equal(inter2!.crlNumber, inter!.crlNumber + 1);
    assert.equal((inter2!.nextUpdate.getTime() - inter2!.lastUpdate.getTime()) / DAY_MS, 7);
    const bad = await dbtls('crl', '--days', '0');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error\[CRL_DAYS_INVALID\][^\n]*\nhint: /);
  });
});
