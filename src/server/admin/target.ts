/**
 * ADMIN_TARGET and the admin flags as the admin session's options. The parsing and the precedence are
 * the one target resolver's (src/tls/settings.ts, parseAdminTarget): the same DSN means the same server,
 * user and TLS settings under `dbtls connect` and `dbtls server status`.
 */
import { parseAdminTarget, type Target, type TargetFlags } from '../../tls/settings.js';
import type { SessionOptions } from './session.js';

export { parseAdminSslMode } from '../../tls/settings.js';

/** The target flags, with the admin mode as `sslMode` and the flag that gives the CA in this command. */
export type AdminTargetFlags = Omit<TargetFlags, 'mode'> & { sslMode?: string; caOption?: string };

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
  { sslMode, caOption, ...flags }: AdminTargetFlags = {},
  env: NodeJS.ProcessEnv = process.env,
): SessionOptions {
  return sessionOptions(parseAdminTarget(text, { ...flags, mode: sslMode }, env, caOption));
}
