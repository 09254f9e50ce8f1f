#!/usr/bin/env node
/**
 * The dbtls command table. Each command group lives in its own module and exports `commands`; this file
 * only finds the command the words name, runs it, and renders a failure. The README lists the surface.
 */
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DbtlsError } from '../errors.js';
import { dsnSecrets, redactSecrets } from '../util/safe-text.js';
import type { Command, CommandContext } from './command.js';
import type { Profile } from './profile.js';
import { processRenderer, type Renderer, redacting } from './render.js';
import { commandLine } from './shell.js';
import { closest, shown } from './suggest.js';

/** The version `dbtls --version` prints (test/unit/cli/main.test.ts checks it against package.json). */
export const VERSION = '0.1.0';

type Group = () => Promise<{ commands: readonly Command[] }>;

// Command groups, loaded only when named: a process that runs `dbtls inspect` never loads the Kubernetes
// or keystore code (startup was ~1 s with every group loaded), and `dbtls --help` loads none.
const ca: Group = () => import('./ca.js');
const revoke: Group = () => import('./revoke.js');
const keystore: Group = () => import('./keystore.js');
const bundle: Group = () => import('./bundle.js');
const client: Group = () => import('./client.js');
const inspect: Group = () => import('./inspect.js');
const server: Group = () => import('./server.js');
const rotate: Group = () => import('./rotate.js');
const secure: Group = () => import('./secure.js');
const deploy: Group = () => import('./deploy.js');
const snippet: Group = () => import('./snippet.js');
const demo: Group = () => import('./demo.js');
const certs: Group = () => import('./cert-show.js');
const completion: Group = () => import('./completion.js');
const proxy: Group = () => import('./proxy.js');
const proxySidecar: Group = () => import('./proxy-sidecar.js');
const exporter: Group = () => import('./exporter.js');
const config: Group = () => import('./config.js');

/**
 * Every command: its name, its group and its one-line summary, in the order `dbtls --help` lists them.
 * The summaries are repeated here so that the overview imports nothing; a test checks them against the
 * commands. A new command is one line here (and its own module).
 */
export const COMMANDS: readonly (readonly [name: string, group: Group, summary: string])[] = [
  ['ca init', ca, 'create a private CA (root, optionally an intermediate) for the database fleet'],
  ['ca show', ca, 'show the CA: root and intermediate, fingerprints, validity, key type, counts'],
  ['issue server', ca, 'issue a server certificate (SANs for verify-full)'],
  ['issue client', ca, 'issue client certificates (CN = database user)'],
  ['csr', ca, 'make a key and a certificate signing request on this node (the key never leaves it)'],
  ['csr show', certs, 'show what a certificate signing request asks for, to review it before `dbtls sign`'],
  ['sign', ca, 'sign a CSR with the CA; the CA decides the extensions, only the names come from the CSR'],
  ['cert show', certs, 'show what a certificate file says: subject, SANs, usages, validity, issuer, key'],
  ['renew', ca, 'renew certificates: same names, new serial, new key unless --reuse-key'],
  ['list', ca, 'list the certificates the CA issued'],
  ['revoke', revoke, 'mark a certificate revoked in the CA index (then run `dbtls crl`)'],
  ['crl', revoke, 'publish the CRLs of the whole chain as one PEM file, ready for ssl_crl'],
  ['export p12', keystore, 'write a PKCS#12 keystore with a private key and its chain (Java clients)'],
  ['export jks', keystore, 'write a JKS keystore with a private key and its chain (Java clients)'],
  [
    'export truststore',
    keystore,
    'write a JKS or PKCS#12 truststore with trusted CA certificates (Java clients)',
  ],
  [
    'keystore show',
    keystore,
    'list the entries of a JKS or PKCS#12 keystore (alias, type, subject, expiry, chain length)',
  ],
  [
    'bundle',
    bundle,
    'build a CA bundle: leaf-to-root order, duplicates removed, expired, non-CA and broken links refused',
  ],
  ['bundle show', bundle, 'list the certificates of a PEM bundle with expiry and chain completeness'],
  [
    'cloud-ca',
    bundle,
    'managed-database CA bundles: `rds` is shipped; Cloud SQL and Azure go through `dbtls bundle`',
  ],
  ['cloud-ca rds', bundle, 'write the Amazon RDS/Aurora CA bundle (shipped with dbtls, no network needed)'],
  ['connect', client, 'connect with an exact ssl-mode, run SQL and show what TLS protects the session'],
  [
    'inspect',
    inspect,
    "inspect servers' TLS posture over the MySQL protocol: versions, ciphers, chain, findings with fixes",
  ],
  [
    'server status',
    server,
    "show the server's TLS settings, the certificate it serves, and accounts by TLS requirement",
  ],
  [
    'server enable',
    server,
    'install the certificate at stable paths, write the TLS config, reload (or restart) and prove it',
  ],
  [
    'server reload',
    server,
    're-read the certificate files online (FLUSH SSL / ALTER INSTANCE RELOAD TLS) and show what is served',
  ],
  [
    'users',
    server,
    'list every account with its TLS requirement, highlighting remote accounts that accept plaintext',
  ],
  [
    'require',
    server,
    "set an account's TLS requirement, checked by a login as that account, reverted if it fails",
  ],
  ['proxysql', server, 'print the ProxySQL admin statements for frontend and backend TLS'],
  [
    'rotate',
    rotate,
    're-issue the served certificate and reload it online; with --ca-rollover, the staged CA rollover',
  ],
  [
    'secure',
    secure,
    'take a server to verified, per-user TLS in one idempotent run (CA, certificates, config, REQUIRE, proof)',
  ],
  ['k8s secrets', deploy, 'the ConfigMaps, Secrets and Helm values for an app connecting with an ssl-mode'],
  [
    'k8s cert-manager',
    deploy,
    'cert-manager CA Secret, Issuer and Certificates (with keystores) from the dbtls CA',
  ],
  [
    'k8s kubedb',
    deploy,
    'a KubeDB MySQL/MariaDB with TLS from a cert-manager issuer, or a ReconfigureTLS ops request',
  ],
  [
    'k8s proxy-sidecar',
    proxySidecar,
    'the native sidecar (init container, restartPolicy Always) that runs dbtls proxy next to an app',
  ],
  [
    'snippet',
    snippet,
    "the exact command, config, URL or code giving an ssl-mode in one client's vocabulary",
  ],
  [
    'proxy',
    proxy,
    'a local sidecar: applications connect in plaintext on loopback, the proxy speaks verify-full + mutual TLS upstream',
  ],
  [
    'exporter',
    exporter,
    'a Prometheus exporter: /probe?target=HOST:PORT&module=NAME inspects one server and answers metrics',
  ],
  [
    'demo',
    demo,
    'secure a throwaway MariaDB end to end: inspect, secure, inspect, verify-full + mutual TLS (needs mariadbd)',
  ],
  [
    'config show',
    config,
    'print the settings the profile gives the server commands, each with where it came from',
  ],
  [
    'completion',
    completion,
    'print a shell completion script for bash, zsh or fish, generated from the command tables',
  ],
];

/** The groups that define commands starting with `word`. */
function groupsOf(word: string | undefined): Group[] {
  return [...new Set(COMMANDS.filter(([name]) => name.split(' ')[0] === word).map(([, g]) => g))];
}

async function commandsOf(groups: readonly Group[]): Promise<Command[]> {
  const seen = new Set<Command>();
  for (const m of await Promise.all(groups.map((load) => load()))) for (const c of m.commands) seen.add(c);
  return [...seen];
}

/** Every command, in the order `dbtls --help` lists them (loads every group). */
export async function allCommands(): Promise<Command[]> {
  const commands = await commandsOf([...new Set(COMMANDS.map(([, g]) => g))]);
  const order = COMMANDS.map(([name]) => name);
  const rank = (c: Command) => {
    const i = order.indexOf(c.name.join(' '));
    return i === -1 ? order.length : i;
  };
  return commands.sort((a, b) => rank(a) - rank(b));
}

/** The command whose name is the longest prefix of argv. */
export async function findCommand(
  argv: readonly string[],
): Promise<{ command: Command; rest: string[] } | undefined> {
  let best: Command | undefined;
  for (const command of await commandsOf(groupsOf(argv[0]))) {
    const n = command.name.length;
    if (n <= argv.length && command.name.every((w, i) => argv[i] === w)) {
      if (!best || n > best.name.length) best = command;
    }
  }
  return best ? { command: best, rest: argv.slice(best.name.length) } : undefined;
}

/** The overview: from the static table, so printing it loads no command module. */
export function overview(): string[] {
  const width = Math.max(...COMMANDS.map(([name]) => name.length));
  return [
    'dbtls: encryption in transit for MySQL-family databases',
    '',
    'usage: dbtls COMMAND [options]',
    '',
    ...COMMANDS.map(([name, , summary]) => `  ${name.padEnd(width)}  ${summary}`),
    '',
    'Run `dbtls COMMAND --help` (or `dbtls help COMMAND`) for its options. Start with `dbtls demo`.',
    '`dbtls --version` prints the version.',
    '',
    'Every command takes:',
    '  --profile-file FILE  the profile of server settings (else DBTLS_PROFILE, else ~/.config/dbtls/profile)',
    '  --no-color           no colour on a terminal (so does setting NO_COLOR)',
  ];
}

/** `--help` anywhere, or `-h` not followed by a value (`-h db1` is the mysql habit habits.ts answers). */
function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  const words = end === -1 ? args : args.slice(0, end);
  return words.some(
    (a, i) => a === '--help' || (a === '-h' && (words[i + 1] === undefined || words[i + 1]!.startsWith('-'))),
  );
}

/**
 * UNKNOWN_COMMAND for words that name no command, with the closest command when one is close: by its
 * first word (`isue` → `issue`), else by the last word of a longer command (`status` → `server status`).
 */
function unknownCommand(argv: readonly string[], render: Renderer): number {
  const firsts = [...new Set(COMMANDS.map(([name]) => name.split(' ')[0]!)), 'help'];
  const guess = closest(argv[0] ?? '', firsts);
  const rest = argv.slice(1).filter((a) => !a.startsWith('-'));
  const full = guess
    ? [COMMANDS.find(([name]) => name === [guess, rest[0]].join(' '))?.[0] ?? guess]
    : byLastWord(argv[0] ?? '');
  const named = full.map((name) => `\`dbtls ${name}\``);
  return render.error(
    new DbtlsError('UNKNOWN_COMMAND', `could not run dbtls ${shown(argv.join(' '))}: no such command`, {
      hint:
        named.length > 0
          ? `did you mean ${named.length === 1 ? named[0] : `one of ${named.join(', ')}`}? (\`dbtls --help\` lists the commands)`
          : 'run `dbtls --help` for the list of commands',
    }),
  );
}

/** The commands of two or more words whose last word is (or is closest to) `word`: `status` → `server status`. */
function byLastWord(word: string): string[] {
  const longer = COMMANDS.map(([name]) => name).filter((name) => name.includes(' '));
  const last = (name: string) => name.split(' ').at(-1)!;
  const guess = closest(word, longer.map(last));
  return guess === undefined ? [] : longer.filter((name) => last(name) === guess);
}

/** A family named without (or with a wrong) subcommand: `dbtls issue`, `dbtls ca int`. */
async function familyWithout(argv: readonly string[], render: Renderer): Promise<number | undefined> {
  const family = (await commandsOf(groupsOf(argv[0]))).filter((c) => c.name[0] === argv[0]);
  if (family.length === 0) return undefined;
  const usages = family.map((c) => `  ${c.usage}`);
  const second = argv[1];
  if (second === undefined || second.startsWith('-')) {
    if (wantsHelp(argv)) {
      render.lines('usage:', ...usages);
      return 0;
    }
    return render.error(
      new DbtlsError(
        'UNKNOWN_COMMAND',
        `could not run dbtls ${shown(argv.join(' '))}: name one of its subcommands\n${usages.join('\n')}`,
        { hint: `add the subcommand, e.g. \`dbtls ${family[0]!.name.join(' ')} --help\`` },
      ),
    );
  }
  const subs = family.map((c) => c.name[1]).filter((w): w is string => w !== undefined);
  const guess = closest(second, subs);
  if (!guess) return undefined;
  return render.error(
    new DbtlsError('UNKNOWN_COMMAND', `could not run dbtls ${shown(argv.join(' '))}: no such command`, {
      hint: `did you mean \`dbtls ${argv[0]} ${guess}\`? (\`dbtls ${argv[0]} --help\` lists its subcommands)`,
    }),
  );
}

async function printCommandHelp(command: Command, render: Renderer): Promise<number> {
  const { commandHelp } = await import('./help.js');
  render.lines(...commandHelp(command));
  return 0;
}

/**
 * `--profile-file FILE` is global: any command takes it (before a `--`). Its old name `--profile` works
 * for one release, with a warning, where the command's own table has no `--profile` of another meaning
 * (the certificate profile of `sign`, the PKCS#12 encryption of `export`; src/cli/profile.ts).
 */
function withoutProfileFlag(
  argv: readonly string[],
  command: Command,
  render: Renderer,
): { rest: string[]; profileFlag?: string } {
  const oldNameFree = !(command.options && Object.hasOwn(command.options, 'profile'));
  const rest: string[] = [];
  let profileFlag: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const name = /^--(profile-file|profile)(?:=|$)/.exec(a)?.[1];
    if (name === undefined || (name === 'profile' && !oldNameFree)) {
      rest.push(a);
      continue;
    }
    const value = a === `--${name}` ? argv[++i] : a.slice(name.length + 3);
    if (!value || value.startsWith('-')) {
      throw new DbtlsError('USAGE', `could not parse the arguments: --${name} needs a value`, {
        hint: 'write --profile-file FILE (or set DBTLS_PROFILE)',
      });
    }
    if (profileFlag !== undefined) {
      throw new DbtlsError('USAGE', 'could not parse the arguments: the profile is named twice', {
        hint: 'write --profile-file FILE once',
      });
    }
    if (name === 'profile' && PKCS12_PROFILE_WORDS.includes(value) && !existsSync(value)) {
      throw new DbtlsError(
        'USAGE',
        `could not parse the arguments: --profile ${value} is the PKCS#12 encryption of \`export p12\` and \`export truststore --format p12\`; \`dbtls ${command.name.join(' ')}\` has no such choice`,
        {
          hint: 'drop --profile here (JKS keystores have one encryption), or write a PKCS#12 keystore with export p12',
        },
      );
    }
    if (name === 'profile')
      render.warn('--profile FILE is now --profile-file FILE; the old name goes in the next release');
    profileFlag = value;
  }
  return { rest, ...(profileFlag !== undefined ? { profileFlag } : {}) };
}

/** The values of `export p12 --profile`, which the old spelling of --profile-file must not swallow. */
const PKCS12_PROFILE_WORDS: readonly string[] = ['modern', 'legacy'];

/** `--no-color` is global: any command takes it (before a `--`). */
function withoutNoColor(argv: readonly string[]): { argv: string[]; noColor: boolean } {
  const end = argv.indexOf('--');
  const head = end === -1 ? argv : argv.slice(0, end);
  const kept = head.filter((a) => a !== '--no-color');
  return { argv: [...kept, ...(end === -1 ? [] : argv.slice(end))], noColor: kept.length !== head.length };
}

export async function run(
  rawArgv: readonly string[],
  output: Renderer = processRenderer(withoutNoColor(rawArgv).noColor),
): Promise<number> {
  const { argv } = withoutNoColor(rawArgv);
  // A password typed in a DSN is refused, and never echoed by any path that prints the target or argv
  // (redacted before shown() shortens an argument, so that no prefix of it survives the cut either).
  const secrets = dsnSecrets(argv);
  const render = redacting(output, secrets);
  const echoed = argv.map((a) => redactSecrets(a, secrets));
  const ctx: CommandContext = { render, env: process.env, cwd: process.cwd() };
  const first = argv[0];
  if (
    first === undefined ||
    first === '--help' ||
    first === '-h' ||
    (first === 'help' && argv.length === 1)
  ) {
    render.lines(...overview());
    return 0;
  }
  if (first === '--version' || first === '-V' || first === 'version') {
    render.lines(`dbtls ${VERSION}`);
    return 0;
  }
  if (first === 'help') return run([...argv.slice(1), '--help'], render);
  const found = await findCommand(argv);
  if (!found) return (await familyWithout(echoed, render)) ?? unknownCommand(echoed, render);
  if (wantsHelp(found.rest)) return printCommandHelp(found.command, render);
  try {
    const { rest, profileFlag } = withoutProfileFlag(found.rest, found.command, render);
    const { loadProfile } = await import('./profile.js');
    let profile: Profile | undefined;
    const profileCtx: CommandContext = {
      ...ctx,
      profile: () => (profile ??= loadProfile(profileFlag, ctx.env)),
    };
    // A profile named on this command line is read now, also by a command that takes nothing from it:
    // a mistyped path must not pass unnoticed.
    if (profileFlag !== undefined) profileCtx.profile?.();
    return await found.command.run(rest, profileCtx);
  } catch (err) {
    return render.error(withCaFlags(pathError(err) ?? err, found.rest));
  }
}

/**
 * The commands reaching the CA that a library hint names (`run \`dbtls crl\``), by their first word, and
 * whether each takes --passphrase-file (`ca`: init and show; `issue`: server and client; `rotate`: the leaf
 * rotation and every --ca-rollover form, --status included).
 */
const CA_HINT_COMMANDS: Readonly<Record<string, boolean>> = {
  ca: true,
  crl: true,
  issue: true,
  list: true,
  renew: true,
  revoke: false,
  rotate: true,
  sign: true,
};

/**
 * A library hint that names a CA command (`check the serial with \`dbtls list\``) names it with the
 * --ca-dir and --passphrase-file the user gave, so that it reaches the same CA when pasted (issue 14 item 5).
 */
export function withCaFlags(err: unknown, argv: readonly string[]): unknown {
  if (!(err instanceof DbtlsError) || !err.hint?.includes('`dbtls ')) return err;
  const end = argv.indexOf('--');
  const given = (name: string) => {
    const args = end === -1 ? argv : argv.slice(0, end);
    const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (i === -1) return undefined;
    return args[i] === `--${name}` ? args[i + 1] : args[i]!.slice(name.length + 3);
  };
  const caDir = given('ca-dir');
  const passphraseFile = given('passphrase-file');
  if (caDir === undefined && passphraseFile === undefined) return err;
  const hint = err.hint.replace(/`dbtls ([a-z]+)([^`]*)`/g, (whole, command: string, rest: string) => {
    const takesPassphrase = CA_HINT_COMMANDS[command];
    if (takesPassphrase === undefined || rest.includes('--ca-dir')) return whole;
    // A line already filled in with the user's flags (src/cli/server-admin.ts adminCommandLine) may carry
    // --passphrase-file without --ca-dir: named twice, the pasted command would be refused.
    const flags = [
      ...(caDir === undefined ? [] : ['--ca-dir', caDir]),
      ...(passphraseFile === undefined || !takesPassphrase || rest.includes('--passphrase-file')
        ? []
        : ['--passphrase-file', passphraseFile]),
    ];
    return flags.length === 0 ? whole : `\`dbtls ${command}${rest} ${commandLine(flags)}\``;
  });
  return hint === err.hint ? err : err.reworded({ hint });
}

/** errno codes that a path the user typed causes (`--ca-dir a-file`, a 5,000-character --out). */
const PATH_ERRNOS: Readonly<Record<string, string>> = {
  ENAMETOOLONG: 'the name is too long',
  ENOTDIR: 'a part of it is a file, not a directory',
  EISDIR: 'it is a directory',
  ELOOP: 'it is a symbolic link loop',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
};

/**
 * The last line against INTERNAL (issue 14, item 8): an errno from a path the user gave is bad input,
 * exit 2 with the path and a hint, not "a bug in dbtls". Modules should still say it in their own words.
 */
function pathError(err: unknown): DbtlsError | undefined {
  const e = err as NodeJS.ErrnoException;
  const why = e && typeof e.code === 'string' ? PATH_ERRNOS[e.code] : undefined;
  if (!why || typeof e.path !== 'string') return undefined;
  return new DbtlsError('PATH_INVALID', `could not use ${shown(e.path)}: ${why}`, {
    hint: 'check the paths given to --ca-dir, --out and the other file options',
    cause: err,
  });
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

/**
 * A reader that went away (`dbtls list | head -1`) is not an error: stop quietly, as cat and git do,
 * instead of node's unhandled EPIPE stack trace (issue 14, item 7).
 */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
}

if (isMain()) {
  quietOnClosedPipe();
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.exitCode = redacting(processRenderer(), dsnSecrets(process.argv.slice(2))).error(err);
    },
  );
}
