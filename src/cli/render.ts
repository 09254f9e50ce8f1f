/**
 * The only place in dbtls that writes to the terminal. Commands hand results here; the library never
 * prints. Errors go to stderr as `error[CODE]: message` and `hint: …` (DESIGN.md, CLI conventions).
 */
import { causeText, DbtlsError } from '../errors.js';

export interface Output {
  write(text: string): void;
  readonly isTTY: boolean;
}

export interface Renderer {
  /** Human-readable lines on stdout. */
  lines(...lines: string[]): void;
  /** One JSON document on stdout (for --json). */
  json(value: unknown): void;
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

export function createRenderer(stdout: Output, stderr: Output): Renderer {
  let progressShown = false;
  return {
    lines(...lines) {
      for (const line of lines) stdout.write(`${line}\n`);
    },
    json(value) {
      stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
    },
    warn(message) {
      stderr.write(`warning: ${message}\n`);
    },
    progress(label, done, total, detail) {
      if (!stderr.isTTY) return;
      progressShown = true;
      const pct = total > 0 ? Math.floor((done / total) * 100) : 0;
      // \x1b[K clears what a longer previous line left behind.
      stderr.write(`\r${label} ${done}/${total} (${pct}%)${detail ? `, ${detail}` : ''}\x1b[K`);
    },
    progressDone() {
      if (progressShown) stderr.write('\n');
      progressShown = false;
    },
    async busy(label, work) {
      if (!stderr.isTTY) return work;
      const started = Date.now();
      const show = () => stderr.write(`\r${label}… ${((Date.now() - started) / 1000).toFixed(1)} s`);
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
        stderr.write(`error[${err.code}]: ${err.message}\n`);
        if (err.hint) stderr.write(`hint: ${err.hint}\n`);
        return err.exitCode;
      }
      stderr.write(`error[INTERNAL]: ${causeText(err)}\n`);
      stderr.write('hint: this is a bug in dbtls; please report it with the command you ran\n');
      if (process.env.DBTLS_DEBUG && err instanceof Error && err.stack) stderr.write(`${err.stack}\n`);
      return 70;
    },
  };
}

/** Dates as ISO strings, bigints as decimal strings, Buffers as hex: JSON that scripts can read. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') {
    const data = (value as { data?: number[] }).data;
    if (Array.isArray(data)) return Buffer.from(data).toString('hex');
  }
  return value;
}

export function processRenderer(): Renderer {
  return createRenderer(
    { write: (t) => process.stdout.write(t), isTTY: Boolean(process.stdout.isTTY) },
    { write: (t) => process.stderr.write(t), isTTY: Boolean(process.stderr.isTTY) },
  );
}
