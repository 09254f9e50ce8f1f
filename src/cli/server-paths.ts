/**
 * The server's own paths a server command writes on this machine (--dir, --config-file), checked before
 * the CA is unlocked or the admin session opens: a file where the directory goes or inside its path, a
 * directory where the fragment goes. `secure --dir a-file` used to create the CA and issue the server
 * certificate before it failed as PERMISSION_DENIED on the file's mode; `--config-file a-directory` ended in
 * a raw EISDIR after the same changes.
 *
 * Two things are left to later on purpose: a missing directory, which the command makes (as `mkdir -p`),
 * and permissions, which the preflight (src/server/admin/preflight.ts) checks on every path the command
 * writes, naming the owner to run as (these are the server's files: often mysql's, not the user's).
 */
import * as path from 'node:path';
import { DbtlsError } from '../errors.js';
import { checkOutputDir, checkOutputFile } from './out.js';

/** Codes of out.ts that are not refusals here: the command makes the directory; the preflight says whose it is. */
const LEFT_TO_THE_COMMAND = new Set(['OUTPUT_INVALID', 'PERMISSION_DENIED']);

function shapeOnly(check: () => void): void {
  try {
    check();
  } catch (err) {
    if (err instanceof DbtlsError && LEFT_TO_THE_COMMAND.has(err.code)) return;
    // A parent this user cannot search (a datadir of mode 0750): the preflight names its owner.
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === 'EACCES' || errno === 'EPERM') return;
    throw err;
  }
}

/** A directory the server reads its certificate files (or CRL) from: `option` names it in the hint. */
export function checkServerDir(dir: string | undefined, cwd: string, option = '--dir'): void {
  if (dir !== undefined) shapeOnly(() => checkOutputDir(path.resolve(cwd, dir), option));
}

/** The option file (config fragment) the command writes the ssl_* settings to. */
export function checkServerFile(file: string | undefined, cwd: string): void {
  if (file !== undefined) shapeOnly(() => checkOutputFile(path.resolve(cwd, file)));
}
