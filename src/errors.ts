/**
 * The one error type of dbtls. Every failure the user can act on is a DbtlsError with a stable `code`
 * (tests and scripts match on it), a message of the form "could not <verb> <object>: <cause>", and a
 * `hint` naming the next step. The CLI renders it as `error[CODE]: message` + `hint: …`.
 */

/** What kind of failure, which decides the CLI's exit code (DESIGN.md: 1 a check failed, 2 usage or bad input). */
export type ErrorKind = 'input' | 'check' | 'runtime';

export interface DbtlsErrorOptions {
  readonly hint?: string;
  readonly cause?: unknown;
  readonly kind?: ErrorKind;
  /** Structured facts for --json output and for tests (e.g. what the server showed). */
  readonly details?: Readonly<Record<string, unknown>>;
}

export class DbtlsError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly kind: ErrorKind;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: string, message: string, options: DbtlsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DbtlsError';
    this.code = code;
    this.hint = options.hint;
    this.kind = options.kind ?? 'input';
    this.details = options.details;
  }

  /** The CLI exit code for this error. */
  get exitCode(): number {
    return this.kind === 'check' ? 1 : 2;
  }
}

export function isDbtlsError(value: unknown): value is DbtlsError {
  return value instanceof DbtlsError;
}

/** The message of any thrown value, for wrapping causes into a DbtlsError message. */
export function causeText(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  return String(cause);
}
