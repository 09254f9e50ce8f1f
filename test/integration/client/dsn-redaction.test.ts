/**
 * Issue 9, item 13: a password written in a DSN is never echoed. Every command that takes a TARGET or an
 * ADMIN_TARGET, with DSNs that fail at each stage of parsing (a password alone, a port out of range, an
 * unknown parameter or scheme, a URL that does not parse, a password with '@', '/', '"' or percent-encoding,
 * the unknown-command path that echoes argv, and a targets file), in text and --json: 'secret' must appear
 * in neither stdout nor stderr, and each run must be refused with exit 2. The table runs the CLI's own
 * entry point (main.ts run(), the code a shell runs, with a renderer that captures) in this process: ~250
 * child processes would cost CI minutes; a few cells also run as the real dbtls process.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../../../src/cli/main.js';
import { createRenderer } from '../../../src/cli/render.js';
import { type CliResult, runCli } from '../../harness/cli.js';

/** Each holds the word `secret` in its password, raw or percent-encoded. */
const DSNS: readonly string[] = [
  'mysql://app:secret-1@127.0.0.1:1',
  'mariadb://app:secret-2@127.0.0.1:1/db?ssl-mode=verify-full',
  'mysql://app:secret-3@127.0.0.1:99999',
  'mysql://app:secret-4@127.0.0.1:1/?bogus=1',
  'postgres://app:secret-5@127.0.0.1:1',
  'mysql://app:secret-6@[::1',
  'mysql://app:sec/secret-7@127.0.0.1:1',
  'mysql://app:p@secret-8@127.0.0.1:1',
  'mysql://app:"secret-9"@127.0.0.1:1',
  'mysql://app:s%65cret-10@127.0.0.1:1',
  'mysql://:secret-11@127.0.0.1:1',
];

/** What no output may hold: the word, and the percent-encoded form of case 10. */
const FORBIDDEN = /secret|s%65cret/i;

const COMMANDS: readonly ((dsn: string) => string[])[] = [
  (t) => ['inspect', t],
  (t) => ['inspect', t, '127.0.0.1:1'],
  (t) => ['connect', t],
  (t) => ['server', 'status', t],
  (t) => ['server', 'reload', t],
  (t) => ['users', t],
  (t) => ['require', t, 'app@%', '--ssl', '--dry-run'],
  (t) => ['rotate', t],
  (t) => ['secure', t],
  (t) => ['snippet', '--for', 'mysql2', t],
  (t) => ['conect', t],
  (t) => ['server', t],
  (t) => ['conect', 'x'.repeat(20), t.replace(/secret/, `${'s'.repeat(30)}secret`)],
];

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-redact-'));
});
after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** dbtls ARGV through main.ts run(), stdout and stderr captured as a terminal would receive them. */
async function runInProcess(argv: readonly string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const render = createRenderer(
    {
      write: (t) => {
        stdout += t;
      },
      isTTY: false,
    },
    {
      write: (t) => {
        stderr += t;
      },
      isTTY: false,
    },
  );
  const code = await run(argv, render);
  return { code, stdout, stderr };
}

function leaks(r: CliResult): string | undefined {
  return FORBIDDEN.test(r.stdout) || FORBIDDEN.test(r.stderr) ? `${r.stdout}${r.stderr}` : undefined;
}

describe('a password in a DSN on the command line', () => {
  it('is never echoed, by any command, in text or --json, and every run is refused (exit 2)', async () => {
    const cells: { argv: string[] }[] = [];
    for (const dsn of DSNS) {
      for (const command of COMMANDS) {
        const argv = command(dsn);
        cells.push({ argv }, { argv: [...argv, '--json'] });
      }
    }
    const results: CliResult[] = [];
    for (const c of cells) results.push(await runInProcess(c.argv));
    const failures: string[] = [];
    results.forEach((r, i) => {
      const argv = cells[i]!.argv.join(' ');
      const leak = leaks(r);
      if (leak) failures.push(`${argv}: leaked: ${leak}`);
      if (r.code !== 2) failures.push(`${argv}: exit ${r.code}, expected 2: ${r.stderr}`);
      if (!/^error\[[A-Z_]+\]: /m.test(r.stderr)) failures.push(`${argv}: no error line: ${r.stderr}`);
    });
    assert.deepEqual(failures, []);
  });

  it('the real dbtls process: the unknown-command path that echoes argv, and --json', async () => {
    for (const argv of [
      ['conect', 'mysql://app:p@secret-8@127.0.0.1:1'],
      ['server', 'status', 'mysql://app:sec/secret-7@127.0.0.1:1', '--json'],
    ]) {
      const r = await runCli(argv);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(leaks(r), undefined);
      assert.match(r.stderr, /\*\*\*/, 'the password is shown as ***');
    }
  });

  it('is refused with a hint to --password-file / MYSQL_PWD, the target shown redacted', async () => {
    const r = await runCli(['connect', 'mysql://app:secret-1@127.0.0.1:1/db']);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^error\[TARGET_PASSWORD_IN_DSN\]: could not use the target "mysql:\/\/app:\*\*\*@127\.0\.0\.1:1\/db": /m,
    );
    assert.match(r.stderr, /^hint: .*--password-file FILE or the MYSQL_PWD environment variable/m);
  });

  it('in a --targets-from file: the line is named, the password is not', async () => {
    const file = path.join(tmp, 'targets.txt');
    fs.writeFileSync(file, `${DSNS.join('\n')}\n`);
    for (const extra of [[], ['--json']]) {
      const r = await runCli(['inspect', '--targets-from', file, ...extra]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(leaks(r), undefined);
      assert.match(r.stderr, /^error\[[A-Z_]+\]: .*targets\.txt line 1: /m);
    }
  });
});
