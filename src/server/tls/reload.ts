/**
 * Online TLS reload and its proof. The reload statement comes from the server's capabilities
 * (MariaDB `FLUSH SSL`, MySQL `ALTER INSTANCE RELOAD TLS`); the proof is a TLS probe over the MySQL
 * protocol that reads the certificate the server now serves to new connections.
 */
import * as net from 'node:net';
import { dial } from '../../client/dial.js';
import { offersTls, peerChain, tlsNotOffered, upgradeToTls } from '../../client/upgrade.js';
import { causeText, DbtlsError } from '../../errors.js';
import { parseCertificate, shortFingerprint } from '../../pki/certificate.js';
import { readCertificates } from '../../pki/chain.js';
import { address } from '../../tls/dsn.js';
import { readUserFile } from '../../util/files.js';
import type { AdminSession } from '../admin/session.js';

/** Long enough for a server that is still starting up; a black hole fails visibly. */
const PROBE_TIMEOUT_MS = 10_000;

export interface ServedCertificate {
  /** SHA-256 of the DER, lowercase hex without colons (as CertificateInfo.fingerprint). */
  readonly fingerprint: string;
  readonly subject: string;
  readonly issuer: string;
  readonly serial: string;
  readonly notAfter: Date;
  readonly protocol: string;
  readonly cipher: string;
  readonly pem: string;
}

/**
 * Reads the certificate the server serves to new connections: a TLS handshake over the MySQL protocol that
 * verifies nothing (observe; it sends no credentials), then a hang-up.
 */
export async function probeServedCertificate(
  host: string,
  port: number,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<ServedCertificate> {
  const at = { host, port, timeoutMs, purpose: 'probe TLS on' };
  const { socket, greeting } = await dial({ host, port }, at);
  try {
    if (!offersTls(greeting)) {
      const hint = 'enable TLS with `dbtls server enable` (the first enablement needs a restart)';
      throw tlsNotOffered(`probe TLS on ${address(host, port)}`, greeting, hint);
    }
    const observed = await upgradeToTls(
      socket,
      greeting,
      { kind: 'observe', ...(net.isIP(host) ? {} : { servername: host }) },
      at,
    );
    if (observed.kind === 'refused') throw new Error(observed.reason);
    const { secure } = observed;
    const [leaf] = peerChain(secure).chain;
    const protocol = secure.getProtocol() ?? 'unknown';
    const cipher = secure.getCipher().name;
    secure.destroy();
    if (!leaf) throw new Error('the server sent no certificate');
    const info = parseCertificate(leaf);
    return {
      fingerprint: info.fingerprint,
      subject: info.subject,
      issuer: info.issuer,
      serial: info.serial,
      notAfter: info.notAfter,
      protocol,
      cipher,
      pem: info.pem,
    };
  } catch (err) {
    if (err instanceof DbtlsError) throw err;
    throw new DbtlsError('PROBE_FAILED', `could not probe TLS on ${address(host, port)}: ${causeText(err)}`, {
      hint: 'check that the server is up and reachable, and that its certificate files are valid',
      cause: err,
    });
  } finally {
    socket.destroy();
  }
}

/**
 * The server's online reload statement, or RELOAD_UNSUPPORTED (exit 2) naming what could not be done:
 * every operation that reloads asks this before it changes a file, the CA or the server.
 */
export function onlineReload(session: AdminSession, doing: string): string {
  const statement = session.capabilities.reloadStatement;
  if (statement) return statement;
  throw new DbtlsError(
    'RELOAD_UNSUPPORTED',
    `could not ${doing}: ${session.version.text} cannot reload TLS online (nothing was changed)`,
    {
      hint: 'upgrade the server (MariaDB 10.4+ and MySQL 8.0.16+ reload online), or change its files by hand and restart it',
    },
  );
}

/** Runs the server's online reload statement. */
export async function reloadTls(session: AdminSession): Promise<string> {
  const statement = onlineReload(session, 'reload TLS online');
  await session.query(statement);
  return statement;
}

/** Proves that `expectedFingerprint` is the certificate new connections get. */
export async function proveServed(
  host: string,
  port: number,
  expectedFingerprint: string,
): Promise<ServedCertificate> {
  const served = await probeServedCertificate(host, port);
  if (served.fingerprint !== expectedFingerprint.toLowerCase()) {
    throw new DbtlsError(
      'CERT_NOT_SERVED',
      `could not prove the new certificate is served on ${address(host, port)}: it serves ${shortFingerprint(served.fingerprint)}, expected ${shortFingerprint(expectedFingerprint)}`,
      {
        hint: 'check that the server reads the files dbtls wrote (@@ssl_cert) and run `dbtls server reload` or restart it',
        details: { served: served.fingerprint, expected: expectedFingerprint },
      },
    );
  }
  return served;
}

export interface ReloadResult {
  readonly statement: string;
  readonly served: ServedCertificate;
}

/** `server reload`: the reload statement, then the certificate now served (proved against `expect` when given). */
export async function reloadAndProve(
  session: AdminSession,
  expectFingerprint?: string,
): Promise<ReloadResult> {
  const statement = await reloadTls(session);
  const { host, port } = session.options;
  const served = expectFingerprint
    ? await proveServed(host, port, expectFingerprint)
    : await probeServedCertificate(host, port);
  return { statement, served };
}

/** The fingerprint of the first certificate in a PEM file (what `--expect-cert` names). */
export function certificateFileFingerprint(file: string): string {
  return readCertificates(readUserFile(file, 'certificate'), `the certificate ${file}`)[0]!.fingerprint;
}
