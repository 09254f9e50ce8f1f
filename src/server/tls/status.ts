/**
 * `server status`: what the server says about its TLS (variables), what it actually serves (a TLS probe
 * over the MySQL protocol), and how many accounts still accept plaintext.
 */
import { DbtlsError } from '../../errors.js';
import { daysLeft } from '../../util/dates.js';
import { countRequirements, listAccounts, type RequirementCounts } from '../accounts/users.js';
import { type AdminSession, globalVariables } from '../admin/session.js';
import { haveSslOf, readTlsLiveness, tlsVariableNames } from '../flavor.js';
import { probeServedCertificate, type ServedCertificate } from './reload.js';

export interface ServerStatus {
  readonly server: {
    readonly flavor: string;
    readonly version: string;
    readonly host: string;
    readonly port: number;
  };
  /** have_ssl as the server reports it; 'unknown' where it is gone (MySQL 8.4). */
  readonly haveSsl: string;
  /** Whether TLS is live, asked the way this server answers (server/flavor.ts). */
  readonly tlsLive: boolean;
  /** What the server said that shows it: `have_ssl=YES`, `tls_channel_status mysql_main Enabled=Yes`. */
  readonly tlsLiveEvidence: string;
  readonly sslCa: string;
  readonly sslCert: string;
  readonly sslKey: string;
  readonly sslCrl: string;
  readonly sslCipher: string;
  readonly tlsVersion: string;
  /** 'ON' | 'OFF' | 'unsupported'. */
  readonly requireSecureTransport: string;
  readonly reloadStatement: string | undefined;
  /** The certificate a new connection gets; undefined when TLS is off. */
  readonly served:
    | (Omit<ServedCertificate, 'pem' | 'notAfter'> & { readonly notAfter: string; readonly daysLeft: number })
    | undefined;
  /** Why the probe failed, when TLS is on but it did. */
  readonly probeError: string | undefined;
  readonly accounts: RequirementCounts & { readonly total: number };
}

export async function serverStatus(session: AdminSession, now: Date = new Date()): Promise<ServerStatus> {
  const vars = await globalVariables(session, tlsVariableNames(session.capabilities));
  const accounts = await listAccounts(session, session.capabilities);
  const { host, port } = session.options;
  const { live: tlsLive, evidence: tlsLiveEvidence } = await readTlsLiveness(session);
  let served: ServerStatus['served'];
  let probeError: string | undefined;
  if (tlsLive) {
    try {
      const s: ServedCertificate = await probeServedCertificate(host, port);
      served = {
        fingerprint: s.fingerprint,
        subject: s.subject,
        issuer: s.issuer,
        serial: s.serial,
        notAfter: s.notAfter.toISOString(),
        daysLeft: daysLeft(s.notAfter, now),
        protocol: s.protocol,
        cipher: s.cipher,
      };
    } catch (err) {
      probeError = err instanceof DbtlsError ? `${err.code}: ${err.message}` : String(err);
    }
  }
  return {
    server: { flavor: session.version.flavor, version: session.version.text, host, port },
    haveSsl: haveSslOf(session.capabilities, vars),
    tlsLive,
    tlsLiveEvidence,
    sslCa: vars.get('ssl_ca') ?? '',
    sslCert: vars.get('ssl_cert') ?? '',
    sslKey: vars.get('ssl_key') ?? '',
    sslCrl: vars.get('ssl_crl') ?? '',
    sslCipher: vars.get('ssl_cipher') ?? '',
    tlsVersion: vars.get('tls_version') ?? '',
    requireSecureTransport: vars.get('require_secure_transport') ?? 'unsupported',
    reloadStatement: session.capabilities.reloadStatement,
    served,
    probeError,
    accounts: { ...countRequirements(accounts), total: accounts.length },
  };
}
