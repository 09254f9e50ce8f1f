/**
 * Shell completion (issue 14, item 12), tested the way a user gets it: the script dbtls prints is sourced
 * in a real bash and its completion function is called on partial command lines.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { allCommands } from '../../../src/cli/main.js';
import { runCli } from '../../harness/cli.js';

/** What bash completes for `line` (the last word is the one being completed). */
function complete(script: string, line: string): string[] {
  const program = `${script}
read -ra COMP_WORDS <<< "$LINE"
[[ "$LINE" == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
_dbtls
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', program], {
    env: { ...process.env, LINE: line },
    encoding: 'utf8',
  });
  return out.split('\n').filter((l) => l !== '');
}

describe('dbtls completion bash, sourced in bash', async () => {
  const r = await runCli(['completion', 'bash']);
  const script = r.stdout;

  it('prints a script and exits 0', () => {
    assert.equal(r.code, 0, r.stderr);
    assert.match(script, /^complete -o filenames -F _dbtls dbtls$/m);
  });

  it('completes commands, subcommands and options from the tables', () => {
    const table: [string, string[]][] = [
      ['dbtls is', ['issue']],
      ['dbtls issue se', ['server']],
      ['dbtls issue server --dn', ['--dns']],
      ['dbtls list --exp', ['--expiring-within']],
      ['dbtls cert s', ['show']],
      ['dbtls comp', ['completion']],
      ['dbtls ca ', ['init', 'show']],
    ];
    for (const [line, want] of table) assert.deepEqual(complete(script, line), want, line);
  });

  it('offers every option of every command, but not an old spelling kept for one release', async () => {
    let renamed = 0;
    for (const command of await allCommands()) {
      if (command.name.length > 2) continue;
      const got = complete(script, `dbtls ${command.name.join(' ')} --`);
      for (const [option, def] of Object.entries(command.options ?? {})) {
        const line = `dbtls ${command.name.join(' ')} --${option}`;
        if (def.renamedTo) renamed++;
        assert.equal(got.includes(`--${option}`), !def.renamedTo, line);
      }
    }
    assert.ok(renamed >= 3, `${renamed} renamed options seen`);
  });

  it('completes old spellings away: --ca of server enable is --server-ca now', () => {
    const table: [string, string[]][] = [
      ['dbtls server enable --ca', ['--ca-dir']],
      ['dbtls server enable --server-c', ['--server-cert', '--server-ca', '--server-config']],
      ['dbtls proxysql --ce', []],
      ['dbtls secure --us', []],
    ];
    for (const [line, want] of table) assert.deepEqual(complete(script, line), want, line);
  });

  it("completes the value of an option with choices from its choices, another option's from files", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-completion-'));
    fs.writeFileSync(path.join(dir, 'root.pem'), '');
    const table: [string, string[]][] = [
      ['dbtls ca init --key ', ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096']],
      ['dbtls csr --cn db1 --key rsa-3', ['rsa-3072']],
      ['dbtls connect db1.example.com --ssl-mode verify-', ['verify-ca', 'verify-full']],
      ['dbtls export truststore --format ', ['jks', 'p12']],
      ['dbtls export p12 --profile l', ['legacy']],
      ['dbtls server enable db1 --ssl-mode d', ['disable']],
      ['dbtls k8s cert-manager --key rsa-', ['rsa-2048', 'rsa-4096']],
      ['dbtls proxy db1:3306 --ssl-mode ', ['trust', 'verify-ca', 'verify-full']],
      [`dbtls connect db1.example.com --ca ${dir}/ro`, [`${dir}/root.pem`]],
      [`dbtls inspect db1 --json ${dir}/ro`, [`${dir}/root.pem`]],
    ];
    try {
      for (const [line, want] of table) assert.deepEqual(complete(script, line), want, line);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints zsh and fish scripts too, and refuses another shell with USAGE', async () => {
    assert.match((await runCli(['completion', 'zsh'])).stdout, /bashcompinit/);
    const fish = (await runCli(['completion', 'fish'])).stdout;
    assert.match(fish, /complete -c dbtls .* -l dns -r -d /);
    assert.match(
      fish,
      /^complete -c dbtls -n '__fish_seen_subcommand_from export; and __fish_seen_subcommand_from truststore' -l format -x -a 'jks p12' -d 'the truststore format'$/m,
    );
    assert.doesNotMatch(fish, /__fish_seen_subcommand_from secure' -l user /);
    assert.match(fish, /__fish_seen_subcommand_from secure' -l account -r /);
    const bad = await runCli(['completion', 'powershell']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error\[USAGE\]/);
  });
});
