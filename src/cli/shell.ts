/**
 * Hints for the user to paste: command lines (quoted by src/util/shell.ts) with placeholders explained.
 */
import { commandLine } from '../util/shell.js';

export { commandLine, shellQuote } from '../util/shell.js';

/** Words a hint uses where dbtls cannot know the value, and what the user puts there. */
const PLACEHOLDERS: Readonly<Record<string, string>> = Object.freeze({
  ADMIN_TARGET: 'the server, host[:port] or a DSN',
  KEY_FILE: 'the key.pem made with the CSR',
  PASSWORD_FILE: "a file holding the account's password, for the check login",
});

/**
 * A command line for a hint. A placeholder word (ADMIN_TARGET, KEY_FILE) stands where dbtls cannot know
 * the value; each one used is explained after the line, so that the user knows what to put there.
 */
export function hintLine(words: readonly string[]): string {
  const notes = placeholderNotes(words);
  const line = commandLine(words);
  return notes ? `${line}   (${notes})` : line;
}

/** What the placeholders among `words` stand for, or '' when there is none. */
export function placeholderNotes(words: readonly string[]): string {
  return Object.entries(PLACEHOLDERS)
    .filter(([word]) => words.includes(word))
    .map(([word, meaning]) => `${word}: ${meaning}`)
    .join('; ');
}
