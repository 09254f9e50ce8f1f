/**
 * The text `dbtls inspect` prints: one target's report (facts first, findings last with their fixes), or
 * for several targets a summary table and each target's findings. JSON goes out as the library returns it.
 *
 * Every string returned is one line, made so here, in one place: the report quotes what servers sent (a
 * SAN, CURRENT_USER(), a TLS error naming a certificate's CN) and a host from a targets file, and a newline
 * in any of them would otherwise print a line of the server's choosing (the renderer keeps newlines, since
 * other commands print PEM blocks). Control and format characters become escapes (util/safe-text.ts).
 */

import { type FleetEntry, type FleetReport, isFailedInspection, worstSeverity } from '../inspect/fleet.js';
import type {
  AccountSslType,
  Finding,
  InspectReport,
  PlaintextLoginCheck,
  Severity,
} from '../inspect/report.js';
import { dateText } from '../util/dates.js';
import { oneLine, UNAUTHENTICATED } from '../util/safe-text.js';

/**
 * Several targets: one row each (the error code when it could not be inspected), then each target's
 * findings with their fixes, or with --details each target's full report; the verdict last.
 */
export function humanFleet(fleet: FleetReport, details: boolean): string[] {
  return fleetLines(fleet, details).map(oneLine);
}

function fleetLines(fleet: FleetReport, details: boolean): string[] {
  const s = fleet.summary;
  // Cells escaped before the columns are measured, so that an escaped cell keeps the table aligned.
  const cells = fleet.targets.map((e) => fleetRow(e).map(oneLine));
  const rows = [['TARGET', 'SERVER', 'TLS', 'WORST', 'DAYS', 'ERROR'], ...cells];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const out = rows.map((r) =>
    r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '),
  );
  for (const e of fleet.targets) {
    if (isFailedInspection(e)) {
      out.push('', e.target, `  ${'ERROR'.padEnd(8)} ${e.error.code}: ${e.error.message}`);
      if (e.error.hint) out.push(`  ${''.padEnd(8)} hint: ${e.error.hint}`);
    } else if (details) {
      out.push('', ...reportLines(e, s.failOn));
    } else if (e.findings.length > 0) {
      out.push('', e.target, ...findingLines(e.findings));
    }
  }
  const inspected = s.notInspected === 0 ? 'all inspected' : `${s.notInspected} not inspected`;
  const verdict =
    s.failing.length === 0
      ? `none failing at ${s.failOn} and above`
      : `failing at ${s.failOn} and above or not inspected: ${s.failing.join(', ')}`;
  out.push('', `${s.targets} targets, ${inspected}; ${verdict}`);
  return out;
}

/** TARGET, SERVER (flavor version), TLS (versions accepted, `off` when not offered), WORST, DAYS, ERROR. */
function fleetRow(e: FleetEntry): string[] {
  if (isFailedInspection(e)) return [e.target, '-', '-', '-', '-', e.error.code];
  const accepted = Object.entries(e.tls.versions)
    .filter(([, ok]) => ok)
    .map(([v]) => v.replace('TLSv', ''));
  const tls = !e.server.tlsOffered ? 'off' : accepted.length > 0 ? accepted.join(',') : 'none';
  const days = e.certificate?.chain[0]?.daysLeft;
  return [
    e.target,
    `${e.server.flavor} ${e.server.version}`,
    tls,
    worstSeverity(e) ?? 'none',
    days === undefined ? '-' : String(days),
    '-',
  ];
}

function findingLines(findings: readonly Finding[]): string[] {
  return findings.flatMap((f) => [
    `  ${f.severity.toUpperCase().padEnd(8)} ${f.id}: ${f.message}`,
    `  ${''.padEnd(8)} fix: ${f.fix}`,
  ]);
}

function plaintextVerdict(pl: PlaintextLoginCheck): string {
  if (pl.attempted) return pl.refused ? `refused (error ${pl.errorCode}, tried)` : 'ACCEPTED (tried)';
  if (pl.refused === undefined) return 'unknown (not tried)';
  return `${pl.refused ? 'refused' : 'ACCEPTED'} by policy (not tried: no credential sent in clear)`;
}

function sslTypeText(t: AccountSslType): string {
  return t === '' ? 'NONE' : t === 'ANY' ? 'SSL' : t;
}

/** Short and readable: facts first, findings last with their fixes. */
export function humanReport(r: InspectReport, failOn: Severity): string[] {
  return reportLines(r, failOn).map(oneLine);
}

function reportLines(r: InspectReport, failOn: Severity): string[] {
  const out: string[] = [
    `inspected ${r.target} (${r.server.flavor} ${r.server.version}, auth plugin ${r.server.authPlugin || 'none'}; greeting ${UNAUTHENTICATED})`,
  ];
  if (!r.server.tlsOffered) {
    out.push('  tls          NOT offered (the greeting lacks CLIENT_SSL)');
  } else {
    const versions = Object.entries(r.tls.versions)
      .map(([v, ok]) => `${v} ${ok ? 'yes' : 'no'}`)
      .join(', ');
    out.push(`  tls          ${versions}`);
    for (const [version] of Object.entries(r.tls.versions).reverse()) {
      const suites = r.tls.ciphers.filter((c) => c.version === version);
      if (suites.length === 0) continue;
      out.push(
        `  ${version.padEnd(12)} ${suites.map((c) => `${c.name} (${c.bits}${c.weakness ? ', WEAK' : ''})`).join(', ')}`,
      );
    }
  }
  const cert = r.certificate;
  if (cert) {
    cert.chain.forEach((c, i) => {
      out.push(
        `  ${(i === 0 ? 'certificate' : `  chain[${i}]`).padEnd(12)} ${c.subject}, issued by ${c.issuer}${c.selfSigned ? ' (self-signed)' : ''}`,
      );
      if (i === 0 && c.sans.length > 0) out.push(`  ${''.padEnd(12)} names ${c.sans.join(', ')}`);
      out.push(
        `  ${''.padEnd(12)} ${c.keyType} ${c.keyBits} bits, ${c.signatureAlgorithm}, until ${dateText(c.notAfter)} (${c.daysLeft} days left)`,
      );
      if (i === 0) out.push(`  ${''.padEnd(12)} sha256 ${c.fingerprint}`);
    });
    const anchor = cert.trustAnchor === 'ca-file' ? '--ca' : 'the system store';
    out.push(
      `  ${'trust'.padEnd(12)} chain ${cert.verified ? 'verified' : `NOT verified (${cert.verifyError ?? 'unknown reason'})`} against ${anchor}; name ${cert.checkedName} ${cert.hostnameMatch ? 'matches' : 'does NOT match'}`,
    );
  }
  if (r.session) {
    const s = r.session;
    out.push(
      `  ${'session'.padEnd(12)} logged in as ${s.account} over ${s.protocol ?? '?'} ${s.cipher ?? ''}`.trimEnd(),
    );
    const v = s.variables;
    if (v.version !== undefined)
      out.push(`  ${''.padEnd(12)} version ${v.version} (read over the verified session)`);
    out.push(
      `  ${''.padEnd(12)} TLS live ${s.tlsLive ? `${s.tlsLive.live ? 'yes' : 'no'} (${s.tlsLive.evidence})` : '?'} require_secure_transport=${v.require_secure_transport ?? '?'} tls_version=${v.tls_version ?? '?'}`,
    );
    const pl = s.plaintextLogin;
    out.push(
      `  ${''.padEnd(12)} plaintext login ${plaintextVerdict(pl)}${s.sslType === undefined ? '' : `; account REQUIRE ${sslTypeText(s.sslType)}`}`,
    );
  } else if (r.sessionError) {
    out.push(`  ${'session'.padEnd(12)} ${r.sessionError.message} [${r.sessionError.code}]`);
  }
  out.push(`  ${'probes'.padEnd(12)} ${r.tls.probes} connection${r.tls.probes === 1 ? '' : 's'}`);
  if (r.findings.length === 0) {
    out.push('', 'no findings');
    return out;
  }
  out.push('', `findings (failing at ${failOn} and above):`, ...findingLines(r.findings));
  return out;
}
