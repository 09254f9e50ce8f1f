/**
 * Online TLS reload and its proof. The reload statement comes from the server's capabilities
 * (MariaDB `FLUSH SSL`, MySQL `ALTER INSTANCE RELOAD TLS`); the proof is a TLS probe over the MySQL
 * protocol that reads the certificate the server now serves to new connections.
 */
import { X509Certificate } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { causeText, DbtlsError } from '../../errors.js';
import { parseCertificate } from '../../pki/certificate.js';
import {
  CLIENT_LONG_PASSWORD,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  hasCapability,
} from '../../protocol/capabilities.js';
import { decodeErrPacket, isErrPacket } from '../../protocol/err-packet.js';
import { decodeGreeting } from '../../protocol/handshake.js';
import { framePacket, PACKET_HEADER_LENGTH } from '../../protocol/packet.js';
import { encodeSslRequest, SSL_REQUEST_SEQUENCE_ID } from '../../protocol/ssl-request.js';
import { readUserFile } from '../../util/files.js';
import type { AdminSession } from '../admin/session.js';

/** The capabilities of the probe's SSLRequest: a modern (4.1+) client that will upgrade to TLS. */
const PROBE_CAPABILITIES = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION;
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

export function fingerprintOf(cert: X509Certificate): string {
  return cert.fingerprint256.replaceAll(':', '').toLowerCase();
}

/** Whether the greeting (the first packet's payload) offers TLS. Pure; src/protocol decodes it. */
export function greetingOffersTls(payload: Buffer): boolean {
  if (isErrPacket(payload)) {
    // An ERR packet instead of a greeting: the server refused us (too many connections, host blocked).
    const err = decodeErrPacket(payload);
    throw new DbtlsError('SERVER_REFUSED', `could not probe the server: ${err.message} (error ${err.code})`, {
      hint: 'check max_connections / max_connect_errors (FLUSH HOSTS) on the server',
      kind: 'runtime',
    });
  }
  return hasCapability(decodeGreeting(payload).capabilities, CLIENT_SSL);
}

/** The SSLRequest packet, framed with sequence id 1. Pure. */
export function sslRequestPacket(): Buffer {
  return framePacket(SSL_REQUEST_SEQUENCE_ID, encodeSslRequest({ capabilities: PROBE_CAPABILITIES }));
}

function readGreeting(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < PACKET_HEADER_LENGTH) return;
      const length = buffered.readUIntLE(0, 3);
      if (buffered.length < PACKET_HEADER_LENGTH + length) return;
      cleanup();
      resolve(buffered.subarray(PACKET_HEADER_LENGTH, PACKET_HEADER_LENGTH + length));
    };
    const onEnd = () => {
      cleanup();
      reject(new Error('the server closed the connection before its greeting'));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', reject);
  });
}

/**
 * Connects, reads the greeting, sends an SSLRequest and completes a TLS handshake without verifying
 * anything (this reads what is served; it sends no credentials), then hangs up.
 */
export async function probeServedCertificate(host: string, port: number): Promise<ServedCertificate> {
  const socket = net.connect({ host, port });
  socket.setTimeout(PROBE_TIMEOUT_MS, () => socket.destroy(new Error('timed out')));
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const greeting = await readGreeting(socket);
    if (!greeting.length || !greetingOffersTls(greeting)) {
      throw new DbtlsError(
        'TLS_NOT_OFFERED',
        `could not probe TLS on ${host}:${port}: the server does not offer TLS`,
        {
          hint: 'enable TLS with `dbtls server enable` (the first enablement needs a restart)',
          kind: 'check',
        },
      );
    }
    socket.write(sslRequestPacket());
    const secure = tls.connect({
      socket,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ...(net.isIP(host) ? {} : { servername: host }),
    });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    const x509 = secure.getPeerX509Certificate();
    const protocol = secure.getProtocol() ?? 'unknown';
    const cipher = secure.getCipher().name;
    secure.destroy();
    if (!x509) throw new Error('the server sent no certificate');
    const info = parseCertificate(x509.raw);
    return {
      fingerprint: fingerprintOf(x509),
      subject: info.subject,
      issuer: info.issuer,
      serial: x509.serialNumber.toLowerCase(),
      notAfter: new Date(x509.validTo),
      protocol,
      cipher,
      pem: x509.toString(),
    };
  } catch (err) {
    if (err instanceof DbtlsError) throw err;
    throw new DbtlsError('PROBE_FAILED', `could not probe TLS on ${host}:${port}: ${causeText(err)}`, {
      hint: 'check that the server is up and reachable, and that its certificate files are valid',
      cause: err,
      kind: 'runtime',
    });
  } finally {
    socket.destroy();
  }
}

/** Runs the server's online reload statement. */
export async function reloadTls(session: AdminSession): Promise<string> {
  const statement = session.capabilities.reloadStatement;
  if (!statement) {
    throw new DbtlsError(
      'RELOAD_UNSUPPORTED',
      `could not reload TLS online: ${session.version.text} has no reload statement`,
      {
        hint: 'restart the server to load new certificates (MariaDB 10.4+ and MySQL 8.0.16+ reload online)',
        kind: 'runtime',
      },
    );
  }
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
      `could not prove the new certificate is served on ${host}:${port}: it serves ${served.fingerprint.slice(0, 16)}…, expected ${expectedFingerprint.slice(0, 16)}…`,
      {
        hint: 'check that the server reads the files dbtls wrote (@@ssl_cert) and run `dbtls server reload` or restart it',
        kind: 'check',
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
  try {
    return fingerprintOf(new X509Certificate(readUserFile(file, 'certificate')));
  } catch (err) {
    if (err instanceof DbtlsError) throw err;
    throw new DbtlsError('CERT_MALFORMED', `could not read the certificate ${file}: ${causeText(err)}`, {
      hint: 'pass a PEM certificate file',
      cause: err,
    });
  }
}
