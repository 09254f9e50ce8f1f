/**
 * TlsSettings and Target, resolved once from every place a user may have put them.
 *
 * Precedence, highest first (each setting separately):
 *   1. CLI flags          --ssl-mode --ca --cert --key --servername --tls-min --user --port
 *   2. the DSN            mysql://user@host:port/db?ssl-mode=verify-full&ssl-ca=F&ssl-cert=F&ssl-key=F
 *                         (also mariadb://; keys sslMode, sslCa, mutualTls, servername, tls-min; - and _ and case ignored)
 *   3. my.cnf             only the file named by --defaults-file (or DBTLS_DEFAULTS_FILE), groups
 *                         [client] [client-server] [client-mariadb] [mariadb-client] [mysql] [dbtls]:
 *                         ssl-ca ssl-cert ssl-key ssl-mode ssl-verify-server-cert ssl/skip-ssl tls-version
 *                         user password host port database, with !include and !includedir
 *   4. the environment    DBTLS_SSL_MODE DBTLS_SSL_CA DBTLS_SSL_CERT DBTLS_SSL_KEY DBTLS_SSL_SERVERNAME
 *                         DBTLS_TLS_MIN DBTLS_MUTUAL_TLS DBTLS_USER, MYSQL_PWD (the password)
 *   5. defaults           ssl-mode verify-full (secure by default), TLS 1.2 minimum (RFC 8996), port 3306
 * This is the mysql client's own order (command line over option files over MYSQL_PWD): what is typed
 * for this connection beats what is configured for all of them.
 *
 * No implicit ~/.my.cnf or /etc/mysql: a security tool should not change behaviour with a file the user
 * did not name. A password inside the DSN (`user:pass@`) is refused: the DSN is argv, and argv is visible
 * to every user of the machine (ps) and lands in shell history.
 * Mutual TLS is on when a client certificate and key are given, unless mutualTls=disable says otherwise.
 *
 * The server commands resolve their ADMIN_TARGET here too (parseAdminTarget): the same layers, plus the
 * unix socket (--socket, my.cnf socket=), the admin user root by default, and `preferred` refused.
 */
import { DbtlsError } from '../errors.js';
import { isIpAddress } from '../pki/san.js';
import { quotedValue } from '../util/safe-text.js';
import { address, DEFAULT_PORT, type Key, type Layer, parsePort, parseTargetText } from './dsn.js';
import { clientOptions } from './mycnf.js';
import {
  checkCombination,
  DEFAULT_SSL_MODE,
  type MutualTls,
  parseMutualTls,
  parseSslMode,
  SSL_MODES,
  type SslMode,
} from './ssl-mode.js';
import { DEFAULT_TLS_MIN, parseTlsMinVersion, type SecureTlsVersion } from './versions.js';

export interface TlsSettings {
  readonly mode: SslMode;
  readonly mutualTls: MutualTls;
  /** CA certificate file, or 'system' for node's bundled roots. */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  /** The name the certificate must match when it differs from the host dialled. */
  readonly servername?: string;
  readonly minVersion: SecureTlsVersion;
}

export interface Target {
  readonly host: string;
  readonly port: number;
  readonly user?: string;
  readonly database?: string;
  readonly tls: TlsSettings;
  readonly password?: string;
  /** A unix socket path (admin targets only: the server commands may run on the server host). */
  readonly socket?: string;
  /** Where each resolved setting came from, for `--json` and for debugging surprises. */
  readonly sources?: Readonly<Record<string, SettingSource>>;
}

export type SettingSource = 'flag' | 'dsn' | 'my.cnf' | 'env' | 'default';

/** Where a setting came from, for a message. */
function sourceText(source: SettingSource): string {
  return {
    flag: 'the command line',
    dsn: 'the DSN',
    'my.cnf': 'the option file',
    env: 'the environment',
    default: 'the defaults',
  }[source];
}

/**
 * The name the server certificate must carry (and the SNI sent): a host name or an IP address. A blank,
 * a control character, an empty label or a wildcard could never match a certificate, so every verify-full
 * handshake would fail later with a misleading HOSTNAME_MISMATCH. What node's checkServerIdentity accepts
 * stays accepted: an underscore (compose-style service names), one trailing dot (a fully qualified name).
 */
const SERVERNAME_LABEL = /^[A-Za-z0-9_-]{1,63}$/;

function checkServername(name: string, source: SettingSource): void {
  const labels = name.replace(/\.$/, '').split('.');
  if (isIpAddress(name) || (name.length <= 254 && labels.every((l) => SERVERNAME_LABEL.test(l)))) return;
  throw new DbtlsError(
    'SERVERNAME_INVALID',
    `could not use the servername ${quotedValue(name)} (from ${sourceText(source)}): it is neither a host name nor an IP address`,
    { hint: 'give the name the server certificate carries, e.g. --servername db1.example.com' },
  );
}

/** What the CLI (or a library caller) passes explicitly. Strings are parsed like every other source. */
export interface TargetFlags {
  readonly mode?: string;
  readonly mutualTls?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
  readonly minVersion?: string;
  readonly user?: string;
  readonly database?: string;
  readonly port?: number;
  readonly defaultsFile?: string;
  /** Admin targets: the server's unix socket. */
  readonly socket?: string;
  /** A password the caller read from a file (--password-file): never a flag value itself. */
  readonly password?: string;
}

export const SETTINGS_ENV = Object.freeze({
  mode: 'DBTLS_SSL_MODE',
  ca: 'DBTLS_SSL_CA',
  cert: 'DBTLS_SSL_CERT',
  key: 'DBTLS_SSL_KEY',
  servername: 'DBTLS_SSL_SERVERNAME',
  minVersion: 'DBTLS_TLS_MIN',
  mutualTls: 'DBTLS_MUTUAL_TLS',
  user: 'DBTLS_USER',
  defaultsFile: 'DBTLS_DEFAULTS_FILE',
  password: 'MYSQL_PWD',
});

function flagLayer(flags: TargetFlags): Layer {
  const l: Layer = {};
  for (const k of [
    'mode',
    'mutualTls',
    'ca',
    'cert',
    'key',
    'servername',
    'minVersion',
    'user',
    'database',
    'socket',
    'password',
  ] as const) {
    const v = flags[k];
    // An empty password read from a file is a password (the account may have none); other empty flags are unset.
    if (v !== undefined && (v !== '' || k === 'password')) l[k] = v;
  }
  if (flags.port !== undefined) l.port = String(flags.port);
  return l;
}

function mycnfLayer(file: string): Layer {
  const o = clientOptions(file);
  const l: Layer = {};
  const set = (key: Key, opt: string) => {
    const v = o.get(opt);
    if (v !== undefined && v !== '') l[key] = v;
  };
  set('ca', 'ssl-ca');
  set('cert', 'ssl-cert');
  set('key', 'ssl-key');
  set('user', 'user');
  set('password', 'password');
  set('host', 'host');
  set('port', 'port');
  set('database', 'database');
  set('socket', 'socket');
  // ssl-verify-server-cert is MariaDB's verify-full; ssl=0 / skip-ssl is disable; ssl-mode wins over both.
  const verify = o.get('ssl-verify-server-cert');
  if (verify !== undefined && !/^(0|false|off)$/i.test(verify)) l.mode = 'verify-full';
  if (o.has('skip-ssl') || /^(0|false|off)$/i.test(o.get('ssl') ?? '')) l.mode = 'disable';
  set('mode', 'ssl-mode');
  // tls-version lists the versions allowed; its lowest one is our minimum.
  const versions = o.get('tls-version');
  if (versions)
    l.minVersion =
      versions
        .split(',')
        .map((s) => s.trim())
        .sort()[0] ?? versions;
  return l;
}

function envLayer(env: NodeJS.ProcessEnv): Layer {
  const l: Layer = {};
  for (const k of [
    'mode',
    'ca',
    'cert',
    'key',
    'servername',
    'minVersion',
    'mutualTls',
    'user',
    'password',
  ] as const) {
    const v = env[SETTINGS_ENV[k]];
    if (v !== undefined && v !== '') l[k] = v;
  }
  return l;
}

/** What the caller resolves the target for: the server commands' admin session differs from a client's. */
export interface TargetUse {
  /** The user when no layer names one. */
  readonly defaultUser?: string;
  /** Whether a unix socket may be given (flag or my.cnf `socket=`). */
  readonly socket?: boolean;
}

/**
 * The Target for `text` (host[:port] or DSN) with flags, my.cnf and environment merged by precedence.
 * Throws TARGET_INVALID, TARGET_PASSWORD_IN_DSN, SSL_MODE_UNKNOWN, SSL_MODE_INVALID, TLS_VERSION_*.
 */
export function parseTarget(
  text: string,
  flags: TargetFlags = {},
  env: NodeJS.ProcessEnv = process.env,
  use: TargetUse = {},
): Target {
  const defaultsFile = flags.defaultsFile ?? env[SETTINGS_ENV.defaultsFile];
  const layers: [SettingSource, Layer][] = [
    ['flag', flagLayer(flags)],
    ['dsn', parseTargetText(text)],
    ['my.cnf', defaultsFile ? mycnfLayer(defaultsFile) : {}],
    ['env', envLayer(env)],
  ];
  const sources: Record<string, SettingSource> = {};
  const pick = (key: Key): string | undefined => {
    for (const [source, layer] of layers) {
      const v = layer[key];
      if (v !== undefined) {
        sources[key] = source;
        return v;
      }
    }
    sources[key] = 'default';
    return undefined;
  };
  const host = pick('host') ?? '';
  const port = Number(parsePort(pick('port') ?? String(DEFAULT_PORT), text));
  const modeText = pick('mode');
  const mode = modeText === undefined ? DEFAULT_SSL_MODE : parseSslMode(modeText);
  const ca = pick('ca');
  const cert = pick('cert');
  const key = pick('key');
  const mutualText = pick('mutualTls');
  // Half a pair is a mistake, not "no mutual TLS": the server would refuse the account as if no
  // certificate existed, or the session would silently go without one (the proxy did).
  if ((cert === undefined) !== (key === undefined) && mutualText?.toLowerCase() !== 'disable') {
    const [given, missing] = cert === undefined ? (['key', 'cert'] as const) : (['cert', 'key'] as const);
    throw new DbtlsError(
      'TLS_MATERIAL_INVALID',
      `could not use the client ${given === 'cert' ? 'certificate' : 'key'} ${cert ?? key} (from ${sourceText(sources[given]!)}): no client ${missing === 'key' ? 'key' : 'certificate'} was given with it`,
      {
        hint: `give both --cert FILE and --key FILE (ssl-cert and ssl-key in a DSN or option file), or neither`,
      },
    );
  }
  const mutualTls: MutualTls =
    mutualText !== undefined ? parseMutualTls(mutualText) : cert && key ? 'enable' : 'disable';
  if (mutualText === undefined) sources.mutualTls = cert && key ? (sources.cert ?? 'default') : 'default';
  checkCombination(mode, mutualTls);
  const servername = pick('servername');
  if (servername !== undefined) checkServername(servername, sources.servername!);
  const minText = pick('minVersion');
  const minVersion = minText === undefined ? DEFAULT_TLS_MIN : parseTlsMinVersion(minText);
  const user = pick('user') ?? use.defaultUser;
  const socket = use.socket ? pick('socket') : undefined;
  const database = pick('database');
  const password = pick('password');
  const tls: TlsSettings = Object.freeze({
    mode,
    mutualTls,
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(servername !== undefined ? { servername } : {}),
    minVersion,
  });
  return Object.freeze({
    host,
    port,
    ...(user !== undefined ? { user } : {}),
    ...(database !== undefined ? { database } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(socket !== undefined ? { socket } : {}),
    tls,
    sources: Object.freeze(sources),
  });
}

/** Admin tasks are done as root unless told otherwise, like the mysql CLI on the server host. */
const DEFAULT_ADMIN_USER = 'root';

/** An ssl-mode for an admin session: the shared model minus `preferred`, which can send the password in clear. */
export function parseAdminSslMode(text: string): Exclude<SslMode, 'preferred'> {
  const mode = parseSslMode(text);
  if (mode === 'preferred') throw preferredRefused();
  return mode;
}

function preferredRefused(): DbtlsError {
  return new DbtlsError(
    'SSL_MODE_INVALID',
    'could not use ssl-mode preferred for an admin session: it falls back to plaintext',
    {
      hint: 'use --ssl-mode verify-full --ca F (or --ssl-mode disable / --socket PATH when the server has no TLS yet)',
    },
  );
}

/**
 * The ADMIN_TARGET of the server commands: parseTarget with the admin profile (user root by default, the
 * unix socket allowed, `preferred` refused), and a CA required at once for verify-ca/verify-full over TCP.
 * `caFlag` names the option that gives the CA in the calling command, for the hint.
 */
export function parseAdminTarget(
  text: string,
  flags: TargetFlags = {},
  env: NodeJS.ProcessEnv = process.env,
  caFlag = '--ca',
): Target {
  const target = parseTarget(text, flags, env, { defaultUser: DEFAULT_ADMIN_USER, socket: true });
  const { mode, ca } = target.tls;
  if (mode === 'preferred') throw preferredRefused();
  if (!target.socket && SSL_MODES[mode].verifiesChain && !ca) {
    throw new DbtlsError(
      // One code per failure: the same as a client's verify-full without a CA (was SSL_CA_REQUIRED).
      'TLS_CA_REQUIRED',
      `could not connect to ${address(target.host, target.port)} with ssl-mode ${mode}: no CA certificate given`,
      {
        hint: `pass ${caFlag} FILE; when the server has no TLS yet, use --socket PATH on the server host or say --ssl-mode disable explicitly`,
      },
    );
  }
  return target;
}
