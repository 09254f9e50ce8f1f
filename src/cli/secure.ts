/**
 * `dbtls secure ADMIN_TARGET`: CA, server certificate, enable, client certificates, REQUIRE, secure
 * transport and a final inspect, each step done only when needed (src/server/secure.ts); `--undo` puts
 * back what it recorded. Thin: parse, call, render.
 */
import * as path from 'node:path';
import { caExists, resolveCaDir } from '../ca/store.js';
import { DbtlsError } from '../errors.js';
import { parseSeverity } from '../inspect/findings.js';
import { failsAt, SEVERITIES, type Severity } from '../inspect/report.js';
import { parseAccount } from '../server/accounts/users.js';
import type { SessionOptions } from '../server/admin/session.js';
import { resolveAdminTarget } from '../server/admin/target.js';
import type { SecureStep } from '../server/secure/plan.js';
import { type SecureResult, secure } from '../server/secure/secure.js';
import { undoSecure } from '../server/secure/undo.js';
import { SSL_MODES_WITHOUT_FALLBACK } from '../tls/ssl-mode.js';
import { flag, type OptionSpec, type Parsed, parse, readSecretFile, str, strs } from './args.js';
import { CA_OPTIONS } from './ca-common.js';
import type { Command, CommandContext } from './command.js';
import { COMMON, like } from './options.js';
import { checkOutputDir, refuseStdout } from './out.js';
import type { Renderer } from './render.js';
import { adminPassword, caPassphrase, SERVER_FILE_OPTIONS, shellRestart } from './server-admin.js';
import { checkServerDir, checkServerFile } from './server-paths.js';

const USAGE =
  "dbtls secure ADMIN_TARGET [--account 'app'@'%']... [--require ssl|x509] [--verify-password-file [USER=]FILE]... [--out DIR] [--ca-dir D] [--passphrase-file F | --no-passphrase] [--dir D] [--config-file F] [--dns NAME]... [--ip ADDR]... [--server-config F] [--restart-command CMD] [--no-require-secure-transport] [--skip-inspect] [--fail-on SEVERITY] [--dry-run] [--undo [--remove-ca]] [--admin-user U] [--password-file F] [--ssl-mode M] [--admin-ca F] [--socket PATH] [--json]";

export const DEFAULT_CLIENT_DIR = 'dbtls-clients';
/** secure fails when the final inspect still finds this or worse. */
const DEFAULT_FAIL_ON: Severity = 'medium';

/** `--verify-password-file app=FILE` (or just FILE with one --account): each user's password for the guard. */
function passwords(p: Parsed, users: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of strs(p, 'verify-password-file')) {
    const eq = item.indexOf('=');
    const [user, file] =
      eq > 0 ? [item.slice(0, eq), item.slice(eq + 1)] : [users.length === 1 ? users[0] : undefined, item];
    if (!user) {
      throw new DbtlsError('USAGE', `could not tell whose password ${item} is`, {
        hint: 'with several --account, write --verify-password-file USER=FILE for each',
      });
    }
    out.set(user, readSecretFile(file, `password of ${user}`));
  }
  return out;
}

async function admin(p: Parsed, ctx: CommandContext, target: string): Promise<SessionOptions> {
  const password = await adminPassword(p, ctx);
  // The admin session's CA is decided by secure itself (our CA once it exists); verify-full needs none here.
  const sslMode = str(p, 'ssl-mode');
  const options = resolveAdminTarget(
    target,
    {
      sslMode: sslMode ?? 'trust',
      ca: str(p, 'admin-ca'),
      user: str(p, 'admin-user'),
      socket: str(p, 'socket'),
      password,
      caOption: '--admin-ca',
    },
    ctx.env,
  );
  return sslMode ? options : { ...options, tls: { mode: 'verify-full', ca: options.tls.ca } };
}

const MARK: Readonly<Record<SecureStep['status'], string>> = {
  done: '✓',
  unchanged: '·',
  pending: '!',
  skipped: '-',
  planned: '+',
};

export function renderSteps(render: Renderer, result: Pick<SecureResult, 'steps'>): void {
  const width = Math.max(...result.steps.map((s) => s.step.length));
  for (const s of result.steps) {
    render.lines(
      `  ${MARK[s.status]} ${s.step.padEnd(width)}  ${s.status === 'unchanged' ? 'nothing to do: ' : s.status === 'planned' ? 'would ' : ''}${s.detail}`,
    );
  }
}

const optionalPath = (ctx: CommandContext, p: string | undefined) =>
  p === undefined ? undefined : path.resolve(ctx.cwd, p);

/** Runs secure or undo; on a failure, prints the steps already done before the error (issue 10, item 11). */
async function stepsOnFailure<T>(ctx: CommandContext, title: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const steps = err instanceof DbtlsError ? (err.details?.steps as SecureStep[] | undefined) : undefined;
    if (steps?.length) {
      ctx.render.lines(`${title}: stopped after these steps:`);
      renderSteps(ctx.render, { steps });
    }
    throw err;
  }
}

const SECURE_OPTIONS: OptionSpec = {
  account: {
    type: 'string',
    multiple: true,
    value: 'ACCOUNT',
    description: "an application account ('app'@'%') to issue a client certificate for and require TLS from",
  },
  // --user is the account a command logs in as everywhere else (issue 14 item 4); here it was the old name.
  user: {
    type: 'string',
    multiple: true,
    value: 'ACCOUNT',
    description: 'the old name of --account',
    renamedTo: 'account',
  },
  require: {
    type: 'string',
    description: 'the requirement set on each --account',
    choices: ['ssl', 'x509'],
    default: 'x509',
  },
  'verify-password-file': {
    type: 'string',
    multiple: true,
    value: '[USER=]FILE',
    description: "a file holding an account's password, for the login that proves its requirement",
  },
  out: like('out', {
    value: 'DIR',
    description: 'where the client certificates go, one directory per user',
    default: `./${DEFAULT_CLIENT_DIR}`,
  }),
  ...CA_OPTIONS,
  'no-passphrase': {
    type: 'boolean',
    description: 'when secure creates the CA: leave its key unencrypted',
  },
  ...SERVER_FILE_OPTIONS,

  dns: like('dns', { description: 'another DNS name clients dial (the host of ADMIN_TARGET is included)' }),
  ip: like('ip', { description: 'an IP address clients dial' }),
  'no-require-secure-transport': {
    type: 'boolean',
    description: 'leave require_secure_transport off (plaintext logins stay possible)',
  },
  'skip-inspect': { type: 'boolean', description: 'skip the closing inspection of the server' },
  'fail-on': {
    type: 'string',
    value: 'SEVERITY',
    description: 'exit 1 when the closing inspection finds something at least this severe',
    choices: SEVERITIES,
    default: DEFAULT_FAIL_ON,
  },
  'dry-run': COMMON['dry-run'],
  undo: { type: 'boolean', description: 'revert what an earlier secure run changed on the server' },
  'remove-ca': { type: 'boolean', description: 'with --undo: also delete the CA directory secure created' },
  'admin-user': {
    type: 'string',
    value: 'USER',
    description: 'the admin account secure logs in as',
    default: 'root',
  },
  'password-file': like('password-file', {
    description: "a file holding the admin account's password (else MYSQL_PWD, else a prompt)",
  }),
  'ssl-mode': like('ssl-mode', {
    description: "the admin session's ssl-mode",
    choices: SSL_MODES_WITHOUT_FALLBACK,
  }),
  'admin-ca': {
    type: 'string',
    description: 'the CA certificate (PEM) that verifies the server for the admin session',
  },
  socket: like('socket', { description: "the server's unix socket (for a server without TLS yet)" }),
  json: COMMON.json,
};

export const secureCommand: Command = {
  name: ['secure'],
  usage: USAGE,
  summary:
    'take a server to verified, per-user TLS in one idempotent run (CA, certificates, config, REQUIRE, proof)',
  options: SECURE_OPTIONS,
  examples: [
    "dbtls secure db1.example.com --socket /run/mysqld/mysqld.sock --ssl-mode disable --account 'app_user'@'%' --restart-command 'systemctl restart mariadb'",
    'dbtls secure db1.example.com --admin-ca dbtls-ca/root.pem --undo',
  ],
  async run(argv, ctx) {
    const p = parse(argv, SECURE_OPTIONS, USAGE, ctx);
    refuseStdout(str(p, 'out'), 'a directory of certificate files', USAGE);
    const [target, ...extra] = p.positionals;
    if (!target || extra.length) {
      throw new DbtlsError('USAGE', 'could not run secure: expected exactly one ADMIN_TARGET', {
        hint: `usage: ${USAGE}`,
      });
    }
    const caDir = resolveCaDir(str(p, 'ca-dir'), ctx.env, ctx.cwd);
    const restartCommand = str(p, 'restart-command');
    const restart = restartCommand ? shellRestart(restartCommand) : undefined;
    const dryRun = flag(p, 'dry-run');
    const serverConfig = optionalPath(ctx, str(p, 'server-config'));
    if (flag(p, 'remove-ca') && !flag(p, 'undo')) {
      throw new DbtlsError('USAGE', 'could not use --remove-ca without --undo', { hint: `usage: ${USAGE}` });
    }
    if (flag(p, 'undo')) {
      const result = await stepsOnFailure(ctx, `Undoing dbtls secure on ${target}`, () =>
        admin(p, ctx, target).then((a) =>
          undoSecure(a, { caDir, restart, removeCa: flag(p, 'remove-ca'), serverConfig, dryRun }),
        ),
      );
      if (flag(p, 'json')) ctx.render.json(result);
      else {
        ctx.render.lines(
          dryRun
            ? `Dry run: nothing was changed. Undoing dbtls secure on ${target} would:`
            : `Undoing dbtls secure on ${target}:`,
        );
        renderSteps(ctx.render, result);
      }
      return result.pending ? 1 : 0;
    }
    const requireText = (str(p, 'require') ?? 'x509').toUpperCase();
    if (requireText !== 'SSL' && requireText !== 'X509') {
      throw new DbtlsError('USAGE', `could not use --require ${str(p, 'require')}: choose ssl or x509`, {
        hint: `usage: ${USAGE}`,
      });
    }
    const failOnText = str(p, 'fail-on') ?? DEFAULT_FAIL_ON;
    const failOn = parseSeverity(failOnText);
    if (!failOn)
      throw new DbtlsError('USAGE', `could not parse --fail-on ${failOnText}`, { hint: `usage: ${USAGE}` });
    const users = strs(p, 'account').map(parseAccount);
    // Where secure writes, checked before a passphrase is asked or the server touched: a file as --out was
    // found only after the CA was made, the server certificate issued and TLS enabled from it.
    const out = path.resolve(ctx.cwd, str(p, 'out') ?? DEFAULT_CLIENT_DIR);
    checkOutputDir(out, '--out');
    checkServerDir(str(p, 'dir'), ctx.cwd);
    checkServerFile(str(p, 'config-file'), ctx.cwd);
    const passphrase = await caPassphrase(p, ctx, !caExists(caDir));
    if (passphrase === undefined && !caExists(caDir) && !flag(p, 'no-passphrase')) {
      throw new DbtlsError(
        'PASSPHRASE_REQUIRED',
        `could not create a CA in ${caDir}: no passphrase for its key`,
        {
          hint: 'give one with --passphrase-file FILE or DBTLS_CA_PASSPHRASE, or choose --no-passphrase explicitly',
        },
      );
    }
    const adminOptions = await admin(p, ctx, target);
    const result = await stepsOnFailure(ctx, `Securing ${target}`, () =>
      secure(adminOptions, {
        caDir,
        passphrase,
        users,
        requirement: requireText,
        out,
        dir: optionalPath(ctx, str(p, 'dir')),
        configFile: optionalPath(ctx, str(p, 'config-file')),
        serverConfig,
        dryRun,
        dns: strs(p, 'dns'),
        ip: strs(p, 'ip'),
        requireSecureTransport: !flag(p, 'no-require-secure-transport'),
        restart,
        passwords: passwords(
          p,
          users.map((u) => u.user),
        ),
        inspect: !flag(p, 'skip-inspect'),
      }),
    );
    const failed = result.pending || (result.report !== undefined && failsAt(result.report, failOn));
    if (flag(p, 'json')) {
      ctx.render.json(result);
      return failed ? 1 : 0;
    }
    if (result.dryRun) {
      ctx.render.lines(`Dry run: nothing was changed. Securing ${target} would:`);
      renderSteps(ctx.render, result);
      return 0;
    }
    ctx.render.lines(`Securing ${target}:`);
    renderSteps(ctx.render, result);
    if (!result.changed && !result.pending)
      ctx.render.lines('Nothing to do: the server was already secured as asked.');
    for (const f of result.report?.findings ?? [])
      ctx.render.lines(`  ${f.severity.padEnd(8)} ${f.id}: ${f.message}`, `           fix: ${f.fix}`);
    if (result.pending) {
      ctx.render.lines(
        'Restart the server (or pass --restart-command CMD), then run the same dbtls secure again to finish.',
      );
      return 1;
    }
    ctx.render.lines(
      `Clients now connect with ssl-mode verify-full and CA ${result.caFile}` +
        (result.clients.length
          ? `; their certificates are in ${path.dirname(result.clients[0]!.dir)}/<user>/.`
          : '.'),
    );
    return failed ? 1 : 0;
  },
};

export const commands: Command[] = [secureCommand];
