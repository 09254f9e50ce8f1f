/**
 * The CA commands end to end through the real CLI: init, issue, csr/sign, list, show, renew, batch,
 * every bad input (exit 2, error code, CA directory byte-for-byte unchanged), and 8 concurrent issuers.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../../harness/cli.js';
import { openssl, opensslVerify } from '../../harness/oracles.js';

let work: string;
let pw: string;
/** A CA with an intermediate, key encrypted. */
let caI: string;
/** A CA without intermediate, no passphrase. */
let caR: string;

/**
 * Runs dbtls with file arguments taken relative to the work dir. The child runs in the project root (the
 * source-mode harness resolves tsx from its cwd), so relative paths are made absolute here.
 */
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runCli(
    args.map((a, i) =>
      !path.isAbsolute(a) && (['--out', '--cn-from'].includes(args[i - 1] ?? '') || /\.(csr|pem)$/.test(a))
        ? path.join(work, a)
        : a,
    ),
    { env },
  );
const withI = (...args: string[]) => cli([...args, '--ca-dir', caI, '--passphrase-file', pw]);
const withR = (...args: string[]) => cli([...args, '--ca-dir', caR]);

function hashDir(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.statSync(p);
      h.update(`${path.relative(dir, p)}\0${st.mode}\0`);
      if (st.isDirectory()) walk(p);
      else h.update(fs.readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

function indexOf(
  caDir: string,
): { serial: string; cn: string; renewedFrom?: string; subject: string; issuer: string }[] {
  return fs
    .readFileSync(path.join(caDir, 'index.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-ca-cli-'));
  pw = path.join(work, 'pw');
  fs.writeFileSync(pw, 'a long ca passphrase\n', { mode: 0o600 });
  caI = path.join(work, 'ca-i');
  caR = path.join(work, 'ca-r');
  const [a, b] = await Promise.all([
    cli(['ca', 'init', '--intermediate', '--org', 'Acme DB', '--ca-dir', caI, '--passphrase-file', pw]),
    cli(['ca', 'init', '--no-passphrase', '--ca-dir', caR]),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.match(a.stdout, /Created a new local CA/);
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

describe('ca init', () => {
  test('layout, modes, encrypted keys', () => {
    for (const f of [
      'ca.json',
      'root.pem',
      'root.key.pem',
      'intermediate.pem',
      'intermediate.key.pem',
      'index.jsonl',
    ]) {
      assert.ok(fs.existsSync(path.join(caI, f)), f);
    }
    assert.equal(fs.statSync(path.join(caI, 'root.key.pem')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(caI, 'intermediate.key.pem')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(caI, 'root.pem')).mode & 0o777, 0o644);
    assert.match(fs.readFileSync(path.join(caI, 'root.key.pem'), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
    assert.match(fs.readFileSync(path.join(caR, 'root.key.pem'), 'utf8'), /BEGIN PRIVATE KEY/);
    assert.equal(fs.existsSync(path.join(caR, 'intermediate.pem')), false);
  });

  test('default validity: root 10 years, intermediate 5; keys PBES2 AES-256 with a KDF', async () => {
    const s = JSON.parse((await withI('ca', 'show', '--json')).stdout);
    const days = (c: { notBefore: string; notAfter: string }) =>
      (Date.parse(c.notAfter) - Date.parse(c.notBefore)) / 86_400_000;
    assert.equal(days(s.root), 3650);
    assert.equal(days(s.intermediate), 1825);
    assert.equal(s.root.pathLength, 1);
    assert.equal(s.intermediate.pathLength, 0);
    for (const key of ['root.key.pem', 'intermediate.key.pem']) {
      const parsed = await openssl(['asn1parse', '-in', path.join(caI, key)]);
      assert.match(parsed.stdout, /:PBES2/, key);
      assert.match(parsed.stdout, /:(PBKDF2|id-scrypt)/, key);
      assert.match(parsed.stdout, /:aes-256-/, key);
    }
  });

  test('ca show --json', async () => {
    const r = await withR('ca', 'show', '--json');
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.root.subject, '/O=dbtls/CN=dbtls Root CA');
    assert.equal(s.root.keyType, 'EC');
    assert.equal(s.root.curve, 'P-256');
    assert.match(s.root.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(s.encrypted, false);
  });
});

describe('issue', () => {
  for (const which of ['intermediate', 'root only'] as const) {
    test(`server and client certificates verify with openssl -x509_strict (${which})`, async () => {
      const run = which === 'intermediate' ? withI : withR;
      const tag = which === 'intermediate' ? 'i' : 'r';
      const s = await run(
        'issue',
        'server',
        '--cn',
        'db1.example.com',
        '--dns',
        'db1',
        '--ip',
        '127.0.0.1',
        '--ip',
        'fd00::7',
        '--out',
        `srv-${tag}`,
      );
      assert.equal(s.code, 0, s.stderr);
      assert.match(
        s.stdout,
        /Created a new server certificate valid for the following names:\n - "db1.example.com"\n - "db1"\n - "127.0.0.1"\n - "fd00::7"/,
      );
      assert.match(s.stdout, /It will expire on /);
      const c = await run('issue', 'client', '--cn', 'app_user', '--out', `cli-${tag}`);
      assert.equal(c.code, 0, c.stderr);
      const d = (f: string) => path.join(work, f);
      assert.equal(fs.statSync(d(`srv-${tag}/key.pem`)).mode & 0o777, 0o600);
      const ca = d(`srv-${tag}/ca.pem`);
      const untrusted = d(`srv-${tag}/chain.pem`);
      const chainCount = fs.readFileSync(untrusted, 'utf8').match(/BEGIN CERTIFICATE/g)!.length;
      assert.equal(chainCount, which === 'intermediate' ? 2 : 1);
      const cert = d(`srv-${tag}/cert.pem`);
      for (const o of [
        { hostname: 'db1.example.com' },
        { hostname: 'db1' },
        { ip: '127.0.0.1' },
        { ip: 'fd00::7' },
      ]) {
        const v = await opensslVerify({ ca, untrusted, cert, purpose: 'sslserver', strict: true, ...o });
        assert.ok(v.ok, `${JSON.stringify(o)}: ${v.stderr}${v.stdout}`);
      }
      assert.equal((await opensslVerify({ ca, untrusted, cert, hostname: 'db2.example.com' })).ok, false);
      assert.equal((await opensslVerify({ ca, untrusted, cert, ip: '127.0.0.2' })).ok, false);
      const cv = await opensslVerify({
        ca,
        untrusted,
        cert: d(`cli-${tag}/cert.pem`),
        purpose: 'sslclient',
        strict: true,
      });
      assert.ok(cv.ok, cv.stderr);
      // the recorded one-line subject is what openssl prints
      const entry = indexOf(which === 'intermediate' ? caI : caR).find((e) => e.cn === 'app_user')!;
      const subj = await openssl([
        'x509',
        '-in',
        d(`cli-${tag}/cert.pem`),
        '-noout',
        '-subject',
        '-nameopt',
        'compat',
      ]);
      assert.equal(`subject=${entry.subject}`, subj.stdout.trim());
      const issuer = await openssl([
        'x509',
        '-in',
        d(`cli-${tag}/cert.pem`),
        '-noout',
        '-issuer',
        '-nameopt',
        'compat',
      ]);
      assert.equal(`issuer=${entry.issuer}`, issuer.stdout.trim());
      assert.equal(
        entry.issuer,
        which === 'intermediate' ? '/O=Acme DB/CN=Acme DB Intermediate CA' : '/O=dbtls/CN=dbtls Root CA',
      );
      for (const f of ['cert.pem', 'chain.pem', 'ca.pem']) {
        assert.equal(fs.statSync(d(`cli-${tag}/${f}`)).mode & 0o777, 0o644, f);
      }
    });
  }

  test('csr on the node, sign on the CA: only the names are copied', async () => {
    const c = await cli([
      'csr',
      '--cn',
      'db3.example.com',
      '--dns',
      'db3.internal',
      '--ip',
      '10.1.2.3',
      '--out',
      'node3',
    ]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(fs.statSync(path.join(work, 'node3/key.pem')).mode & 0o777, 0o600);
    const s = await withI('sign', 'node3/csr.pem', '--profile', 'server', '--out', 'node3/cert.pem');
    assert.equal(s.code, 0, s.stderr);
    const v = await opensslVerify({
      ca: path.join(caI, 'root.pem'),
      untrusted: path.join(work, 'node3/cert.pem'),
      cert: path.join(work, 'node3/cert.pem'),
      purpose: 'sslserver',
      strict: true,
      ip: '10.1.2.3',
    });
    assert.ok(v.ok, v.stderr);
    const mod = await openssl([
      'x509',
      '-in',
      path.join(work, 'node3/cert.pem'),
      '-noout',
      '-ext',
      'subjectAltName,basicConstraints',
    ]);
    assert.match(mod.stdout, /DNS:db3\.example\.com, DNS:db3\.internal, IP Address:10\.1\.2\.3/);
    assert.match(mod.stdout, /CA:FALSE/);
  });

  test('list --json and --expiring-within; renew by serial and by --cn', async () => {
    const l = await withR('list', '--json');
    assert.equal(l.code, 0, l.stderr);
    const entries = JSON.parse(l.stdout) as { serial: string; cn: string; profile: string }[];
    assert.ok(entries.length >= 2);
    const none = await withR('list', '--json', '--expiring-within', '30');
    assert.deepEqual(JSON.parse(none.stdout), []);
    const soon = await withR('list', '--json', '--expiring-within', '400');
    assert.equal(JSON.parse(soon.stdout).length, entries.length);

    const old = entries.find((e) => e.cn === 'app_user')!;
    const oldKey = fs.readFileSync(path.join(work, 'cli-r/key.pem'), 'utf8');
    const r1 = await withR('renew', old.serial, '--out', 'cli-r');
    assert.equal(r1.code, 0, r1.stderr);
    const newKey = fs.readFileSync(path.join(work, 'cli-r/key.pem'), 'utf8');
    assert.notEqual(newKey, oldKey);
    const renewed = indexOf(caR).find((e) => e.renewedFrom === old.serial)!;
    assert.ok(renewed && renewed.serial !== old.serial);
    const r2 = await withR('renew', '--cn', 'app_user', '--out', 'cli-r', '--reuse-key');
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(fs.readFileSync(path.join(work, 'cli-r/key.pem'), 'utf8'), newKey);
    assert.ok(indexOf(caR).some((e) => e.renewedFrom === renewed.serial));
    const v = await opensslVerify({
      ca: path.join(caR, 'root.pem'),
      cert: path.join(work, 'cli-r/cert.pem'),
      purpose: 'sslclient',
      strict: true,
    });
    assert.ok(v.ok, v.stderr);
    const match = await openssl(['x509', '-in', path.join(work, 'cli-r/cert.pem'), '-noout', '-pubkey']);
    const keyPub = await openssl(['pkey', '-in', path.join(work, 'cli-r/key.pem'), '-pubout']);
    assert.equal(match.stdout, keyPub.stdout);
  });

  test('--cn-from: one directory per user, all in the index, chains verify', async () => {
    // 450 names: enough for a worker thread (src/ca/batch.ts) when the tests run compiled
    const names = Array.from({ length: 450 }, (_, i) => `user_${i}`);
    fs.writeFileSync(path.join(work, 'users.txt'), `# fleet\n${names.join('\n')}\n\n`);
    const before = indexOf(caI).length;
    const r = await withI('issue', 'client', '--cn-from', 'users.txt', '--out', 'fleet');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Created 450 client certificates in .*fleet\/<user>\//);
    assert.match(r.stdout, /the subjects look like \/O=Acme DB\/CN=user_0\./);
    const added = indexOf(caI).slice(before);
    assert.deepEqual(
      added.map((e) => e.cn),
      names,
    );
    assert.deepEqual(fs.readdirSync(path.join(work, 'fleet')).sort(), [...names].sort());
    assert.equal(fs.readdirSync(work).filter((f) => f.includes('staging')).length, 0);
    for (const n of [names[0]!, names[224]!, names[449]!]) {
      const leaf = (f: string) => path.join(work, 'fleet', n, f);
      const v = await opensslVerify({
        ca: leaf('ca.pem'),
        untrusted: leaf('chain.pem'),
        cert: leaf('cert.pem'),
        purpose: 'sslclient',
        strict: true,
      });
      assert.ok(v.ok, v.stderr);
      assert.equal(fs.statSync(leaf('key.pem')).mode & 0o777, 0o600);
      const e = added.find((x) => x.cn === n)!;
      const subject = await openssl([
        'x509',
        '-in',
        leaf('cert.pem'),
        '-noout',
        '-subject',
        '-serial',
        '-nameopt',
        'compat',
      ]);
      assert.equal(subject.stdout, `subject=${e.subject}\nserial=${e.serial.toUpperCase()}\n`);
    }
    fs.writeFileSync(path.join(work, 'more.txt'), 'json_a\njson_b\n');
    const j = await withI('issue', 'client', '--cn-from', 'more.txt', '--out', 'fleet', '--json');
    assert.equal(j.code, 0, j.stderr);
    const out = JSON.parse(j.stdout) as { cn: string; serial: string; files: Record<string, string> }[];
    assert.deepEqual(
      out.map((o) => [o.cn, o.files.key]),
      [
        ['json_a', path.join(work, 'fleet', 'json_a', 'key.pem')],
        ['json_b', path.join(work, 'fleet', 'json_b', 'key.pem')],
      ],
    );
  });

  test('8 concurrent `dbtls issue` processes (single and --cn-from) lose no index line', async () => {
    const before = indexOf(caI);
    const batchOf = (i: number) => {
      const file = path.join(work, `conc-${i}.txt`);
      fs.writeFileSync(file, Array.from({ length: 25 }, (_, n) => `conc_${i}_${n}`).join('\n'));
      return file;
    };
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        i % 2 === 0
          ? withI('issue', 'client', '--cn', `conc_${i}`, '--out', `conc/${i}`)
          : withI('issue', 'client', '--cn-from', batchOf(i), '--out', `conc-batch-${i}`),
      ),
    );
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const afterIdx = indexOf(caI);
    assert.equal(afterIdx.length, before.length + 4 + 4 * 25);
    assert.deepEqual(afterIdx.slice(0, before.length), before); // nothing rewritten or lost
    assert.equal(new Set(afterIdx.map((e) => e.serial)).size, afterIdx.length);
    for (let i = 0; i < 8; i += 2) assert.ok(afterIdx.some((e) => e.cn === `conc_${i}`));
    for (let i = 1; i < 8; i += 2) {
      assert.equal(afterIdx.filter((e) => e.cn.startsWith(`conc_${i}_`)).length, 25);
      assert.equal(fs.readdirSync(path.join(work, `conc-batch-${i}`)).length, 25);
    }
    for (const e of afterIdx) assert.ok(fs.existsSync(path.join(caI, 'certs', `${e.serial}.pem`)));
    assert.equal(fs.existsSync(path.join(caI, '.lock')), false);
  });

  test('list shows revocation: STATUS revoked, with when and why', async () => {
    const r = await withR('issue', 'client', '--cn', 'to_revoke', '--out', 'to-revoke');
    assert.equal(r.code, 0, r.stderr);
    const serial = indexOf(caR).find((e) => e.cn === 'to_revoke')!.serial;
    const rev = await withR('revoke', serial, '--reason', 'keyCompromise');
    assert.equal(rev.code, 0, rev.stderr);
    const list = await withR('list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^SERIAL\s+PROFILE\s+STATUS\s+EXPIRES\s+CN\s+NAMES\s+REVOKED\n/);
    const row = list.stdout.split('\n').find((l) => l.startsWith(serial))!;
    const today = new Date().toISOString().slice(0, 10);
    assert.match(
      row,
      new RegExp(`^${serial}\\s+client\\s+revoked\\s+\\S+\\s+to_revoke\\s+${today} \\(keyCompromise\\)$`),
    );
    const valid = list.stdout.split('\n').find((l) => / app_user/.test(l) && /\bvalid\b/.test(l));
    assert.ok(valid, list.stdout);
    const json = JSON.parse((await withR('list', '--json')).stdout) as {
      serial: string;
      status: string;
      revocationReason?: string;
    }[];
    const entry = json.find((e) => e.serial === serial)!;
    assert.deepEqual([entry.status, entry.revocationReason], ['revoked', 'keyCompromise']);
    // revoked certificates are not up for renewal
    const renew = await withR('renew', serial, '--out', 'to-revoke');
    assert.equal(renew.code, 2);
    assert.match(renew.stderr, /^error\[CERT_REVOKED\]/m);
  });
});

describe('bad input: exit 2, the code, a hint, and the CA directory unchanged', () => {
  test('every case', async () => {
    const wrong = path.join(work, 'wrong-pw');
    fs.writeFileSync(wrong, 'not it\n');
    fs.writeFileSync(path.join(work, 'garbage.csr'), 'this is not a CSR\n');
    fs.writeFileSync(
      path.join(work, 'trunc.csr'),
      '-----BEGIN CERTIFICATE REQUEST-----\nMIIBADCBpwIBADAaMRgwFgYDVQQDDA9kYjEuZXhhbXBsZS5jb20w\n-----END CERTIFICATE REQUEST-----\n',
    );
    // a valid CSR with one byte of its subject changed after signing
    const c = await cli(['csr', '--cn', 'abc.example.com', '--out', 'badsig']);
    assert.equal(c.code, 0, c.stderr);
    const pem = fs.readFileSync(path.join(work, 'badsig/csr.pem'), 'utf8');
    const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    der[der.indexOf(Buffer.from('abc.example.com'))] = 0x78;
    const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
    fs.writeFileSync(
      path.join(work, 'badsig.csr'),
      `-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n`,
    );
    const ca = await openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      path.join(work, 'ca-req.key'),
      '-out',
      path.join(work, 'ca-req.csr'),
      '-subj',
      '/CN=evil.example.com',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
    ]);
    assert.equal(ca.code, 0, ca.stderr);
    const weak = await openssl([
      'req',
      '-new',
      '-newkey',
      'rsa:1024',
      '-nodes',
      '-keyout',
      path.join(work, 'weak.key'),
      '-out',
      path.join(work, 'weak.csr'),
      '-subj',
      '/CN=weak.example.com',
    ]);
    assert.equal(weak.code, 0, weak.stderr);
    fs.mkdirSync(path.join(work, 'occupied'));
    fs.writeFileSync(path.join(work, 'occupied/cert.pem'), 'keep me\n');
    fs.writeFileSync(
      path.join(work, 'badb64.csr'),
      '-----BEGIN CERTIFICATE REQUEST-----\nMIIB!!not*base64@@\n-----END CERTIFICATE REQUEST-----\n',
    );
    const list = (name: string, text: string) => {
      fs.writeFileSync(path.join(work, name), text);
      return path.join(work, name);
    };
    const dupes = list('dupes.txt', 'bad_a\nbad_b\nbad_a\n');
    const slash = list('slash.txt', 'bad_c\n../escape\n');
    const empty = list('empty.txt', '# nobody yet\n\n');
    const clash = list('clash.txt', 'fresh_one\nalice\n');
    fs.mkdirSync(path.join(work, 'occupied-fleet/alice'), { recursive: true });
    fs.writeFileSync(path.join(work, 'occupied-fleet/alice/key.pem'), 'keep me too\n');

    const beforeI = hashDir(caI);
    const beforeR = hashDir(caR);
    const I = ['--ca-dir', caI];
    const cases: [string, string[], NodeJS.ProcessEnv?][] = [
      [
        'KEY_PASSPHRASE_WRONG',
        ['issue', 'client', '--cn', 'u1', '--out', 'x1', ...I, '--passphrase-file', wrong],
      ],
      [
        'KEY_PASSPHRASE_WRONG',
        ['issue', 'client', '--cn', 'u1', '--out', 'x1', ...I],
        { DBTLS_CA_PASSPHRASE: 'nope' },
      ],
      ['PASSPHRASE_REQUIRED', ['issue', 'client', '--cn', 'u1', '--out', 'x1', ...I]],
      [
        'CSR_MALFORMED',
        ['sign', 'garbage.csr', '--profile', 'server', '--out', 'x2.pem', ...I, '--passphrase-file', pw],
      ],
      [
        'CSR_MALFORMED',
        ['sign', 'trunc.csr', '--profile', 'server', '--out', 'x2.pem', ...I, '--passphrase-file', pw],
      ],
      [
        'CSR_SIGNATURE_INVALID',
        ['sign', 'badsig.csr', '--profile', 'server', '--out', 'x2.pem', ...I, '--passphrase-file', pw],
      ],
      [
        'CSR_REQUESTS_CA',
        ['sign', 'ca-req.csr', '--profile', 'server', '--out', 'x2.pem', ...I, '--passphrase-file', pw],
      ],
      [
        'KEY_ALGORITHM_UNKNOWN',
        [
          'issue',
          'server',
          '--cn',
          'a.example.com',
          '--key',
          'dsa',
          '--out',
          'x3',
          ...I,
          '--passphrase-file',
          pw,
        ],
      ],
      [
        'KEY_TOO_WEAK',
        [
          'issue',
          'server',
          '--cn',
          'a.example.com',
          '--key',
          'rsa-1024',
          '--out',
          'x3',
          ...I,
          '--passphrase-file',
          pw,
        ],
      ],
      [
        'DAYS_BEYOND_ISSUER',
        [
          'issue',
          'server',
          '--cn',
          'a.example.com',
          '--days',
          '4000',
          '--out',
          'x3',
          ...I,
          '--passphrase-file',
          pw,
        ],
      ],
      [
        'CN_INVALID',
        ['issue', 'server', '--cn', 'not a host!', '--out', 'x3', ...I, '--passphrase-file', pw],
      ],
      [
        'DNS_NAME_INVALID',
        [
          'issue',
          'server',
          '--cn',
          'a.example.com',
          '--dns',
          'bad_name!',
          '--out',
          'x3',
          ...I,
          '--passphrase-file',
          pw,
        ],
      ],
      [
        'IP_INVALID',
        [
          'issue',
          'server',
          '--cn',
          'a.example.com',
          '--ip',
          '300.1.1.1',
          '--out',
          'x3',
          ...I,
          '--passphrase-file',
          pw,
        ],
      ],
      [
        'OUTPUT_EXISTS',
        ['issue', 'client', '--cn', 'u2', '--out', 'occupied', ...I, '--passphrase-file', pw],
      ],
      ['CA_EXISTS', ['ca', 'init', '--ca-dir', caI, '--passphrase-file', pw]],
      ['CA_EXISTS', ['ca', 'init', '--ca-dir', caR, '--no-passphrase']],
      ['PASSPHRASE_REQUIRED', ['ca', 'init', '--ca-dir', path.join(work, 'never')]],
      ['USAGE', ['issue', 'client', '--cn', 'u3', '--password', 'x', ...I]],
      [
        'CSR_MALFORMED',
        ['sign', 'badb64.csr', '--profile', 'client', '--out', 'x2.pem', ...I, '--passphrase-file', pw],
      ],
      [
        'KEY_TOO_WEAK',
        ['sign', 'weak.csr', '--profile', 'server', '--out', 'x2.pem', ...I, '--passphrase-file', pw],
      ],
      [
        'DAYS_BEYOND_ISSUER',
        [
          'sign',
          'node3/csr.pem',
          '--profile',
          'server',
          '--days',
          '4000',
          '--out',
          'x2.pem',
          ...I,
          '--passphrase-file',
          pw,
        ],
      ],
      [
        'KEY_TOO_WEAK',
        ['ca', 'init', '--key', 'rsa-1024', '--no-passphrase', '--ca-dir', path.join(work, 'never')],
      ],
      ['CN_DUPLICATE', ['issue', 'client', '--cn-from', dupes, '--out', 'x4', ...I, '--passphrase-file', pw]],
      ['CN_INVALID', ['issue', 'client', '--cn-from', slash, '--out', 'x4', ...I, '--passphrase-file', pw]],
      ['NAMES_EMPTY', ['issue', 'client', '--cn-from', empty, '--out', 'x4', ...I, '--passphrase-file', pw]],
      [
        'OUTPUT_EXISTS',
        ['issue', 'client', '--cn-from', clash, '--out', 'occupied-fleet', ...I, '--passphrase-file', pw],
      ],
      [
        'DAYS_BEYOND_ISSUER',
        [
          'issue',
          'client',
          '--cn-from',
          clash,
          '--days',
          '4000',
          '--out',
          'x4',
          ...I,
          '--passphrase-file',
          pw,
        ],
      ],
      [
        'KEY_PASSPHRASE_WRONG',
        ['issue', 'client', '--cn-from', clash, '--out', 'x4', ...I, '--passphrase-file', wrong],
      ],
      ['KEY_TOO_WEAK', ['issue', 'client', '--cn-from', clash, '--key', 'rsa-1024', '--out', 'x4', ...I]],
      ['FILE_NOT_FOUND', ['issue', 'client', '--cn-from', 'nothing.txt', '--out', 'x4', ...I]],
      ['USAGE', ['issue', 'client', '--cn', 'u4', '--cn-from', clash, '--out', 'x4', ...I]],
    ];
    const results = await Promise.all(cases.map(([, args, env]) => cli(args, env)));
    for (const [i, [code]] of cases.entries()) {
      const r = results[i]!;
      assert.equal(r.code, 2, `${code}: exit ${r.code}\n${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(`^error\\[${code}\\]: could not `, 'm'),
        `${cases[i]![1].join(' ')}\n${r.stderr}`,
      );
      assert.match(r.stderr, /^hint: /m, code);
    }
    assert.equal(hashDir(caI), beforeI);
    assert.equal(hashDir(caR), beforeR);
    assert.equal(fs.readFileSync(path.join(work, 'occupied/cert.pem'), 'utf8'), 'keep me\n');
    for (const f of ['x1', 'x2.pem', 'x3', 'x4', 'never'])
      assert.equal(fs.existsSync(path.join(work, f)), false, f);
    assert.deepEqual(fs.readdirSync(path.join(work, 'occupied-fleet')), ['alice']);
    assert.equal(fs.readFileSync(path.join(work, 'occupied-fleet/alice/key.pem'), 'utf8'), 'keep me too\n');
    assert.deepEqual(
      fs.readdirSync(work).filter((f) => f.includes('staging')),
      [],
    );
  });
});
