/**
 * `--out -` means stdout for every command that writes one text file (issue 14, item 10), as for curl,
 * openssl and kubectl. Where the output is a directory of files or binary bytes (a keystore), `-` is
 * refused with the reason instead of creating a file named `-`.
 */
import { DbtlsError } from '../errors.js';

export const STDOUT = '-';

export const isStdout = (out: string | undefined): boolean => out === STDOUT;

/** USAGE when --out is `-` where stdout cannot take the output; `what` says what is written. */
export function refuseStdout(out: string | undefined, what: string, usage: string): void {
  if (isStdout(out)) {
    throw new DbtlsError('USAGE', `could not write ${what} to stdout (--out -)`, {
      hint: `give --out a ${what.startsWith('a directory') ? 'directory' : 'file'} name; usage: ${usage}`,
    });
  }
}

/** USAGE when --json and `--out -` would both write to stdout. */
export function refuseJsonOnStdout(out: string | undefined, json: boolean, usage: string): void {
  if (json && isStdout(out)) {
    throw new DbtlsError('USAGE', 'could not run with --json and --out -: both would write to stdout', {
      hint: `write the file with --out FILE and keep --json for the summary, or drop --json; usage: ${usage}`,
    });
  }
}
