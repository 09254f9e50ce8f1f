/**
 * The pre-credential half of a connection, for callers that relay someone else's credentials (the proxy):
 * dial, read the greeting, refuse a server that offers no TLS when the mode needs it. Nothing here sends a
 * byte of the client's; the caller holds the handshake response until `upgradeToTls` (upgrade.ts) has
 * resolved, i.e. until the server passed every check of the mode.
 */
import type * as net from 'node:net';
import { DbtlsError } from '../errors.js';
import { CLIENT_SSL, hasCapability } from '../protocol/capabilities.js';
import type { TlsSettings } from '../tls/settings.js';
import { requiresTls } from '../tls/ssl-mode.js';
import { address, dial, type GreetingRead, readGreeting } from './dial.js';

export interface Origin extends GreetingRead {
  /** The TCP socket, paused right after the greeting, with no listeners of ours. */
  readonly socket: net.Socket;
}

/** Dials `host:port` and reads its greeting; throws TLS_NOT_OFFERED when the mode needs TLS it lacks. */
export async function openOrigin(
  host: string,
  port: number,
  settings: TlsSettings,
  timeoutMs: number,
): Promise<Origin> {
  const socket = await dial(host, port, timeoutMs);
  let read: GreetingRead;
  try {
    read = await readGreeting(socket, host, port, timeoutMs);
  } catch (err) {
    socket.destroy();
    throw err;
  }
  const { greeting } = read;
  if (requiresTls(settings.mode) && !hasCapability(greeting.capabilities, CLIENT_SSL)) {
    socket.destroy();
    throw new DbtlsError(
      'TLS_NOT_OFFERED',
      `could not connect to ${address(host, port)} with ssl-mode ${settings.mode}: the server (${greeting.flavor} ${greeting.serverVersion}) does not offer TLS (no CLIENT_SSL in its greeting)`,
      {
        hint: 'enable TLS on the server (dbtls server enable ADMIN_TARGET); if the server has TLS, something on the path strips it: do not connect',
        kind: 'check',
        details: { serverVersion: greeting.serverVersion, flavor: greeting.flavor },
      },
    );
  }
  return { socket, ...read };
}
