/**
 * `--out -` means stdout for every command that writes one text file (issue 14, item 10), as for curl,
 * openssl and kubectl. Where the output is a directory of files or binary bytes (a keystore), `-` is
 * refused with the reason instead of creating a file named `-`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
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

/** What a command writes to --out, so that an existing file is replaced only when it is one of those. */
export type OutputKind = 'crl' | 'certificates' | 'yaml' | 'html';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----/g;

/** Whether `text` is what a command of this kind writes (then running it again may replace it). */
function isOutputOf(kind: OutputKind, text: string): boolean {
  if (kind === 'html') return /^<!doctype html>/i.test(text);
  if (kind === 'yaml') {
    try {
      // A manifest or a values file holds mappings; a PEM key or certificate reads as one plain string.
      const docs = parseAllDocuments(text);
      if (!Array.isArray(docs) || docs.length === 0) return false;
      return docs.every((d) => {
        const value: unknown = d.errors.length === 0 ? d.toJS() : undefined;
        return value !== null && typeof value === 'object';
      });
    } catch {
      return false;
    }
  }
  const labels = [...text.matchAll(PEM_BLOCK)].map((m) => m[1]);
  const want = kind === 'crl' ? 'X509 CRL' : 'CERTIFICATE';
  return labels.length > 0 && labels.every((l) => l === want);
}

const KIND_TEXT: Readonly<Record<OutputKind, string>> = Object.freeze({
  crl: 'a CRL file',
  certificates: 'a certificate bundle',
  yaml: 'a YAML file',
  html: 'an HTML report',
});

/**
 * Checks --out before anything is computed or written: a regular file (or a new one) in an existing
 * directory this user may write (OUTPUT_NOT_A_FILE, NOT_A_DIRECTORY, OUTPUT_INVALID, PERMISSION_DENIED:
 * exit 2, not a WRITE_FAILED after the work). An existing file is replaced only when it is what this command writes
 * (a CRL over a CRL when publishing again): anything else, a private key say, is OUTPUT_EXISTS.
 */
export function checkOutputFile(file: string, kind?: OutputKind): void {
  const dir = path.dirname(file);
  const st = entryAt(file);
  if (st && !st.isFile()) {
    const what = st.isDirectory() ? 'a directory' : 'a device, FIFO or socket';
    throw new DbtlsError('OUTPUT_NOT_A_FILE', `could not write ${file}: it is ${what}, not a regular file`, {
      hint: 'give the path of a new or regular file for the output',
    });
  }
  const near = st ? undefined : nearestEntry(dir);
  if (near && !near.st.isDirectory()) {
    throw new DbtlsError(
      'NOT_A_DIRECTORY',
      `could not write ${file}: a part of the path is a file (${near.at})`,
      {
        hint: 'name a file in an existing directory',
      },
    );
  }
  if (near && near.at !== dir) {
    throw new DbtlsError('OUTPUT_INVALID', `could not write ${file}: the directory ${dir} does not exist`, {
      hint: 'name a file in an existing directory',
    });
  }
  try {
    fs.accessSync(st ? file : dir, fs.constants.W_OK);
  } catch {
    throw new DbtlsError('PERMISSION_DENIED', `could not write ${file}: this user may not`, {
      hint: 'name a file this user can write, or run as its owner',
    });
  }
  if (st && kind !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      text = '';
    }
    if (!isOutputOf(kind, text)) {
      throw new DbtlsError(
        'OUTPUT_EXISTS',
        `could not write ${file}: it exists and is not ${KIND_TEXT[kind]} (it would be replaced); nothing was written`,
        { hint: 'give --out a new file, or move the existing one away first' },
      );
    }
  }
}

/** The entry at `p`, or undefined when nothing is there (ENOTDIR: a file stands where a directory would). */
function entryAt(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err; // a name too long, a loop: main.ts reports it as PATH_INVALID (exit 2)
  }
}

/** `p` or its nearest ancestor that exists, with what it is; undefined when not even the root does. */
function nearestEntry(p: string): { at: string; st: fs.Stats } | undefined {
  for (let at = p; ; at = path.dirname(at)) {
    const st = entryAt(at);
    if (st) return { at, st };
    if (path.dirname(at) === at) return undefined;
  }
}

/**
 * Checks an output directory (--out DIR, --out-dir DIR; `option` names it in hints) before anything is
 * issued, signed or written: checkOutputFile's sibling. The directory may be new (it is made with its
 * missing parents, as `mkdir -p`), but the nearest part of the path that exists must be a directory this
 * user may write: a file there is OUTPUT_EXISTS (the path itself) or NOT_A_DIRECTORY (a parent), an
 * unwritable directory PERMISSION_DENIED. All exit 2: they were a WRITE_FAILED (exit 3) after signing.
 */
export function checkOutputDir(dir: string, option = '--out'): void {
  const near = nearestEntry(dir);
  if (near === undefined) return; // nothing of the path exists, not even its root: mkdir will say why
  if (!near.st.isDirectory() && near.at === dir) {
    const what = near.st.isFile() ? 'a file' : 'a device, FIFO or socket';
    throw new DbtlsError('OUTPUT_EXISTS', `could not write to ${dir}: it is ${what}, not a directory`, {
      hint: `${option} names a directory: choose a new one, or an existing directory`,
    });
  }
  if (!near.st.isDirectory()) {
    throw new DbtlsError(
      'NOT_A_DIRECTORY',
      `could not write to ${dir}: a part of the path is a file (${near.at})`,
      {
        hint: `choose an ${option} whose every part is a directory (or absent)`,
      },
    );
  }
  try {
    fs.accessSync(near.at, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    throw new DbtlsError(
      'PERMISSION_DENIED',
      `could not write to ${dir}: this user may not write in ${near.at === dir ? 'it' : near.at}`,
      { hint: 'choose a directory this user can write, or run as its owner' },
    );
  }
}
