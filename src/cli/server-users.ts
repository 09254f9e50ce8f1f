/**
 * `dbtls users` (every account and its TLS requirement) and `dbtls require` (one account's requirement,
 * changed behind the lockout guard of src/server/require.ts).
 */
import { DbtlsError } from '../errors.js';
import { applyRequirement, certificateName, type RequireResult } from '../server/accounts/require.js';
import { stateDir } from '../server/accounts/require-journal.js';
import {
  type AccountInfo,
  describeRequirement,
  listAccounts,
  parseAccount,
  type TlsRequirement,
} from '../server/accounts/users.js';
import type { AdminSslMode } from '../server/admin/session.js';
import { parseAdminSslMode } from '../server/admin/target.js';
import { SSL_MODES_WITHOUT_FALLBACK } from '../tls/ssl-mode.js';
import { oneLine } from '../util/safe-text.js';
import { flag, type OptionSpec, type Parsed, parse, readSecretFile, str } from './args.js';
import type { Command } from './command.js';
import { COMMON, like } from './options.js';
import type { Renderer } from './render.js';
import {
  ADMIN_OPTIONS,
  ADMIN_SESSION_USAGE,
  ADMIN_TLS_OPTIONS,
  adminCommandLine,
  renderedJson,
  singleTarget,
  withAdmin,
} from './server-admin.js';
import { placeholderNotes } from './shell.js';

// ---- users ----

const USERS_USAGE = `dbtls users ADMIN_TARGET ${ADMIN_SESSION_USAGE} [--json]`;

const plaintextOpen = (a: AccountInfo) => a.remote && a.requirement.type === 'NONE' && !a.locked;

function renderAccounts(
  render: Renderer,
  accounts: readonly AccountInfo[],
  fix: (account: string) => string,
): void {
  // Account names come from the server's grant tables: one escaped line each, measured as shown.
  const names = accounts.map((a) => oneLine(`'${a.user}'@'${a.host}'`));
  const width = Math.max(7, ...names.map((n) => n.length));
  render.lines(`${'ACCOUNT'.padEnd(width)}  REQUIRE`);
  accounts.forEach((a, i) => {
    const locked = a.locked ? ' (locked)' : '';
    const mark = plaintextOpen(a) ? '  <- remote, plaintext allowed' : '';
    render.lines(`${names[i]!.padEnd(width)}  ${describeRequirement(a.requirement)}${locked}${mark}`);
  });
  const open = accounts.filter(plaintextOpen);
  if (open.length > 0) {
    render.warn(
      `${open.length} remote account(s) have no TLS requirement; fix with \`${oneLine(fix(`${open[0]!.user}@${open[0]!.host}`))}\` (${placeholderNotes(['PASSWORD_FILE'])})`,
    );
  }
}

const USERS_OPTIONS: OptionSpec = { ...ADMIN_OPTIONS, ...ADMIN_TLS_OPTIONS };

export const usersCommand: Command = {
  name: ['users'],
  usage: USERS_USAGE,
  summary: 'list every account with its TLS requirement, highlighting remote accounts that accept plaintext',
  options: USERS_OPTIONS,
  examples: [
    'dbtls users db1.example.com --ca dbtls-ca/root.pem --password-file admin-pw.txt',
    'dbtls users localhost --socket /run/mysqld/mysqld.sock --ssl-mode disable --json',
  ],
  async run(argv, ctx) {
    const p = parse(argv, USERS_OPTIONS, USERS_USAGE, ctx);
    const target = singleTarget(p, USERS_USAGE, 'users');
    const accounts = await withAdmin(p, ctx, target, (s) => listAccounts(s, s.capabilities));
    // The check login of REQUIRE SSL logs in with the account's password, which only the user has.
    const fix = (account: string) =>
      adminCommandLine(p, target, ['require'], account, '--ssl', '--verify-password-file', 'PASSWORD_FILE');
    if (!renderedJson(p, ctx, accounts)) renderAccounts(ctx.render, accounts, fix);
    return 0;
  },
};

// ---- require ----

const REQUIRE_USAGE =
  'dbtls require ADMIN_TARGET USER@HOST --none|--ssl|--x509|--subject-of CERT|--issuer-of CERT [--verify-password-file F] [--verify-cert F --verify-key F] [--verify-ca F] [--verify-ssl-mode M] [--dry-run] [--i-have-another-way-in] [--json]\n' +
  `         admin session: ${ADMIN_SESSION_USAGE}`;

const usage = (why: string) =>
  new DbtlsError('USAGE', `could not run require: ${why}`, { hint: `usage: ${REQUIRE_USAGE}` });

/** The requirement the flags ask for; --subject-of/--issuer-of read OpenSSL's one-line names from the file. */
function requirementFromFlags(p: Parsed): TlsRequirement {
  const subjectOf = str(p, 'subject-of');
  const issuerOf = str(p, 'issuer-of');
  const simple = (['none', 'ssl', 'x509'] as const).filter((n) => flag(p, n));
  if (simple.length + (subjectOf || issuerOf ? 1 : 0) !== 1)
    throw usage('choose exactly one of --none, --ssl, --x509, --subject-of/--issuer-of');
  if (simple[0]) return { type: simple[0].toUpperCase() as 'NONE' | 'SSL' | 'X509' };
  return {
    type: 'SPECIFIED',
    ...(subjectOf ? { subject: certificateName(subjectOf, 'subject') } : {}),
    ...(issuerOf ? { issuer: certificateName(issuerOf, 'issuer') } : {}),
  };
}

function renderRequire(render: Renderer, result: RequireResult): void {
  const name = `'${result.account.user}'@'${result.account.host}'`;
  if (!result.changed) {
    render.lines(`${name} already requires ${describeRequirement(result.after)}; nothing to do.`);
  } else if (result.dryRun) {
    render.lines(
      `Dry run: nothing was changed. ${name} requires ${describeRequirement(result.before)} now; would run:`,
      `  ${result.statement};`,
      `then log in as ${name} to check, and on failure run:`,
      `  ${result.revertStatement};`,
    );
  } else {
    render.lines(
      `${name} now requires ${describeRequirement(result.after)} (was ${describeRequirement(result.before)}).`,
      `Checked: a new session logged in as ${name} over ${result.verifiedOver} ✓`,
    );
  }
}

const REQUIRE_OPTIONS: OptionSpec = {
  none: { type: 'boolean', description: 'REQUIRE NONE: plaintext logins allowed again' },
  ssl: { type: 'boolean', description: 'REQUIRE SSL: any TLS connection' },
  x509: { type: 'boolean', description: 'REQUIRE X509: TLS with a client certificate from a trusted CA' },
  'subject-of': {
    type: 'string',
    value: 'CERT',
    description: "REQUIRE SUBJECT: exactly this certificate's subject (PEM file)",
  },
  'issuer-of': {
    type: 'string',
    value: 'CERT',
    description: "REQUIRE ISSUER: certificates issued by this certificate's issuer (PEM file)",
  },
  'verify-password-file': {
    type: 'string',
    description: "a file holding the account's password, for the checking login",
  },
  'verify-cert': { type: 'string', description: 'the client certificate (PEM) the checking login presents' },
  'verify-key': { type: 'string', description: 'the private key (PEM) of --verify-cert' },
  'verify-ca': { type: 'string', description: 'the CA certificate (PEM) the checking login verifies with' },
  'verify-ssl-mode': like('ssl-mode', {
    description: "the checking login's ssl-mode",
    choices: SSL_MODES_WITHOUT_FALLBACK,
  }),
  'dry-run': COMMON['dry-run'],
  'i-have-another-way-in': {
    type: 'boolean',
    description: 'allow a change that could lock out the admin account itself',
  },
  ...ADMIN_OPTIONS,
  ...ADMIN_TLS_OPTIONS,
};

export const requireCommand: Command = {
  name: ['require'],
  usage: REQUIRE_USAGE,
  summary: "set an account's TLS requirement, checked by a login as that account, reverted if it fails",
  options: REQUIRE_OPTIONS,
  details: ["USER@HOST is the account, as 'app'@'%' or app@10.0.0.%."],
  examples: [
    "dbtls require db1.example.com 'app_user'@'%' --x509 --verify-cert app_user/cert.pem --verify-key app_user/key.pem --verify-ca db1/ca.pem --verify-password-file app-pw.txt --ca dbtls-ca/root.pem",
    "dbtls require db1.example.com 'app_user'@'%' --ssl --dry-run --ca dbtls-ca/root.pem",
  ],
  async run(argv, ctx) {
    const p = parse(argv, REQUIRE_OPTIONS, REQUIRE_USAGE, ctx);
    const [target, accountText, ...extra] = p.positionals;
    if (!target || !accountText || extra.length) throw usage('expected ADMIN_TARGET and one USER@HOST');
    const account = parseAccount(accountText);
    const requirement = requirementFromFlags(p);
    if (!!str(p, 'verify-cert') !== !!str(p, 'verify-key'))
      throw usage('--verify-cert and --verify-key go together');
    const passwordFile = str(p, 'verify-password-file');
    const modeText = str(p, 'verify-ssl-mode');
    const mode: AdminSslMode | undefined = modeText ? parseAdminSslMode(modeText) : undefined;
    const result = await withAdmin(p, ctx, target, (s) =>
      applyRequirement(s, {
        account,
        requirement,
        dryRun: flag(p, 'dry-run'),
        iHaveAnotherWayIn: flag(p, 'i-have-another-way-in'),
        journalDir: stateDir(ctx.env),
        verify: {
          password: passwordFile ? readSecretFile(passwordFile, 'verify password') : undefined,
          cert: str(p, 'verify-cert'),
          key: str(p, 'verify-key'),
          ca: str(p, 'verify-ca'),
          mode,
        },
      }),
    );
    if (!renderedJson(p, ctx, result)) renderRequire(ctx.render, result);
    return 0;
  },
};
