/**
 * The one error type of dbtls. Every failure the user can act on is a DbtlsError with a stable `code`
 * (tests and scripts match on it), a message of the form "could not <verb> <object>: <cause>", and a
 * `hint` naming the next step. The CLI renders it as `error[CODE]: message` + `hint: …`.
 */

/**
 * What kind of failure, which decides the CLI's exit code (DESIGN.md): 1 a check failed, 2 usage or bad
 * input (nothing was changed; fix the command), 3 a runtime failure (a server that went away or refused,
 * a revert that failed, an I/O error: the command was right, the world was not).
 */
export type ErrorKind = 'input' | 'check' | 'runtime';

/** The CLI exit code of each kind: a script tells "fix my command" (2) from "retry or repair" (3). */
export const EXIT_CODES: Readonly<Record<ErrorKind, number>> = Object.freeze({
  check: 1,
  input: 2,
  runtime: 3,
});

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
    return EXIT_CODES[this.kind];
  }
}

/**
 * Codes that were renamed, old -> new, so scripts matching the old one can be updated (README changelog).
 * One failure has one code: the admin session's missing CA was SSL_CA_REQUIRED, a client's TLS_CA_REQUIRED.
 */
export const RENAMED_CODES: Readonly<Record<string, string>> = Object.freeze({
  SSL_CA_REQUIRED: 'TLS_CA_REQUIRED',
});

export function isDbtlsError(value: unknown): value is DbtlsError {
  return value instanceof DbtlsError;
}

/** The message of any thrown value, for wrapping causes into a DbtlsError message. */
export function causeText(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  return String(cause);
}
