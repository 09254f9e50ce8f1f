/**
 * Arguments that were silently dropped are refused (USAGE, exit 2): a single-value option given twice
 * (`issue server --cn a --cn b` issued for b alone), and a positional argument no command reads
 * (`dbtls list extra`, `dbtls list -- --json`). Every command of the table, in this process; each is
 * refused before it reads a file, dials a server or listens.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Command } from '../../../src/cli/command.js';
import { allCommands, run } from '../../../src/cli/main.js';
import { capture } from '../../unit/cli/capture.js';

const DEAD_TARGET = '127.0.0.1:1';

/** The positional arguments of the commands that take some (after the options they need first): one more is too many. */
const POSITIONALS: Readonly<Record<string, readonly string[]>> = {
  'csr show': ['csr.pem'],
  'cert show': ['cert.pem'],
  renew: ['0a1b'],
  revoke: ['0a1b'],
  'keystore show': ['ks.p12'],
  'bundle show': ['chain.pem'],
  connect: [DEAD_TARGET],
  'server status': [DEAD_TARGET],
  'server enable': [DEAD_TARGET],
  'server reload': [DEAD_TARGET],
  users: [DEAD_TARGET],
  require: [DEAD_TARGET, "'app'@'%'"],
  rotate: [DEAD_TARGET],
  secure: [DEAD_TARGET],
  'k8s proxy-sidecar': [DEAD_TARGET],
  snippet: ['--for', 'mysql-cli', DEAD_TARGET],
  proxy: [DEAD_TARGET],
  'config show': [DEAD_TARGET],
  completion: ['bash'],
};
/**
 * Commands that take any number: files, targets, the trust bundle's CAs after --trust-bundle OLD_CA, or
 * (`cloud-ca`) the provider that has no subcommand.
 */
const VARIADIC = new Set(['bundle', 'inspect', 'k8s cert-manager', 'cloud-ca', 'sign']);

let dir: string;
let home: string;
before(() => {
  home = process.cwd();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-arguments-'));
  process.chdir(dir);
});
after(() => {
  process.chdir(home);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function usage(argv: string[], message: RegExp): Promise<void> {
  const { out, render } = capture();
  const code = await run(argv, render);
  const shown = argv.join(' ');
  assert.equal(code, 2, `${shown}: exit ${code}\n${out.stderr}`);
  assert.match(out.stderr, /^error\[USAGE\]: could not /, shown);
  assert.match(out.stderr, message, shown);
  assert.deepEqual(fs.readdirSync(dir), [], `${shown}: wrote a file`);
}

const names = (c: Command) => c.name.join(' ');

describe('an option given twice', () => {
  it('is a USAGE error naming it, for every single-value option of every command', async () => {
    let checked = 0;
    for (const command of await allCommands()) {
      for (const [option, def] of Object.entries(command.options ?? {})) {
        if (def.type !== 'string' || def.multiple) continue;
        await usage(
          [...command.name, `--${option}`, 'a', `--${option}`, 'b'],
          // --profile-file is read for every command by main.ts, which says it in its own words.
          option === 'profile-file'
            ? /: the profile is named twice\n/
            : new RegExp(`: --${option} is given twice\\n`),
        );
        checked++;
      }
    }
    assert.ok(checked > 100, `only ${checked} options`);
  });

  it('counts a short alias as its option, and leaves repeatable options alone', async () => {
    await usage(
      ['connect', DEAD_TARGET, '-e', 'SELECT 1', '--execute', 'SELECT 2'],
      /--execute is given twice/,
    );
    const { out, render } = capture();
    const argv = ['csr', '--cn', 'a', '--dns', 'a', '--dns', 'b', '--out', 'node'];
    assert.equal(await run(argv, render), 0, out.stderr);
    fs.rmSync(path.join(dir, 'node'), { recursive: true });
  });
});

describe('a positional argument no command reads', () => {
  it('is refused by every command that takes none', async () => {
    const commands = await allCommands();
    const known = new Set([...Object.keys(POSITIONALS), ...VARIADIC]);
    for (const command of commands.filter((c) => !known.has(names(c)))) {
      await usage([...command.name, 'extra'], /: unexpected argument extra\n/);
    }
    await usage(['list', '--', '--json'], /: unexpected argument --json\nhint: options go before `--`/);
  });

  it('one more than a command takes is refused', async () => {
    for (const command of await allCommands()) {
      const given = POSITIONALS[names(command)];
      if (!given) continue;
      await usage(
        [...command.name, ...given, 'extra'],
        /(unexpected argument extra|exactly one|give either one|and one USER@HOST|name one shell)/,
      );
    }
  });
});

describe('rotate --ca-rollover', () => {
  it('without --stage says that --stage is required, and names the stages', async () => {
    await usage(
      ['rotate', '--ca-rollover'],
      /: --stage is required \(one of new-ca, trust-both, reissue, retire-old\)\nhint: `dbtls rotate --ca-rollover --status` shows the next one/,
    );
    await usage(
      ['rotate', '--ca-rollover', '--stage', 'bogus'],
      /: --stage bogus is not a stage\nhint: choose one of new-ca, /,
    );
  });

  it('--status takes one ADMIN_TARGET at most', async () => {
    await usage(
      ['rotate', '--ca-rollover', '--status', DEAD_TARGET, 'extra'],
      /: unexpected argument extra\n/,
    );
  });
});
