/**
 * `dbtls demo`: the whole job on a throwaway MariaDB (src/server/sandbox.ts), in four steps a reader can
 * follow: inspect a server as it ships (TLS off), `dbtls secure` it, inspect again, and connect as the
 * application with verify-full and mutual TLS. Everything lives in one temp dir, removed at the end and
 * on Ctrl-C; nothing on the machine is touched.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect } from '../client/connect.js';
import { DbtlsError } from '../errors.js';
import { inspect } from '../inspect/inspect.js';
import type { Finding } from '../inspect/report.js';
import { shortFingerprint } from '../pki/certificate.js';
import { type Sandbox, startSandbox } from '../sandbox/sandbox.js';
import { openSession, type SessionOptions } from '../server/admin/session.js';
import { secure } from '../server/secure/secure.js';
import { address } from '../tls/dsn.js';
import { MODE_SECRET, writeFileAtomic } from '../util/files.js';
import { flag, type OptionSpec, parse } from './args.js';
import type { Command, CommandContext } from './command.js';
import { COMMON } from './options.js';
import { createRenderer, type Renderer } from './render.js';
import { renderSteps } from './secure.js';
import { hintLine } from './shell.js';

const USAGE = 'dbtls demo [--json]';
const APP_USER = 'app';
const ADMIN_USER = 'dbtls_admin';
const secret = () => randomBytes(18).toString('base64url');

function findingLines(render: Renderer, findings: readonly Finding[]): void {
  if (findings.length === 0) render.lines('  no findings');
  for (const f of findings) render.lines(`  ${f.severity.padEnd(8)} ${f.id}: ${f.message}`);
}

/** Kills the sandbox and removes the temp dir when the user presses Ctrl-C mid-demo. */
function cleanupOnSignal(getSandbox: () => Sandbox | undefined, dir: string): () => void {
  const handler = (signal: NodeJS.Signals) => {
    getSandbox()?.killNow(true);
    fs.rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`\ndbtls demo: interrupted (${signal}); the sandbox and ${dir} are removed.\n`);
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** What `dbtls demo --json` prints: each step's outcome, for scripts and CI. */
interface DemoReport {
  server: { flavor: string; version: string; host: string; port: number };
  before: { findings: readonly Finding[]; plaintextLoginAccepted: boolean };
  secure: { caFile: string; steps: unknown };
  after: { findings: readonly Finding[]; aboveInfo: number };
  session: {
    protocol: string | undefined;
    cipher: string | undefined;
    verifiedAs: string;
    chain: readonly { subject: string; issuer: string; fingerprint: string }[];
  };
  refusedWithoutCertificate: boolean;
  seconds: number;
}

/** Text goes to the terminal; with --json only warnings and errors do, and the report goes to stdout. */
function quiet(render: Renderer): Renderer {
  return {
    ...createRenderer({ write: () => {}, isTTY: false }, { write: () => {}, isTTY: false }),
    warn: render.warn,
    error: render.error,
  };
}

async function runDemo(ctx: CommandContext, json: boolean): Promise<number> {
  const render = json ? quiet(ctx.render) : ctx.render;
  const started = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-demo-'));
  let sandbox: Sandbox | undefined;
  const removeHandlers = cleanupOnSignal(() => sandbox, dir);
  try {
    render.lines(
      `Starting a throwaway MariaDB: a private mariadbd with its own datadir and port, in ${dir} (removed at the end)…`,
    );
    // Killed with SIGKILL, the demo runs no handler: the sandbox's watchdog stops mariadbd and removes `dir`.
    sandbox = await startSandbox({}, { dirPrefix: 'mariadb-', parentDir: dir, orphanDir: dir });
    const db = sandbox;
    const adminPassword = secret();
    const appPassword = secret();
    await db.sql(
      [
        `CREATE USER '${ADMIN_USER}'@'%' IDENTIFIED BY '${adminPassword}';`,
        `GRANT ALL PRIVILEGES ON *.* TO '${ADMIN_USER}'@'%' WITH GRANT OPTION;`,
        `CREATE USER '${APP_USER}'@'%' IDENTIFIED BY '${appPassword}';`,
        `GRANT SELECT ON *.* TO '${APP_USER}'@'%';`,
      ].join('\n'),
    );
    const version = (await db.sql('SELECT VERSION()')).trim();
    render.lines(
      `  MariaDB ${version} on ${address(db.host, db.port)}, as it ships: TLS off.`,
      `  Accounts '${ADMIN_USER}'@'%' and '${APP_USER}'@'%' have random passwords (in memory only).`,
      '',
      '1/4  Inspect the server as a client sees it',
    );
    const before = await inspect({ host: db.host, port: db.port });
    findingLines(render, before.findings);
    const plain: SessionOptions = {
      host: db.host,
      port: db.port,
      user: APP_USER,
      password: appPassword,
      tls: { mode: 'disable' },
    };
    const plainSession = await openSession(plain);
    await plainSession.query('SELECT 1');
    await plainSession.close();
    const plaintextLoginAccepted = true;
    render.lines(
      `  high     plaintext-login-accepted: '${APP_USER}' logged in without TLS: its password and queries crossed the network in clear`,
    );

    const passphraseFile = path.join(dir, 'ca-passphrase');
    const passphrase = secret();
    writeFileAtomic(passphraseFile, `${passphrase}\n`, { mode: MODE_SECRET });
    const caDir = path.join(dir, 'ca');
    const out = path.join(dir, 'clients');
    render.lines(
      '',
      `2/4  dbtls secure ${address(db.host, db.port)} --account '${APP_USER}'@'%' --require x509`,
      `  (the demo's CA passphrase is random, in ${passphraseFile}, 0600; restarts go through the sandbox)`,
    );
    const result = await secure(
      {
        host: db.host,
        port: db.port,
        user: ADMIN_USER,
        password: adminPassword,
        tls: { mode: 'verify-full' },
      },
      {
        caDir,
        passphrase,
        newCa: { cn: 'dbtls demo CA' },
        users: [{ user: APP_USER, host: '%' }],
        requirement: 'X509',
        out,
        dir: path.join(dir, 'ssl'),
        configFile: path.join(db.confDir, 'ssl-config.cnf'),
        requireSecureTransport: true,
        restart: () => db.restart(),
        passwords: new Map([[APP_USER, appPassword]]),
        inspect: false,
      },
    );
    renderSteps(render, result);

    render.lines('', `3/4  Inspect again, trusting ${result.caFile}`);
    const cert = path.join(out, APP_USER, 'cert.pem');
    const key = path.join(out, APP_USER, 'key.pem');
    const afterReport = await inspect(
      { host: db.host, port: db.port },
      { ca: result.caFile, credentials: { user: APP_USER, password: appPassword, cert, key } },
    );
    findingLines(render, afterReport.findings);
    const above = afterReport.findings.filter((f) => f.severity !== 'info');
    render.lines(
      above.length
        ? `  ${above.length} finding(s) above info remain.`
        : '  Nothing above info: TLS is verified, and plaintext logins are refused.',
    );

    render.lines('', `4/4  Connect as '${APP_USER}' with ssl-mode verify-full and mutual TLS`);
    const conn = await connect({
      host: db.host,
      port: db.port,
      user: APP_USER,
      password: appPassword,
      tls: { mode: 'verify-full', mutualTls: 'enable', ca: result.caFile, cert, key, minVersion: 'TLSv1.2' },
    });
    let status: Record<string, string> = {};
    try {
      const rows = await conn.query(
        "SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')",
      );
      status = Object.fromEntries(rows.map((r) => [String(r.Variable_name), String(r.Value)]));
    } finally {
      await conn.close();
    }
    render.lines(
      `  Ssl_version  ${status.Ssl_version ?? '?'}`,
      `  Ssl_cipher   ${status.Ssl_cipher ?? '?'}`,
      '  verified chain:',
    );
    for (const c of conn.session.peerChain)
      render.lines(`    ${c.subject}  (issuer ${c.issuer}, sha256 ${shortFingerprint(c.fingerprint)})`);
    render.lines(`    -> ${result.caFile} (the demo CA's root)`);
    let refusedWithoutCertificate = false;
    try {
      const noCert = await openSession({ ...plain, tls: { mode: 'verify-full', ca: result.caFile } });
      await noCert.close();
      render.warn(`'${APP_USER}' logged in without its certificate: REQUIRE X509 did not hold`);
    } catch {
      refusedWithoutCertificate = true;
      render.lines(
        `  Without its certificate, '${APP_USER}' is refused (REQUIRE X509); without TLS, everyone is (require_secure_transport).`,
      );
    }
    await db.stop();
    sandbox = undefined;
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    render.lines(
      '',
      `Done in ${seconds.toFixed(1)} s. The sandbox and its files are gone.`,
      `On your own server: ${hintLine(['dbtls', 'secure', 'ADMIN_TARGET', '--account', 'app@%', '--restart-command', 'systemctl restart mariadb'])}`,
    );
    if (json) {
      const report: DemoReport = {
        server: { flavor: before.server.flavor, version, host: db.host, port: db.port },
        before: { findings: before.findings, plaintextLoginAccepted },
        secure: { caFile: result.caFile, steps: result.steps },
        after: { findings: afterReport.findings, aboveInfo: above.length },
        session: {
          protocol: status.Ssl_version,
          cipher: status.Ssl_cipher,
          verifiedAs: conn.session.verifiedAs,
          chain: conn.session.peerChain.map(({ subject, issuer, fingerprint }) => ({
            subject,
            issuer,
            fingerprint,
          })),
        },
        refusedWithoutCertificate,
        seconds,
      };
      ctx.render.json(report);
    }
    // The demo is also a check: it fails when the secured server is not what it should be.
    return above.length === 0 && refusedWithoutCertificate ? 0 : 1;
  } finally {
    removeHandlers();
    await sandbox?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const DEMO_OPTIONS: OptionSpec = { json: COMMON.json };

const demoCommand: Command = {
  name: ['demo'],
  options: DEMO_OPTIONS,
  details: [
    'It starts a private mariadbd in a temporary directory on a free port and removes it afterwards;',
    'nothing on this machine is changed.',
  ],
  examples: ['dbtls demo', 'dbtls demo --json'],
  usage: USAGE,
  summary:
    'secure a throwaway MariaDB end to end: inspect, secure, inspect, verify-full + mutual TLS (needs mariadbd)',
  async run(argv, ctx) {
    const p = parse(argv, DEMO_OPTIONS, USAGE, ctx);
    if (p.positionals.length) {
      throw new DbtlsError('USAGE', `could not run the demo: unexpected argument ${p.positionals[0]}`, {
        hint: `usage: ${USAGE}`,
      });
    }
    return runDemo(ctx, flag(p, 'json'));
  },
};

export const commands: Command[] = [demoCommand];
