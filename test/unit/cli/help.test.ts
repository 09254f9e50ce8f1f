/**
 * Help is generated from the option tables the parser reads (issue 14, item 1): every option of every
 * command is documented, the overview's static table matches the commands, and help loads nothing it
 * does not print.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { impliedValue } from '../../../src/cli/command.js';
import { environmentOf, optionLabel } from '../../../src/cli/help.js';
import { allCommands, COMMANDS, run, VERSION } from '../../../src/cli/main.js';
import { PROJECT_ROOT, runCli } from '../../harness/cli.js';
import { capture } from './capture.js';

describe('dbtls COMMAND --help', () => {
  it('documents every option of every command, with a description, in the help text', async () => {
    const undocumented: string[] = [];
    for (const command of await allCommands()) {
      const name = command.name.join(' ');
      assert.ok(command.options, `dbtls ${name} has no option table`);
      const { out, render } = capture();
      assert.equal(await run([...command.name, '--help'], render), 0, name);
      assert.ok(out.stdout.startsWith(`usage: ${command.usage}\n`), name);
      for (const [option, def] of Object.entries(command.options)) {
        if (!def.description?.trim()) undocumented.push(`dbtls ${name} --${option}`);
        assert.ok(out.stdout.includes(optionLabel(option, def)), `${name}: --${option} not in its help`);
      }
      for (const env of Object.values(command.options).flatMap((o) => o.env ?? [])) {
        assert.ok(out.stdout.includes(env), `${name}: ${env} not in its help`);
      }
      if (/TARGET/.test(command.usage)) assert.match(out.stdout, /TARGET is host\[:port\]/, name);
    }
    assert.deepEqual(undocumented, [], 'options without a description');
  });

  it('names every option of the table in the usage (an old spelling excepted), so the two cannot drift', async () => {
    const missing: string[] = [];
    for (const command of await allCommands()) {
      for (const [option, def] of Object.entries(command.options ?? {})) {
        if (def.renamedTo) continue;
        // `--ca` must not be found inside `--ca-dir`; `-e SQL` names `--execute`.
        const spellings = [`--${option}`, ...(def.short ? [`-${def.short}`] : [])];
        const named = spellings.some((s) => new RegExp(`(^|[\\s\\[(|])${s}(?![\\w-])`).test(command.usage));
        if (!named) missing.push(`dbtls ${command.name.join(' ')} --${option}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('gives every option that takes a value a placeholder of its own, not its name upper-cased', async () => {
    const derived: string[] = [];
    for (const command of await allCommands()) {
      for (const [option, def] of Object.entries(command.options ?? {})) {
        if (def.type === 'string' && def.value === undefined && impliedValue(option, def) === undefined)
          derived.push(`dbtls ${command.name.join(' ')} --${option}`);
      }
    }
    assert.deepEqual(derived, []);
  });

  it('shows the implied placeholders: FILE for the -ca/-cert/-key/-crl files, the choices when few', async () => {
    const table: [string, Parameters<typeof optionLabel>[1], string][] = [
      ['admin-ca', { type: 'string' }, '--admin-ca FILE'],
      ['verify-key', { type: 'string' }, '--verify-key FILE'],
      ['crl', { type: 'string' }, '--crl FILE'],
      ['ca-dir', { type: 'string' }, '--ca-dir DIR'],
      ['format', { type: 'string', choices: ['jks', 'p12'] }, '--format jks|p12'],
      ['stage', { type: 'string', choices: ['a', 'b', 'c', 'd'] }, '--stage STAGE'],
      ['key', { type: 'string', value: 'ALG', choices: ['ec-p256', 'rsa-2048'] }, '--key ALG'],
      ['json', { type: 'boolean' }, '--json'],
    ];
    for (const [name, def, want] of table) assert.equal(optionLabel(name, def), want, name);
    const { out, render } = capture();
    assert.equal(await run(['export', 'truststore', '--help'], render), 0);
    assert.match(out.stdout, /\n {2}--format jks\|p12 +the truststore format\n/);
    assert.match(out.stdout, /\n {2}--profile modern\|legacy +PKCS#12 encryption: .*; default: modern\n/);
  });

  it('lists DBTLS_ADMIN_TARGET where the profile gives ADMIN_TARGET, and only there', async () => {
    const takers: string[] = [];
    for (const command of await allCommands()) {
      if (environmentOf(command).includes('DBTLS_ADMIN_TARGET')) takers.push(command.name.join(' '));
    }
    assert.deepEqual(takers, [
      'server status',
      'server enable',
      'server reload',
      'users',
      'require',
      'rotate',
      'secure',
    ]);
    const { out, render } = capture();
    assert.equal(await run(['server', 'reload', '--help'], render), 0);
    assert.match(
      out.stdout,
      /\nEnvironment: MYSQL_PWD, DBTLS_ADMIN_TARGET \(the command line wins over a variable\)\n/,
    );
  });

  it('gives two or three examples per command, each naming the command itself', async () => {
    for (const command of await allCommands()) {
      const name = `dbtls ${command.name.join(' ')}`;
      const examples = command.examples ?? [];
      assert.ok(examples.length >= 2 && examples.length <= 3, `${name}: ${examples.length} examples`);
      for (const e of examples) assert.ok(e.startsWith(name), `${name}: example ${e}`);
    }
  });

  it('prints the same help for `dbtls help COMMAND` and `dbtls COMMAND -h`', async () => {
    const a = capture();
    const b = capture();
    assert.equal(await run(['help', 'issue', 'server'], a.render), 0);
    assert.equal(await run(['issue', 'server', '-h'], b.render), 0);
    assert.equal(a.out.stdout, b.out.stdout);
    assert.match(a.out.stdout, /^usage: dbtls issue server /);
    assert.match(a.out.stdout, /\n {2}--dns NAME +another DNS name clients may dial .*; repeatable\n/);
    assert.match(
      a.out.stdout,
      /\n {2}--ca-dir DIR +the CA directory; default: \.\/dbtls-ca; env: DBTLS_CA_DIR\n/,
    );
    assert.match(a.out.stdout, /\nExamples:\n {2}dbtls issue server --cn db1\.example\.com --out db1\n/);
  });

  it("lists in the overview's static table exactly the commands and summaries the modules define", async () => {
    const loaded = (await allCommands()).map((c) => [c.name.join(' '), c.summary]);
    assert.deepEqual(
      COMMANDS.map(([name, , summary]) => [name, summary]),
      loaded,
    );
  });

  it('prints the overview and exits 0 for bare dbtls, --help, -h and help', async () => {
    for (const argv of [[], ['--help'], ['-h'], ['help']]) {
      const { out, render } = capture();
      assert.equal(await run(argv, render), 0, argv.join(' '));
      assert.match(out.stdout, /^dbtls: encryption in transit/);
      assert.match(out.stdout, /\n {2}issue server +issue a server certificate/);
      assert.match(out.stdout, /\n {2}--no-color +no colour on a terminal \(so does setting NO_COLOR\)\n/);
      assert.equal(out.stderr, '');
    }
  });

  it('prints the version of package.json for --version, -V and version', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));
    assert.equal(VERSION, pkg.version);
    for (const argv of [['--version'], ['-V'], ['version']]) {
      const { out, render } = capture();
      assert.equal(await run(argv, render), 0);
      assert.equal(out.stdout, `dbtls ${pkg.version}\n`);
    }
  });

  it('loads no command module to print the overview (a child process, as a user runs it)', async () => {
    const r = await runCli(['--help'], {
      env: { NODE_DEBUG: 'esm' },
    });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^dbtls: encryption/);
    // NODE_DEBUG=esm names every module it loads: none of the command groups may be among them.
    for (const group of ['ca.js', 'inspect.js', 'deploy.js', 'keystore.js', 'server.js', 'demo.js']) {
      assert.ok(!new RegExp(`cli/${group.replace('.', '\\.')}`).test(r.stderr), `--help loaded ${group}`);
    }
  });
});
