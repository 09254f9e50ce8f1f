/**
 * `inspect(endpoint, options)`: a server's real TLS posture over the MySQL protocol. One greeting probe,
 * then the version and cipher scan (which also yields the chain), then, with credentials, a verified
 * login that reads whether plaintext logins are allowed (a real plaintext attempt only on explicit opt-in);
 * finally the findings. Options are resolved once into a readonly object.
 */
import { formatEndpoint, type TcpEndpoint } from '../client/dial.js';
import { offersTls } from '../client/upgrade.js';
import { causeText, DbtlsError, type ErrorCode, isDbtlsError } from '../errors.js';
import { checkClientPair } from '../tls/options.js';
import { DEFAULT_SSL_MODE, SSL_MODES, type SslMode } from '../tls/ssl-mode.js';
import { TLS_VERSIONS, type TlsVersion } from '../tls/versions.js';
import { readUserFile } from '../util/files.js';
import { peerText, printable } from '../util/safe-text.js';
import { judgeChain } from './chain.js';
import { evaluateFindings, type InspectFacts } from './findings.js';
import { DEFAULT_PROBE_TIMEOUT_MS, probe } from './probe.js';
import type { CertificateFacts, InspectReport, SessionPosture } from './report.js';
import { DEFAULT_SCAN_CONCURRENCY, type Gate, scanTls } from './scan.js';
import type { SessionCredentials } from './session.js';

export interface InspectOptions {
  /** CA certificate file (--ca); undefined: the system store. */
  readonly ca?: string | undefined;
  /** The name the certificate must hold, when clients dial another (an IP, a CNAME). */
  readonly servername?: string | undefined;
  /** How the credentialed login verifies the server (default verify-full). */
  readonly sslMode?: SslMode | undefined;
  readonly credentials?: SessionCredentials | undefined;
  /**
   * Also try the credentials once without TLS (default false: they would cross in clear, and a captured
   * scramble is cracked offline; the policy read over TLS says the same without sending them).
   */
  readonly plaintextCheck?: boolean | undefined;
  /** The clock for days-left and expiry findings. */
  readonly now?: Date | undefined;
  readonly timeoutMs?: number | undefined;
  readonly concurrency?: number | undefined;
  /** Enumerate every accepted suite (default true); false is posture mode, a fleet's default. */
  readonly details?: boolean | undefined;
  /** A connection bound shared with other inspections (a fleet's per-host and total bounds). */
  readonly gate?: Gate | undefined;
}

interface Resolved {
  readonly caFile: string | undefined;
  /** The CA file's PEM, read once for every probe. */
  readonly caPem: string | undefined;
  readonly servername: string | undefined;
  readonly checkedName: string;
  readonly sslMode: SslMode;
  readonly credentials: SessionCredentials | undefined;
  readonly plaintextCheck: boolean;
  readonly now: Date;
  readonly timeoutMs: number;
  readonly concurrency: number;
  readonly details: boolean;
  readonly gate: Gate | undefined;
}

function resolve(endpoint: TcpEndpoint, o: InspectOptions): Resolved {
  const sslMode = o.sslMode ?? DEFAULT_SSL_MODE;
  if (o.credentials && SSL_MODES[sslMode].encrypts !== 'yes') {
    throw new DbtlsError(
      'SSL_MODE_INVALID',
      `could not inspect with --ssl-mode ${sslMode}: the credentialed login always uses TLS`,
      {
        hint: 'use --ssl-mode verify-full (default), verify-ca, or trust; the plaintext attempt is made separately',
      },
    );
  }
  // The client certificate and key are checked once here, not refused again by every server of a fleet.
  const { cert, key } = o.credentials ?? {};
  if (cert !== undefined && key !== undefined) checkClientPair(cert, key);
  return {
    caFile: o.ca,
    caPem: o.ca === undefined ? undefined : readUserFile(o.ca, 'CA certificate file').toString('utf8'),
    servername: o.servername,
    checkedName: o.servername ?? endpoint.host,
    sslMode,
    credentials: o.credentials,
    plaintextCheck: o.plaintextCheck ?? false,
    now: o.now ?? new Date(),
    timeoutMs: o.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
    concurrency: o.concurrency ?? DEFAULT_SCAN_CONCURRENCY,
    details: o.details ?? true,
    gate: o.gate,
  };
}

const NO_VERSIONS: Readonly<Record<TlsVersion, boolean>> = Object.freeze(
  Object.fromEntries(TLS_VERSIONS.map((v) => [v, false])) as Record<TlsVersion, boolean>,
);

export async function inspect(endpoint: TcpEndpoint, options: InspectOptions = {}): Promise<InspectReport> {
  return prepareInspection(endpoint, options)();
}

/**
 * Checks the options and reads their files now, and returns the inspection to run later: a fleet scan
 * refuses bad input (an unreadable --ca, a mode that cannot log in) before it opens any connection.
 */
export function prepareInspection(
  endpoint: TcpEndpoint,
  options: InspectOptions = {},
): () => Promise<InspectReport> {
  const o = resolve(endpoint, options);
  return () => run(endpoint, o);
}

async function run(endpoint: TcpEndpoint, o: Resolved): Promise<InspectReport> {
  const greet = () => probe(endpoint, undefined, o.timeoutMs);
  const { greeting } = await (o.gate ? o.gate(greet) : greet());
  const tlsOffered = offersTls(greeting);
  const server = {
    version: peerText(greeting.serverVersion),
    flavor: greeting.flavor,
    tlsOffered,
    authPlugin: peerText(greeting.authPluginName),
    connectionId: greeting.connectionId,
    unauthenticated: true,
  };
  const scan = tlsOffered
    ? await scanTls(endpoint, {
        ca: o.caPem,
        servername: sniName(o.checkedName),
        concurrency: o.concurrency,
        timeoutMs: o.timeoutMs,
        enumerate: o.details,
        gate: o.gate,
      })
    : { versions: NO_VERSIONS, ciphers: [], probes: 0 };
  const sample = 'sample' in scan ? scan.sample : undefined;
  const certificate: CertificateFacts | null = sample
    ? judgeChain({
        ...sample,
        trustAnchor: o.caFile === undefined ? 'system' : 'ca-file',
        checkedName: o.checkedName,
        now: o.now,
      })
    : null;
  const facts: InspectFacts = {
    target: formatEndpoint(endpoint),
    inspectedAt: o.now.toISOString(),
    server,
    tls: { versions: scan.versions, ciphers: scan.ciphers, probes: scan.probes + 1 },
    certificate,
    ...(await sessionPart(endpoint, o, certificate)),
  };
  return { ...facts, findings: evaluateFindings(facts) };
}

/**
 * The credentialed login, only over a handshake the mode accepts: the scan already showed whether the
 * chain verifies and the name matches, so a failing mode skips the login instead of sending credentials.
 */
async function sessionPart(
  endpoint: TcpEndpoint,
  o: Resolved,
  certificate: CertificateFacts | null,
): Promise<{ session?: SessionPosture; sessionError?: { code: ErrorCode; message: string } }> {
  if (!o.credentials) return {};
  const mode = SSL_MODES[o.sslMode];
  const refuse = (code: ErrorCode, message: string) => ({ sessionError: { code, message } });
  if (!certificate)
    return refuse(
      'TLS_NOT_OFFERED',
      'no login attempted: the server offers no TLS and credentials are never sent in clear',
    );
  if (mode.verifiesChain && !certificate.verified) {
    return refuse(
      'CERT_UNTRUSTED',
      `no login attempted: --ssl-mode ${o.sslMode} needs a verified chain (${certificate.verifyError ?? 'not verified'})`,
    );
  }
  if (mode.verifiesHostname && !certificate.hostnameMatch) {
    return refuse(
      'HOSTNAME_MISMATCH',
      `no login attempted: --ssl-mode ${o.sslMode} needs the certificate to name ${certificate.checkedName}`,
    );
  }
  try {
    // Loaded only with credentials: the SQL driver underneath costs more to load than a whole scan takes.
    const { inspectSession } = await import('./session.js');
    const session = await inspectSession(endpoint, {
      credentials: o.credentials,
      sslMode: o.sslMode,
      ca: o.caFile,
      servername: o.servername,
      plaintextCheck: o.plaintextCheck,
      timeoutMs: o.timeoutMs,
    });
    return { session };
  } catch (err) {
    if (isDbtlsError(err)) return refuse(err.code, printable(err.message));
    return refuse('SESSION_FAILED', printable(causeText(err)));
  }
}

/** SNI carries host names only (RFC 6066 section 3): an IP address is checked but not sent. */
function sniName(name: string): string | undefined {
  return /^[\d.]+$/.test(name) || name.includes(':') ? undefined : name;
}
