/**
 * `dbtls config show`: the settings a profile gives (src/cli/profile.ts), resolved as a server command
 * would resolve them, each with where it came from. Secrets are never printed: a passphrase or password
 * from the environment shows as the variable's name.
 */
import { DbtlsError } from '../errors.js';
import { flag, parse } from './args.js';
import type { Command, OptionTable } from './command.js';
import { COMMON } from './options.js';
import { loadProfile, PROFILE_ENV, PROFILE_KEYS, profileLocation, resolveSettings } from './profile.js';

const USAGE =
  'dbtls config show [ADMIN_TARGET] [--profile-file F] [--ca-dir D] [--passphrase-file F] [--socket PATH] [--password-file F] [--dir D] [--json]';

const OPTIONS: OptionTable = {
  'ca-dir': COMMON['ca-dir'],
  'passphrase-file': COMMON['passphrase-file'],
  socket: COMMON.socket,
  'password-file': COMMON['password-file'],
  dir: {
    type: 'string',
    value: 'DIR',
    description: 'where the server keeps its certificate files, on the server host',
  },
  json: COMMON.json,
  // Read by src/cli/main.ts for every command; listed here so that the help names it.
  'profile-file': {
    type: 'string',
    value: 'FILE',
    description: 'the profile to read (every command takes --profile-file)',
    default: '$XDG_CONFIG_HOME/dbtls/profile, else ~/.config/dbtls/profile',
    env: [PROFILE_ENV],
  },
};

const configShow: Command = {
  name: ['config', 'show'],
  usage: USAGE,
  summary: 'print the settings the profile gives the server commands, each with where it came from',
  options: OPTIONS,
  details: [
    'A profile holds the flags every server command repeats, as `key = value` lines:',
    ...Object.entries(PROFILE_KEYS).map(([key, spec]) => `  ${key.padEnd(16)} ${spec.description}`),
    'Each setting is taken from the flag, else the environment, else the profile, else the default.',
    'Relative paths are relative to the profile. Secrets never go in it: name a password file instead.',
  ],
  examples: ['dbtls config show', 'dbtls config show --profile-file ./db1.profile --json'],
  async run(argv, ctx) {
    const p = parse(argv, OPTIONS, USAGE);
    if (p.positionals.length > 1) {
      throw new DbtlsError('USAGE', `could not run config show: unexpected argument ${p.positionals[1]}`, {
        hint: `usage: ${USAGE}`,
      });
    }
    const profile = ctx.profile ? ctx.profile() : loadProfile(undefined, ctx.env);
    const settings = resolveSettings(p, OPTIONS, ctx.env, profile, p.positionals.length === 1);
    if (flag(p, 'json')) {
      ctx.render.json({ profile: profile.file ?? null, settings });
      return 0;
    }
    const where = profile.file ?? `none (${profileLocation(undefined, ctx.env).file} does not exist)`;
    const width = Math.max(...settings.map((s) => s.key.length));
    const valueWidth = Math.max(...settings.map((s) => (s.value ?? '-').length));
    ctx.render.lines(
      `profile: ${where}`,
      ...settings.map((s) => `  ${s.key.padEnd(width)}  ${(s.value ?? '-').padEnd(valueWidth)}  ${s.origin}`),
    );
    return 0;
  },
};

export const commands: readonly Command[] = [configShow];
