/**
 * The profile: the flags every server command repeats (`dbtls secure` took 15 in a real run), written
 * once in a file (issue 14, item 14). Resolved once per command, here, for every command whose option
 * table has the flag: flag > environment > profile > default.
 *
 * Location: `--profile-file FILE` (any command), else DBTLS_PROFILE, else $XDG_CONFIG_HOME/dbtls/profile
 * (~/.config/dbtls/profile). A named file must exist; the default one may be absent.
 * Format: `key = value` (or `key: value`) lines, `#` or `;` comments; relative paths are relative to the profile's
 * directory. Unknown keys are refused, and so is any secret: the profile names password *files* only.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CA_DIR_ENV, CA_PASSPHRASE_ENV, DEFAULT_CA_DIR } from '../ca/store.js';
import { DbtlsError } from '../errors.js';
import { readUserFile } from '../util/files.js';
import type { OptionTable, Parsed, Profile, ProfileKey } from './command.js';

export type { Profile, ProfileKey };

import { closest, shown } from './suggest.js';

export const PROFILE_ENV = 'DBTLS_PROFILE';
/** The admin target when the command line names none (the profile's `admin-target`, one level down). */
export const ADMIN_TARGET_ENV = 'DBTLS_ADMIN_TARGET';

export type SettingOrigin = 'flag' | 'env' | 'profile' | 'default';

interface KeySpec {
  /** The option it stands for; undefined for the ADMIN_TARGET positional argument. */
  readonly option?: string;
  /** The variable that beats the profile: the value itself, or (for the file keys) the secret itself. */
  readonly env?: string;
  readonly default?: string;
  /** A path on this machine: relative to the profile's directory when not absolute. */
  readonly local: boolean;
  /** Only for the server commands (their table has the admin --socket): elsewhere the flag means another file. */
  readonly admin?: boolean;
  readonly description: string;
}

export const PROFILE_KEYS: Readonly<Record<ProfileKey, KeySpec>> = Object.freeze({
  'ca-dir': {
    option: 'ca-dir',
    env: CA_DIR_ENV,
    default: DEFAULT_CA_DIR,
    local: true,
    description: 'the CA directory (--ca-dir)',
  },
  'passphrase-file': {
    option: 'passphrase-file',
    env: CA_PASSPHRASE_ENV,
    local: true,
    description: "a file holding the CA key's passphrase (--passphrase-file)",
  },
  'admin-target': {
    env: ADMIN_TARGET_ENV,
    local: false,
    admin: true,
    description: 'the ADMIN_TARGET of the server commands when the command line names none',
  },
  socket: { option: 'socket', local: true, admin: true, description: "the server's unix socket (--socket)" },
  'password-file': {
    option: 'password-file',
    env: 'MYSQL_PWD',
    local: true,
    admin: true,
    description: "a file holding the admin account's password (--password-file)",
  },
  'ssl-dir': {
    option: 'dir',
    local: false,
    admin: true,
    description: 'where the server keeps its certificate files, on the server host (--dir)',
  },
});

/** Keys that would hold a secret: refused with a pointer to the file key. */
const SECRET_KEY = /pass|secret|pwd|token/i;

/** Where the profile is: --profile-file, DBTLS_PROFILE, or the XDG default (which may be absent). */
export function profileLocation(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
): { file: string; named: boolean } {
  const named = flag ?? env[PROFILE_ENV];
  if (named) return { file: named, named: true };
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return { file: path.join(base, 'dbtls', 'profile'), named: false };
}

function profileError(
  code: 'PROFILE_INVALID' | 'PROFILE_KEY_UNKNOWN' | 'PROFILE_SECRET',
  file: string,
  line: number,
  cause: string,
  hint: string,
): DbtlsError {
  return new DbtlsError(code, `could not read the profile ${file}, line ${line}: ${cause}`, { hint });
}

/** The profile's text as values, every key checked. */
export function parseProfile(text: string, file: string): Profile['values'] {
  const values: Partial<Record<ProfileKey, string>> = {};
  const dir = path.dirname(path.resolve(file));
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    // `key = value`, or `key: value` as YAML writes it: the first of the two separates.
    const eq = line.search(/[=:]/);
    const key = (eq === -1 ? line : line.slice(0, eq)).trim().toLowerCase();
    const value = eq === -1 ? '' : line.slice(eq + 1).trim();
    if (!Object.hasOwn(PROFILE_KEYS, key)) {
      if (SECRET_KEY.test(key)) {
        throw profileError(
          'PROFILE_SECRET',
          file,
          i + 1,
          `${shown(key)} would put a secret in the profile, and a profile is read by every command and copied around`,
          'write the secret in a file of its own (chmod 600) and name it: password-file = PATH or passphrase-file = PATH',
        );
      }
      const guess = closest(key, Object.keys(PROFILE_KEYS));
      throw profileError(
        'PROFILE_KEY_UNKNOWN',
        file,
        i + 1,
        `the key ${shown(key)} is not known${guess ? `; did you mean ${guess}?` : ''}`,
        `the keys are ${Object.keys(PROFILE_KEYS).join(', ')} (\`dbtls config show\` prints them resolved)`,
      );
    }
    const name = key as ProfileKey;
    if (eq === -1 || value === '' || /[\0-\x1f\x7f]/.test(value)) {
      throw profileError(
        'PROFILE_INVALID',
        file,
        i + 1,
        `${name} needs a value on one line, without control characters`,
        `write ${name} = VALUE`,
      );
    }
    if (values[name] !== undefined) {
      throw profileError('PROFILE_INVALID', file, i + 1, `${name} is given twice`, 'keep one line per key');
    }
    values[name] = PROFILE_KEYS[name].local ? path.resolve(dir, value) : value;
  }
  return Object.freeze(values);
}

/** Whether the file can be reached at all: stat fails for a missing file and for a home we may not enter. */
function reachable(file: string): boolean {
  try {
    return fs.statSync(file, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/**
 * Reads the profile at its location. No file at the default location, or one under a home directory this
 * user may not enter (HOME=/root for `setpriv --reuid nobody`), is an empty profile; a named one must be read.
 */
export function loadProfile(flag: string | undefined, env: NodeJS.ProcessEnv): Profile {
  const { file, named } = profileLocation(flag, env);
  if (!named && !reachable(file)) return { file: undefined, values: {} };
  return { file, values: parseProfile(readUserFile(file, 'the profile').toString('utf8'), file) };
}

/**
 * The admin target a hint can name for a command that takes none itself (`issue client` → `dbtls require
 * TARGET …`): DBTLS_ADMIN_TARGET, else the profile's admin-target; undefined when neither says, or when the
 * profile cannot be read (a hint never fails the command that prints it).
 */
export function knownAdminTarget(env: NodeJS.ProcessEnv, profile?: () => Profile): string | undefined {
  if (env[ADMIN_TARGET_ENV]) return env[ADMIN_TARGET_ENV];
  try {
    return profile?.().values['admin-target'];
  } catch {
    return undefined;
  }
}

/**
 * Whether a key applies to a command with this table: its option is there, and for the admin keys the
 * command is a server command (`connect --password-file` is the user's password, `export p12
 * --password-file` the keystore's: the profile's admin password file must not stand in for those).
 */
function applies(spec: KeySpec, options: OptionTable): boolean {
  if (spec.admin && !Object.hasOwn(options, 'socket')) return false;
  return spec.option === undefined || Object.hasOwn(options, spec.option);
}

/**
 * The variables that give a command its ADMIN_TARGET when the command line names none
 * (DBTLS_ADMIN_TARGET), for its help; `targetSlots` as withProfile takes it.
 */
export function targetEnvOf(options: OptionTable, targetSlots: number): string[] {
  if (targetSlots === 0) return [];
  return Object.values(PROFILE_KEYS).flatMap((spec) =>
    spec.option === undefined && spec.env && applies(spec, options) ? [spec.env] : [],
  );
}

export interface ResolvedSetting {
  readonly key: ProfileKey;
  /** The value, or for a secret given by the environment the variable's name (`$MYSQL_PWD`), never the secret. */
  readonly value: string | undefined;
  readonly origin: SettingOrigin;
}

/** Where each profile key's value comes from for a command with this option table and these arguments. */
export function resolveSettings(
  p: Parsed,
  options: OptionTable,
  env: NodeJS.ProcessEnv,
  profile: Profile,
  adminTargetGiven: boolean,
): ResolvedSetting[] {
  const out: ResolvedSetting[] = [];
  for (const [key, spec] of Object.entries(PROFILE_KEYS) as [ProfileKey, KeySpec][]) {
    const flagValue = spec.option ? p.values[spec.option] : adminTargetGiven ? p.positionals[0] : undefined;
    let s: Omit<ResolvedSetting, 'key'>;
    if (typeof flagValue === 'string') s = { value: flagValue, origin: 'flag' };
    else if (spec.env && env[spec.env] !== undefined && env[spec.env] !== '') {
      const secret = spec.env === 'MYSQL_PWD' || spec.env === CA_PASSPHRASE_ENV;
      s = { value: secret ? `$${spec.env}` : env[spec.env], origin: 'env' };
    } else if (profile.values[key] !== undefined) s = { value: profile.values[key], origin: 'profile' };
    else s = { value: spec.default, origin: 'default' };
    if (applies(spec, options)) out.push({ key, ...s });
  }
  return out;
}

/**
 * The arguments with the profile's values standing in for the flags the command line did not give (and
 * the environment did not override): what every command then reads as if typed. `targetSlots` is how many
 * positional arguments the command expects with ADMIN_TARGET first (0 when it takes none).
 */
export function withProfile(
  p: Parsed,
  options: OptionTable,
  env: NodeJS.ProcessEnv,
  profile: () => Profile,
  targetSlots: number,
): Parsed {
  const targetMissing = targetSlots > 0 && p.positionals.length === targetSlots - 1;
  // A command that takes none of the keys never reads the profile (a broken one does not stop `cert show`).
  const takes = (spec: KeySpec) => applies(spec, options) && (spec.option !== undefined || targetMissing);
  if (!Object.values(PROFILE_KEYS).some(takes)) return p;
  const settings = resolveSettings(p, options, env, profile(), !targetMissing);
  const values = { ...p.values };
  let positionals = p.positionals;
  for (const s of settings) {
    const spec = PROFILE_KEYS[s.key];
    if (spec.option && s.origin === 'profile') values[spec.option] = s.value;
    if (!spec.option && targetMissing && (s.origin === 'profile' || s.origin === 'env') && s.value)
      positionals = [s.value, ...positionals];
  }
  return { values, positionals };
}
