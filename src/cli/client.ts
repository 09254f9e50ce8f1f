/** `dbtls connect`: a SQL session whose TLS is exactly the ssl-mode, and the facts of that session. */
import { connect, type ResultRow } from '../client/connect.js';
import type { SessionFacts } from '../client/session.js';
import { DbtlsError } from '../errors.js';
import type { CertificateInfo } from '../pki/certificate.js';
import { address } from '../tls/dsn.js';
import { parseTarget, type Target } from '../tls/settings.js';
import { DEFAULT_SSL_MODE, SSL_MODES } from '../tls/ssl-mode.js';
import { dateText, daysLeft } from '../util/dates.js';
import { oneLine, UNAUTHENTICATED } from '../util/safe-text.js';
import { flag, int, type OptionSpec, optional, parse, readSecret, str, targetFlags } from './args.js';
import type { Command, CommandContext } from './command.js';
import { COMMON, KEY_FILE, like } from './options.js';

/** Like the mysql client's `status`: what the server says it negotiated. */
export const DEFAULT_CONNECT_SQL = "SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')";

const CONNECT_USAGE =
  'dbtls connect TARGET [-e SQL] [--json] [--ssl-mode M] [--ca F|system] [--cert F --key F] [--mutual-tls enable|disable] [--servername N] [--tls-min V] [--user U] [--database DB] [--password-file F | -p] [--defaults-file F] [--port N] [--connect-timeout MS]';

const CONNECT_OPTIONS: OptionSpec = {
  execute: {
    type: 'string',
    short: 'e',
    value: 'SQL',
    description: 'the SQL to run',
    default: 'SHOW SESSION STATUS of Ssl_version and Ssl_cipher',
  },
  json: COMMON.json,
  'ssl-mode': like('ssl-mode', { default: DEFAULT_SSL_MODE, env: ['DBTLS_SSL_MODE'] }),
  ca: like('ca', {
    description: 'the CA certificate (PEM) that verifies the server; system for the OS store',
    env: ['DBTLS_SSL_CA'],
  }),
  cert: { ...COMMON.cert, env: ['DBTLS_SSL_CERT'] },
  key: { ...KEY_FILE, env: ['DBTLS_SSL_KEY'] },
  'mutual-tls': { ...COMMON['mutual-tls'], env: ['DBTLS_MUTUAL_TLS'] },
  servername: {
    type: 'string',
    value: 'NAME',
    description: 'the name to check the certificate against (default: the host of TARGET)',
    env: ['DBTLS_SSL_SERVERNAME'],
  },
  'tls-min': like('tls-min', { description: 'the lowest TLS version to accept', env: ['DBTLS_TLS_MIN'] }),
  user: { ...COMMON.user, short: 'u', env: ['DBTLS_USER'] },
  database: { type: 'string', short: 'D', value: 'DB', description: 'the database to use' },
  port: { type: 'string', short: 'P', description: 'the port, when TARGET names none', default: '3306' },
  'password-file': like('password-file', {
    description: "a file holding the user's password (else the prompt with -p)",
  }),
  password: {
    type: 'boolean',
    short: 'p',
    description: 'ask for the password on the terminal (never takes a value)',
  },
  'defaults-file': {
    type: 'string',
    description: 'a my.cnf whose [client] section gives host, user, password and ssl-* settings',
    env: ['DBTLS_DEFAULTS_FILE'],
  },
  'connect-timeout': { type: 'string', value: 'MS', description: 'give up connecting after MS milliseconds' },
};

export const connectCommand: Command = {
  name: ['connect'],
  usage: CONNECT_USAGE,
  summary: 'connect with an exact ssl-mode, run SQL and show what TLS protects the session',
  options: CONNECT_OPTIONS,
  examples: [
    'dbtls connect db1.example.com --ca db1/ca.pem --user app_user --password-file pw.txt',
    "dbtls connect 'mysql://app_user@db1.example.com:3306/?ssl-mode=verify-full&ssl-ca=ca.pem' -p -e 'SELECT 1'",
    'dbtls connect db1.example.com --ssl-mode verify-full --mutual-tls enable --ca ca.pem --cert app_user/cert.pem --key app_user/key.pem --user app_user',
  ],
  async run(argv, ctx: CommandContext) {
    const p = parse(argv, CONNECT_OPTIONS, CONNECT_USAGE, ctx);
    const [text, ...extra] = p.positionals;
    if (!text || extra.length > 0) {
      throw new DbtlsError('USAGE', 'could not run connect: give exactly one TARGET', {
        hint: `usage: ${CONNECT_USAGE}`,
      });
    }
    const parsed = parseTarget(
      text,
      {
        ...targetFlags(p),
        ...optional('database', str(p, 'database')),
        ...optional('port', int(p, 'port', CONNECT_USAGE)),
      },
      ctx.env,
    );
    const password = await readSecret(
      { file: str(p, 'password-file'), what: 'password', prompt: flag(p, 'password') },
      ctx.env,
    );
    const target: Target = password === undefined ? parsed : { ...parsed, password };
    const timeout = int(p, 'connect-timeout', CONNECT_USAGE);
    const conn = await connect(target, timeout === undefined ? {} : { connectTimeoutMs: timeout });
    try {
      const rows = await conn.query(str(p, 'execute') ?? DEFAULT_CONNECT_SQL);
      for (const w of warnings(conn.session, target)) ctx.render.warn(w);
      if (flag(p, 'json')) {
        ctx.render.json({
          target: {
            host: target.host,
            port: target.port,
            user: target.user ?? null,
            database: target.database ?? null,
            mode: target.tls.mode,
          },
          session: { ...conn.session, peerChain: conn.session.peerChain.map(chainEntry) },
          rows,
        });
      } else {
        // One line per element: the chain's names and the rows are the server's text (util/safe-text.ts).
        ctx.render.lines(...describe(conn.session, target).map(oneLine), '', ...table(rows));
      }
      return 0;
    } finally {
      await conn.close();
    }
  },
};

/** The JSON view of a chain certificate: what a reader needs, not the DER and key bytes. */
function chainEntry(c: CertificateInfo): Record<string, unknown> {
  return {
    subject: c.subject,
    issuer: c.issuer,
    serial: c.serial,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    dnsNames: c.dnsNames,
    ipAddresses: c.ipAddresses,
    keyType: c.keyType,
    keyBits: c.keyBits,
    signatureAlgorithm: c.signatureAlgorithm,
    selfSigned: c.selfSigned,
    fingerprint: c.fingerprint,
  };
}

function warnings(s: SessionFacts, target: Target): string[] {
  if (!s.encrypted) {
    return [
      target.tls.mode === 'preferred'
        ? 'the server offers no TLS: ssl-mode preferred fell back to PLAINTEXT; the password and all data crossed the network unencrypted'
        : 'ssl-mode disable: the session is PLAINTEXT',
    ];
  }
  if (!SSL_MODES[s.verifiedAs].verifiesChain) {
    return [
      `ssl-mode ${target.tls.mode}: encrypted but the server was NOT verified; anyone on the path can impersonate it (use --ssl-mode verify-full --ca FILE)`,
    ];
  }
  return [];
}

function describe(s: SessionFacts, target: Target): string[] {
  const leaf = s.peerChain[0];
  const verified =
    s.verifiedAs === 'verify-full'
      ? `chain and host name ${target.tls.servername ?? target.host}`
      : s.verifiedAs === 'verify-ca'
        ? 'chain only, not the host name'
        : 'nothing';
  const lines = [
    `Connected to ${address(target.host, target.port)} (${s.flavor} ${s.serverVersion}, version from the greeting: ${UNAUTHENTICATED}), connection id ${s.connectionId}`,
    `  encryption:    ${s.encrypted ? `${s.protocol}, ${s.cipher}` : 'none (plaintext)'}`,
    `  verified as:   ${s.verifiedAs} (${s.encrypted ? verified : 'nothing'})`,
    `  mutual TLS:    ${s.mutualTls ? 'yes (client certificate sent)' : 'no'}`,
  ];
  if (leaf) {
    const days = daysLeft(leaf.notAfter);
    lines.push(
      `  server cert:   ${leaf.subject}, issued by ${leaf.issuer}`,
      `  names:         ${[...leaf.dnsNames.map((n) => `DNS:${n}`), ...leaf.ipAddresses.map((n) => `IP:${n}`)].join(', ') || '(none)'}`,
      `  expires:       ${dateText(leaf.notAfter)} (${days} days)`,
      `  fingerprint:   sha256 ${leaf.fingerprint}`,
    );
  }
  return lines;
}

function table(rows: readonly ResultRow[]): string[] {
  const first = rows[0];
  if (!first) return ['(no rows)'];
  const columns = Object.keys(first);
  // Escaped before the columns are measured: a value is one line, and an escaped one keeps the table aligned.
  const cell = (v: unknown) =>
    oneLine(v === null || v === undefined ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const names = columns.map(oneLine);
  const widths = columns.map((c, i) => Math.max(names[i]!.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(names), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))];
}

export const commands: Command[] = [connectCommand];
