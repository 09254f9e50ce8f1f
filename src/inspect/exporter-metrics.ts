/**
 * An inspection as Prometheus metrics: the answer to one `/probe`. The names are a contract (issue 13:
 * dashboards and alerts depend on them; docs/exporter.md lists them): base units, `_seconds`, `_info` for
 * series that exist to carry labels. Label values are bounded: versions, one negotiated suite, finding ids
 * and error codes from closed lists, and one series per certificate in the chain. Per-suite series only
 * when the module asks for `details`.
 */
import { Gauge, Registry } from 'prom-client';
import { TLS_VERSIONS } from '../tls/versions.js';
import type { FailedInspection } from './fleet.js';
import type { InspectReport } from './report.js';

/** What a probe produced: a report, or the error that stopped it. */
export type ProbeOutcome =
  | { readonly report: InspectReport; readonly seconds: number; readonly details: boolean }
  | { readonly failure: FailedInspection['error']; readonly seconds: number };

/** A fresh registry per probe: nothing from one target's answer leaks into another's. */
export async function probeMetrics(outcome: ProbeOutcome): Promise<{ contentType: string; text: string }> {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: readonly string[] = []) =>
    new Gauge({ name, help, labelNames: [...labelNames], registers: [registry] });
  const success = gauge('dbtls_probe_success', 'Whether the inspection completed (1) or failed (0)');
  const duration = gauge('dbtls_probe_duration_seconds', 'How long the inspection took');
  duration.set(outcome.seconds);
  if ('failure' in outcome) {
    success.set(0);
    // The reason's code, from dbtls's closed list of error codes; the message goes to the log.
    gauge('dbtls_probe_error', 'Why the inspection failed, as a dbtls error code', ['code']).set(
      { code: outcome.failure.code },
      1,
    );
    return { contentType: registry.contentType, text: await registry.metrics() };
  }
  success.set(1);
  const r = outcome.report;
  gauge('dbtls_tls_offered', 'Whether the server greeting offers TLS (CLIENT_SSL)').set(
    r.server.tlsOffered ? 1 : 0,
  );
  const accepted = gauge(
    'dbtls_tls_version_accepted',
    'Whether the server completes a handshake at this version',
    ['version'],
  );
  for (const version of TLS_VERSIONS) accepted.set({ version }, r.tls.versions[version] ? 1 : 0);
  // The newest version and the suite the server prefers in it: what an up-to-date client negotiates.
  const preferred = r.tls.ciphers[0];
  if (preferred) {
    gauge('dbtls_tls_info', 'The newest TLS version accepted and the suite the server prefers in it', [
      'version',
      'cipher',
    ]).set({ version: preferred.version, cipher: preferred.name }, 1);
  }
  if (outcome.details) {
    const suite = gauge(
      'dbtls_tls_cipher_accepted',
      'A suite the server accepts (modules with details only)',
      ['version', 'cipher'],
    );
    for (const c of r.tls.ciphers) suite.set({ version: c.version, cipher: c.name }, 1);
  }
  if (r.certificate) {
    const certLabels = ['position', 'subject', 'issuer', 'serial'];
    const notAfter = gauge(
      'dbtls_cert_not_after_seconds',
      'Certificate expiry, Unix time; position 0 is the leaf',
      certLabels,
    );
    const notBefore = gauge(
      'dbtls_cert_not_before_seconds',
      'Certificate start of validity, Unix time',
      certLabels,
    );
    r.certificate.chain.forEach((c, i) => {
      const labels = { position: String(i), subject: c.subject, issuer: c.issuer, serial: c.serial };
      notAfter.set(labels, Date.parse(c.notAfter) / 1000);
      notBefore.set(labels, Date.parse(c.notBefore) / 1000);
    });
    gauge(
      'dbtls_cert_verified',
      'Whether the chain verifies against the module CA (or the system store)',
    ).set(r.certificate.verified ? 1 : 0);
    gauge(
      'dbtls_hostname_matches',
      'Whether the certificate names the target (or the module servername)',
    ).set(r.certificate.hostnameMatch ? 1 : 0);
  }
  // Known from the server's policy read over the verified session (require_secure_transport, the account's
  // REQUIRE), or from a real attempt with the module's plaintext-login-check; absent when neither tells.
  const plaintext = r.session?.plaintextLogin;
  if (plaintext?.refused !== undefined) {
    gauge(
      'dbtls_plaintext_login_accepted',
      "Whether the server lets the module's user log in without TLS (its policy, or a real attempt)",
    ).set(plaintext.refused ? 0 : 1);
  }
  const rst = r.session?.variables.require_secure_transport;
  if (rst !== undefined) {
    gauge('dbtls_require_secure_transport', 'The server variable require_secure_transport (1: ON)').set(
      /^(on|1)$/i.test(rst) ? 1 : 0,
    );
  }
  const findings = gauge('dbtls_findings', 'Findings of the inspection, by severity and finding id', [
    'severity',
    'code',
  ]);
  for (const f of r.findings) findings.inc({ severity: f.severity, code: f.id });
  return { contentType: registry.contentType, text: await registry.metrics() };
}
