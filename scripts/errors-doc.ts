/**
 * Writes docs/errors.md from the closed list in src/errors.ts: `npm run docs:errors`.
 * test/unit/errors/codes.test.ts fails when the file differs from what this prints.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, type ErrorCode, EXIT_CODES, RENAMED_CODES } from '../src/errors.js';

/** The text of docs/errors.md. */
export function errorsDoc(): string {
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];
  const row = (code: ErrorCode) => {
    const { kind, meaning } = ERROR_CODES[code];
    return `| \`${code}\` | ${EXIT_CODES[kind]} ${kind} | ${meaning.replaceAll('|', '\\|')} |`;
  };
  const renamed = Object.entries(RENAMED_CODES).map(([old, now]) => `| \`${old}\` | \`${now}\` |`);
  return [
    '# Error codes',
    '',
    '<!-- Generated from src/errors.ts by `npm run docs:errors`; a test fails when this file is stale. -->',
    '',
    'Every failure dbtls reports carries one of these codes. The CLI prints it as `error[CODE]: message`,',
    'then `hint: …` with the next step, on stderr; `--json` output and the library (`DbtlsError.code`) carry',
    'the same code. The exit status follows from the code: 1 a check failed (verification, a finding at or',
    'above `--fail-on`), 2 usage or bad input (nothing was changed: fix the command), 3 a runtime failure',
    '(the command was right, the world was not: retry or repair). An exit status of 70 with `error[INTERNAL]`',
    'is a bug in dbtls; please report it with the command you ran.',
    '',
    `${codes.length} codes:`,
    '',
    '| code | exit | meaning |',
    '|---|---|---|',
    ...codes.map(row),
    '',
    '## Renamed codes',
    '',
    'An old code is no longer raised; scripts that match it should match the new one. Each old code stays',
    'listed here for one release.',
    '',
    '| old | now |',
    '|---|---|',
    ...renamed,
    '',
  ].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  fs.writeFileSync(path.join(root, 'docs/errors.md'), errorsDoc());
}
