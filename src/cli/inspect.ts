/**
 * `dbtls inspect TARGET...`: servers' real TLS posture over the MySQL protocol, with findings and fixes.
 * Thin: parse, call src/inspect, render. One TARGET prints (and exits) exactly as before fleets existed;
 * several, or --targets-from, print a summary table and the findings per target. Exit 1 when a finding
 * is at or above --fail-on, or (fleet) when a target could not be inspected.
 */
import { DbtlsError, isDbtlsError } from '../errors.js';
import { parseSeverity } from '../inspect/findings.js';
import {
  DEFAULT_FAIL_ON,
  type FleetEntry,
  type FleetReport,
  type FleetTarget,
  inspectFleet,
  isFailedInspection,
  parseTargetList,
  worstSeverity,
} from '../inspect/fleet.js';
import { inspect } from '../inspect/inspect.js';
import { type Finding, failsAt, type InspectReport, SEVERITIES, type Severity } from '../inspect/report.js';
import { SYSTEM_CA } from '../tls/options.js';
import { parseTarget, type TargetFlags } from '../tls/settings.js';
import { readUserFile } from '../util/files.js';
import { flag, int, type Parsed, parse, readSecret, str, strs } from './args.js';
import type { Command, CommandContext } from './command.js';

const USAGE =
  'dbtls inspect TARGET... [--targets-from FILE|-]... [--concurrency N] [--details] [--ca F|system] [--ssl-mode M] [--servername N] [--cert F --key F] [--user U --password-file F] [--defaults-file F] [--skip-plaintext-check] [--fail-on info|low|medium|high|critical] [--timeout MS] [--json]';

/** A target as typed, and where it was written when that was a file (for error messages). */
interface TargetText {
  readonly text: string;
  readonly where?: string;
}

export const inspectCommand: Command = {
  name: ['inspect'],
  usage: USAGE,
  summary:
    "inspect servers' TLS posture over the MySQL protocol: versions, ciphers, chain, findings with fixes",
  async run(argv, ctx) {
    const p = parse(
      argv,
      {
        'targets-from': { type: 'string', multiple: true },
        concurrency: { type: 'string' },
        details: { type: 'boolean' },
        ca: { type: 'string' },
        'ssl-mode': { type: 'string' },
        servername: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        user: { type: 'string' },
        'password-file': { type: 'string' },
        'defaults-file': { type: 'string' },
        'skip-plaintext-check': { type: 'boolean' },
        'fail-on': { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
      },
      USAGE,
    );
    const failOnText = str(p, 'fail-on') ?? DEFAULT_FAIL_ON;
    const failOn = parseSeverity(failOnText);
    if (!failOn) {
      throw usageError(`could not parse --fail-on ${failOnText}: expected one of ${SEVERITIES.join(', ')}`);
    }
    const files = strs(p, 'targets-from');
    const texts = dedupe(
      [...p.positionals.map((text) => ({ text })), ...(await readTargetFiles(files))],
      ctx,
    );
    if (texts.length === 0) {
      throw usageError(
        files.length === 0
          ? 'could not run dbtls inspect: give a TARGET, several, or --targets-from FILE'
          : `could not run dbtls inspect: no target in ${files.join(', ')}`,
      );
    }
    const concurrency = int(p, 'concurrency', USAGE);
    if (concurrency === 0)
      throw usageError('could not parse --concurrency 0: inspect at least 1 target at a time');
    const targets = await resolveTargets(texts, p, ctx);
    const shared = { plaintextCheck: !flag(p, 'skip-plaintext-check'), timeoutMs: int(p, 'timeout', USAGE) };
    // One TARGET is the original command: same output, same exit codes. Several, or a --targets-from file
    // (whatever its length, so that a script's parser does not depend on it), give the fleet's.
    if (p.positionals.length === 1 && files.length === 0) {
      const t = targets[0]!;
      const report = await inspect({ host: t.host, port: t.port }, { ...t.options, ...shared });
      if (flag(p, 'json')) ctx.render.json(report);
      else ctx.render.lines(...humanReport(report, failOn));
      return failsAt(report, failOn) ? 1 : 0;
    }
    ctx.render.progress('inspected', 0, targets.length);
    let fleet: FleetReport;
    try {
      fleet = await inspectFleet(targets, { concurrency, failOn, inspect: shared }, (done, total) =>
        ctx.render.progress('inspected', done, total),
      );
    } finally {
      ctx.render.progressDone();
    }
    if (flag(p, 'json')) ctx.render.json(fleet);
    else ctx.render.lines(...humanFleet(fleet, flag(p, 'details')));
    return fleet.summary.failing.length > 0 ? 1 : 0;
  },
};

function usageError(message: string): DbtlsError {
  return new DbtlsError('USAGE', message, { hint: `usage: ${USAGE}` });
}

async function readTargetFiles(files: readonly string[]): Promise<TargetText[]> {
  const out: TargetText[] = [];
  for (const file of files) {
    const origin = file === '-' ? 'stdin' : file;
    const text = file === '-' ? await readStdin() : readUserFile(file, 'targets file').toString('utf8');
    for (const t of parseTargetList(text, origin))
      out.push({ text: t.text, where: `${origin} line ${t.line}` });
  }
  return out;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** The same text twice is one inspection: each one costs the server connections (max_connect_errors). */
function dedupe(texts: readonly TargetText[], ctx: CommandContext): TargetText[] {
  const seen = new Set<string>();
  return texts.filter((t) => {
    const repeated = seen.has(t.text);
    seen.add(t.text);
    if (repeated) ctx.render.warn(`${t.where ?? 'the command line'} repeats a target; it is inspected once`);
    return !repeated;
  });
}

/**
 * Flags, DSN, my.cnf and environment resolved per target (the flags apply to every one); passwords read
 * before the first connection: the --password-file for every user, else MYSQL_PWD or my.cnf, else one
 * prompt per user.
 */
async function resolveTargets(
  texts: readonly TargetText[],
  p: Parsed,
  ctx: CommandContext,
): Promise<FleetTarget[]> {
  const flags: TargetFlags = {
    ...optional('mode', str(p, 'ssl-mode')),
    ...optional('ca', str(p, 'ca')),
    ...optional('cert', str(p, 'cert')),
    ...optional('key', str(p, 'key')),
    ...optional('servername', str(p, 'servername')),
    ...optional('user', str(p, 'user')),
    ...optional('defaultsFile', str(p, 'defaults-file')),
  };
  const prompted = new Map<string, string | undefined>();
  const passwordFor = async (user: string, configured: string | undefined) => {
    const what = `password for ${user}`;
    const fromFile = await readSecret({ file: str(p, 'password-file'), what }, ctx.env);
    if (fromFile !== undefined || configured !== undefined) return fromFile ?? configured;
    if (!prompted.has(user)) prompted.set(user, await readSecret({ what, prompt: true }, ctx.env));
    return prompted.get(user);
  };
  const out: FleetTarget[] = [];
  for (const { text, where } of texts) {
    try {
      const target = parseTarget(text, flags, ctx.env);
      const { tls, user } = target;
      if ((tls.cert === undefined) !== (tls.key === undefined)) {
        throw usageError('could not run dbtls inspect: --cert and --key go together');
      }
      const password = user ? await passwordFor(user, target.password) : undefined;
      out.push({
        host: target.host,
        port: target.port,
        options: {
          ca: tls.ca === SYSTEM_CA ? undefined : tls.ca,
          servername: tls.servername,
          sslMode: tls.mode,
          credentials: user ? { user, password, cert: tls.cert, key: tls.key } : undefined,
        },
      });
    } catch (err) {
      if (!where || !isDbtlsError(err)) throw err;
      throw new DbtlsError(err.code, `${where}: ${err.message}`, {
        ...(err.hint === undefined ? {} : { hint: err.hint }),
        kind: err.kind,
        cause: err,
      });
    }
  }
  return out;
}

function optional<T>(key: string, value: T | undefined): Record<string, T> {
  return value === undefined ? {} : { [key]: value };
}

/**
 * Several targets: one row each (the error code when it could not be inspected), then each target's
 * findings with their fixes, or with --details each target's full report; the verdict last.
 */
export function humanFleet(fleet: FleetReport, details: boolean): string[] {
  const s = fleet.summary;
  const rows = [['TARGET', 'SERVER', 'TLS', 'WORST', 'DAYS', 'ERROR'], ...fleet.targets.map(fleetRow)];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const out = rows.map((r) =>
    r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '),
  );
  for (const e of fleet.targets) {
    if (isFailedInspection(e)) {
      out.push('', e.target, `  ${'ERROR'.padEnd(8)} ${e.error.code}: ${e.error.message}`);
      if (e.error.hint) out.push(`  ${''.padEnd(8)} hint: ${e.error.hint}`);
    } else if (details) {
      out.push('', ...humanReport(e, s.failOn));
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

/** Short and readable: facts first, findings last with their fixes. */
export function humanReport(r: InspectReport, failOn: Severity): string[] {
  const out: string[] = [
    `inspected ${r.target} (${r.server.flavor} ${r.server.version}, auth plugin ${r.server.authPlugin || 'none'})`,
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
        `  ${''.padEnd(12)} ${c.keyType} ${c.keyBits} bits, ${c.signatureAlgorithm}, until ${c.notAfter.slice(0, 10)} (${c.daysLeft} days left)`,
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
    out.push(
      `  ${''.padEnd(12)} have_ssl=${v.have_ssl ?? '?'} require_secure_transport=${v.require_secure_transport ?? '?'} tls_version=${v.tls_version ?? '?'}`,
    );
    const pl = s.plaintextLogin;
    out.push(
      `  ${''.padEnd(12)} plaintext login ${!pl.attempted ? 'not tried' : pl.refused ? `refused (error ${pl.errorCode})` : 'ACCEPTED'}`,
    );
  } else if (r.sessionError) {
    out.push(`  ${'session'.padEnd(12)} ${r.sessionError.message} [${r.sessionError.code}]`);
  }
  out.push(`  ${'probes'.padEnd(12)} ${r.tls.probes} connections`);
  if (r.findings.length === 0) {
    out.push('', 'no findings');
    return out;
  }
  out.push('', `findings (failing at ${failOn} and above):`, ...findingLines(r.findings));
  return out;
}

export const commands: Command[] = [inspectCommand];
