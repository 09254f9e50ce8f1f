import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allCommands, findCommand, run } from '../../../src/cli/main.js';
import { createRenderer } from '../../../src/cli/render.js';

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
    let stderr = '';
    const render = createRenderer(
      { write: () => {}, isTTY: false },
      {
        write: (t) => {
          stderr += t;
        },
        isTTY: false,
      },
    );
    assert.equal(await run(['frobnicate', 'now'], render), 2);
    assert.match(
      stderr,
      /^error\[UNKNOWN_COMMAND\]: could not run dbtls frobnicate now: no such command\nhint: /,
    );
    assert.equal(await findCommand(['ca', 'frobnicate']), undefined);
  });
});
