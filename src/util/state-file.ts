/**
 * The JSON state files dbtls keeps next to the CA (rollover.json, secure.json): read whole, checked for
 * the version this code writes, and a typed error naming the file when one is damaged.
 */
import * as fs from 'node:fs';
import { DbtlsError, type ErrorCode } from '../errors.js';

export interface StateFileKind<T> {
  /** The error code for a damaged file (`ROLLOVER_STATE_MALFORMED`). */
  readonly code: ErrorCode;
  /** What the user can do about a damaged file. */
  readonly hint: string;
  /** Whether the parsed JSON has the shape this code writes. */
  readonly valid: (value: T) => boolean;
}

/** The state in `file`, or undefined when there is none yet. */
export function readStateFile<T>(file: string, kind: StateFileKind<T>): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const state = JSON.parse(text) as T;
    if (!state || typeof state !== 'object' || !kind.valid(state)) throw new Error('unknown version');
    return state;
  } catch (err) {
    throw new DbtlsError(kind.code, `could not read ${file}: ${(err as Error).message}`, {
      hint: kind.hint,
      cause: err,
    });
  }
}
