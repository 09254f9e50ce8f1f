/**
 * Mutual TLS prefers TLS 1.3 (issue 9, item 15). Node's TLS client judges the server certificate only once
 * the handshake is over, so the client certificate always leaves before that verdict. What the version
 * changes is who can read it:
 *   TLS 1.2  the client's Certificate message is sent in clear: a passive eavesdropper reads the client's
 *            identity (subject, SANs, issuer), and an active man in the middle gets it too;
 *   TLS 1.3  it is encrypted under the handshake keys and sent after the server's Certificate,
 *            CertificateVerify and Finished (RFC 8446 section 4.4): only the peer that completed the
 *            handshake, the real server or an active man in the middle, reads it. Node still sends it before
 *            judging that peer; no public Node API defers it (there is no client-certificate callback).
 * Neither version gives away the private key or anything that lets an attacker log in with it.
 *
 * So, with mutual TLS and a 1.2 floor: try TLS 1.3 first. Only when the server refuses that version does a
 * second handshake, without any client certificate, verify the server as the mode requires and read the
 * version it picks: 1.3 there means someone made the first attempt fail (a downgrade): refused. Only a
 * verified 1.2-only server gets the certificate over TLS 1.2. OpenSSL's own downgrade sentinel (RFC 8446
 * section 4.1.3) stops a relay that edits the versions of a real 1.3 server's handshake.
 */
import { DbtlsError } from '../errors.js';
import { loadTlsMaterial, tlsFloor } from '../tls/options.js';
import type { Target, TlsSettings } from '../tls/settings.js';
import { dial, endpointOf, formatEndpoint } from './dial.js';
import { upgradeToTls } from './upgrade.js';

/** The node/OpenSSL codes of a handshake that failed because no TLS version was common to both sides. */
const VERSION_REFUSALS: ReadonlySet<string> = new Set([
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'ERR_SSL_NO_PROTOCOLS_AVAILABLE',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** Mutual TLS with the default 1.2 floor: worth a TLS 1.3 attempt first. */
export function prefersTls13(settings: TlsSettings): boolean {
  return settings.mutualTls === 'enable' && tlsFloor(settings) === 'TLSv1.2';
}

/** The same target with TLS 1.3 as the floor. */
export function atLeastTls13(target: Target): Target {
  return { ...target, tls: { ...target.tls, minVersion: 'TLSv1.3' } };
}

/** A TLS_HANDSHAKE_FAILED that says the server speaks no version from our floor up. */
export function isVersionRefusal(err: unknown): boolean {
  if (!(err instanceof DbtlsError) || err.code !== 'TLS_HANDSHAKE_FAILED') return false;
  return VERSION_REFUSALS.has(String(err.details?.nodeCode ?? ''));
}

/**
 * One handshake with the mode's checks and no client certificate; resolves with the version negotiated.
 * It ends before authentication: no credential and no certificate leave.
 */
export async function verifiedVersionWithoutCertificate(
  target: Pick<Target, 'host' | 'port' | 'socket' | 'tls'>,
  timeoutMs: number,
): Promise<string> {
  const { host, port } = target;
  const settings: TlsSettings = { ...target.tls, mutualTls: 'disable', minVersion: 'TLSv1.2' };
  const { ca } = loadTlsMaterial(settings);
  const { socket, greeting } = await dial(endpointOf(target), { timeoutMs });
  try {
    const secure = await upgradeToTls(
      socket,
      greeting,
      { kind: 'verify', settings, material: ca ? { ca } : {} },
      { host, port, timeoutMs },
    );
    const protocol = secure.getProtocol() ?? 'unknown';
    secure.end();
    return protocol;
  } finally {
    socket.destroy();
  }
}

export function downgradeError(target: Pick<Target, 'host' | 'port'>): DbtlsError {
  return new DbtlsError(
    'TLS_DOWNGRADE_DETECTED',
    `could not connect to ${formatEndpoint({ host: target.host, port: target.port })} with mutual TLS: the TLS 1.3 handshake was refused, yet the same server then accepted TLS 1.3 without a client certificate`,
    {
      hint: 'something on the path interferes with TLS 1.3 to obtain the client certificate over TLS 1.2: do not connect; check the network path (or pass --tls-min TLSv1.3 to never fall back)',
    },
  );
}
