#!/usr/bin/env node
/**
 * The dbtls command table. Each command group lives in its own module and exports `commands`; this file
 * only finds the command the words name, runs it, and renders a failure. DESIGN.md lists the surface.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DbtlsError } from '../errors.js';
import { commands as caCommands } from './ca.js';
import { commands as clientCommands } from './client.js';
import type { Command, CommandContext } from './command.js';
import { commands as demoCommands } from './demo.js';
import { commands as deployCommands } from './deploy.js';
import { commands as keystoreCommands } from './keystore.js';
import { processRenderer, type Renderer } from './render.js';
import { commands as revokeCommands } from './revoke.js';
import { commands as serverCommands } from './server.js';

export const COMMANDS: readonly Command[] = [
  ...caCommands,
  ...revokeCommands,
  ...keystoreCommands,
  ...clientCommands,
  ...serverCommands,
  ...deployCommands,
  ...demoCommands,
];

/** The command whose name is the longest prefix of argv. */
export function findCommand(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const command of COMMANDS) {
    const n = command.name.length;
    if (n <= argv.length && command.name.every((w, i) => argv[i] === w)) {
      if (!best || n > best.name.length) best = command;
    }
  }
  return best ? { command: best, rest: argv.slice(best.name.length) } : undefined;
}

function helpText(): string[] {
  const width = Math.max(...COMMANDS.map((c) => c.name.join(' ').length));
  return [
    'dbtls: encryption in transit for MySQL-family databases',
    '',
    'usage: dbtls COMMAND [options]',
    '',
    ...COMMANDS.map((c) => `  ${c.name.join(' ').padEnd(width)}  ${c.summary}`),
    '',
    'Run `dbtls COMMAND --help` for its options. Start with `dbtls demo`.',
  ];
}

export async function run(argv: readonly string[], render: Renderer = processRenderer()): Promise<number> {
  const ctx: CommandContext = { render, env: process.env, cwd: process.cwd() };
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    render.lines(...helpText());
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version') {
    render.lines('dbtls 0.1.0');
    return 0;
  }
  const found = findCommand(argv);
  if (!found) {
    return render.error(
      new DbtlsError('UNKNOWN_COMMAND', `could not run dbtls ${argv.join(' ')}: no such command`, {
        hint: 'run `dbtls --help` for the list of commands',
      }),
    );
  }
  if (found.rest.includes('--help') || found.rest.includes('-h')) {
    render.lines(`usage: ${found.command.usage}`, '', found.command.summary);
    return 0;
  }
  try {
    return await found.command.run(found.rest, ctx);
  } catch (err) {
    return render.error(err);
  }
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.exitCode = processRenderer().error(err);
    },
  );
}
