/**
 * The only place in dbtls that writes to the terminal. Commands hand results here; the library never
 * prints. Errors go to stderr as `error[CODE]: message` and `hint: …` (DESIGN.md, CLI conventions).
 *
 * Being the one place, it is where two rules hold for every command (issue 9, items 12 and 13): text is
 * printed with its control characters escaped (a server's version string or error message cannot drive the
 * terminal), and no DSN password is ever echoed (`redacting()` adds the ones typed on this command line).
 */
import { causeText, DbtlsError } from '../errors.js';
import { FORMAT_CHARACTERS, printable, redactDsnPasswords, redactSecrets } from '../util/safe-text.js';

export interface Output {
  write(text: string): void;
  readonly isTTY: boolean;
  /** Colour severities and ✓/✗ (a terminal, and neither NO_COLOR nor --no-color: see colorWanted). */
  readonly color?: boolean;
}

const SGR = { red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', bold: '\x1b[1m', reset: '\x1b[0m' };

/**
 * Colour for a terminal (issue 14, item 13), added after the text was made safe, so only dbtls's own
 * escapes reach the terminal: ✓ green, ✗ and critical/high red, medium and warnings yellow, errors red.
 */
function paint(text: string): string {
  return text
    .replace(/✓/g, `${SGR.green}✓${SGR.reset}`)
    .replace(/✗/g, `${SGR.red}✗${SGR.reset}`)
    .replace(/^(error\[[^\]]*\])/, `${SGR.bold}${SGR.red}$1${SGR.reset}`)
    .replace(/^warning:/, `${SGR.yellow}warning:${SGR.reset}`)
    .replace(/\b(CRITICAL|HIGH|critical|high)\b(?=[\]:) ])/g, `${SGR.red}$1${SGR.reset}`)
    .replace(/\b(MEDIUM|medium)\b(?=[\]:) ])/g, `${SGR.yellow}$1${SGR.reset}`);
}

/** Colour only on a terminal, unless NO_COLOR is set (https://no-color.org) or --no-color was given. */
export function colorWanted(isTTY: boolean, env: NodeJS.ProcessEnv, noColorFlag: boolean): boolean {
  return isTTY && !noColorFlag && !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');
}

export interface Renderer {
  /** Human-readable lines on stdout. */
  lines(...lines: string[]): void;
  /** One JSON document on stdout (for --json). */
  json(value: unknown): void;
  /**
   * One JSON document on one line of stdout (a --json-logs line). Not through lines(): its escapes
   * (`\u{202e}`, `\x9b`) are not JSON, and would break the document a log shipper parses.
   */
  jsonLine(value: unknown): void;
  /** A warning on stderr: `warning: …`. */
  warn(message: string): void;
  /** Progress of long work, shown only on a TTY (stderr), overwritten in place; `detail` follows it. */
  progress(label: string, done: number, total: number, detail?: string): void;
  /** Ends a progress line. */
  progressDone(): void;
  /**
   * Runs one long step (an RSA-4096 key, a slow server) with `label… 1.4 s` ticking on a TTY's stderr;
   * prints nothing elsewhere. The line is cleared when the step ends, whether it succeeds or fails.
   */
  busy<T>(label: string, work: Promise<T>): Promise<T>;
  /** Renders an error; returns the exit code. */
  error(err: unknown): number;
}

/** How often a busy line updates its elapsed time. */
const BUSY_TICK_MS = 100;

/**
 * The starts of the lines dbtls itself writes to say what happened. A newline inside a value (a CN, a
 * keystore alias, an index field read from a file) followed by one of them would print a line that looks
 * like dbtls's own (`leaf\nerror[FAKE]: …`): such a newline is shown as an escape instead.
 */
const OWN_LINE_AFTER_NEWLINE = /\n(?=(?:error\[|hint: |warning: |Wrote |✓ |✗ ))/g;

/** Text as it may reach a terminal: DSN passwords redacted, control characters shown as escapes. */
function safe(text: string): string {
  return printable(redactDsnPasswords(text), { keepLines: true }).replace(OWN_LINE_AFTER_NEWLINE, '\\x0a');
}

export function createRenderer(rawStdout: Output, rawStderr: Output): Renderer {
  let progressShown = false;
  const colored = (o: Output): Output =>
    o.color ? { write: (t) => o.write(paint(t)), isTTY: o.isTTY, color: true } : o;
  const stdout = colored(rawStdout);
  const stderr = colored(rawStderr);
  return {
    lines(...lines) {
      for (const line of lines) stdout.write(`${safe(line)}\n`);
    },
    json(value) {
      // JSON.stringify escapes C0 itself (\u001b); DEL, C1 and the bidi/zero-width characters it leaves raw
      // are escaped here too (same JSON value), so a terminal shows the document as it is.
      stdout.write(`${jsonInert(JSON.stringify(value, jsonReplacer, 2))}\n`);
    },
    jsonLine(value) {
      stdout.write(`${jsonInert(JSON.stringify(value, jsonReplacer))}\n`);
    },
    warn(message) {
      stderr.write(`warning: ${safe(message)}\n`);
    },
    progress(label, done, total, detail) {
      if (!stderr.isTTY) return;
      progressShown = true;
      const pct = total > 0 ? Math.floor((done / total) * 100) : 0;
      // \x1b[K clears what a longer previous line left behind.
      stderr.write(`\r${safe(label)} ${done}/${total} (${pct}%)${detail ? `, ${safe(detail)}` : ''}\x1b[K`);
    },
    progressDone() {
      if (progressShown) stderr.write('\n');
      progressShown = false;
    },
    async busy(label, work) {
      if (!stderr.isTTY) return work;
      const started = Date.now();
      const show = () => stderr.write(`\r${safe(label)}… ${((Date.now() - started) / 1000).toFixed(1)} s`);
      show();
      const ticker = setInterval(show, BUSY_TICK_MS);
      try {
        return await work;
      } finally {
        clearInterval(ticker);
        stderr.write('\r\x1b[2K');
      }
    },
    error(err) {
      if (progressShown) stderr.write('\n');
      progressShown = false;
      if (err instanceof DbtlsError) {
        stderr.write(`error[${safe(err.code)}]: ${safe(err.message)}\n`);
        if (err.hint) stderr.write(`hint: ${safe(err.hint)}\n`);
        return err.exitCode;
      }
      stderr.write(`error[INTERNAL]: ${safe(causeText(err))}\n`);
      stderr.write('hint: this is a bug in dbtls; please report it with the command you ran\n');
      if (process.env.DBTLS_DEBUG && err instanceof Error && err.stack) stderr.write(`${safe(err.stack)}\n`);
      return 70;
    },
  };
}

/** Characters JSON.stringify leaves raw that a terminal would obey or that reorder a line. */
const JSON_UNSAFE = new RegExp(`[\\u007f-\\u009f${FORMAT_CHARACTERS}]`, 'g');

function jsonInert(json: string): string {
  return json.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Dates as ISO strings, bigints as decimal strings, Buffers as hex: JSON that scripts can read. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return redactDsnPasswords(value);
  if (typeof value === 'bigint') return value.toString();
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') {
    const data = (value as { data?: number[] }).data;
    if (Array.isArray(data)) return Buffer.from(data).toString('hex');
  }
  return value;
}

/**
 * `render` with each of `secrets` (the passwords of the DSNs on this command line, util/safe-text.ts
 * dsnSecrets) replaced by `***` in everything it prints: every error path that echoes a target, an argv or
 * a cause, in text and JSON alike, without each having to remember.
 */
export function redacting(render: Renderer, secrets: readonly string[]): Renderer {
  if (secrets.length === 0) return render;
  const r = (text: string) => redactSecrets(text, secrets);
  // Walks the JSON form of the value (what json() prints), so Buffers, Dates and bigints are strings already.
  const deep = (value: unknown): unknown => {
    if (typeof value === 'string') return r(value);
    if (Array.isArray(value)) return value.map(deep);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [r(k), deep(v)]));
    }
    return value;
  };
  return {
    lines: (...lines) => render.lines(...lines.map(r)),
    json: (value) =>
      render.json(value === undefined ? value : deep(JSON.parse(JSON.stringify(value, jsonReplacer)))),
    jsonLine: (value) =>
      render.jsonLine(value === undefined ? value : deep(JSON.parse(JSON.stringify(value, jsonReplacer)))),
    warn: (message) => render.warn(r(message)),
    progress: (label, done, total, detail) =>
      render.progress(r(label), done, total, detail === undefined ? undefined : r(detail)),
    progressDone: () => render.progressDone(),
    busy: (label, work) => render.busy(r(label), work),
    error(err) {
      if (err instanceof DbtlsError) {
        return render.error(
          new DbtlsError(err.code, r(err.message), {
            ...(err.hint === undefined ? {} : { hint: r(err.hint) }),
          }),
        );
      }
      return render.error(new Error(r(causeText(err))));
    },
  };
}

export function processRenderer(noColor = false): Renderer {
  const out = Boolean(process.stdout.isTTY);
  const err = Boolean(process.stderr.isTTY);
  return createRenderer(
    { write: (t) => process.stdout.write(t), isTTY: out, color: colorWanted(out, process.env, noColor) },
    { write: (t) => process.stderr.write(t), isTTY: err, color: colorWanted(err, process.env, noColor) },
  );
}
