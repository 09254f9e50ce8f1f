/**
 * The command group main.ts loads for `server`, `users`, `require` and `proxysql`. `server status` and
 * `server reload` live here; enable, users/require and proxysql have a module each (server-*.ts).
 */
import { certificateFileFingerprint, reloadAndProve } from '../server/tls/reload.js';
import { type ServerStatus, serverStatus } from '../server/tls/status.js';
import { address } from '../tls/dsn.js';
import { dateText } from '../util/dates.js';
import { type OptionSpec, parse, str } from './args.js';
import type { Command } from './command.js';
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
import { enableCommand } from './server-enable.js';
import { proxysqlCommand } from './server-proxysql.js';
import { requireCommand, usersCommand } from './server-users.js';

// ---- server status ----

const STATUS_USAGE = `dbtls server status ADMIN_TARGET ${ADMIN_SESSION_USAGE} [--json]`;

/**
 * The status as text. `line` writes another command for the same server with the flags given here (the
 * target, the admin session's), so that a next step printed here works when pasted.
 */
function renderStatus(
  render: Renderer,
  status: ServerStatus,
  line: (words: readonly string[], ...rest: string[]) => string,
): void {
  render.lines(
    `${status.server.flavor} ${status.server.version} at ${address(status.server.host, status.server.port)}`,
    `  TLS live                  ${status.tlsLive ? 'yes' : 'no'} (${status.tlsLiveEvidence})`,
    `  ssl_ca                    ${status.sslCa || '-'}`,
    `  ssl_cert                  ${status.sslCert || '-'}`,
    `  ssl_key                   ${status.sslKey || '-'}`,
    `  ssl_crl                   ${status.sslCrl || '-'}`,
    `  ssl_cipher                ${status.sslCipher || '(default)'}`,
    `  tls_version               ${status.tlsVersion || '-'}`,
    `  require_secure_transport  ${status.requireSecureTransport}`,
    `  online reload             ${status.reloadStatement ?? 'not supported (restart)'}`,
  );
  const s = status.served;
  if (s) {
    render.lines(
      'Served certificate:',
      `  subject      ${s.subject}`,
      `  fingerprint  sha256 ${s.fingerprint}`,
      `  expires      ${dateText(s.notAfter)} (${s.daysLeft} days)`,
      `  negotiated   ${s.protocol} ${s.cipher}`,
    );
  } else if (status.probeError) render.warn(`TLS is on but the probe failed: ${status.probeError}`);
  else
    render.lines(
      `TLS is off: connections are plaintext. To turn it on: ${line(['server', 'enable'], '--issue')}`,
    );
  const a = status.accounts;
  render.lines(
    `Accounts: ${a.total} (none ${a.none}, SSL ${a.ssl}, X509 ${a.x509}, SUBJECT/ISSUER/CIPHER ${a.specified})`,
  );
  if (a.remoteNone > 0) {
    render.warn(
      `${a.remoteNone} remote account(s) accept plaintext logins: \`${line(['users'])}\` lists them, each with the \`dbtls require\` that closes it`,
    );
  }
}

const STATUS_OPTIONS: OptionSpec = { ...ADMIN_OPTIONS, ...ADMIN_TLS_OPTIONS };

const statusCommand: Command = {
  name: ['server', 'status'],
  usage: STATUS_USAGE,
  summary: "show the server's TLS settings, the certificate it serves, and accounts by TLS requirement",
  options: STATUS_OPTIONS,
  examples: [
    'dbtls server status db1.example.com --ca dbtls-ca/root.pem --password-file admin-pw.txt',
    'dbtls server status localhost --socket /run/mysqld/mysqld.sock --ssl-mode disable --json',
  ],
  async run(argv, ctx) {
    const p = parse(argv, STATUS_OPTIONS, STATUS_USAGE, ctx);
    const target = singleTarget(p, STATUS_USAGE, 'server status');
    const status = await withAdmin(p, ctx, target, (s) => serverStatus(s));
    if (!renderedJson(p, ctx, status))
      renderStatus(ctx.render, status, (words, ...rest) => adminCommandLine(p, target, words, ...rest));
    return 0;
  },
};

// ---- server reload ----

const RELOAD_USAGE = `dbtls server reload ADMIN_TARGET [--expect-cert F] ${ADMIN_SESSION_USAGE} [--json]`;

const RELOAD_OPTIONS: OptionSpec = {
  'expect-cert': {
    type: 'string',
    value: 'FILE',
    description: 'fail unless the server serves this certificate (PEM) after the reload',
  },
  ...ADMIN_OPTIONS,
  ...ADMIN_TLS_OPTIONS,
};

const reloadCommand: Command = {
  name: ['server', 'reload'],
  usage: RELOAD_USAGE,
  summary:
    're-read the certificate files online (FLUSH SSL / ALTER INSTANCE RELOAD TLS) and show what is served',
  options: RELOAD_OPTIONS,
  examples: [
    'dbtls server reload db1.example.com --ca dbtls-ca/root.pem --expect-cert /etc/mysql/ssl/server-cert.pem',
    'dbtls server reload db1.example.com --ca dbtls-ca/root.pem --cert admin/cert.pem --key admin/key.pem --json',
    'dbtls server reload localhost --socket /run/mysqld/mysqld.sock --ssl-mode disable',
  ],
  async run(argv, ctx) {
    const p = parse(argv, RELOAD_OPTIONS, RELOAD_USAGE, ctx);
    const target = singleTarget(p, RELOAD_USAGE, 'server reload');
    const expectFile = str(p, 'expect-cert');
    const expect = expectFile ? certificateFileFingerprint(expectFile) : undefined;
    const result = await withAdmin(p, ctx, target, (s) => reloadAndProve(s, expect));
    if (!renderedJson(p, ctx, result)) {
      ctx.render.lines(
        `Ran ${result.statement}; the server now serves sha256 ${result.served.fingerprint} (expires ${dateText(result.served.notAfter)})${expect ? ' ✓' : ''}`,
      );
    }
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
