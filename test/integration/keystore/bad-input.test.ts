/**
 * Issue 3, "Bad input": a wrong keystore password, a key that does not match its certificate, a chain that
 * does not link, a truncated or corrupted PKCS#12 or JKS. Each is `error[CODE]` with a hint on stderr,
 * exit 2, and nothing written: an output file that existed keeps its bytes, and no temporary file is left.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.js';
import { openssl, run } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';
import { type IntermediateChain, makeIntermediateChain } from '../../unit/keystore/intermediate.js';

let pki: TestPki;
let chain3: IntermediateChain;
let dir: string;
const f = (name: string) => path.join(dir, name);
const SENTINEL = 'an older file that a failed command must leave alone\n';

/** Runs dbtls and checks the failure contract; `out` (when given) must keep its old content. */
async function refused(args: string[], code: string, message?: RegExp, out?: string): Promise<void> {
  if (out) fs.writeFileSync(out, SENTINEL);
  const r = await runCli(out ? [...args, '--out', out] : args);
  const what = `${args.slice(0, 2).join(' ')} -> ${code}`;
  assert.equal(r.code, 2, `${what}: ${r.stderr}`);
  assert.match(r.stderr, new RegExp(`^error\\[${code}\\]: could not [^\\n]+\\nhint: \\S`), what);
  if (message) assert.match(r.stderr, message, what);
  assert.equal(r.stdout, '', what);
  if (out) assert.equal(fs.readFileSync(out, 'utf8'), SENTINEL, `${what}: ${out} was replaced`);
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')),
    [],
  );
}

/** A copy of `src` changed by `edit` (in place, or by returning other bytes). */
function corrupt(src: string, name: string, edit: (b: Buffer) => Buffer | undefined): string {
  const out = f(name);
  const bytes = Buffer.from(fs.readFileSync(src));
  fs.writeFileSync(out, edit(bytes) ?? bytes);
  return out;
}

before(async () => {
  pki = await makeTestPki();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-keystore-bad-'));
  chain3 = await makeIntermediateChain(pki, dir);
  fs.writeFileSync(f('pw'), 'Store-Secret-1\n', { mode: 0o600 });
  fs.writeFileSync(f('wrong.pw'), 'not-it\n', { mode: 0o600 });
  fs.writeFileSync(f('empty.pw'), '', { mode: 0o600 });
  for (const format of ['p12', 'jks']) {
    const r = await runCli([
      'export',
      format,
      '--cert',
      pki.client.cert,
      '--key',
      pki.client.key,
      '--chain',
      pki.ca,
      '--alias',
      'app',
      '--password-file',
      f('pw'),
      '--out',
      f(`good.${format}`),
    ]);
    assert.equal(r.code, 0, r.stderr);
  }
  // An encrypted key (PKCS#8, AES-256) for the passphrase cases.
  const enc = await openssl([
    'pkcs8',
    '-topk8',
    '-in',
    pki.client.key,
    '-out',
    f('enc.key'),
    '-v2',
    'aes-256-cbc',
    '-passout',
    'pass:key-pass',
  ]);
  assert.equal(enc.code, 0, enc.stderr);
  fs.writeFileSync(f('key-pass'), 'key-pass\n');
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('keystore show refuses what it cannot read', () => {
  const show = (file: string, passwordFile = f('pw')) => [
    'keystore',
    'show',
    file,
    '--password-file',
    passwordFile,
  ];

  it('wrong password, PKCS#12 and JKS', async () => {
    await refused(show(f('good.p12'), f('wrong.pw')), 'KEYSTORE_PASSWORD_WRONG', /password is wrong/);
    await refused(show(f('good.jks'), f('wrong.pw')), 'KEYSTORE_PASSWORD_WRONG', /password is wrong/);
  });

  it('truncated PKCS#12 and JKS, at several lengths', async () => {
    for (const format of ['p12', 'jks']) {
      const size = fs.statSync(f(`good.${format}`)).size;
      for (const keep of [0, 3, 40, Math.floor(size / 2), size - 1]) {
        const cut = corrupt(f(`good.${format}`), `cut-${keep}.${format}`, (b) => b.subarray(0, keep));
        await refused(show(cut), 'KEYSTORE_MALFORMED', /truncated|corrupted|neither JKS nor PKCS#12/);
      }
    }
  });

  it('corrupted PKCS#12 and JKS: a broken structure is MALFORMED, altered content fails the integrity check', async () => {
    const p12 = f('good.p12');
    const jks = f('good.jks');
    // The outer SEQUENCE length made too long: the DER no longer fits the file.
    await refused(
      show(
        corrupt(p12, 'len.p12', (b) => {
          b[3]! += 1;
          return undefined;
        }),
      ),
      'KEYSTORE_MALFORMED',
    );
    // JKS entry count 2^31: the entries run past the end of the file.
    await refused(
      show(
        corrupt(jks, 'count.jks', (b) => {
          b.writeUInt32BE(0x7fffffff, 8);
          return undefined;
        }),
      ),
      'KEYSTORE_MALFORMED',
    );
    // JKS version 7 does not exist.
    await refused(
      show(
        corrupt(jks, 'version.jks', (b) => {
          b.writeUInt32BE(7, 4);
          return undefined;
        }),
      ),
      'KEYSTORE_MALFORMED',
    );
    // One byte flipped in the middle (inside the encrypted certificates, or a certificate's bytes): the
    // structure still parses and the MAC / the SHA-1 integrity digest catches it.
    for (const file of [p12, jks]) {
      const middle = Math.floor(fs.statSync(file).size / 2);
      const flipped = corrupt(file, `flip-${path.basename(file)}`, (b) => {
        b[middle]! ^= 0x01;
        return undefined;
      });
      await refused(show(flipped), 'KEYSTORE_PASSWORD_WRONG', /or the file was altered/);
    }
  });

  it('not a keystore at all: a PEM certificate, an empty file', async () => {
    await refused(show(pki.ca), 'KEYSTORE_MALFORMED', /neither JKS nor PKCS#12/);
    fs.writeFileSync(f('empty.p12'), '');
    await refused(show(f('empty.p12')), 'KEYSTORE_MALFORMED');
  });
});

describe('export refuses bad material before writing anything', () => {
  const exportArgs = (format: 'p12' | 'jks', cert: string, key: string, ...more: string[]) => [
    'export',
    format,
    '--cert',
    cert,
    '--key',
    key,
    '--alias',
    'app',
    '--password-file',
    f('pw'),
    ...more,
  ];

  it('a key that does not match the certificate', async () => {
    for (const format of ['p12', 'jks'] as const) {
      await refused(
        exportArgs(format, pki.client.cert, pki.server.key),
        'KEY_MISMATCH',
        /does not belong to this certificate/,
        f(`mismatch.${format}`),
      );
    }
  });

  it('a chain that does not link: an unrelated CA, or the intermediate left out', async () => {
    await refused(
      exportArgs('jks', pki.client.cert, pki.client.key, '--chain', pki.otherCa),
      'CHAIN_BROKEN',
      /dbtls Other Root CA does not link to dbtls_client/,
      f('unrelated.jks'),
    );
    await refused(
      exportArgs('p12', chain3.leaf, chain3.leafKey, '--chain', pki.ca),
      'CHAIN_BROKEN',
      /does not link to chain3_client \(issued by dbtls test intermediate\)/,
      f('gap.p12'),
    );
  });

  it('a truncated certificate or key file', async () => {
    const pem = fs.readFileSync(pki.client.cert, 'utf8');
    fs.writeFileSync(f('cut-cert.pem'), `${pem.slice(0, 200)}\n-----END CERTIFICATE-----\n`);
    await refused(
      exportArgs('p12', f('cut-cert.pem'), pki.client.key),
      'CERT_MALFORMED',
      undefined,
      f('cc.p12'),
    );
    const key = fs.readFileSync(pki.client.key, 'utf8');
    fs.writeFileSync(f('cut-key.pem'), `${key.slice(0, 80)}\n-----END PRIVATE KEY-----\n`);
    await refused(
      exportArgs('jks', pki.client.cert, f('cut-key.pem')),
      'KEY_MALFORMED',
      undefined,
      f('ck.jks'),
    );
  });

  it('an encrypted key without its passphrase, or with a wrong one', async () => {
    await refused(
      exportArgs('p12', pki.client.cert, f('enc.key')),
      'KEY_PASSPHRASE_REQUIRED',
      /--key-passphrase-file/,
      f('e1.p12'),
    );
    await refused(
      exportArgs('p12', pki.client.cert, f('enc.key'), '--key-passphrase-file', f('wrong.pw')),
      'KEY_PASSPHRASE_WRONG',
      undefined,
      f('e2.p12'),
    );
    const ok = await runCli([
      ...exportArgs('p12', pki.client.cert, f('enc.key'), '--key-passphrase-file', f('key-pass')),
      '--out',
      f('e3.p12'),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('passwords: empty store or key password, none at all', async () => {
    const base = ['export', 'jks', '--cert', pki.client.cert, '--key', pki.client.key, '--alias', 'app'];
    await refused([...base, '--password-file', f('empty.pw')], 'PASSWORD_EMPTY', undefined, f('p1.jks'));
    await refused(
      [...base, '--password-file', f('pw'), '--key-password-file', f('empty.pw')],
      'PASSWORD_EMPTY',
      /key password/,
      f('p2.jks'),
    );
    await refused(base, 'PASSWORD_REQUIRED', undefined, f('p3.jks'));
  });

  it('a truststore of a leaf certificate, or with no CA', async () => {
    const args = ['export', 'truststore', '--format', 'jks', '--password-file', f('pw')];
    await refused([...args, '--ca', pki.server.cert], 'CERT_NOT_CA', /not a CA certificate/, f('t1.jks'));
    await refused(args, 'USAGE', /--ca is required/, f('t2.jks'));
  });
});

describe('keystore show quotes what a handed-over keystore says', () => {
  it('an alias keytool stored with a newline (a forged field line) and an ANSI escape stays on its line, escaped', async () => {
    const file = f('hostile-alias.jks');
    // keytool lower-cases an alias as Java does.
    const alias = 'evil\n  subject: /CN=trusted root \u001b[31mx';
    const made = await run('keytool', [
      '-importcert',
      '-noprompt',
      '-storetype',
      'JKS',
      '-keystore',
      file,
      '-storepass',
      'changeit',
      '-alias',
      alias,
      '-file',
      pki.ca,
    ]);
    assert.equal(made.code, 0, made.stderr);
    fs.writeFileSync(f('changeit.pw'), 'changeit\n');
    const r = await runCli(['keystore', 'show', file, '--password-file', f('changeit.pw')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}alias: {3}evil\\x0a {2}subject: \/cn=trusted root \\x1b\[31mx$/m);
    assert.equal(r.stdout.match(/^ {2}subject: /gm)?.length, 1, 'one subject line: its certificate');
    assert.doesNotMatch(r.stdout, /\u001b/);
  });
});
