/**
 * Findings: the inspector's facts judged, each with a stable id, a severity, one line of why, and the
 * fix. Pure: the same facts give the same findings (the clock is in the facts, as each certificate's
 * daysLeft), so the rules are tested table-driven without a server.
 */
import { MIN_RSA_BITS } from '../pki/keys.js';
import { commonName } from '../pki/names.js';
import { isSecureTlsVersion, TLS_VERSIONS, type TlsVersion } from '../tls/versions.js';
import { printable } from '../util/safe-text.js';
import { commandLine } from '../util/shell.js';
import type { Finding, InspectReport, Severity } from './report.js';
import { SEVERITIES, severityRank } from './report.js';
import { isServerGeneratedCertificate } from './zero-config.js';

export type InspectFacts = Omit<InspectReport, 'findings'>;

/** Certificates closer than this to expiry are reported (matches `dbtls list --expiring-within` habit). */
export const EXPIRY_WARNING_DAYS = 30;
/**
 * Where the Debian and Ubuntu packages of MariaDB and MySQL put the server's socket: the way in for
 * `server enable` while the server offers no TLS (the admin session then needs no TLS), on the server host.
 */
const DEFAULT_SOCKET = '/run/mysqld/mysqld.sock';
/** The versions RFC 8996 deprecates: every one dbtls does not count as secure. */
const LEGACY_VERSIONS: readonly TlsVersion[] = TLS_VERSIONS.filter((v) => !isSecureTlsVersion(v));

export function evaluateFindings(facts: InspectFacts): Finding[] {
  const findings: Finding[] = [
    ...transportFindings(facts),
    ...certificateFindings(facts),
    ...sessionFindings(facts),
  ];
  // Worst first, then by id, so output and JSON are stable.
  return findings.sort(
    (a, b) => severityRank(b.severity) - severityRank(a.severity) || a.id.localeCompare(b.id),
  );
}

/**
 * A finding's message and fix are one line each, read on a terminal, in the HTML page and in --json, and
 * they quote what the server sent (a SAN, the account CURRENT_USER() names): every control and format
 * character is escaped here, once for every rule (util/safe-text.ts).
 */
function finding(id: string, severity: Severity, message: string, fix: string): Finding {
  return { id, severity, message: printable(message), fix: printable(fix) };
}

function isMariadb(facts: InspectFacts): boolean {
  return facts.server.flavor === 'mariadb';
}

/** How to set a [mysqld] TLS variable on this flavor: MariaDB's are read-only, MySQL 8 reloads online. */
function setTlsVariable(facts: InspectFacts, name: string, value: string): string {
  return isMariadb(facts)
    ? `set ${name} = ${value} under [mysqld] in the server's my.cnf and restart it (read-only at run time in MariaDB)`
    : `SET PERSIST ${name} = '${value}'; ALTER INSTANCE RELOAD TLS;`;
}

function transportFindings(facts: InspectFacts): Finding[] {
  if (!facts.server.tlsOffered) {
    return [
      finding(
        'tls-not-offered',
        'critical',
        'the server does not offer TLS: every login and query crosses the network in clear',
        `on the server host, ${commandLine(['dbtls', 'server', 'enable', facts.target, '--issue', '--socket', DEFAULT_SOCKET])} (it issues the server certificate from the dbtls CA, made first with dbtls ca init, and writes the TLS config), or set ssl_cert/ssl_key/ssl_ca in [mysqld] and restart`,
      ),
    ];
  }
  const out: Finding[] = [];
  const versions = facts.tls.versions;
  const accepted = (Object.keys(versions) as TlsVersion[]).filter((v) => versions[v]);
  if (accepted.length === 0) {
    out.push(
      finding(
        'tls-handshake-failed',
        'high',
        'the server offers TLS but completed no handshake with any version from TLS 1.0 to 1.3',
        'check the server error log for TLS errors (certificate/key mismatch, unreadable key) and its tls_version and ssl_cipher settings',
      ),
    );
  }
  const legacy = LEGACY_VERSIONS.filter((v) => versions[v]);
  if (legacy.length > 0) {
    out.push(
      finding(
        'tls-legacy-versions',
        'high',
        `the server accepts ${legacy.join(' and ')}, deprecated by RFC 8996 (no modern AEAD ciphers, downgrade risks)`,
        setTlsVariable(facts, 'tls_version', 'TLSv1.2,TLSv1.3'),
      ),
    );
  }
  if (versions['TLSv1.3'] && !versions['TLSv1.2']) {
    // Often not chosen: an ssl_cipher of TLS 1.2 suites for another key type (RSA-only suites with an EC
    // key) leaves OpenSSL no TLS 1.2 suite, and 1.2 is silently gone (issue 10, item 13; sslscan-measured).
    out.push(
      finding(
        'tls12-not-accepted',
        'low',
        'the server accepts TLS 1.3 only: clients without TLS 1.3 (Java 8 before 8u261, OpenSSL 1.0.x builds) cannot connect',
        `if that is not intended, check tls_version and ssl_cipher (TLS 1.2 suites must match the key type: ECDHE-ECDSA-… for an EC key, ECDHE-RSA-… for RSA); ${setTlsVariable(facts, 'tls_version', 'TLSv1.2,TLSv1.3')}`,
      ),
    );
  }
  if (accepted.length > 0 && !versions['TLSv1.3']) {
    out.push(
      finding(
        'tls13-not-accepted',
        'info',
        'the server does not accept TLS 1.3 (faster handshakes, only forward-secret AEAD suites)',
        setTlsVariable(facts, 'tls_version', 'TLSv1.2,TLSv1.3'),
      ),
    );
  }
  const weak = facts.tls.ciphers.filter((c) => c.weakness);
  if (weak.length > 0) {
    const names = [...new Set(weak.map((c) => c.name))];
    out.push(
      finding(
        'weak-ciphers',
        'high',
        `the server accepts ${names.length} weak cipher suite(s): ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''} (${weak[0]?.weakness})`,
        setTlsVariable(
          facts,
          'ssl_cipher',
          'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305',
        ),
      ),
    );
  }
  const noPfs = facts.tls.ciphers.filter((c) => !c.forwardSecrecy && !c.weakness);
  if (noPfs.length > 0) {
    out.push(
      finding(
        'no-forward-secrecy',
        'low',
        `the server accepts ${noPfs.length} suite(s) without forward secrecy (${noPfs[0]?.name}): a stolen server key decrypts recorded traffic`,
        setTlsVariable(
          facts,
          'ssl_cipher',
          'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384',
        ),
      ),
    );
  }
  return out;
}

function certificateFindings(facts: InspectFacts): Finding[] {
  const cert = facts.certificate;
  const leaf = cert?.chain[0];
  if (!cert || !leaf) return [];
  const out: Finding[] = [];
  const cn = commonName(leaf.subject) ?? hostOf(facts.target);
  const target = commandLine([facts.target]);
  const renew = `dbtls rotate ${target} (re-issues and reloads online), or ${commandLine(['dbtls', 'renew', '--cn', cn])}, install the new files at the same paths, then dbtls server reload ${target}`;
  if (leaf.daysLeft < 0) {
    out.push(
      finding(
        'cert-expired',
        'critical',
        `the server certificate expired ${-leaf.daysLeft} day(s) ago (${leaf.notAfter}): verifying clients refuse it`,
        renew,
      ),
    );
  } else if (leaf.daysLeft < EXPIRY_WARNING_DAYS) {
    out.push(
      finding(
        'cert-expiring',
        'medium',
        `the server certificate expires in ${leaf.daysLeft} day(s) (${leaf.notAfter})`,
        renew,
      ),
    );
  }
  for (const entry of cert.chain.slice(1)) {
    if (entry.daysLeft < 0) {
      out.push(
        finding(
          'chain-cert-expired',
          'critical',
          `a chain certificate (${entry.subject}) expired ${-entry.daysLeft} day(s) ago`,
          'renew the intermediate CA and reissue the server certificate from it',
        ),
      );
    }
  }
  if (!cert.hostnameMatch) {
    out.push(
      finding(
        'hostname-mismatch',
        'high',
        `the server certificate does not name ${cert.checkedName} (it names ${leaf.sans.join(', ') || leaf.subject}): verify-full clients refuse it`,
        `${commandLine(['dbtls', 'issue', 'server', '--cn', cert.checkedName, /^[\d.]+$|:/.test(cert.checkedName) ? '--ip' : '--dns', cert.checkedName])} and install it, or connect with --servername set to a name the certificate holds`,
      ),
    );
  }
  const generated = isServerGeneratedCertificate(leaf);
  if (generated) {
    out.push(
      finding(
        'server-generated-cert',
        'medium',
        cert.verified
          ? 'the server uses the certificate MariaDB 11.4+ generates in memory (CN=MariaDB Server): --ca pins it, but a new one is made at every restart and every pinning client then fails'
          : 'the server uses the self-signed certificate MariaDB 11.4+ generates in memory (CN=MariaDB Server): clients can check it only through a password-derived fingerprint, so passwordless and X509-only accounts get no protection against a man in the middle',
        `dbtls ca init, ${commandLine(['dbtls', 'issue', 'server', '--cn', hostOf(facts.target), '--out', 'server-tls'])}, then set ssl_cert/ssl_key/ssl_ca in [mysqld]`,
      ),
    );
  } else if (leaf.selfSigned) {
    out.push(
      finding(
        'cert-self-signed',
        cert.verified ? 'info' : 'medium',
        cert.verified
          ? 'the server certificate is self-signed and trusted only because --ca holds it: it cannot be rotated without touching every client'
          : 'the server certificate is self-signed: clients can only trust it by pinning it, and most end up skipping verification',
        `dbtls ca init, then ${commandLine(['dbtls', 'issue', 'server', '--cn', cn])} and give clients the CA certificate (dbtls-ca/root.pem)`,
      ),
    );
  }
  // An expired chain fails verification for that reason alone; cert-expired already says so.
  const onlyExpired = cert.verifyError === 'CERT_HAS_EXPIRED';
  // With --ca the user named what they trust: a chain that does not verify against it is what a man in the
  // middle presents (a self-signed or MariaDB-generated certificate included), and every verifying client
  // refuses it (issue 9, item 10). Without --ca, a self-signed leaf is reported as such above.
  const againstCa = cert.trustAnchor === 'ca-file';
  if (!cert.verified && !onlyExpired && (againstCa || (!leaf.selfSigned && !generated))) {
    out.push(
      finding(
        'cert-untrusted',
        'high',
        `the certificate chain does not verify against ${cert.trustAnchor === 'ca-file' ? 'the given --ca' : 'the system trust store'}${cert.verifyError ? ` (${cert.verifyError})` : ''}: verify-ca and verify-full clients refuse it`,
        cert.trustAnchor === 'ca-file'
          ? 'pass the CA that issued the server certificate with --ca, or reissue the server certificate from your CA (dbtls issue server)'
          : 'pass the CA that issued the server certificate with --ca FILE',
      ),
    );
  }
  for (const entry of cert.chain) {
    if (entry.keyType === 'RSA' && entry.keyBits < MIN_RSA_BITS) {
      out.push(
        finding(
          'rsa-key-small',
          'high',
          `${entry === leaf ? 'the server certificate' : `chain certificate ${entry.subject}`} has a ${entry.keyBits}-bit RSA key (minimum ${MIN_RSA_BITS})`,
          `${commandLine(['dbtls', 'issue', 'server', '--cn', cn, '--key', 'ec-p256'])} (or --key rsa-3072) and install it`,
        ),
      );
    }
    if (/(^|[^a-z])(md5|sha1)/i.test(entry.signatureAlgorithm) && !entry.selfSigned) {
      out.push(
        finding(
          'weak-signature',
          'medium',
          `${entry.subject} is signed with ${entry.signatureAlgorithm}, which is collision-prone`,
          `reissue it with a SHA-256 signature (${commandLine(['dbtls', 'issue', 'server', '--cn', cn])})`,
        ),
      );
    }
  }
  return out;
}

function sessionFindings(facts: InspectFacts): Finding[] {
  const session = facts.session;
  if (!session) return [];
  const out: Finding[] = [];
  const check = session.plaintextLogin;
  if (check.refused === false) {
    out.push(
      finding(
        'plaintext-login-accepted',
        'high',
        check.attempted
          ? `the server accepted a plaintext login for ${session.account}: a client that skips TLS (or a downgrade attacker) exposes this account`
          : `the server accepts plaintext logins for ${session.account} (the account REQUIREs nothing and require_secure_transport is OFF): a client that skips TLS (or a downgrade attacker) exposes this account`,
        `ALTER USER ${quoteAccount(session.account)} REQUIRE SSL; (or ${commandLine(['dbtls', 'require', 'ADMIN_TARGET', session.account, '--ssl', '--verify-password-file', 'PASSWORD_FILE'])}, PASSWORD_FILE holding its password for the check login), or SET GLOBAL require_secure_transport = ON;`,
      ),
    );
  }
  const rst = session.variables.require_secure_transport;
  if (rst !== undefined && rst.toUpperCase() === 'OFF') {
    out.push(
      finding(
        'require-secure-transport-off',
        'medium',
        'require_secure_transport is OFF: accounts without REQUIRE SSL may still log in without TLS',
        'SET GLOBAL require_secure_transport = ON; and set require_secure_transport = ON under [mysqld] to keep it after a restart',
      ),
    );
  }
  return out;
}

function hostOf(target: string): string {
  const m = /^\[(.+)\]:\d+$/.exec(target) ?? /^(.+):\d+$/.exec(target);
  return m?.[1] ?? target;
}

function quoteAccount(userAtHost: string): string {
  const at = userAtHost.lastIndexOf('@');
  const [user, host] = at > 0 ? [userAtHost.slice(0, at), userAtHost.slice(at + 1)] : [userAtHost, '%'];
  return `'${user.replace(/'/g, "''")}'@'${host.replace(/'/g, "''")}'`;
}

export function parseSeverity(text: string): Severity | undefined {
  const lower = text.toLowerCase();
  return (SEVERITIES as readonly string[]).includes(lower) ? (lower as Severity) : undefined;
}
