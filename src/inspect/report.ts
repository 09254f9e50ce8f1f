/**
 * The inspector's report: what `dbtls inspect` found, as plain data (the `--json` output is this object).
 * Immutable values; the probe and the findings fill it, the CLI renders it.
 *
 * Text a server sent is kept as sent (a SAN, CURRENT_USER(), node's host name error): JSON escapes it, and
 * each view escapes it once (cli/inspect-text.ts per line, html.ts per text, util/safe-text.ts). The
 * greeting's fields and the variables are the exception, escaped and bounded on arrival (peerText), and
 * findings are display text, escaped when made (findings.ts).
 */
import type { TlsLiveness } from '../server/flavor.js';
import type { TlsVersion } from '../tls/versions.js';

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';

/** Severities in increasing order, for `--fail-on` comparisons. */
export const SEVERITIES: readonly Severity[] = Object.freeze(['info', 'low', 'medium', 'high', 'critical']);

export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

export interface Finding {
  /** Stable id that scripts match on, e.g. `tls-legacy-versions`. */
  readonly id: string;
  readonly severity: Severity;
  /** One line: what is wrong and why it matters. */
  readonly message: string;
  /** The fix: an actual statement or dbtls command. */
  readonly fix: string;
}

export interface ServerFacts {
  /** As the greeting says, control characters escaped (util/safe-text.ts). */
  readonly version: string;
  readonly flavor: 'mariadb' | 'mysql';
  readonly tlsOffered: boolean;
  readonly authPlugin: string;
  readonly connectionId: number;
  /**
   * True: every field above comes from the greeting, sent before TLS, so anyone on the path can forge it
   * (the version a login reads over verified TLS is session.variables.version). Always set by inspect().
   */
  readonly unauthenticated?: boolean;
}

export interface AcceptedCipher {
  readonly version: TlsVersion;
  /** OpenSSL name, as sslscan prints it. */
  readonly name: string;
  readonly bits: number;
  /** Why the suite is weak, when it is. */
  readonly weakness?: string;
  readonly forwardSecrecy: boolean;
}

export interface TlsFacts {
  readonly versions: Readonly<Record<TlsVersion, boolean>>;
  /** Accepted suites, newest version first, each version's in the server's preference order. */
  readonly ciphers: readonly AcceptedCipher[];
  /** How many TLS connections the scan opened (each counts towards the server's max_connect_errors). */
  readonly probes: number;
}

export interface ChainEntry {
  readonly subject: string;
  readonly issuer: string;
  /** `DNS:name` and `IP:address`, as OpenSSL prints subjectAltName. */
  readonly sans: readonly string[];
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** Whole days from the inspection time to notAfter; negative once expired. */
  readonly daysLeft: number;
  /** SHA-256 of the DER, lowercase hex without colons. */
  readonly fingerprint: string;
  readonly keyType: string;
  readonly keyBits: number;
  readonly signatureAlgorithm: string;
  readonly selfSigned: boolean;
  readonly isCa: boolean;
}

export interface CertificateFacts {
  /** As the server sent it, leaf first. */
  readonly chain: readonly ChainEntry[];
  /** The chain verifies against `--ca` (or the system store when none was given). */
  readonly verified: boolean;
  /** OpenSSL's reason when it does not, e.g. `SELF_SIGNED_CERT_IN_CHAIN`. */
  readonly verifyError?: string;
  readonly trustAnchor: 'ca-file' | 'system';
  /** The name checked against the certificate: `--servername`, else the host dialled. */
  readonly checkedName: string;
  readonly hostnameMatch: boolean;
  readonly hostnameError?: string;
}

/** MariaDB's `mysql.user.ssl_type`: what the account REQUIREs ('' none, ANY = SSL, X509, SPECIFIED = SUBJECT/ISSUER/CIPHER). */
export type AccountSslType = '' | 'ANY' | 'X509' | 'SPECIFIED';

export interface PlaintextLoginCheck {
  /** True only with --plaintext-login-check: the credentials were then sent once without TLS. */
  readonly attempted: boolean;
  /**
   * True when the server refuses a login without TLS for this account, false when it accepts one; absent
   * when neither the attempt nor the policy tells.
   */
  readonly refused?: boolean;
  /**
   * How `refused` was learnt: `policy` (the default: require_secure_transport and the account's ssl_type,
   * read over the verified TLS session; no credential crosses in clear) or `attempt` (a real plaintext login).
   */
  readonly basis?: 'policy' | 'attempt';
  /** The server's error number when refused (MariaDB: 1045; MySQL with require_secure_transport: 3159). */
  readonly errorCode?: number;
  readonly errorMessage?: string;
}

export interface SessionPosture {
  readonly user: string;
  /** The account the server matched, `user@host` from CURRENT_USER(). */
  readonly account: string;
  readonly protocol?: string;
  readonly cipher?: string;
  /** have_ssl, require_secure_transport, tls_version and every ssl_% variable, as the server reports them. */
  readonly variables: Readonly<Record<string, string>>;
  /** Whether TLS is live, the way the server's flavor tells it (src/server/flavor.ts); absent if unreadable. */
  readonly tlsLive?: TlsLiveness;
  /** The account's TLS requirement, from SHOW CREATE USER over the verified session; absent if unreadable. */
  readonly sslType?: AccountSslType;
  readonly plaintextLogin: PlaintextLoginCheck;
}

export interface InspectReport {
  /** `host:port` as dialled. */
  readonly target: string;
  readonly inspectedAt: string;
  readonly server: ServerFacts;
  readonly tls: TlsFacts;
  /** Null when the server offers no TLS. */
  readonly certificate: CertificateFacts | null;
  readonly session?: SessionPosture;
  /** Why the credentialed part did not run or failed (no login is attempted when the mode's checks fail). */
  readonly sessionError?: { readonly code: string; readonly message: string };
  readonly findings: readonly Finding[];
}

/** The report's worst finding is at or above `threshold`. */
export function failsAt(report: Pick<InspectReport, 'findings'>, threshold: Severity): boolean {
  return report.findings.some((f) => severityRank(f.severity) >= severityRank(threshold));
}
