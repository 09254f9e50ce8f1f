/**
 * `dbtls server enable`: the certificate installed at stable paths, the config fragment, the online reload
 * (or the restart the server needs), and the proof. `--dry-run` prints every file and statement instead.
 */
import { resolveCaDir } from '../ca/store.js';
import { DbtlsError } from '../errors.js';
import type { AdminSession } from '../server/admin/session.js';
import { certDirOf, fragmentIn } from '../server/secure/paths.js';
import { DEFAULT_CONFIG_FILE, DEFAULT_TLS_VERSIONS, parseTlsVersions } from '../server/tls/config.js';
import { type CrlScope, checkCrlCoverage } from '../server/tls/crl-check.js';
import { type EnableOptions, type EnablePlan, type EnableResult, enableTls } from '../server/tls/enable.js';
import { type ServerFiles, serverFilePaths, serverOwner } from '../server/tls/install.js';
import { issueDiscardable, issueServerMaterial, readServerMaterial } from '../server/tls/material.js';
import { assertChainReads, type OptionChain, serverOptionChain } from '../server/tls/option-files.js';
import { dateText } from '../util/dates.js';
import { readUserFile } from '../util/files.js';
import { flag, int, type OptionSpec, type Parsed, parse, required, str, strs } from './args.js';
import { CA_OPTIONS } from './ca-common.js';
import type { Command, CommandContext } from './command.js';
import { COMMON, like } from './options.js';
import type { Renderer } from './render.js';
import {
  ADMIN_OPTIONS,
  ADMIN_PREFIXED_SESSION_USAGE,
  ADMIN_PREFIXED_TLS_OPTIONS,
  caPassphrase,
  renderedJson,
  SERVER_FILE_OPTIONS,
  shellRestart,
  singleTarget,
  withAdmin,
} from './server-admin.js';
import { checkServerDir, checkServerFile } from './server-paths.js';

const USAGE =
  'dbtls server enable ADMIN_TARGET (--issue [--ca-dir D] [--passphrase-file F] [--dns N]... [--ip A]... [--days N] | --server-cert F --server-key F --server-ca F) [--dir D] [--config-file PATH] [--server-config F] [--crl FILE] [--require-secure-transport] [--tls-version V] [--cipher C] [--restart-command CMD] [--dry-run] [--json]\n' +
  `         admin session: ${ADMIN_PREFIXED_SESSION_USAGE}`;

/** The server's certificate, key and CA; `check` sees the CA certificates before anything is issued. */
async function material(
  p: Parsed,
  ctx: CommandContext,
  host: string,
  dryRun: boolean,
  check: (scope: CrlScope) => void,
  replacing: string,
): Promise<Pick<EnableOptions, 'material' | 'issue'>> {
  if (!flag(p, 'issue')) {
    const m = readServerMaterial(
      required(p, 'server-cert', USAGE),
      required(p, 'server-key', USAGE),
      required(p, 'server-ca', USAGE),
    );
    check({ caPem: m.caPem, chainPem: m.certPem });
    return { material: m };
  }
  if (str(p, 'server-cert') || str(p, 'server-key')) {
    throw new DbtlsError(
      'USAGE',
      'could not run server enable: --issue and --server-cert/--server-key exclude each other',
      {
        hint: `usage: ${USAGE}`,
      },
    );
  }
  const request = {
    caDir: resolveCaDir(str(p, 'ca-dir'), ctx.env, ctx.cwd),
    passphrase: await caPassphrase(p, ctx),
    host,
    dns: strs(p, 'dns'),
    ip: strs(p, 'ip'),
    days: int(p, 'days', USAGE),
    check,
  };
  // Signed first as a preview recorded nowhere, for the checks; issued (recorded) only once they passed.
  const material = issueServerMaterial({ ...request, preview: true });
  return dryRun ? { material } : { material, issue: () => issueDiscardable({ ...request, replacing }) };
}

const indented = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`);

/** The dry run: every file with its mode and content (the key excepted), the restart, every statement. */
export function renderEnablePlan(
  render: Renderer,
  plan: EnablePlan,
  fingerprint: string,
  restartCommand: string | undefined,
): void {
  render.lines('Dry run: nothing was changed. `server enable` would:', '');
  for (const f of plan.files) {
    render.lines(
      `write ${f.path} (mode ${f.mode.toString(8)})`,
      ...(f.content === undefined ? ['  (the private key, not shown)'] : indented(f.content)),
    );
  }
  render.lines(`write ${plan.config.path} (mode 644)`, ...indented(plan.config.text));
  if (plan.restartRequired) {
    render.lines(
      '',
      `restart the server: ${plan.reasons.join('; ')}`,
      restartCommand
        ? `  by running: ${restartCommand}`
        : '  (no --restart-command: you restart it, then re-run)',
    );
  }
  for (const st of [...plan.statements, ...plan.finalStatements]) render.lines(`run ${st};`);
  render.lines('', `then prove that sha256 ${fingerprint} is served`);
}

function renderEnabled(render: Renderer, result: EnableResult): void {
  const { plan } = result;
  const dir = plan.files[0]?.path.replace(/\/[^/]*$/, '');
  render.lines(
    result.written.length
      ? `Installed ${result.written.join(', ')}`
      : `The files in ${dir} and ${plan.config.path} were already up to date`,
  );
  if (result.restartPending) {
    render.lines(`TLS is configured but not active until the server restarts: ${plan.reasons.join('; ')}.`);
    throw new DbtlsError('RESTART_REQUIRED', 'could not activate TLS online: the server must be restarted', {
      hint: 'restart it (e.g. systemctl restart mariadb), or re-run with --restart-command "systemctl restart mariadb"',
    });
  }
  if (result.restarted) render.lines('Restarted the server.');
  else render.lines(`Reloaded online: ${plan.statements.join('; ')}`);
  for (const st of plan.finalStatements) render.lines(`Ran ${st}`);
  const s = result.served!;
  render.lines(
    `The server now serves sha256 ${s.fingerprint} (expires ${dateText(s.notAfter)}) over ${s.protocol} ✓`,
  );
}

/**
 * The CRL file for --crl, read now (a missing file fails before the server is touched) and checked against
 * the CA certificates the server will trust (src/server/tls/crl-check.ts) once they are known: PEM, one
 * current CRL from each CA, what `dbtls crl` writes.
 */
function crlFile(file: string | undefined): { pem?: string; check: (scope: CrlScope) => void } {
  if (file === undefined) return { check: () => undefined };
  const pem = readUserFile(file, 'CRL').toString('utf8');
  return { pem, check: (scope) => checkCrlCoverage(pem, scope, file) };
}

/**
 * The certificate directory (default: where the server's @@ssl_cert lives) and the fragment (default: one
 * the server's option files read, when they can be found from here; else the Debian path).
 */
async function enablePaths(
  s: AdminSession,
  p: Parsed,
  ctx: CommandContext,
): Promise<{ files: ServerFiles; configFile: string }> {
  const dir = await certDirOf(s, str(p, 'dir'));
  let chain: OptionChain | undefined;
  try {
    chain = await serverOptionChain(s, str(p, 'server-config'));
  } catch (err) {
    if (!(err instanceof DbtlsError && err.code === 'SERVER_CONFIG_UNKNOWN')) throw err;
  }
  const configFile = str(p, 'config-file') ?? (chain ? fragmentIn(chain) : DEFAULT_CONFIG_FILE);
  // A fragment the server does not read only matters at its next start: said, not refused, as the reload
  // may be all that is wanted (`secure` refuses it: it restarts the server on the fragment).
  if (chain) {
    try {
      assertChainReads(chain, configFile);
    } catch (err) {
      if (!(err instanceof DbtlsError)) throw err;
      ctx.render.warn(`${err.message}; ${err.hint}`);
    }
  }
  return { files: serverFilePaths(dir), configFile };
}

const ENABLE_OPTIONS: OptionSpec = {
  issue: {
    type: 'boolean',
    description:
      "issue the server certificate from the dbtls CA (names from ADMIN_TARGET's host, --dns, --ip)",
  },
  ...CA_OPTIONS,
  dns: like('dns', { description: 'with --issue: another DNS name clients dial' }),
  ip: like('ip', { description: 'with --issue: an IP address clients dial' }),
  days: like('days', { description: 'with --issue: validity in days', default: '397' }),
  'server-cert': {
    type: 'string',
    value: 'FILE',
    description: 'instead of --issue: the server certificate (PEM) to install as ssl_cert',
  },
  'server-key': {
    type: 'string',
    value: 'FILE',
    description: 'instead of --issue: the private key (PEM) of --server-cert, installed as ssl_key',
  },
  'server-ca': {
    type: 'string',
    value: 'FILE',
    description: 'instead of --issue: the CA certificate (PEM) to install as ssl_ca',
  },
  // --ca/--cert/--key are the files that verify or log in elsewhere (issue 14 item 4): old names here.
  cert: { type: 'string', description: 'the old name of --server-cert', renamedTo: 'server-cert' },
  key: { type: 'string', description: 'the old name of --server-key', renamedTo: 'server-key' },
  ca: { type: 'string', description: 'the old name of --server-ca', renamedTo: 'server-ca' },
  ...SERVER_FILE_OPTIONS,
  crl: {
    type: 'string',
    value: 'FILE',
    description: 'also install this CRL file (PEM, from dbtls crl) as ssl_crl',
  },
  'require-secure-transport': {
    type: 'boolean',
    description: 'also SET GLOBAL require_secure_transport=ON (plaintext logins refused)',
  },
  'tls-version': {
    type: 'string',
    value: 'V',
    description: 'the TLS versions the server offers, comma-separated',
    default: DEFAULT_TLS_VERSIONS.join(','),
  },
  cipher: { type: 'string', value: 'C', description: 'the ssl_cipher list' },
  'dry-run': COMMON['dry-run'],
  ...ADMIN_OPTIONS,
  ...ADMIN_PREFIXED_TLS_OPTIONS,
};

export const enableCommand: Command = {
  name: ['server', 'enable'],
  usage: USAGE,
  summary: 'install the certificate at stable paths, write the TLS config, reload (or restart) and prove it',
  options: ENABLE_OPTIONS,
  examples: [
    "dbtls server enable db1.example.com --issue --dns db1 --socket /run/mysqld/mysqld.sock --ssl-mode disable --restart-command 'systemctl restart mariadb'",
    'dbtls server enable db1.example.com --server-cert db1/cert.pem --server-key db1/key.pem --server-ca db1/ca.pem --admin-ca db1/ca.pem --dry-run',
  ],
  async run(argv, ctx) {
    const p = parse(argv, ENABLE_OPTIONS, USAGE, ctx);
    const target = singleTarget(p, USAGE, 'server enable');
    const versions = str(p, 'tls-version');
    const tlsVersions = versions ? parseTlsVersions(versions) : [...DEFAULT_TLS_VERSIONS];
    const dryRun = flag(p, 'dry-run');
    const restartCommand = str(p, 'restart-command');
    // A --ca-dir that is a file is refused before the server is touched, and so is a --dir or --config-file
    // that cannot be written as one (they were refused after the session opened, by a file's mode or EISDIR).
    if (flag(p, 'issue')) resolveCaDir(str(p, 'ca-dir'), ctx.env, ctx.cwd);
    checkServerDir(str(p, 'dir'), ctx.cwd);
    checkServerFile(str(p, 'config-file'), ctx.cwd);
    const crl = crlFile(str(p, 'crl'));
    const result = await withAdmin(
      p,
      ctx,
      target,
      async (s) => {
        const paths = await enablePaths(s, p, ctx);
        const m = await material(p, ctx, s.options.host, dryRun, crl.check, paths.files.cert);
        return enableTls(
          s,
          {
            ...paths,
            ...m,
            crlPem: crl.pem,
            tlsVersions,
            cipher: str(p, 'cipher'),
            requireSecureTransport: flag(p, 'require-secure-transport'),
          },
          {
            dryRun,
            owner: serverOwner(),
            ...(restartCommand ? { restart: shellRestart(restartCommand) } : {}),
          },
        );
      },
      { tlsPrefix: 'admin-' },
    );
    // A pending restart is a check that failed (exit 1), in JSON as in text.
    if (renderedJson(p, ctx, result)) return result.restartPending ? 1 : 0;
    for (const w of result.plan.warnings) ctx.render.warn(w);
    if (dryRun) renderEnablePlan(ctx.render, result.plan, result.material.fingerprint, restartCommand);
    else renderEnabled(ctx.render, result);
    return 0;
  },
};
