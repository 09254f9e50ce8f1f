#!/usr/bin/env node
/**
 * The dbtls command table. Each command group lives in its own module and exports `commands`; this file
 * only finds the command the words name, runs it, and renders a failure. DESIGN.md lists the surface.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DbtlsError } from '../errors.js';
import type { Command, CommandContext } from './command.js';
import { processRenderer, type Renderer } from './render.js';

type Group = () => Promise<{ commands: readonly Command[] }>;

/**
 * Command groups by the first word of the command line, loaded only when named: a process that runs
 * `dbtls inspect` never loads the Kubernetes or keystore code (startup was ~1 s with every group loaded).
 */
const GROUPS: Readonly<Record<string, Group>> = {
  ca: () => import('./ca.js'),
  issue: () => import('./ca.js'),
  csr: () => import('./ca.js'),
  sign: () => import('./ca.js'),
  renew: () => import('./ca.js'),
  list: () => import('./ca.js'),
  revoke: () => import('./revoke.js'),
  crl: () => import('./revoke.js'),
  export: () => import('./keystore.js'),
  keystore: () => import('./keystore.js'),
  bundle: () => import('./bundle.js'),
  'cloud-ca': () => import('./bundle.js'),
  connect: () => import('./client.js'),
  inspect: () => import('./inspect.js'),
  server: () => import('./server.js'),
  users: () => import('./server.js'),
  require: () => import('./server.js'),
  proxysql: () => import('./server.js'),
  rotate: () => import('./rotate.js'),
  secure: () => import('./secure.js'),
  k8s: () => import('./deploy.js'),
  snippet: () => import('./snippet.js'),
  demo: () => import('./demo.js'),
};

/** Every command, in the order `dbtls --help` lists them (loads every group). */
export async function allCommands(): Promise<Command[]> {
  const modules = await Promise.all([...new Set(Object.values(GROUPS))].map((load) => load()));
  const seen = new Set<Command>();
  for (const m of modules) for (const c of m.commands) seen.add(c);
  return [...seen];
}

/** The command whose name is the longest prefix of argv. */
export async function findCommand(
  argv: readonly string[],
): Promise<{ command: Command; rest: string[] } | undefined> {
  const load = argv[0] === undefined ? undefined : GROUPS[argv[0]];
  if (!load) return undefined;
  let best: Command | undefined;
  for (const command of (await load()).commands) {
    const n = command.name.length;
    if (n <= argv.length && command.name.every((w, i) => argv[i] === w)) {
      if (!best || n > best.name.length) best = command;
    }
  }
  return best ? { command: best, rest: argv.slice(best.name.length) } : undefined;
}

/** The commands whose name starts with `word` (e.g. `issue` gives `issue server` and `issue client`). */
async function commandsStartingWith(word: string): Promise<Command[]> {
  const load = GROUPS[word];
  if (!load) return [];
  return (await load()).commands.filter((c) => c.name[0] === word);
}

async function helpText(): Promise<string[]> {
  const commands = await allCommands();
  const width = Math.max(...commands.map((c) => c.name.join(' ').length));
  return [
    'dbtls: encryption in transit for MySQL-family databases',
    '',
    'usage: dbtls COMMAND [options]',
    '',
    ...commands.map((c) => `  ${c.name.join(' ').padEnd(width)}  ${c.summary}`),
    '',
    'Run `dbtls COMMAND --help` for its options. Start with `dbtls demo`.',
  ];
}

export async function run(argv: readonly string[], render: Renderer = processRenderer()): Promise<number> {
  const ctx: CommandContext = { render, env: process.env, cwd: process.cwd() };
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    render.lines(...(await helpText()));
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version') {
    render.lines('dbtls 0.1.0');
    return 0;
  }
  const found = await findCommand(argv);
  if (!found) {
    const family = await commandsStartingWith(argv[0] ?? '');
    if (family.length > 0 && (argv.length === 1 || argv[1]?.startsWith('-'))) {
      const usages = family.map((c) => `  ${c.usage}`);
      if (argv.includes('--help') || argv.includes('-h')) {
        render.lines('usage:', ...usages);
        return 0;
      }
      return render.error(
        new DbtlsError(
          'UNKNOWN_COMMAND',
          `could not run dbtls ${argv.join(' ')}: name one of its subcommands\n${usages.join('\n')}`,
          {
            hint: `add the subcommand, e.g. \`dbtls ${family[0]!.name.join(' ')} --help\``,
          },
        ),
      );
    }
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
