import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allCommands, findCommand, run } from '../../../src/cli/main.js';
import { createRenderer } from '../../../src/cli/render.js';

/** A renderer that keeps what dbtls would print. */
function capture() {
  const out = { stdout: '', stderr: '' };
  const render = createRenderer(
    {
      write: (t) => {
        out.stdout += t;
      },
      isTTY: false,
    },
    {
      write: (t) => {
        out.stderr += t;
      },
      isTTY: false,
    },
  );
  return { out, render };
}

describe('the command table', () => {
  it('reaches every command through the lazily loaded group of its first word', async () => {
    const commands = await allCommands();
    assert.ok(commands.length >= 30, `only ${commands.length} commands`);
    for (const command of commands) {
      const found = await findCommand([...command.name, '--json']);
      assert.equal(found?.command, command, `dbtls ${command.name.join(' ')} is not reachable`);
      assert.deepEqual(found?.rest, ['--json']);
    }
  });

  it('prefers the longest name: `bundle show` over `bundle`', async () => {
    const found = await findCommand(['bundle', 'show', 'x.pem']);
    assert.deepEqual(found?.command.name, ['bundle', 'show']);
    assert.deepEqual(found?.rest, ['x.pem']);
  });

  it('answers an unknown command with UNKNOWN_COMMAND and exit 2', async () => {
    const { out, render } = capture();
    assert.equal(await run(['frobnicate', 'now'], render), 2);
    assert.match(
      out.stderr,
      /^error\[UNKNOWN_COMMAND\]: could not run dbtls frobnicate now: no such command\nhint: /,
    );
    assert.equal(await findCommand(['ca', 'frobnicate']), undefined);
  });

  it('answers a command family without its subcommand with the usages: exit 2, or 0 with --help', async () => {
    const { out, render } = capture();
    assert.equal(await run(['issue'], render), 2);
    assert.match(
      out.stderr,
      /^error\[UNKNOWN_COMMAND\]: could not run dbtls issue: name one of its subcommands\n/,
    );
    assert.match(out.stderr, /\n {2}dbtls issue server --cn HOST/);
    assert.match(out.stderr, /\n {2}dbtls issue client /);
    assert.match(out.stderr, /\nhint: add the subcommand, e\.g\. `dbtls issue server --help`\n$/);
    assert.equal(await run(['k8s', '--help'], render), 0);
    assert.deepEqual(
      out.stdout
        .split('\n')
        .filter((l) => l.startsWith('  dbtls k8s '))
        .map((l) => l.split(' ')[4]),
      ['secrets', 'cert-manager', 'kubedb', 'proxy-sidecar'],
    );
  });
});
