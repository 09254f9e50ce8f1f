/**
 * The shape of a CLI command: a name of one or more words, a usage line, its option table, and a run
 * function. The option table is the single source for the parser, `--help`, shell completion and the
 * fuzz test: a new flag is one entry here, and a test fails until it has a description.
 */
import type { Renderer } from './render.js';

/** The settings a profile file can give (src/cli/profile.ts PROFILE_KEYS). */
export type ProfileKey =
  | 'ca-dir'
  | 'passphrase-file'
  | 'admin-target'
  | 'socket'
  | 'password-file'
  | 'ssl-dir';

export interface Profile {
  /** The file read, or undefined when there is none. */
  readonly file: string | undefined;
  readonly values: Readonly<Partial<Record<ProfileKey, string>>>;
}

/** A command line as the parser leaves it (src/cli/args.ts). */
export interface Parsed {
  readonly values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  readonly positionals: string[];
}

export interface CommandContext {
  readonly render: Renderer;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** The profile (src/cli/profile.ts), read at the first call; absent where no profile applies (tests). */
  readonly profile?: () => Profile;
}

/** One option of a command, as `--help` shows it and the parser reads it. */
export interface OptionDef {
  readonly type: 'string' | 'boolean';
  /** Repeatable: `--dns a --dns b`. */
  readonly multiple?: boolean;
  /** A one-letter alias (`-e` for `--execute`). */
  readonly short?: string;
  /** One line for `--help`: what it does (required by test/unit/cli/help.test.ts). */
  readonly description?: string;
  /** The placeholder in help (`--out DIR`); derived from the name when absent. */
  readonly value?: string;
  /**
   * What happens when the option is absent, as help shows it (`./dbtls-ca`, `825 days`). Documentation
   * only: the parser does not fill it in, the library applies its own defaults (stated once there).
   */
  readonly default?: string;
  /** Environment variables that give the value when the option is absent (`DBTLS_CA_DIR`). */
  readonly env?: readonly string[];
  /** Values the option accepts, for help and shell completion (`ec-p256`, `rsa-2048`, …). */
  readonly choices?: readonly string[];
  /**
   * The option's new name, when this spelling was renamed because the name meant something else in other
   * commands (issue 14 item 4): it still works for one release, with a warning on stderr.
   */
  readonly renamedTo?: string;
}

export type OptionTable = Readonly<Record<string, OptionDef>>;

/**
 * The placeholder the option's entry implies, when it does not name one: `FILE` for `--password-file` or
 * `--admin-ca`, `DIR` for `--ca-dir`, `N` for `--days`, `jks|p12` for a choice of two or three; undefined
 * when nothing does (a test requires an explicit `value` then).
 */
export function impliedValue(name: string, def: OptionDef): string | undefined {
  if (def.choices && def.choices.length <= 3) return def.choices.join('|');
  if (/(^|-)(file|out|cert|key|ca|chain|crl)$/.test(name)) return 'FILE';
  if (/(^|-)dir$/.test(name)) return 'DIR';
  if (/days|within|concurrency|port|timeout/.test(name)) return 'N';
  return undefined;
}

/** The placeholder in help (`--ca-dir DIR`): the entry's `value`, else the implied one, else the name. */
export function valueName(name: string, def: OptionDef): string {
  return def.value ?? impliedValue(name, def) ?? name.toUpperCase().replaceAll('-', '_');
}

/**
 * Whether an option names a file or directory (its placeholder is FILE, DIR, PATH or CERT). The parser
 * refuses an empty value for one: `--out ''` wrote into the current directory (path.resolve('') is the
 * cwd), and `--ca-dir ''` or `crl --out ''` silently fell back to the default.
 */
export function isPathOption(name: string, def: OptionDef): boolean {
  return def.type === 'string' && /(^|[^A-Z])(FILE|DIR|PATH|CERT)$/.test(valueName(name, def));
}

export interface Command {
  /** The words that select it: `['ca', 'init']`. */
  readonly name: readonly string[];
  readonly usage: string;
  readonly summary: string;
  /** Every option the command accepts; `parse()` is called with this same table. */
  readonly options?: OptionTable;
  /** Two or three command lines for `--help`, each working as pasted (after `dbtls ca init`). */
  readonly examples?: readonly string[];
  /** Extra paragraphs for `--help` (what the positional arguments are, what the command changes). */
  readonly details?: readonly string[];
  /** Returns the exit code: 0 ok, 1 a check failed. Errors are thrown as DbtlsError. */
  run(argv: readonly string[], ctx: CommandContext): Promise<number>;
}
