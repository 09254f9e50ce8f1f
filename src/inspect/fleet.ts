/**
 * Fleet scans: `inspectFleet(targets, options, onProgress)` inspects many servers, a few at a time.
 * Three bounds hold at once: `concurrency` targets in flight; never more than 4 connections open to one
 * server (host and port, also when several targets name it, e.g. with different users); and
 * `maxConnections` in total. A target that cannot be inspected (refused, silent, blocked) becomes an
 * entry with its error and never stops the others. Bad input (an unreadable CA file, a mode that cannot
 * log in) is refused before any connection is opened.
 *
 * The default is posture mode (issue 13): versions, each version's preferred suite, chain, verification,
 * host name and the credentialed checks, in 5 connections per target; `details: true` enumerates every
 * accepted suite as a single inspection does.
 */

import type { TcpEndpoint } from '../client/dial.js';
import { formatEndpoint } from '../client/dial.js';
import { causeText, DbtlsError, type ErrorCode, isDbtlsError } from '../errors.js';
import { type InspectOptions, prepareInspection } from './inspect.js';
import { failsAt, type InspectReport, SEVERITIES, type Severity } from './report.js';
import { type Gate, semaphore } from './scan.js';

/** Targets inspected at once: with 4 probes each, 16 connections, still gentle on a network and on us. */
export const DEFAULT_FLEET_CONCURRENCY = 4;
/** Connections open to one server at once, whatever the number of targets naming it. */
export const PER_HOST_CONNECTIONS = 4;
/** Connections open at once across the fleet: file descriptors and the scanner's CPU, not the servers. */
export const DEFAULT_MAX_CONNECTIONS = 256;
/** Findings at or above this make a target fail, as in a single inspection. */
export const DEFAULT_FAIL_ON: Severity = 'high';

export interface FleetTarget extends TcpEndpoint {
  /** This target's own options (a DSN's CA, user, servername), over the fleet's shared ones, key by key. */
  readonly options?: InspectOptions;
}

export interface FleetOptions {
  /** Targets inspected at once (default 4); each keeps its own probe bound (`inspect.concurrency`). */
  readonly concurrency?: number | undefined;
  /** The severity at or above which a target fails (default high); only `summary.failing` depends on it. */
  readonly failOn?: Severity | undefined;
  /** Connections open at once across the fleet (default 256). */
  readonly maxConnections?: number | undefined;
  /** Options shared by every target (`details` defaults to false here: posture mode). */
  readonly inspect?: InspectOptions | undefined;
}

/** A target that could not be inspected: the error `inspect` threw, as the CLI would print it. */
export interface FailedInspection {
  readonly target: string;
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly hint?: string };
}

export type FleetEntry = InspectReport | FailedInspection;

export interface FleetSummary {
  readonly targets: number;
  readonly inspected: number;
  readonly notInspected: number;
  /** The worst finding of any target; null when no target has one. */
  readonly worstSeverity: Severity | null;
  /** Inspected targets counted by their worst finding (`none`: no finding at all). */
  readonly byWorstSeverity: Readonly<Record<Severity | 'none', number>>;
  readonly failOn: Severity;
  /** Targets with a finding at or above failOn, and targets that could not be inspected, in input order. */
  readonly failing: readonly string[];
}

/** The `--json` document of a fleet scan; `targets` in input order, whatever order they finished in. */
export interface FleetReport {
  readonly targets: readonly FleetEntry[];
  readonly summary: FleetSummary;
}

/** Called as each target finishes (in completion order). */
export type FleetProgress = (done: number, total: number, entry: FleetEntry) => void;

export function isFailedInspection(entry: FleetEntry): entry is FailedInspection {
  return 'error' in entry;
}

export async function inspectFleet(
  targets: readonly FleetTarget[],
  options: FleetOptions = {},
  onProgress?: FleetProgress,
): Promise<FleetReport> {
  const concurrency = options.concurrency ?? DEFAULT_FLEET_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new DbtlsError(
      'FLEET_CONCURRENCY_INVALID',
      `could not inspect the targets ${concurrency} at a time: the bound must be a whole number from 1`,
      { hint: 'use --concurrency 1 or more (default 4)' },
    );
  }
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new DbtlsError(
      'FLEET_CONCURRENCY_INVALID',
      `could not inspect the targets with ${maxConnections} connections at most: the bound must be a whole number from 1`,
      { hint: `use --max-connections 1 or more (default ${DEFAULT_MAX_CONNECTIONS})` },
    );
  }
  const total = semaphore(maxConnections);
  const perHost = new Map<string, Gate>();
  const gateFor = (endpoint: TcpEndpoint): Gate => {
    const key = formatEndpoint(endpoint);
    let host = perHost.get(key);
    if (!host) {
      host = semaphore(PER_HOST_CONNECTIONS);
      perHost.set(key, host);
    }
    const bound = host;
    return (task) => bound(() => total(task));
  };
  // Every target's options are checked (and files read) before the first connection.
  const runs = targets.map((t) =>
    prepareInspection(
      { host: t.host, port: t.port },
      {
        details: false,
        ...definedOnly(options.inspect),
        ...definedOnly(t.options),
        gate: gateFor(t),
      },
    ),
  );
  const entries: FleetEntry[] = [];
  let next = 0;
  let done = 0;
  // A pool of `concurrency` workers, each taking the next target when it is free: the bound holds and a slow
  // target delays only its own worker.
  const worker = async () => {
    for (let i = next++; i < targets.length; i = next++) {
      const entry = await settle(targets[i]!, runs[i]!);
      entries[i] = entry;
      onProgress?.(++done, targets.length, entry);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
  const failOn = options.failOn ?? DEFAULT_FAIL_ON;
  return { targets: entries, summary: summarizeFleet(entries, failOn) };
}

async function settle(endpoint: TcpEndpoint, run: () => Promise<InspectReport>): Promise<FleetEntry> {
  try {
    return await run();
  } catch (err) {
    const target = formatEndpoint(endpoint);
    if (isDbtlsError(err)) {
      return {
        target,
        error: {
          code: err.code,
          message: err.message,
          ...(err.hint === undefined ? {} : { hint: err.hint }),
        },
      };
    }
    return {
      target,
      error: {
        code: 'INSPECT_FAILED',
        message: `could not inspect ${target}: ${causeText(err)}`,
        hint: 'this is a bug in dbtls; please report it with the command you ran',
      },
    };
  }
}

/** Undefined values dropped, so that a target's unset option does not hide the fleet's. */
function definedOnly(o: InspectOptions | undefined): InspectOptions {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined));
}

/** The worst finding of an inspected target (findings are sorted worst first); undefined for none. */
export function worstSeverity(report: InspectReport): Severity | undefined {
  return report.findings[0]?.severity;
}

export function summarizeFleet(entries: readonly FleetEntry[], failOn: Severity): FleetSummary {
  const byWorst = Object.fromEntries([...[...SEVERITIES].reverse(), 'none'].map((s) => [s, 0])) as Record<
    Severity | 'none',
    number
  >;
  const failing: string[] = [];
  let notInspected = 0;
  for (const e of entries) {
    if (isFailedInspection(e)) {
      notInspected++;
      failing.push(e.target);
      continue;
    }
    byWorst[worstSeverity(e) ?? 'none']++;
    if (failsAt(e, failOn)) failing.push(e.target);
  }
  const worst = [...SEVERITIES].reverse().find((s) => byWorst[s] > 0) ?? null;
  return {
    targets: entries.length,
    inspected: entries.length - notInspected,
    notInspected,
    worstSeverity: worst,
    byWorstSeverity: byWorst,
    failOn,
    failing,
  };
}

/** One line of a targets file. */
export interface TargetLine {
  readonly line: number;
  readonly text: string;
}

/**
 * A targets file: one target per line; blank lines are skipped, and `#` at the start of a line or after
 * a space starts a comment (a DSN keeps a `#` inside a word). A line with two words is refused rather than
 * guessed at; the message names the line, never its text, which could hold a secret.
 */
export function parseTargetList(text: string, origin: string): TargetLine[] {
  const out: TargetLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const target = raw.replace(/(^|\s)#.*$/, '').trim();
    if (target === '') return;
    if (/\s/.test(target)) {
      throw new DbtlsError(
        'TARGETS_INVALID',
        `could not read the targets in ${origin}: line ${i + 1} holds more than one word`,
        { hint: 'write one target (host[:port] or DSN) per line; # starts a comment' },
      );
    }
    out.push({ line: i + 1, text: target });
  });
  return out;
}
