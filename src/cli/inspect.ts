/**
 * `dbtls inspect TARGET...`: servers' real TLS posture over the MySQL protocol, with findings and fixes.
 * Thin: parse, call src/inspect, render. One TARGET prints (and exits) exactly as before fleets existed;
 * several, or --targets-from, print a summary table and the findings per target. Exit 1 when a finding
 * is at or above --fail-on, or (fleet) when a target could not be inspected.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbtlsError, isDbtlsError } from '../errors.js';
import { parseSeverity } from '../inspect/findings.js';
import {
  DEFAULT_FAIL_ON,
  DEFAULT_FLEET_CONCURRENCY,
  type FleetReport,
  type FleetTarget,
  inspectFleet,
  parseTargetList,
  summarizeFleet,
} from '../inspect/fleet.js';
import { inspect } from '../inspect/inspect.js';
import { failsAt, SEVERITIES } from '../inspect/report.js';
import { SYSTEM_CA } from '../tls/options.js';
import { parseTarget, type TargetFlags } from '../tls/settings.js';
import { readUserFile, writeFileAtomic } from '../util/files.js';
import {
  flag,
  int,
  type OptionSpec,
  type Parsed,
  parse,
  readSecret,
  str,
  strs,
  targetFlags,
} from './args.js';
import type { Command, CommandContext } from './command.js';
import { humanFleet, humanReport } from './inspect-text.js';
import { COMMON, KEY_FILE, like } from './options.js';
import { checkOutputFile } from './out.js';

const USAGE =
  'dbtls inspect TARGET... [--targets-from FILE|-]... [--concurrency N] [--max-connections N] [--details] [--html FILE] [--ca F|system] [--ssl-mode M] [--servername N] [--cert F --key F] [--user U --password-file F] [--defaults-file F] [--plaintext-login-check | --skip-plaintext-check] [--fail-on info|low|medium|high|critical] [--timeout MS] [--json]';

/** A target as typed, and where it was written when that was a file (for error messages). */
interface TargetText {
  readonly text: string;
  readonly where?: string;
}

const INSPECT_OPTIONS: OptionSpec = {
  'targets-from': {
    type: 'string',
    value: 'FILE',
    multiple: true,
    description: 'a file with one TARGET per line (# comments allowed); - for stdin',
  },
  concurrency: {
    type: 'string',
    description: 'how many servers to inspect at once',
    default: String(DEFAULT_FLEET_CONCURRENCY),
  },
  'max-connections': {
    type: 'string',
    value: 'N',
    description: 'the most connections open at once across the whole run (each probe counts)',
  },
  details: { type: 'boolean', description: 'with several targets, enumerate every cipher suite of each' },
  html: {
    type: 'string',
    value: 'FILE',
    description: 'also write the report as one self-contained HTML file',
  },
  ca: like('ca', {
    description: 'the CA certificate (PEM) that verifies the chain; system for the OS store',
  }),
  'ssl-mode': like('ssl-mode', { description: 'the ssl-mode whose verification the report judges' }),
  servername: {
    type: 'string',
    value: 'NAME',
    description: 'the name to check the certificate against (default: the host of TARGET)',
  },
  cert: like('cert', { description: 'a client certificate (PEM), to see whether the server accepts it' }),
  key: KEY_FILE,
  user: like('user', { description: 'a user to log in as after the handshake (checks REQUIRE and auth)' }),
  'password-file': COMMON['password-file'],
  'defaults-file': {
    type: 'string',
    description: 'a my.cnf whose [client] section gives user, password and ssl-* settings',
  },
  'skip-plaintext-check': {
    type: 'boolean',
    description: 'the default now (no plaintext login is tried); accepted for old scripts',
  },
  'plaintext-login-check': {
    type: 'boolean',
    description:
      'also log in as --user without TLS, to prove the account accepts plaintext (sends the password in clear)',
  },
  'fail-on': {
    type: 'string',
    value: 'SEVERITY',
    description: 'exit 1 when a finding is at least this severe',
    choices: SEVERITIES,
    default: DEFAULT_FAIL_ON,
  },
  timeout: {
    type: 'string',
    value: 'MS',
    description: 'per-connection timeout in milliseconds',
    default: '5000',
  },
  json: COMMON.json,
};

export const inspectCommand: Command = {
  name: ['inspect'],
  usage: USAGE,
  summary:
    "inspect servers' TLS posture over the MySQL protocol: versions, ciphers, chain, findings with fixes",
  options: INSPECT_OPTIONS,
  examples: [
    'dbtls inspect db1.example.com:3306 --ca dbtls-ca/root.pem',
    'dbtls inspect --targets-from fleet.txt --concurrency 8 --fail-on medium --json',
  ],
  async run(argv, ctx) {
    const p = parse(argv, INSPECT_OPTIONS, USAGE, ctx);
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
    const maxConnections = int(p, 'max-connections', USAGE);
    if (maxConnections === 0)
      throw usageError('could not parse --max-connections 0: open at least 1 connection at a time');
    const targets = await resolveTargets(texts, p, ctx);
    const shared = { plaintextCheck: plaintextCheck(p, ctx), timeoutMs: int(p, 'timeout', USAGE) };
    // A fleet defaults to posture mode (each version's preferred suite); --details enumerates every suite.
    const details = flag(p, 'details');
    const html = str(p, 'html');
    // Refused before any connection: a scan of a thousand servers must not end in an unwritable path.
    if (html !== undefined && !fs.existsSync(path.dirname(path.resolve(html)))) {
      throw usageError(
        `could not write --html ${html}: the directory ${path.dirname(path.resolve(html))} does not exist`,
      );
    }
    if (html !== undefined) checkOutputFile(path.resolve(html), 'html');
    // One TARGET is the original command: same output, same exit codes. Several, or a --targets-from file
    // (whatever its length, so that a script's parser does not depend on it), give the fleet's.
    if (p.positionals.length === 1 && files.length === 0) {
      const t = targets[0]!;
      const report = await inspect({ host: t.host, port: t.port }, { ...t.options, ...shared });
      if (html !== undefined)
        await writeHtml(html, { targets: [report], summary: summarizeFleet([report], failOn) });
      if (flag(p, 'json')) ctx.render.json(report);
      else ctx.render.lines(...humanReport(report, failOn));
      return failsAt(report, failOn) ? 1 : 0;
    }
    ctx.render.progress('inspected', 0, targets.length);
    const started = performance.now();
    let fleet: FleetReport;
    try {
      fleet = await inspectFleet(
        targets,
        { concurrency, maxConnections, failOn, inspect: { ...shared, details } },
        (done, total) => ctx.render.progress('inspected', done, total, rateAndEta(started, done, total)),
      );
    } finally {
      ctx.render.progressDone();
    }
    if (html !== undefined) await writeHtml(html, fleet);
    if (flag(p, 'json')) ctx.render.json(fleet);
    else ctx.render.lines(...humanFleet(fleet, flag(p, 'details')));
    return fleet.summary.failing.length > 0 ? 1 : 0;
  },
};

/** The page, written whole or not at all (write + rename). */
async function writeHtml(file: string, fleet: FleetReport): Promise<void> {
  const { renderHtml } = await import('../inspect/html.js');
  writeFileAtomic(file, renderHtml(fleet, new Date()));
}

/** `41.2/s, ETA 12 s`: the rate so far and the time left at that rate. */
export function rateAndEta(startedMs: number, done: number, total: number): string {
  const seconds = (performance.now() - startedMs) / 1000;
  if (done === 0 || seconds <= 0) return 'ETA ?';
  const rate = done / seconds;
  return `${rate.toFixed(1)}/s, ETA ${Math.ceil((total - done) / rate)} s`;
}

/**
 * A real login without TLS only when asked (issue 9, item 11): the user name and password scramble then
 * cross in clear. --skip-plaintext-check is the default now, still accepted for scripts that pass it.
 */
function plaintextCheck(p: Parsed, ctx: CommandContext): boolean {
  if (!flag(p, 'plaintext-login-check')) return false;
  if (flag(p, 'skip-plaintext-check')) {
    throw usageError(
      'could not run dbtls inspect: --plaintext-login-check and --skip-plaintext-check contradict each other',
    );
  }
  if (!str(p, 'user')) {
    throw usageError(
      'could not run dbtls inspect: --plaintext-login-check needs --user (it logs in without TLS)',
    );
  }
  ctx.render.warn(
    '--plaintext-login-check logs in once WITHOUT TLS: the user name and the password scramble cross the network in clear, where a capture can be cracked offline; use a dedicated probe account, never a real one',
  );
  return true;
}

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
  const flags: TargetFlags = targetFlags(p);
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
      throw err.reworded({ message: `${where}: ${err.message}` });
    }
  }
  return out;
}

export const commands: Command[] = [inspectCommand];
