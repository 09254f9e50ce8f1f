/**
 * What the server-side command groups (`server`, `users`, `require`, `rotate`, `secure`) share: the flags
 * that say how the admin session connects, the admin password and CA passphrase (never argv), the
 * session's lifetime, and the user's restart command.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { CA_PASSPHRASE_ENV } from '../ca/store.js';
import { causeText, DbtlsError } from '../errors.js';
import { recoverInterruptedRequires, stateDir } from '../server/accounts/require-journal.js';
import { type AdminSession, openAdminSession, type SessionOptions } from '../server/admin/session.js';
import { resolveAdminTarget } from '../server/admin/target.js';
import { DEFAULT_CERT_DIR, DEFAULT_CONFIG_FILE } from '../server/tls/config.js';
import { DEFAULT_SSL_MODE, SSL_MODES_WITHOUT_FALLBACK } from '../tls/ssl-mode.js';
import { flag, type OptionSpec, type Parsed, readSecret, str } from './args.js';
import { givenCaFlags } from './ca-common.js';
import type { CommandContext } from './command.js';
import { COMMON, KEY_FILE, like } from './options.js';
import { commandLine } from './shell.js';

/** How the admin session connects; shared by every server-side command. */
export const ADMIN_OPTIONS: OptionSpec = {
  'ssl-mode': like('ssl-mode', {
    description: "the admin session's ssl-mode (not preferred: it falls back to plaintext)",
    choices: SSL_MODES_WITHOUT_FALLBACK,
    default: DEFAULT_SSL_MODE,
  }),
  user: like('user', { description: 'the admin account the session logs in as', default: 'root' }),
  socket: like('socket', { description: "the server's unix socket (for a server without TLS yet)" }),
  'password-file': like('password-file', {
    description: "a file holding the admin account's password (else MYSQL_PWD, else a prompt)",
  }),
  json: COMMON.json,
};

/** Commands where --ca/--cert/--key are the admin session's own TLS files. */
export const ADMIN_TLS_OPTIONS: OptionSpec = {
  ca: like('ca', { description: 'the CA certificate (PEM) that verifies the server for the admin session' }),
  cert: like('cert', { description: "the admin session's client certificate (PEM)" }),
  key: { ...KEY_FILE, description: 'the private key (PEM) of --cert' },
};

/** Commands where --ca/--cert/--key mean something else: the admin session's files are --admin-*. */
export const ADMIN_PREFIXED_TLS_OPTIONS: OptionSpec = {
  'admin-ca': {
    type: 'string',
    value: 'FILE',
    description: 'the CA certificate (PEM) that verifies the server for the admin session',
  },
  'admin-cert': {
    type: 'string',
    value: 'FILE',
    description: "the admin session's client certificate (PEM)",
  },
  'admin-key': { type: 'string', value: 'FILE', description: 'the private key (PEM) of --admin-cert' },
};

/** ADMIN_OPTIONS (but --json) and ADMIN_TLS_OPTIONS as a usage line names them. */
export const ADMIN_SESSION_USAGE =
  '[--ssl-mode M] [--ca F] [--cert F --key F] [--user U] [--password-file F] [--socket PATH]';

/** ADMIN_OPTIONS (but --json) and ADMIN_PREFIXED_TLS_OPTIONS as a usage line names them. */
export const ADMIN_PREFIXED_SESSION_USAGE =
  '[--ssl-mode M] [--admin-ca F] [--admin-cert F --admin-key F] [--user U] [--password-file F] [--socket PATH]';

/** The admin password from --password-file, MYSQL_PWD or a prompt on a TTY; never argv. */
export function adminPassword(p: Parsed, ctx: CommandContext): Promise<string | undefined> {
  return readSecret(
    {
      file: str(p, 'password-file'),
      envName: 'MYSQL_PWD',
      emptyEnvIsValue: true,
      what: 'admin password',
      prompt: true,
    },
    ctx.env,
  );
}

/** The CA passphrase from --passphrase-file, DBTLS_CA_PASSPHRASE, or a prompt on a TTY; never argv. */
export function caPassphrase(p: Parsed, ctx: CommandContext, confirm = false): Promise<string | undefined> {
  return readSecret(
    {
      file: str(p, 'passphrase-file'),
      envName: CA_PASSPHRASE_ENV,
      what: 'CA passphrase',
      prompt: true,
      confirm,
    },
    ctx.env,
  );
}

export interface AdminFlagsOptions {
  /** '' when --ca/--cert/--key are the admin session's files, 'admin-' when they are --admin-ca/…. */
  readonly tlsPrefix?: '' | 'admin-';
  /** The admin session's CA when none is given and this file exists (our CA's root, or the rollover bundle). */
  readonly defaultCa?: string | undefined;
}

/** The admin session's connection options from ADMIN_TARGET and the flags, resolved once. */
export async function adminSessionOptions(
  p: Parsed,
  ctx: CommandContext,
  target: string,
  o: AdminFlagsOptions = {},
): Promise<SessionOptions> {
  const prefix = o.tlsPrefix ?? '';
  const fallbackCa = o.defaultCa && fs.existsSync(o.defaultCa) ? o.defaultCa : undefined;
  return resolveAdminTarget(
    target,
    {
      sslMode: str(p, 'ssl-mode'),
      ca: str(p, `${prefix}ca`) ?? fallbackCa,
      cert: str(p, `${prefix}cert`),
      key: str(p, `${prefix}key`),
      user: str(p, 'user'),
      socket: str(p, 'socket'),
      password: await adminPassword(p, ctx),
      caOption: `--${prefix}ca`,
    },
    ctx.env,
  );
}

/** The server commands whose admin session takes --admin-ca/--admin-cert/--admin-key (their --ca is another file). */
const ADMIN_PREFIXED = new Set(['server enable', 'rotate', 'secure', 'crl']);

/**
 * `dbtls WORDS TARGET REST… --admin-flags`, quoted for the shell: a hint naming another server command
 * carries the target and the admin-session flags the user gave, spelled as that command spells them, so
 * that it works when pasted (issue 14 item 5).
 */
export function adminCommandLine(
  p: Parsed,
  target: string,
  words: readonly string[],
  ...rest: string[]
): string {
  const command = words.join(' ');
  const tls = ADMIN_PREFIXED.has(command) ? '--admin-' : '--';
  const given: [string, string | undefined][] = [
    ['--ssl-mode', str(p, 'ssl-mode')],
    [`${tls}ca`, str(p, 'admin-ca') ?? str(p, 'ca')],
    [`${tls}cert`, str(p, 'admin-cert') ?? str(p, 'cert')],
    [`${tls}key`, str(p, 'admin-key') ?? str(p, 'key')],
    [command === 'secure' ? '--admin-user' : '--user', str(p, 'admin-user') ?? str(p, 'user')],
    ['--password-file', str(p, 'password-file')],
    ['--socket', str(p, 'socket')],
  ];
  const flags = given.flatMap(([name, value]) => (value === undefined ? [] : [name, value]));
  // The commands that take the CA get the CA flags given too (a rollover stage, `secure`).
  const caFlags = ADMIN_PREFIXED.has(command) ? givenCaFlags(p) : [];
  return commandLine(['dbtls', ...words, target, ...rest, ...caFlags, ...flags]);
}

/** A library hint's `dbtls COMMAND ADMIN_TARGET …` placeholder, filled in with the target and the flags. */
export function pastableHint(err: unknown, p: Parsed, target: string): unknown {
  if (!(err instanceof DbtlsError) || !err.hint?.includes(' ADMIN_TARGET')) return err;
  const hint = err.hint.replace(
    /`dbtls ([a-z ]+?) ADMIN_TARGET([^`]*)`/g,
    (_, words: string, rest: string) => `\`${adminCommandLine(p, target, words.split(' '))}${rest}\``,
  );
  return err.reworded({ hint });
}

/** Opens the admin session for ADMIN_TARGET, runs `fn`, and always closes the session. */
export async function withAdmin<T>(
  p: Parsed,
  ctx: CommandContext,
  target: string,
  fn: (s: AdminSession) => Promise<T>,
  o: AdminFlagsOptions = {},
): Promise<T> {
  try {
    const session = await openAdminSession(await adminSessionOptions(p, ctx, target, o));
    return await withSession(session, async (s) => {
      await settleInterruptedRequires(s, ctx);
      return fn(s);
    });
  } catch (err) {
    throw pastableHint(err, p, target);
  }
}

/**
 * Every admin session first settles what an interrupted `dbtls require` left on this server (issue 10
 * item 9), and says so; a failure to look is a warning, never the end of the command the user asked for.
 */
async function settleInterruptedRequires(session: AdminSession, ctx: CommandContext): Promise<void> {
  try {
    for (const r of await recoverInterruptedRequires(session, stateDir(ctx.env))) ctx.render.warn(r.message);
  } catch (err) {
    ctx.render.warn(`could not check for an interrupted \`dbtls require\`: ${causeText(err)}`);
  }
}

export async function withSession<T>(session: AdminSession, fn: (s: AdminSession) => Promise<T>): Promise<T> {
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

/** The one ADMIN_TARGET of a command that takes nothing else. */
export function singleTarget(p: Parsed, usage: string, what: string): string {
  const [first, ...rest] = p.positionals;
  if (!first || rest.length > 0) {
    throw new DbtlsError(
      'USAGE',
      `could not run ${what}: ${first ? `unexpected argument ${rest[0]}` : 'ADMIN_TARGET is missing'}`,
      { hint: `usage: ${usage}` },
    );
  }
  return first;
}

/** Prints JSON when --json was given; returns whether it did. */
export function renderedJson(p: Parsed, ctx: CommandContext, value: unknown): boolean {
  if (!flag(p, 'json')) return false;
  ctx.render.json(value);
  return true;
}

/** A date as YYYY-MM-DD. */

/** How many lines of a failed restart command's output the error quotes. */
const RESTART_OUTPUT_LINES = 3;

/** Secrets dbtls reads from the environment: a restart command (`systemctl …`) needs none of them. */
const SECRET_ENV: readonly string[] = [CA_PASSPHRASE_ENV, 'MYSQL_PWD'];

/** This process's environment without the secrets (issue 10, item 17). */
export function restartEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of SECRET_ENV) delete out[name];
  return out;
}

/**
 * Runs the user's restart command through the shell (it is theirs: `systemctl restart mariadb`), resolving
 * when it exits 0; RESTART_FAILED with the end of its output otherwise.
 */
export function shellRestart(command: string): () => Promise<void> {
  return () =>
    new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', command], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: restartEnv(),
      });
      let output = '';
      const collect = (d: Buffer) => {
        output += d;
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      child.on('error', reject);
      child.on('close', (code) => {
        if (code === 0) return resolve();
        const tail = output.trim().split('\n').slice(-RESTART_OUTPUT_LINES).join(' / ');
        reject(
          new DbtlsError(
            'RESTART_FAILED',
            `could not restart the server: \`${command}\` exited with ${code}`,
            {
              hint: `its output was: ${tail || '(none)'}`,
            },
          ),
        );
      });
    });
}

/** Where the server's TLS files and settings go, and how it restarts: `server enable` and `secure`. */
export const SERVER_FILE_OPTIONS: OptionSpec = {
  dir: {
    type: 'string',
    value: 'DIR',
    description: 'where the server reads its certificate files (stable paths, replaced atomically)',
    default: `the directory of the current ssl_cert, else ${DEFAULT_CERT_DIR}`,
  },
  'config-file': {
    type: 'string',
    value: 'PATH',
    description: 'the option file dbtls writes the ssl_* settings to',
    default: `a directory the server's option files include, else ${DEFAULT_CONFIG_FILE}`,
  },
  'server-config': {
    type: 'string',
    value: 'FILE',
    description: "the server's main option file, when dbtls cannot find it from the server's variables",
  },
  'restart-command': {
    type: 'string',
    value: 'CMD',
    description: 'how to restart the server when TLS was off (the first enablement needs a restart)',
  },
};
