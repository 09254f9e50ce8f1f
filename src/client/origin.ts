/**
 * The pre-credential half of a connection (connect, and the proxy that relays a client's credentials):
 * dial, read the greeting, refuse a server that offers no TLS when the mode needs it. Nothing here sends a
 * byte of the client's; the caller holds the handshake response until `upgradeToTls` (upgrade.ts) has
 * resolved, i.e. until the server passed every check of the mode.
 */
import type { TlsSettings } from '../tls/settings.js';
import { type Dialled, dial, endpointOf } from './dial.js';
import { requireTlsOffered } from './upgrade.js';

export type Origin = Dialled;

/**
 * Dials `host:port` (or the unix socket, when given) and reads its greeting; throws TLS_NOT_OFFERED when
 * the mode needs TLS it lacks.
 */
export async function openOrigin(
  host: string,
  port: number,
  settings: TlsSettings,
  timeoutMs: number,
  socket?: string,
): Promise<Origin> {
  const origin = await dial(endpointOf({ host, port, socket }), { timeoutMs });
  try {
    requireTlsOffered(origin.greeting, host, port, settings);
  } catch (err) {
    origin.socket.destroy();
    throw err;
  }
  return origin;
}
