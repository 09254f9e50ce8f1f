/**
 * Shell completion (issue 14, item 12), tested the way a user gets it: the script dbtls prints is sourced
 * in a real bash and its completion function is called on partial command lines.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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

  it('offers every option of every command', async () => {
    for (const command of await allCommands()) {
      if (command.name.length > 2) continue;
      const got = complete(script, `dbtls ${command.name.join(' ')} --`);
      for (const option of Object.keys(command.options ?? {})) {
        assert.ok(got.includes(`--${option}`), `dbtls ${command.name.join(' ')} --${option}`);
      }
    }
  });

  it('prints zsh and fish scripts too, and refuses another shell with USAGE', async () => {
    assert.match((await runCli(['completion', 'zsh'])).stdout, /bashcompinit/);
    assert.match((await runCli(['completion', 'fish'])).stdout, /complete -c dbtls .* -l dns -r -d /);
    const bad = await runCli(['completion', 'powershell']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error\[USAGE\]/);
  });
});
