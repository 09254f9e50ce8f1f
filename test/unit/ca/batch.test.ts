/**
 * Batch issuance (src/ca/batch.ts) in this thread and with a worker thread, the index commit it relies
 * on (appendIndex: whole lines only, a torn tail cut off), and what a failure mid-batch leaves.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { issueClientBatch, WORKERS_AVAILABLE } from '../../../src/ca/batch.js';
import { appendIndex, type IndexEntry, readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import type { Ca } from '../../../src/ca/store.js';
import { parseCertificate, parseCertificates } from '../../../src/pki/certificate.js';
import { publicKeyDer, readPrivateKey } from '../../../src/pki/keys.js';

const NOW = new Date('2026-03-01T12:00:00Z');
let dir: string;
let ca: Ca;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-batch-unit-'));
  ca = initCa(path.join(dir, 'ca'), { passphrase: 'pass phrase', intermediate: true, now: NOW });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}_${i}`);
const mode = (file: string) => fs.statSync(file).mode & 0o777;
/** Everything under dir whose name starts with a dot (staging directories), recursively. */
const hidden = (root: string) =>
  (fs.readdirSync(root, { recursive: true }) as string[]).filter((p) => path.basename(p).startsWith('.'));

describe('issueClientBatch', () => {
  const needsWorkers = (threads: number) =>
    threads > 0 && !WORKERS_AVAILABLE ? 'worker threads run the compiled tests only (npm test)' : false;
  for (const threads of [0, 1, 2]) {
    const name = `${threads} worker thread(s): every leaf in place, in the index, in input order`;
    test(name, { skip: needsWorkers(threads) }, async () => {
      const out = path.join(dir, `fleet-${threads}`);
      const cns = names(`t${threads}`, 70);
      const before = readIndex(ca.dir).length;
      const r = await issueClientBatch(ca, cns, { outDir: out, threads, now: NOW });
      assert.deepEqual(
        r.entries.map((e) => e.cn),
        cns,
      );
      assert.deepEqual(
        r.dirs,
        cns.map((cn) => path.join(out, cn)),
      );
      const index = readIndex(ca.dir);
      assert.deepEqual(index.slice(before), r.entries);
      assert.equal(new Set(index.map((e) => e.serial)).size, index.length);
      for (const [n, cn] of cns.entries()) {
        const leaf = path.join(out, cn);
        assert.deepEqual(fs.readdirSync(leaf).sort(), ['ca.pem', 'cert.pem', 'chain.pem', 'key.pem']);
        const cert = parseCertificate(fs.readFileSync(path.join(leaf, 'cert.pem')));
        assert.equal(cert.serial, r.entries[n]!.serial);
        assert.equal(cert.fingerprint, r.entries[n]!.fingerprint);
        assert.equal(cert.subject, `/O=dbtls/CN=${cn}`);
        assert.deepEqual(cert.extendedKeyUsage, ['clientAuth']);
        const chain = parseCertificates(fs.readFileSync(path.join(leaf, 'chain.pem')));
        assert.deepEqual(
          chain.map((c) => c.subject),
          [cert.subject, ca.intermediate!.subject],
        );
        assert.equal(fs.readFileSync(path.join(leaf, 'ca.pem'), 'utf8'), ca.root.pem);
        const key = readPrivateKey(fs.readFileSync(path.join(leaf, 'key.pem')));
        assert.deepEqual(publicKeyDer(key), cert.spki);
        assert.equal(
          fs.readFileSync(path.join(ca.dir, 'certs', `${cert.serial}.pem`), 'utf8'),
          fs.readFileSync(path.join(leaf, 'cert.pem'), 'utf8'),
        );
      }
      assert.deepEqual(hidden(out), []);
      assert.equal(fs.existsSync(path.join(ca.dir, '.lock')), false);
    });
  }

  test('key files are 0600 and certificates 0644 whatever the umask; nothing shared across users', async () => {
    const old = process.umask(0o077);
    let r: Awaited<ReturnType<typeof issueClientBatch>>;
    try {
      r = await issueClientBatch(ca, ['m1', 'm2'], { outDir: path.join(dir, 'modes'), threads: 1 });
    } finally {
      process.umask(old);
    }
    for (const leaf of r.dirs) {
      assert.equal(mode(path.join(leaf, 'key.pem')), 0o600);
      for (const f of ['cert.pem', 'chain.pem', 'ca.pem']) assert.equal(mode(path.join(leaf, f)), 0o644, f);
      // a chown of one user's directory must not reach the CA or another user: nothing shared
      for (const f of ['key.pem', 'cert.pem', 'chain.pem', 'ca.pem']) {
        assert.equal(fs.statSync(path.join(leaf, f)).nlink, 1, f);
      }
    }
    assert.equal(fs.statSync(path.join(ca.dir, 'certs', `${r.entries[0]!.serial}.pem`)).nlink, 1);
    // without an intermediate, chain.pem is cert.pem: the one link, inside the user's own directory
    const plain = initCa(path.join(dir, 'ca-plain'), { passphrase: undefined, now: NOW });
    const p = await issueClientBatch(plain, ['p1', 'p2'], { outDir: path.join(dir, 'plain'), threads: 1 });
    for (const leaf of p.dirs) {
      const cert = fs.statSync(path.join(leaf, 'cert.pem'));
      const chain = fs.statSync(path.join(leaf, 'chain.pem'));
      assert.equal(chain.ino, cert.ino);
      assert.equal(cert.nlink, 2);
      assert.equal(fs.statSync(path.join(leaf, 'ca.pem')).nlink, 1);
    }
    assert.notEqual(
      fs.statSync(path.join(p.dirs[0]!, 'ca.pem')).ino,
      fs.statSync(path.join(p.dirs[1]!, 'ca.pem')).ino,
    );
  });

  test('into an existing --out: new names are added, an empty directory is taken, others refused', async () => {
    const out = path.join(dir, 'existing');
    fs.mkdirSync(path.join(out, 'empty'), { recursive: true });
    fs.mkdirSync(path.join(out, 'busy'));
    fs.writeFileSync(path.join(out, 'busy', 'notes.txt'), 'mine\n');
    fs.writeFileSync(path.join(out, 'file'), 'mine\n');
    const before = readIndex(ca.dir).length;
    await assert.rejects(issueClientBatch(ca, ['x1', 'busy'], { outDir: out }), {
      code: 'OUTPUT_EXISTS',
      message: /busy: the directory is not empty/,
    });
    await assert.rejects(issueClientBatch(ca, ['file'], { outDir: out }), { code: 'OUTPUT_EXISTS' });
    await assert.rejects(issueClientBatch(ca, ['x'], { outDir: path.join(out, 'file') }), {
      code: 'OUTPUT_EXISTS',
    });
    assert.equal(readIndex(ca.dir).length, before);
    const r = await issueClientBatch(ca, ['empty', 'fresh'], { outDir: out });
    assert.equal(r.entries.length, 2);
    assert.deepEqual(fs.readdirSync(out).sort(), ['busy', 'empty', 'file', 'fresh']);
    assert.equal(fs.readFileSync(path.join(out, 'busy', 'notes.txt'), 'utf8'), 'mine\n');
    assert.ok(fs.existsSync(path.join(out, 'empty', 'key.pem')));
  });

  test('a failure mid-batch records nothing and leaves no file behind', async () => {
    // certs/ pointing into /proc: every copy fails to be created, even for root
    const broken = initCa(path.join(dir, 'ca-broken'), { passphrase: undefined, now: NOW });
    const certs = path.join(broken.dir, 'certs');
    fs.rmSync(certs, { recursive: true, force: true });
    fs.symlinkSync('/proc/self', certs);
    const index = fs.readFileSync(path.join(broken.dir, 'index.jsonl'));
    for (const threads of WORKERS_AVAILABLE ? [0, 1] : [0]) {
      const out = path.join(dir, `failed-${threads}`);
      await assert.rejects(issueClientBatch(broken, names('f', 40), { outDir: out, threads }), {
        code: 'WRITE_FAILED',
        message: /^could not write the certificate files of f_\d+: /,
      });
      assert.equal(fs.existsSync(out), false, 'no --out directory');
      assert.deepEqual(
        fs.readdirSync(dir).filter((f) => f.includes('staging')),
        [],
      );
      assert.deepEqual(fs.readFileSync(path.join(broken.dir, 'index.jsonl')), index);
      assert.equal(fs.existsSync(path.join(broken.dir, '.lock')), false);
    }
  });
});

describe('appendIndex', () => {
  const entry = (serial: string): IndexEntry => ({
    serial,
    cn: serial,
    subject: `/CN=${serial}`,
    issuer: '/CN=test',
    dnsNames: [],
    ipAddresses: [],
    profile: 'client',
    notBefore: NOW.toISOString(),
    notAfter: NOW.toISOString(),
    status: 'valid',
    fingerprint: '00',
    issuedBy: 'root',
  });

  test('appends whole lines; a torn last line is skipped by readers and cut by the next append', () => {
    const caDir = fs.mkdtempSync(path.join(dir, 'idx-'));
    fs.writeFileSync(path.join(caDir, 'ca.json'), '{}');
    const file = path.join(caDir, 'index.jsonl');
    appendIndex(caDir, [entry('01'), entry('02')]);
    assert.deepEqual(
      readIndex(caDir).map((e) => e.serial),
      ['01', '02'],
    );
    // a crash in the middle of write(2): part of a line, no newline
    fs.appendFileSync(file, JSON.stringify(entry('03')).slice(0, 25));
    assert.deepEqual(
      readIndex(caDir).map((e) => e.serial),
      ['01', '02'],
    );
    appendIndex(caDir, [entry('04')]);
    assert.deepEqual(
      readIndex(caDir).map((e) => e.serial),
      ['01', '02', '04'],
    );
    assert.ok(fs.readFileSync(file, 'utf8').endsWith('}\n'));
    // a complete line that only lacks its newline (a hand edit) is kept
    fs.appendFileSync(file, JSON.stringify(entry('05')));
    appendIndex(caDir, [entry('06')]);
    assert.deepEqual(
      readIndex(caDir).map((e) => e.serial),
      ['01', '02', '04', '05', '06'],
    );
    // a bad line that is not the last one is corruption, not a torn append
    fs.writeFileSync(file, `not json\n${JSON.stringify(entry('07'))}\n`);
    assert.throws(() => readIndex(caDir), { code: 'CA_CORRUPT' });
  });
});
