/**
 * Every hint must work when pasted: an error's hint that names a dbtls command is run by bash, as a user
 * would paste it, with `dbtls` on the PATH, and must do what the hint says. The CA is given as a user
 * would (a directory whose name needs quoting); no database server is needed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { oneLineName } from '../../../src/pki/names.js';
import { dbtlsCommand, runCli } from '../../harness/cli.js';

let dir: string;
let binDir: string;
/** The flow's CA directory, absolute, with a space in its name. */
let caDir: string;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-pasted-'));
  binDir = path.join(dir, 'bin');
  fs.mkdirSync(binDir);
  const [cmd, ...prefix] = dbtlsCommand();
  const words = [cmd!, ...prefix].map((w) => `'${w.replaceAll("'", `'\\''`)}'`).join(' ');
  fs.writeFileSync(path.join(binDir, 'dbtls'), `#!/bin/sh\nexec ${words} "$@"\n`, { mode: 0o755 });
  caDir = path.join(dir, 'my ca');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs a pasted command line in bash in the test directory; returns its stdout. */
function paste(line: string): string {
  return execFileSync('bash', ['--norc', '--noprofile', '-c', line], {
    cwd: dir,
    env: { ...process.env, PATH: `${binDir}:${process.env.PATH}`, DBTLS_CA_PASSPHRASE: '' },
    encoding: 'utf8',
  });
}

/** The refusal of `args`: exit 2 with that code; returns the hint line. */
async function hintOf(args: string[], code: string): Promise<string> {
  const r = await runCli(args, { cwd: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`^error\\[${code}\\]`), r.stderr);
  return r.stderr.split('\n').find((l) => l.startsWith('hint: '))!;
}

/** The backticked command of a hint after `before`. */
function quoted(hint: string, before: string): string {
  const at = hint.indexOf(`${before}\``);
  assert.notEqual(at, -1, hint);
  const start = at + before.length + 1;
  return hint.slice(start, hint.indexOf('`', start));
}

const CA = () => ['--ca-dir', caDir];
const q = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

describe('pasted error hints', () => {
  it('no CA: the ca init it names makes the CA in the directory named', async () => {
    const hint = await hintOf(['list', ...CA()], 'CA_NOT_FOUND');
    assert.equal(
      hint,
      `hint: run \`dbtls ca init --ca-dir ${q(caDir)}\` first, or point --ca-dir / DBTLS_CA_DIR at your CA directory`,
    );
    // Without a terminal to ask for a passphrase, the user adds --no-passphrase (or --passphrase-file).
    assert.match(paste(`${quoted(hint, 'run ')} --no-passphrase`), /^Created a new local CA in /);
    assert.ok(fs.existsSync(path.join(caDir, 'ca.json')));
  });

  it('a subject collision: the revoke it names reaches the same CA', async () => {
    await runCli(['issue', 'client', '--cn', 'alice', '--out', 'alice', ...CA()], { cwd: dir });
    const index = path.join(caDir, 'index.jsonl');
    const [first] = fs.readFileSync(index, 'utf8').trim().split('\n');
    const literal = '\\xC3\\xBCmlaut';
    const subject = oneLineName([
      { type: 'O', value: 'dbtls' },
      { type: 'CN', value: literal },
    ]);
    const serial = '0f'.repeat(16);
    fs.appendFileSync(index, `${JSON.stringify({ ...JSON.parse(first!), serial, cn: literal, subject })}\n`);
    const hint = await hintOf(
      ['issue', 'client', '--cn', 'ümlaut', '--out', 'umlaut', ...CA()],
      'SUBJECT_COLLISION',
    );
    assert.equal(
      hint,
      `hint: choose another CN, or revoke ${serial} first: \`dbtls revoke ${serial} --ca-dir ${q(caDir)}\``,
    );
    assert.match(paste(quoted(hint, 'first: ')), new RegExp(`^Revoked ${serial} `));
    const again = await runCli(['issue', 'client', '--cn', 'ümlaut', '--out', 'umlaut', ...CA()], {
      cwd: dir,
    });
    assert.equal(again.code, 0, again.stderr);
  });

  it('an --out holding a certificate: the renew it names replaces that certificate', async () => {
    const out = path.join(dir, 'alice');
    const before = fs.readFileSync(path.join(out, 'cert.pem'), 'utf8');
    const hint = await hintOf(
      ['issue', 'client', '--cn', 'alice', '--out', 'alice', ...CA()],
      'OUTPUT_EXISTS',
    );
    const serial = /dbtls renew ([0-9a-f]+) /.exec(hint)?.[1];
    assert.equal(
      hint,
      `hint: choose another --out directory, or move the old files away first (to replace its certificate: \`dbtls renew ${serial} --out ${out} --ca-dir ${q(caDir)}\`)`,
    );
    assert.match(
      paste(quoted(hint, 'to replace its certificate: ')),
      new RegExp(`^Renewed \\(from ${serial}\\)`),
    );
    assert.notEqual(fs.readFileSync(path.join(out, 'cert.pem'), 'utf8'), before);
  });

  it('a revoked certificate: the issue it names gives a new one with the same names', async () => {
    const issued = await runCli(
      [
        'issue',
        'server',
        '--cn',
        'db.acme.example',
        '--dns',
        'db1',
        '--ip',
        '10.0.0.7',
        '--out',
        'acme',
        '--json',
        ...CA(),
      ],
      { cwd: dir },
    );
    const { serial } = JSON.parse(issued.stdout) as { serial: string };
    assert.equal((await runCli(['revoke', serial, ...CA()], { cwd: dir })).code, 0);
    const hint = await hintOf(['renew', serial, ...CA()], 'CERT_REVOKED');
    assert.equal(
      hint,
      `hint: issue a new certificate instead: \`dbtls issue server --cn db.acme.example --dns db1 --ip 10.0.0.7 --ca-dir ${q(caDir)}\``,
    );
    const out = paste(quoted(hint, 'instead: '));
    assert.match(
      out,
      /^Created a new server certificate valid for the following names:\n - "db\.acme\.example"\n - "db1"\n - "10\.0\.0\.7"/,
    );
  });

  it('a rollover stage mistyped: the status it names reads the same CA', async () => {
    const hint = await hintOf(['rotate', '--ca-rollover', '--stage', 'bogus', ...CA()], 'USAGE');
    assert.equal(
      hint,
      `hint: choose one of new-ca, trust-both, reissue, retire-old; \`dbtls rotate --ca-rollover --status --ca-dir ${q(caDir)}\` shows the next one`,
    );
    assert.equal(
      paste(quoted(hint, 'retire-old; ')),
      `No CA rollover in progress in ${caDir}.\nTo start one: dbtls rotate --ca-rollover --stage new-ca --ca-dir ${q(caDir)}\n`,
    );
  });

  it('an unknown cloud: the cloud-ca rds it names writes the bundle', async () => {
    const r = await runCli(['cloud-ca', 'gcloud'], { cwd: dir });
    assert.equal(r.code, 2);
    const hint = r.stderr.split('\n').find((l) => l.startsWith('hint: '))!;
    assert.equal(
      hint,
      "hint: use `dbtls cloud-ca rds --out rds-ca.pem`, or build the bundle from your provider's CA files with `dbtls bundle FILE... --out ca-bundle.pem` (docs/cloud.md)",
    );
    assert.match(paste(quoted(hint, 'use ')), /^Wrote rds-ca\.pem: \d+ Amazon RDS CA certificate/);
  });

  it('an incomplete bundle: the bundle show it names lists the file written', async () => {
    const ca2 = path.join(dir, 'int ca');
    await runCli(['ca', 'init', '--intermediate', '--no-passphrase', '--ca-dir', ca2], { cwd: dir });
    const r = await runCli(['bundle', path.join(ca2, 'intermediate.pem'), '--out', 'my bundle.pem'], {
      cwd: dir,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stderr,
      "warning: the bundle is incomplete: add the root CAs to the files given, or check it with `dbtls bundle show 'my bundle.pem'`\n",
    );
    assert.match(
      paste(quoted(r.stderr, 'check it with ')),
      /^my bundle\.pem: 1 certificate\(s\), chain INCOMPLETE/,
    );
  });

  it('a CSR given to cert show: the csr show it names shows that file', async () => {
    await runCli(['csr', '--cn', 'node2.example', '--out', 'node 2'], { cwd: dir });
    const hint = await hintOf(['cert', 'show', 'node 2/csr.pem'], 'CERT_MALFORMED');
    assert.equal(
      hint,
      "hint: it is a certificate signing request: `dbtls csr show 'node 2/csr.pem'` shows it",
    );
    assert.match(paste(quoted(hint, 'request: ')), /^subject: +\/CN=node2\.example/);
  });
});
