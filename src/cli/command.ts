/** The shape of a CLI command: a name of one or more words, a usage line, and a run function. */
import type { Renderer } from './render.js';

export interface CommandContext {
  readonly render: Renderer;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export interface Command {
  /** The words that select it: `['ca', 'init']`. */
  readonly name: readonly string[];
  readonly usage: string;
  readonly summary: string;
  /** Returns the exit code: 0 ok, 1 a check failed. Errors are thrown as DbtlsError. */
  run(argv: readonly string[], ctx: CommandContext): Promise<number>;
}
