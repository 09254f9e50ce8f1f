/**
 * `dbtls inspect TARGET`: the server's real TLS posture over the MySQL protocol, with findings and
 * fixes. Thin: parse, call src/inspect, render. Exit 1 when a finding is at or above --fail-on.
 */
import { DbtlsError } from '../errors.js';
import { parseSeverity } from '../inspect/findings.js';
import { inspect } from '../inspect/inspect.js';
import { failsAt, type InspectReport, SEVERITIES, type Severity } from '../inspect/report.js';
import { SYSTEM_CA } from '../tls/options.js';
import { parseTarget } from '../tls/settings.js';
import { flag, int, parse, readSecret, str } from './args.js';
import type { Command } from './command.js';

const USAGE =
  'dbtls inspect TARGET [--ca F|system] [--ssl-mode M] [--servername N] [--cert F --key F] [--user U --password-file F] [--defaults-file F] [--skip-plaintext-check] [--fail-on info|low|medium|high|critical] [--timeout MS] [--json]';
/** Findings at or above this make the command fail, unless --fail-on says otherwise. */
const DEFAULT_FAIL_ON: Severity = 'high';

export const inspectCommand: Command = {
  name: ['inspect'],
  usage: USAGE,
  summary:
    "inspect a server's TLS posture over the MySQL protocol: versions, ciphers, chain, findings with fixes",
  async run(argv, ctx) {
    const p = parse(
      argv,
      {
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
    const [text, ...extra] = p.positionals;
    if (!text || extra.length > 0) {
      throw new DbtlsError('USAGE', 'could not run dbtls inspect: give exactly one TARGET', {
        hint: `usage: ${USAGE}`,
      });
    }
    const failOnText = str(p, 'fail-on') ?? DEFAULT_FAIL_ON;
    const failOn = parseSeverity(failOnText);
    if (!failOn) {
      throw new DbtlsError(
        'USAGE',
        `could not parse --fail-on ${failOnText}: expected one of ${SEVERITIES.join(', ')}`,
        {
          hint: `usage: ${USAGE}`,
        },
      );
    }
    const target = parseTarget(
      text,
      {
        ...optional('mode', str(p, 'ssl-mode')),
        ...optional('ca', str(p, 'ca')),
        ...optional('cert', str(p, 'cert')),
        ...optional('key', str(p, 'key')),
        ...optional('servername', str(p, 'servername')),
        ...optional('user', str(p, 'user')),
        ...optional('defaultsFile', str(p, 'defaults-file')),
      },
      ctx.env,
    );
    const { tls, user } = target;
    if ((tls.cert === undefined) !== (tls.key === undefined)) {
      throw new DbtlsError('USAGE', 'could not run dbtls inspect: --cert and --key go together', {
        hint: `usage: ${USAGE}`,
      });
    }
    const password = user
      ? ((await readSecret({ file: str(p, 'password-file'), what: `password for ${user}` }, ctx.env)) ??
        target.password ??
        (await readSecret({ what: `password for ${user}`, prompt: true }, ctx.env)))
      : undefined;
    const report = await inspect(
      { host: target.host, port: target.port },
      {
        ca: tls.ca === SYSTEM_CA ? undefined : tls.ca,
        servername: tls.servername,
        sslMode: tls.mode,
        credentials: user ? { user, password, cert: tls.cert, key: tls.key } : undefined,
        plaintextCheck: !flag(p, 'skip-plaintext-check'),
        timeoutMs: int(p, 'timeout', USAGE),
      },
    );
    if (flag(p, 'json')) ctx.render.json(report);
    else ctx.render.lines(...humanReport(report, failOn));
    return failsAt(report, failOn) ? 1 : 0;
  },
};

function optional<T>(key: string, value: T | undefined): Record<string, T> {
  return value === undefined ? {} : { [key]: value };
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
  out.push('', `findings (failing at ${failOn} and above):`);
  for (const f of r.findings) {
    out.push(
      `  ${f.severity.toUpperCase().padEnd(8)} ${f.id}: ${f.message}`,
      `  ${''.padEnd(8)} fix: ${f.fix}`,
    );
  }
  return out;
}

export const commands: Command[] = [inspectCommand];
