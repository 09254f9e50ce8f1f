/**
 * An output path that cannot be written is refused before anything is issued (issue, csr, sign, renew):
 * a file where the directory goes, a file inside the path, a directory this user may not write, a missing
 * directory for a file. Each is exit 2 with its own code and a hint, no stack trace, the CA directory
 * byte-identical and no file written; it was a WRITE_FAILED (exit 3) with a raw errno after signing. An
 * empty value for any option naming a file or directory is USAGE: `--out ''` wrote into the current
 * directory, `crl --out ''` and `--ca-dir ''` fell back to the default.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPathOption } from '../../../src/cli/command.js';
import { allCommands, run } from '../../../src/cli/main.js';
import { runCli } from '../../harness/cli.js';
import { hashTree } from '../../harness/tree.js';
import { capture } from '../../unit/cli/capture.js';

/** root writes anywhere through CAP_DAC_OVERRIDE: dbtls runs without it, as an ordinary user would. */
const AS_USER = process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search'] : [];

let work: string;
const at = (...parts: string[]) => path.join(work, ...parts);
const CA = () => ['--ca-dir', at('ca')];

async function ok(args: string[]) {
  const r = await runCli(args, { cwd: work });
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
}

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-out-paths-'));
  await ok(['ca', 'init', '--no-passphrase', ...CA()]);
  await ok(['issue', 'client', '--cn', 'app', '--out', at('app'), ...CA()]);
  await ok(['issue', 'client', '--cn', 'bob', '--out', at('bob'), ...CA()]);
  await ok(['csr', '--cn', 'node2.example.com', '--out', at('node2')]);
  fs.writeFileSync(at('afile'), 'not a directory\n');
  fs.writeFileSync(at('names'), 'carol\n');
  execFileSync('mkfifo', [at('fifo')]);
  fs.mkdirSync(at('ro'), { mode: 0o555 });
  fs.chmodSync(at('ro'), 0o555);
  // A renewal target that holds another user's certificate: renewing app and bob into fleet/ must stop
  // at fleet/bob before app is renewed.
  fs.mkdirSync(at('fleet', 'bob'), { recursive: true });
  fs.copyFileSync(at('app', 'cert.pem'), at('fleet', 'bob', 'cert.pem'));
});
after(() => {
  fs.chmodSync(at('ro'), 0o755);
  fs.rmSync(work, { recursive: true, force: true });
});

/** [argv, code, the message after `error[CODE]: `] */
type Case = readonly [argv: string[], code: string, message: RegExp];

const cases = (): Case[] => [
  // issue: the directory of cert.pem, key.pem, chain.pem and ca.pem
  ...(['server', 'client'] as const).flatMap((profile): Case[] => {
    const issue = ['issue', profile, '--cn', 'db1.example.com', ...CA()];
    return [
      [[...issue, '--out', at('afile')], 'OUTPUT_EXISTS', /it is a file, not a directory/],
      [[...issue, '--out', at('fifo')], 'OUTPUT_EXISTS', /it is a device, FIFO or socket, not a directory/],
      [[...issue, '--out', at('afile', 'db1')], 'NOT_A_DIRECTORY', /a part of the path is a file/],
      [[...issue, '--out', at('ro')], 'PERMISSION_DENIED', /ro: this user may not write in it$/m],
      [
        [...issue, '--out', at('ro', 'db1')],
        'PERMISSION_DENIED',
        /ro\/db1: this user may not write in .*ro$/m,
      ],
      [[...issue, '--out', at('ro', 'a', 'b')], 'PERMISSION_DENIED', /this user may not write in .*ro$/m],
      [[...issue, '--out', ''], 'USAGE', /^could not parse the arguments: --out is empty$/m],
      [[...issue, '--out='], 'USAGE', /^could not parse the arguments: --out is empty$/m],
    ];
  }),
  [['issue', 'client', '--cn-from', at('names'), '--out', at('ro'), ...CA()], 'PERMISSION_DENIED', /ro:/],
  [['issue', 'client', '--cn-from', at('names'), '--out', at('afile'), ...CA()], 'OUTPUT_EXISTS', /a file/],
  [['issue', 'client', '--cn-from', at('names'), '--out', '', ...CA()], 'USAGE', /--out is empty/],
  // csr: the key is made for nowhere if the directory cannot take it
  [['csr', '--cn', 'n3', '--out', at('ro', 'n3')], 'PERMISSION_DENIED', /this user may not write/],
  [['csr', '--cn', 'n3', '--out', at('afile')], 'OUTPUT_EXISTS', /it is a file, not a directory/],
  [['csr', '--cn', 'n3', '--out', ''], 'USAGE', /--out is empty/],
  // sign: one file, or a directory of <CN>.pem
  ...[[], ['--dry-run']].flatMap((dry): Case[] => {
    const sign = ['sign', at('node2', 'csr.pem'), '--profile', 'server', ...dry, ...CA()];
    return [
      [[...sign, '--out', at('ro', 'c.pem')], 'PERMISSION_DENIED', /c\.pem: this user may not/],
      [
        [...sign, '--out', at('missing', 'c.pem')],
        'OUTPUT_INVALID',
        /the directory .*missing does not exist/,
      ],
      [[...sign, '--out', at('afile', 'c.pem')], 'NOT_A_DIRECTORY', /a part of the path is a file/],
      [[...sign, '--out', ''], 'USAGE', /--out is empty/],
      [[...sign, '--out-dir', at('ro')], 'PERMISSION_DENIED', /this user may not write in it/],
      [[...sign, '--out-dir', at('afile')], 'OUTPUT_EXISTS', /it is a file, not a directory/],
      [[...sign, '--out-dir', at('afile', 'x')], 'NOT_A_DIRECTORY', /a part of the path is a file/],
      [[...sign, '--out-dir', ''], 'USAGE', /--out-dir is empty/],
    ];
  }),
  // renew: into the directory of the certificate renewed
  ...[[], ['--dry-run']].flatMap((dry): Case[] => {
    const renew = ['renew', '--cn', 'app', ...dry, ...CA()];
    return [
      [[...renew, '--out', at('ro')], 'PERMISSION_DENIED', /this user may not write in it/],
      [[...renew, '--out', at('ro', 'app')], 'PERMISSION_DENIED', /this user may not write in .*ro$/m],
      [[...renew, '--out', at('afile')], 'OUTPUT_EXISTS', /it is a file, not a directory/],
      [[...renew, '--out', at('afile', 'app')], 'NOT_A_DIRECTORY', /a part of the path is a file/],
      [[...renew, '--out', ''], 'USAGE', /--out is empty/],
      [
        [...renew, '--out', at('bob')],
        'OUTPUT_EXISTS',
        /it holds the certificate of "bob", not one of "app"/,
      ],
      [
        ['renew', '--expiring-within', '36500', '--out', at('fleet'), ...dry, ...CA()],
        'OUTPUT_EXISTS',
        /fleet\/bob: it holds the certificate of "app", not one of "bob"/,
      ],
    ];
  }),
];

describe('an output path that cannot be written: exit 2 before anything is issued', () => {
  it('refuses each with its code and a hint; the CA and every file are as they were', async () => {
    const index = () => fs.readFileSync(at('ca', 'index.jsonl'));
    const certs = () => fs.readdirSync(at('ca', 'certs')).sort();
    const indexBefore = index();
    const certsBefore = certs();
    // Every case runs and every miss is listed, so that one failure does not hide the others.
    const wrong: string[] = [];
    for (const [argv, code, message] of cases()) {
      const shown = JSON.stringify(argv.map((a) => a.replace(work, '$WORK')));
      const caBefore = hashTree(at('ca'));
      const before = hashTree(work);
      const r = await runCli(argv, { cwd: work, prefix: AS_USER });
      const [first = '', second = ''] = r.stderr.split('\n');
      const checks: [boolean, string][] = [
        [r.code === 2, `exit ${r.code}`],
        [r.stdout === '', 'something on stdout'],
        [first.startsWith(`error[${code}]: could not `), `not ${code}`],
        [message.test(first.replace(/^error\[\w+\]: /, '')), `not ${message}`],
        [/^hint: \S/.test(second), 'no hint'],
        [!/\n\s+at |EACCES|ENOENT|ENOTDIR/.test(r.stderr), 'a stack trace or an errno'],
        [hashTree(at('ca')) === caBefore, 'the CA directory changed'],
        [hashTree(work) === before, 'a file was written'],
      ];
      const missed = checks.filter(([good]) => !good).map(([, what]) => what);
      if (missed.length > 0) wrong.push(`${shown}: ${missed.join('; ')}\n  ${r.stderr.trim()}`);
    }
    assert.deepEqual(wrong, []);
    assert.deepEqual(index(), indexBefore, 'the CA index is byte-identical');
    assert.deepEqual(certs(), certsBefore, 'no certificate was added to certs/');
  });

  it('still creates a new --out with its missing parents, as before', async () => {
    await ok(['issue', 'client', '--cn', 'dave', '--out', at('new', 'deep', 'dave'), ...CA()]);
    assert.ok(fs.existsSync(at('new', 'deep', 'dave', 'key.pem')));
  });
});

describe('an empty value for an option naming a file or directory', () => {
  it('is USAGE naming the option, in every command, before the command runs', async () => {
    const home = process.cwd();
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-out-paths-empty-'));
    process.chdir(empty);
    try {
      const seen: string[] = [];
      for (const command of await allCommands()) {
        for (const [option, def] of Object.entries(command.options ?? {})) {
          if (!isPathOption(option, def)) continue;
          for (const argv of [
            [...command.name, `--${option}`, ''],
            [...command.name, `--${option}=`],
          ]) {
            const { out, render } = capture();
            const code = await run(argv, render);
            const shown = JSON.stringify(argv);
            assert.equal(code, 2, `${shown}: exit ${code}\n${out.stderr}`);
            // --profile-file is global: main.ts takes it off the command line first, with its own words.
            const why = option === 'profile-file' ? 'needs a value' : 'is empty';
            assert.match(
              out.stderr,
              new RegExp(`^error\\[USAGE\\]: could not parse the arguments: --${option} ${why}\\n`),
              shown,
            );
            assert.match(out.stderr, new RegExp(`\\nhint: (give|write) --${option} `), shown);
            assert.equal(out.stdout, '', shown);
          }
          seen.push(`${command.name.join(' ')} --${option}`);
        }
      }
      assert.deepEqual(fs.readdirSync(empty), [], 'nothing was written in the current directory');
      for (const must of [
        'issue server --out',
        'sign --out-dir',
        'renew --out',
        'crl --out',
        'list --ca-dir',
      ]) {
        assert.ok(seen.includes(must), `${must} is a path option`);
      }
    } finally {
      process.chdir(home);
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
