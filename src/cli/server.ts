/**
 * The server-side commands: `server status|enable|reload`, `users`, `require`, `proxysql`. Each parses its
 * flags, opens the admin session, calls src/server, and renders. The rotate/secure commands append here.
 */
import { spawn } from 'node:child_process';
import { CA_PASSPHRASE_ENV, resolveCaDir } from '../ca/store.js';
import { proxysqlStatements } from '../deploy/proxysql.js';
import { DbtlsError } from '../errors.js';
import {
  type AdminSession,
  type AdminSslMode,
  openAdminSession,
  parseAdminSslMode,
  resolveAdminTarget,
} from '../server/admin.js';
import {
  DEFAULT_CERT_DIR,
  DEFAULT_CONFIG_FILE,
  DEFAULT_TLS_VERSIONS,
  parseTlsVersions,
} from '../server/config.js';
import {
  enableTls,
  issueServerMaterial,
  readServerMaterial,
  type ServerMaterial,
  serverFilePaths,
  serverOwner,
} from '../server/install.js';
import { certificateFileFingerprint, reloadAndProve } from '../server/reload.js';
import { applyRequirement, certificateName } from '../server/require.js';
import { serverStatus } from '../server/status.js';
import { describeRequirement, listAccounts, parseAccount, type TlsRequirement } from '../server/users.js';
import {
  flag,
  int,
  type OptionSpec,
  type Parsed,
  parse,
  readSecret,
  readSecretFile,
  required,
  str,
  strs,
} from './args.js';
import type { Command, CommandContext } from './command.js';

/** How the admin session connects; shared by every command here. */
const ADMIN_OPTIONS: OptionSpec = {
  'ssl-mode': { type: 'string' },
  user: { type: 'string' },
  socket: { type: 'string' },
  'password-file': { type: 'string' },
  json: { type: 'boolean' },
};
/** Commands where --ca/--cert/--key are the admin session's own TLS files. */
const ADMIN_TLS_OPTIONS: OptionSpec = {
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
};

function target(p: Parsed, usage: string): string {
  const [first, ...rest] = p.positionals;
  if (!first)
    throw new DbtlsError('USAGE', 'could not run the command: ADMIN_TARGET is missing', {
      hint: `usage: ${usage}`,
    });
  if (rest.length > 0 && usage.indexOf('USER@HOST') < 0) {
    throw new DbtlsError('USAGE', `could not run the command: unexpected argument ${rest[0]}`, {
      hint: `usage: ${usage}`,
    });
  }
  return first;
}

async function openAdmin(
  p: Parsed,
  ctx: CommandContext,
  text: string,
  tlsPrefix = '',
): Promise<AdminSession> {
  const password = await readSecret(
    { file: str(p, 'password-file'), envName: 'MYSQL_PWD', what: 'admin password', prompt: true },
    ctx.env,
  );
  const options = resolveAdminTarget(text, {
    sslMode: str(p, 'ssl-mode'),
    ca: str(p, `${tlsPrefix}ca`),
    cert: str(p, `${tlsPrefix}cert`),
    key: str(p, `${tlsPrefix}key`),
    user: str(p, 'user'),
    socket: str(p, 'socket'),
    password,
  });
  return openAdminSession(options);
}

async function withAdmin<T>(session: AdminSession, fn: (s: AdminSession) => Promise<T>): Promise<T> {
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

const day = (d: Date | string) => (typeof d === 'string' ? d : d.toISOString()).slice(0, 10);

// ---- server status ----

const STATUS_USAGE =
  'dbtls server status ADMIN_TARGET [--ca F] [--ssl-mode M] [--user U] [--password-file F] [--socket PATH] [--json]';

const statusCommand: Command = {
  name: ['server', 'status'],
  usage: STATUS_USAGE,
  summary: "Show the server's TLS settings, the certificate it serves, and accounts by TLS requirement",
  async run(argv, ctx) {
    const p = parse(argv, { ...ADMIN_OPTIONS, ...ADMIN_TLS_OPTIONS }, STATUS_USAGE);
    const session = await openAdmin(p, ctx, target(p, STATUS_USAGE));
    const status = await withAdmin(session, (s) => serverStatus(s));
    if (flag(p, 'json')) {
      ctx.render.json(status);
      return 0;
    }
    const a = status.accounts;
    ctx.render.lines(
      `${status.server.flavor} ${status.server.version} at ${status.server.host}:${status.server.port}`,
      `  have_ssl                  ${status.haveSsl}`,
      `  ssl_ca                    ${status.sslCa || '-'}`,
      `  ssl_cert                  ${status.sslCert || '-'}`,
      `  ssl_key                   ${status.sslKey || '-'}`,
      `  ssl_crl                   ${status.sslCrl || '-'}`,
      `  ssl_cipher                ${status.sslCipher || '(default)'}`,
      `  tls_version               ${status.tlsVersion || '-'}`,
      `  require_secure_transport  ${status.requireSecureTransport}`,
      `  online reload             ${status.reloadStatement ?? 'not supported (restart)'}`,
    );
    if (status.served) {
      const s = status.served;
      ctx.render.lines(
        'Served certificate:',
        `  subject      ${s.subject}`,
        `  fingerprint  sha256 ${s.fingerprint}`,
        `  expires      ${day(s.notAfter)} (${s.daysLeft} days)`,
        `  negotiated   ${s.protocol} ${s.cipher}`,
      );
    } else if (status.probeError) ctx.render.warn(`TLS is on but the probe failed: ${status.probeError}`);
    else ctx.render.lines('TLS is off: connections are plaintext. Run `dbtls server enable` to turn it on.');
    ctx.render.lines(
      `Accounts: ${a.total} (none ${a.none}, SSL ${a.ssl}, X509 ${a.x509}, SUBJECT/ISSUER/CIPHER ${a.specified})`,
    );
    if (a.remoteNone > 0) {
      ctx.render.warn(
        `${a.remoteNone} remote account(s) accept plaintext logins; see \`dbtls users\` and \`dbtls require\``,
      );
    }
    return 0;
  },
};

// ---- server enable ----

async function issueMaterial(
  p: Parsed,
  ctx: CommandContext,
  host: string,
  dryRun: boolean,
): Promise<ServerMaterial> {
  const passphrase = await readSecret(
    { file: str(p, 'passphrase-file'), envName: CA_PASSPHRASE_ENV, what: 'CA passphrase', prompt: true },
    ctx.env,
  );
  return issueServerMaterial({
    caDir: resolveCaDir(str(p, 'ca-dir'), ctx.env, ctx.cwd),
    passphrase,
    host,
    dns: strs(p, 'dns'),
    ip: strs(p, 'ip'),
    days: int(p, 'days', ENABLE_USAGE),
    preview: dryRun,
  });
}

const ENABLE_USAGE =
  'dbtls server enable ADMIN_TARGET (--issue [--ca-dir D] [--passphrase-file F] [--dns N]... [--ip A]... [--days N] | --cert F --key F --ca F) [--dir /etc/mysql/ssl] [--config-file PATH] [--require-secure-transport] [--tls-version V] [--cipher C] [--restart-command CMD] [--dry-run] [--ssl-mode M --admin-ca F] [--json]';

function runRestartCommand(command: string): () => Promise<void> {
  return () =>
    new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d) => {
        output += d;
      });
      child.stderr.on('data', (d) => {
        output += d;
      });
      child.on('error', reject);
      child.on('close', (code) => {
        if (code === 0) resolve();
        else {
          reject(
            new DbtlsError(
              'RESTART_FAILED',
              `could not restart the server: \`${command}\` exited with ${code}`,
              {
                hint: `its output was: ${output.trim().split('\n').slice(-3).join(' / ') || '(none)'}`,
                kind: 'runtime',
              },
            ),
          );
        }
      });
    });
}

const enableCommand: Command = {
  name: ['server', 'enable'],
  usage: ENABLE_USAGE,
  summary: 'Install the certificate at stable paths, write the TLS config, reload (or restart) and prove it',
  async run(argv, ctx) {
    const p = parse(
      argv,
      {
        ...ADMIN_OPTIONS,
        'admin-ca': { type: 'string' },
        'admin-cert': { type: 'string' },
        'admin-key': { type: 'string' },
        issue: { type: 'boolean' },
        'ca-dir': { type: 'string' },
        'passphrase-file': { type: 'string' },
        dns: { type: 'string', multiple: true },
        days: { type: 'string' },
        ip: { type: 'string', multiple: true },
        cert: { type: 'string' },
        key: { type: 'string' },
        ca: { type: 'string' },
        dir: { type: 'string' },
        'config-file': { type: 'string' },
        'require-secure-transport': { type: 'boolean' },
        'tls-version': { type: 'string' },
        cipher: { type: 'string' },
        'restart-command': { type: 'string' },
        'dry-run': { type: 'boolean' },
      },
      ENABLE_USAGE,
    );
    const text = target(p, ENABLE_USAGE);
    const tlsVersions = str(p, 'tls-version')
      ? parseTlsVersions(str(p, 'tls-version')!)
      : [...DEFAULT_TLS_VERSIONS];
    const dryRun = flag(p, 'dry-run');
    const session = await openAdmin(p, ctx, text, 'admin-');
    const result = await withAdmin(session, async (s) => {
      let material: ServerMaterial;
      if (flag(p, 'issue')) {
        if (str(p, 'cert') || str(p, 'key')) {
          throw new DbtlsError(
            'USAGE',
            'could not run server enable: --issue and --cert/--key exclude each other',
            {
              hint: `usage: ${ENABLE_USAGE}`,
            },
          );
        }
        material = await issueMaterial(p, ctx, s.options.host, dryRun);
      } else {
        material = readServerMaterial(
          required(p, 'cert', ENABLE_USAGE),
          required(p, 'key', ENABLE_USAGE),
          required(p, 'ca', ENABLE_USAGE),
        );
      }
      const restartCommand = str(p, 'restart-command');
      return enableTls(
        s,
        {
          files: serverFilePaths(str(p, 'dir') ?? DEFAULT_CERT_DIR),
          configFile: str(p, 'config-file') ?? DEFAULT_CONFIG_FILE,
          material,
          tlsVersions,
          cipher: str(p, 'cipher'),
          requireSecureTransport: flag(p, 'require-secure-transport'),
        },
        {
          dryRun,
          owner: serverOwner(),
          ...(restartCommand ? { restart: runRestartCommand(restartCommand) } : {}),
        },
      );
    });
    const { plan } = result;
    if (flag(p, 'json')) {
      ctx.render.json(result);
    } else if (dryRun) {
      ctx.render.lines('Dry run: nothing was changed. `server enable` would:', '');
      for (const f of plan.files) {
        ctx.render.lines(`write ${f.path} (mode ${f.mode.toString(8)})`);
        ctx.render.lines(
          ...(f.content === undefined
            ? ['  (the private key, not shown)']
            : f.content
                .trimEnd()
                .split('\n')
                .map((l) => `  ${l}`)),
        );
      }
      ctx.render.lines(
        `write ${plan.config.path} (mode 644)`,
        ...plan.config.text
          .trimEnd()
          .split('\n')
          .map((l) => `  ${l}`),
      );
      if (plan.restartRequired) ctx.render.lines('', `restart the server: ${plan.reasons.join('; ')}`);
      for (const st of [...plan.statements, ...plan.finalStatements]) ctx.render.lines(`run ${st};`);
      ctx.render.lines('', `then prove that sha256 ${result.material.fingerprint} is served`);
    } else {
      ctx.render.lines(
        result.written.length
          ? `Installed ${result.written.join(', ')}`
          : `The files in ${plan.files[0]?.path.replace(/\/[^/]*$/, '')} and ${plan.config.path} were already up to date`,
      );
      if (result.restartPending) {
        ctx.render.lines(
          `TLS is configured but not active until the server restarts: ${plan.reasons.join('; ')}.`,
        );
        throw new DbtlsError(
          'RESTART_REQUIRED',
          'could not activate TLS online: the server must be restarted',
          {
            hint: 'restart it (e.g. systemctl restart mariadb), or re-run with --restart-command "systemctl restart mariadb"',
            kind: 'check',
          },
        );
      }
      if (result.restarted) ctx.render.lines('Restarted the server.');
      else ctx.render.lines(`Reloaded online: ${plan.statements.join('; ')}`);
      for (const st of plan.finalStatements) ctx.render.lines(`Ran ${st}`);
      const s = result.served!;
      ctx.render.lines(
        `The server now serves sha256 ${s.fingerprint} (expires ${day(s.notAfter)}) over ${s.protocol} ✓`,
      );
    }
    return 0;
  },
};

// ---- server reload ----

const RELOAD_USAGE =
  'dbtls server reload ADMIN_TARGET [--expect-cert F] [--ca F] [--ssl-mode M] [--user U] [--password-file F] [--json]';

const reloadCommand: Command = {
  name: ['server', 'reload'],
  usage: RELOAD_USAGE,
  summary:
    'Re-read the certificate files online (FLUSH SSL / ALTER INSTANCE RELOAD TLS) and show what is served',
  async run(argv, ctx) {
    const p = parse(
      argv,
      { ...ADMIN_OPTIONS, ...ADMIN_TLS_OPTIONS, 'expect-cert': { type: 'string' } },
      RELOAD_USAGE,
    );
    const session = await openAdmin(p, ctx, target(p, RELOAD_USAGE));
    const expectFile = str(p, 'expect-cert');
    const expect = expectFile ? certificateFileFingerprint(expectFile) : undefined;
    const result = await withAdmin(session, (s) => reloadAndProve(s, expect));
    if (flag(p, 'json')) ctx.render.json(result);
    else {
      ctx.render.lines(
        `Ran ${result.statement}; the server now serves sha256 ${result.served.fingerprint} (expires ${day(result.served.notAfter)})${expect ? ' ✓' : ''}`,
      );
    }
    return 0;
  },
};

// ---- users ----

const USERS_USAGE =
  'dbtls users ADMIN_TARGET [--ca F] [--ssl-mode M] [--user U] [--password-file F] [--socket PATH] [--json]';

const usersCommand: Command = {
  name: ['users'],
  usage: USERS_USAGE,
  summary: 'List every account with its TLS requirement, highlighting remote accounts that accept plaintext',
  async run(argv, ctx) {
    const p = parse(argv, { ...ADMIN_OPTIONS, ...ADMIN_TLS_OPTIONS }, USERS_USAGE);
    const session = await openAdmin(p, ctx, target(p, USERS_USAGE));
    const accounts = await withAdmin(session, (s) => listAccounts(s, s.capabilities));
    if (flag(p, 'json')) {
      ctx.render.json(accounts);
      return 0;
    }
    const names = accounts.map((a) => `'${a.user}'@'${a.host}'`);
    const width = Math.max(7, ...names.map((n) => n.length));
    ctx.render.lines(`${'ACCOUNT'.padEnd(width)}  REQUIRE`);
    accounts.forEach((a, i) => {
      const mark =
        a.remote && a.requirement.type === 'NONE' && !a.locked ? '  <- remote, plaintext allowed' : '';
      const locked = a.locked ? ' (locked)' : '';
      ctx.render.lines(`${names[i]!.padEnd(width)}  ${describeRequirement(a.requirement)}${locked}${mark}`);
    });
    const open = accounts.filter((a) => a.remote && a.requirement.type === 'NONE' && !a.locked).length;
    if (open > 0)
      ctx.render.warn(
        `${open} remote account(s) have no TLS requirement; fix with \`dbtls require ADMIN_TARGET 'user'@'host' --ssl\``,
      );
    return 0;
  },
};

// ---- require ----

const REQUIRE_USAGE =
  'dbtls require ADMIN_TARGET USER@HOST --none|--ssl|--x509|--subject-of CERT|--issuer-of CERT [--verify-password-file F] [--verify-cert F --verify-key F] [--verify-ca F] [--verify-ssl-mode M] [--dry-run] [--i-have-another-way-in] [--ca F] [--ssl-mode M] [--user U] [--password-file F] [--socket PATH] [--json]';

function requirementFromFlags(p: Parsed): TlsRequirement {
  const subjectOf = str(p, 'subject-of');
  const issuerOf = str(p, 'issuer-of');
  const simple = (['none', 'ssl', 'x509'] as const).filter((n) => flag(p, n));
  const count = simple.length + (subjectOf || issuerOf ? 1 : 0);
  if (count !== 1) {
    throw new DbtlsError(
      'USAGE',
      'could not run require: choose exactly one of --none, --ssl, --x509, --subject-of/--issuer-of',
      {
        hint: `usage: ${REQUIRE_USAGE}`,
      },
    );
  }
  if (simple[0]) return { type: simple[0].toUpperCase() as 'NONE' | 'SSL' | 'X509' };
  return {
    type: 'SPECIFIED',
    ...(subjectOf ? { subject: certificateName(subjectOf, 'subject') } : {}),
    ...(issuerOf ? { issuer: certificateName(issuerOf, 'issuer') } : {}),
  };
}

const requireCommand: Command = {
  name: ['require'],
  usage: REQUIRE_USAGE,
  summary: "Set an account's TLS requirement, checked by a login as that account, reverted if it fails",
  async run(argv, ctx) {
    const p = parse(
      argv,
      {
        ...ADMIN_OPTIONS,
        ...ADMIN_TLS_OPTIONS,
        none: { type: 'boolean' },
        ssl: { type: 'boolean' },
        x509: { type: 'boolean' },
        'subject-of': { type: 'string' },
        'issuer-of': { type: 'string' },
        'verify-password-file': { type: 'string' },
        'verify-cert': { type: 'string' },
        'verify-key': { type: 'string' },
        'verify-ca': { type: 'string' },
        'verify-ssl-mode': { type: 'string' },
        'dry-run': { type: 'boolean' },
        'i-have-another-way-in': { type: 'boolean' },
      },
      REQUIRE_USAGE,
    );
    const [text, accountText, ...extra] = p.positionals;
    if (!text || !accountText || extra.length) {
      throw new DbtlsError('USAGE', 'could not run require: expected ADMIN_TARGET and one USER@HOST', {
        hint: `usage: ${REQUIRE_USAGE}`,
      });
    }
    const account = parseAccount(accountText);
    const requirement = requirementFromFlags(p);
    if (!!str(p, 'verify-cert') !== !!str(p, 'verify-key')) {
      throw new DbtlsError('USAGE', 'could not run require: --verify-cert and --verify-key go together', {
        hint: `usage: ${REQUIRE_USAGE}`,
      });
    }
    const verifyPasswordFile = str(p, 'verify-password-file');
    const verifyMode = str(p, 'verify-ssl-mode');
    const mode: AdminSslMode | undefined = verifyMode ? parseAdminSslMode(verifyMode) : undefined;
    const session = await openAdmin(p, ctx, text);
    const result = await withAdmin(session, (s) =>
      applyRequirement(s, {
        account,
        requirement,
        dryRun: flag(p, 'dry-run'),
        iHaveAnotherWayIn: flag(p, 'i-have-another-way-in'),
        verify: {
          password: verifyPasswordFile ? readSecretFile(verifyPasswordFile, 'verify password') : undefined,
          cert: str(p, 'verify-cert'),
          key: str(p, 'verify-key'),
          ca: str(p, 'verify-ca'),
          mode,
        },
      }),
    );
    if (flag(p, 'json')) {
      ctx.render.json(result);
      return 0;
    }
    const name = `'${account.user}'@'${account.host}'`;
    if (!result.changed)
      ctx.render.lines(`${name} already requires ${describeRequirement(result.after)}; nothing to do.`);
    else if (result.dryRun) {
      ctx.render.lines(
        `Dry run: nothing was changed. ${name} requires ${describeRequirement(result.before)} now; would run:`,
        `  ${result.statement};`,
        `then log in as ${name} to check, and on failure run:`,
        `  ${result.revertStatement};`,
      );
    } else {
      ctx.render.lines(
        `${name} now requires ${describeRequirement(result.after)} (was ${describeRequirement(result.before)}).`,
        `Checked: a new session logged in as ${name} over ${result.verifiedOver} ✓`,
      );
    }
    return 0;
  },
};

// ---- proxysql ----

const PROXYSQL_USAGE =
  'dbtls proxysql --ca F --cert F --key F [--backend-ca F --backend-cert F --backend-key F] [--users u1,u2] [--hostgroup N] [--cipher C] [--crl F] [--datadir /var/lib/proxysql] [--rotation] [--json]';

const proxysqlCommand: Command = {
  name: ['proxysql'],
  usage: PROXYSQL_USAGE,
  summary: 'Print the ProxySQL admin statements for frontend and backend TLS',
  async run(argv, ctx) {
    const p = parse(
      argv,
      {
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        'backend-ca': { type: 'string' },
        'backend-cert': { type: 'string' },
        'backend-key': { type: 'string' },
        users: { type: 'string' },
        hostgroup: { type: 'string' },
        cipher: { type: 'string' },
        crl: { type: 'string' },
        rotation: { type: 'boolean' },
        datadir: { type: 'string' },
        json: { type: 'boolean' },
      },
      PROXYSQL_USAGE,
    );
    const hostgroup = str(p, 'hostgroup');
    if (hostgroup !== undefined && !/^\d+$/.test(hostgroup)) {
      throw new DbtlsError('USAGE', `could not parse --hostgroup ${hostgroup}: expected a whole number`, {
        hint: `usage: ${PROXYSQL_USAGE}`,
      });
    }
    const statements = proxysqlStatements({
      frontend: {
        ca: required(p, 'ca', PROXYSQL_USAGE),
        cert: required(p, 'cert', PROXYSQL_USAGE),
        key: required(p, 'key', PROXYSQL_USAGE),
      },
      backend: {
        ca: str(p, 'backend-ca'),
        cert: str(p, 'backend-cert'),
        key: str(p, 'backend-key'),
        cipher: str(p, 'cipher'),
        crl: str(p, 'crl'),
      },
      users: (str(p, 'users') ?? '')
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
      hostgroup: hostgroup === undefined ? undefined : Number(hostgroup),
      rotation: flag(p, 'rotation'),
      datadir: str(p, 'datadir'),
    });
    if (flag(p, 'json')) ctx.render.json(statements);
    else ctx.render.lines(...statements.map((s) => (s.startsWith('--') ? s : `${s};`)));
    return 0;
  },
};

export const commands: Command[] = [
  statusCommand,
  enableCommand,
  reloadCommand,
  usersCommand,
  requireCommand,
  proxysqlCommand,
];
