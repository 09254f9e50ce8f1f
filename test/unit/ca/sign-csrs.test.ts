/**
 * Signing many CSRs at once (`signCsrs`, `dbtls sign CSR... --out-dir`): the same checks as one CSR,
 * all or none, one journal. openssl is the oracle for the certificates.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { type CsrInput, checkCsrs, signCsrs } from '../../../src/ca/sign-csrs.js';
import type { Ca } from '../../../src/ca/store.js';
import { isDbtlsError } from '../../../src/errors.js';
import { createCsr, parseCsr, parseCsrAsync } from '../../../src/pki/csr.js';
import { generateKeyMaterial } from '../../../src/pki/keys.js';

let dir: string;
let ca: Ca;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-sign-csrs-'));
  ca = initCa(path.join(dir, 'ca'), { passphrase: undefined, intermediate: true });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function csrFor(
  cn: string,
  key: 'ec-p256' | 'ec-p384' | 'rsa-2048' = 'ec-p256',
): CsrInput & { spki: Buffer } {
  const material = generateKeyMaterial(key);
  const text = createCsr({
    subject: [{ type: 'CN', value: cn }],
    dnsNames: cn.startsWith('.') ? [] : [cn],
    privateKey: material.privateKey,
  });
  return { name: `${cn}.csr`, text, spki: material.spki };
}

/** The CSR with one byte of its signed part changed (the signature no longer matches). */
function tampered(text: string | Buffer, cn: string): string {
  const der = Buffer.from(
    text
      .toString()
      .replace(/-----[^-]+-----/g, '')
      .replace(/\s/g, ''),
    'base64',
  );
  const at = der.indexOf(Buffer.from(cn, 'latin1'));
  assert.ok(at > 0);
  der[at] = 'x'.charCodeAt(0);
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
}

/** What the CA directory holds: the index, certs/ and anything else, to compare before and after a failure. */
function snapshot(): string {
  const files = (fs.readdirSync(ca.dir, { recursive: true }) as string[]).sort();
  return JSON.stringify([files, fs.readFileSync(path.join(ca.dir, 'index.jsonl'), 'utf8')]);
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(isDbtlsError(err), String(err));
    return { code: err.code, message: err.message };
  }
  assert.fail('expected a DbtlsError');
}

test('parseCsrAsync reads what parseCsr reads and refuses what it refuses, with the same codes', async () => {
  for (const key of ['ec-p256', 'ec-p384', 'rsa-2048'] as const) {
    const { text } = csrFor(`async-${key}.example.com`, key);
    const a = await parseCsrAsync(text);
    const s = parseCsr(text);
    assert.deepEqual(
      { ...a, publicKey: a.publicKey.export({ format: 'jwk' }) },
      { ...s, publicKey: s.publicKey.export({ format: 'jwk' }) },
    );
    assert.equal(
      (await codeOf(parseCsrAsync(tampered(text, `async-${key}`)))).code,
      'CSR_SIGNATURE_INVALID',
      key,
    );
  }
  assert.equal((await codeOf(parseCsrAsync('not a csr'))).code, 'CSR_MALFORMED');
});

test('200 CSRs: every certificate verifies with openssl, certifies its CSR key, and is recorded once', async () => {
  const csrs = Array.from({ length: 200 }, (_, i) => csrFor(`db${i}.fleet.example.com`));
  const before = readIndex(ca.dir).length;
  const outDir = path.join(dir, 'fleet');
  const { certificates, resumed } = await signCsrs(ca, csrs, { profile: 'server', outDir });
  assert.equal(resumed, undefined);
  assert.equal(certificates.length, 200);
  const index = readIndex(ca.dir);
  assert.equal(index.length, before + 200);
  const bySerial = new Map(index.map((e) => [e.serial, e]));
  certificates.forEach((c, i) => {
    assert.equal(c.name, csrs[i]!.name, 'input order');
    assert.equal(c.file, path.join(outDir, `db${i}.fleet.example.com.pem`));
    assert.equal(fs.readFileSync(c.file!, 'utf8'), c.chainPem);
    assert.equal(fs.statSync(c.file!).mode & 0o777, 0o644);
    const cert = new X509Certificate(c.certPem);
    assert.equal(cert.subjectAltName, `DNS:db${i}.fleet.example.com`);
    assert.ok(cert.publicKey.export({ format: 'der', type: 'spki' }).equals(csrs[i]!.spki), 'the CSR key');
    assert.equal(bySerial.get(c.entry.serial)?.status, 'valid');
    assert.equal(fs.readFileSync(path.join(ca.dir, 'certs', `${c.entry.serial}.pem`), 'utf8'), c.certPem);
  });
  const root = path.join(ca.dir, 'root.pem');
  for (const i of [0, 99, 199]) {
    const out = execFileSync(
      'openssl',
      ['verify', '-CAfile', root, '-untrusted', certificates[i]!.file!, certificates[i]!.file!],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(out.trim(), `${certificates[i]!.file}: OK`);
  }
  assert.deepEqual(
    fs.readdirSync(outDir).filter((f) => f.startsWith('.')),
    [],
    'no staging directory left',
  );
  assert.equal(fs.existsSync(path.join(ca.dir, 'pending.json')), false);
});

test('one bad CSR among 100: its code and its name, and nothing changed in the CA or --out-dir', async () => {
  const csrs: CsrInput[] = Array.from({ length: 100 }, (_, i) => csrFor(`db${i}.bad.example.com`));
  const cases: [CsrInput, string, RegExp][] = [
    [
      { name: 'broken.csr', text: tampered(csrs[0]!.text, 'db0.bad') },
      'CSR_SIGNATURE_INVALID',
      /the CSR "broken\.csr"/,
    ],
    [{ name: 'empty.csr', text: '' }, 'CSR_MALFORMED', /the CSR "empty\.csr"/],
    [
      csrFor('db1.bad.example.com'),
      'CN_DUPLICATE',
      /"db1\.bad\.example\.com\.csr" and "db1\.bad\.example\.com\.csr"/,
    ],
    [csrFor('.hidden'), 'CN_INVALID', /"\.hidden\.csr"/],
  ];
  for (const [bad, code, message] of cases) {
    const list = [...csrs.slice(0, 60), bad, ...csrs.slice(60)];
    const was = snapshot();
    const outDir = path.join(dir, `bad-${code}`);
    const failure = await codeOf(
      signCsrs(ca, list, { profile: code === 'CN_INVALID' ? 'client' : 'server', outDir }),
    );
    assert.equal(failure.code, code, failure.message);
    assert.match(failure.message, message);
    assert.equal(snapshot(), was, `${code}: the CA is unchanged`);
    assert.equal(fs.existsSync(outDir), false, `${code}: nothing written`);
  }
});

test('a certificate file that exists already: OUTPUT_EXISTS before anything is signed', async () => {
  const outDir = path.join(dir, 'taken');
  fs.mkdirSync(outDir);
  fs.writeFileSync(path.join(outDir, 'db2.taken.example.com.pem'), 'mine\n');
  const csrs = [0, 1, 2, 3].map((i) => csrFor(`db${i}.taken.example.com`));
  const was = snapshot();
  assert.equal((await codeOf(signCsrs(ca, csrs, { profile: 'server', outDir }))).code, 'OUTPUT_EXISTS');
  assert.equal(snapshot(), was);
  assert.deepEqual(fs.readdirSync(outDir), ['db2.taken.example.com.pem']);
  assert.equal(fs.readFileSync(path.join(outDir, 'db2.taken.example.com.pem'), 'utf8'), 'mine\n');
});

test('checkCsrs resolves in input order with one validity period for the run', async () => {
  const csrs = [0, 1, 2].map((i) => csrFor(`db${i}.check.example.com`));
  const now = new Date();
  const leaves = await checkCsrs(ca, csrs, { profile: 'server', days: 30, now });
  assert.deepEqual(
    leaves.map((l) => l.cn),
    ['db0.check.example.com', 'db1.check.example.com', 'db2.check.example.com'],
  );
  assert.equal(new Set(leaves.map((l) => l.notAfter.getTime())).size, 1);
});

test('progress: signing reported below the total, then the total once, after the run is recorded', async () => {
  const csrs = Array.from({ length: 40 }, (_, i) => csrFor(`progress${i}.example.com`));
  const seen: [number, number, number][] = []; // done, total, index lines at that moment
  const lines = () => readIndex(ca.dir).length;
  const before = lines();
  await signCsrs(ca, csrs, {
    profile: 'server',
    onProgress: (done, total) => seen.push([done, total, lines()]),
  });
  assert.deepEqual(
    seen.map(([done, total]) => [done, total]),
    [
      [16, 40],
      [32, 40],
      [40, 40],
    ],
  );
  assert.equal(seen.at(-1)![2], before + 40, 'the total is reported once the index holds every line');
  assert.ok(
    seen.slice(0, -1).every(([, , n]) => n === before),
    'nothing recorded while signing',
  );
});
