/**
 * ADMIN_TARGET and the admin flags as the admin session's options. The parsing and the precedence are
 * the one target resolver's (src/tls/settings.ts, parseAdminTarget): the same DSN means the same server,
 * user and TLS settings under `dbtls connect` and `dbtls server status`.
 */
import { parseAdminTarget, type Target, type TargetFlags } from '../../tls/settings.js';
import type { SessionOptions } from './session.js';

export { parseAdminSslMode } from '../../tls/settings.js';

export interface AdminTargetFlags {
  readonly sslMode?: string | undefined;
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly user?: string | undefined;
  readonly socket?: string | undefined;
  readonly password?: string | undefined;
  readonly defaultsFile?: string | undefined;
  /** The flag that gives the CA in this command (`--ca`, or `--admin-ca` where --ca means another file). */
  readonly caOption?: string | undefined;
}

/** The admin session's options for a resolved admin Target. */
export function sessionOptions(t: Target): SessionOptions {
  const mutual = t.tls.mutualTls === 'enable';
  return {
    host: t.host,
    port: t.port,
    socket: t.socket,
    user: t.user ?? 'root',
    password: t.password,
    tls: {
      mode: t.tls.mode === 'preferred' ? 'verify-full' : t.tls.mode,
      ca: t.tls.ca,
      cert: mutual ? t.tls.cert : undefined,
      key: mutual ? t.tls.key : undefined,
      ...(t.tls.servername !== undefined ? { servername: t.tls.servername } : {}),
      ...(t.sources?.minVersion !== 'default' ? { minVersion: t.tls.minVersion } : {}),
    },
  };
}

/**
 * An ADMIN_TARGET (`host[:port]` or `mysql://user@host:port/?ssl-mode=..&ssl-ca=..`) and the flags, resolved
 * once by parseAdminTarget: flag > DSN > my.cnf > environment > default. The default mode is verify-full
 * (DESIGN.md): a server without TLS yet is reached with an explicit `--ssl-mode disable` or over `--socket`.
 */
export function resolveAdminTarget(
  text: string,
  flags: AdminTargetFlags = {},
  env: NodeJS.ProcessEnv = process.env,
): SessionOptions {
  const given: Record<string, string> = {};
  for (const [name, value] of [
    ['mode', flags.sslMode],
    ['ca', flags.ca],
    ['cert', flags.cert],
    ['key', flags.key],
    ['user', flags.user],
    ['socket', flags.socket],
    ['password', flags.password],
    ['defaultsFile', flags.defaultsFile],
  ] as const) {
    if (value !== undefined) given[name] = value;
  }
  return sessionOptions(parseAdminTarget(text, given as TargetFlags, env, flags.caOption));
}
