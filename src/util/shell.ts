/**
 * Command lines that dbtls prints for the user to paste ("Next: …", hints, snippets): each word quoted
 * for a POSIX shell only when it needs it, so `dbtls issue client --cn app_user` stays readable and a CN
 * such as `O'Brien` still arrives as one word (issue 14, item 5).
 */

/** Characters a POSIX shell leaves alone in an unquoted word. */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One word for a POSIX shell: as is when safe, else in single quotes (`'` written as `'\''`). */
export function shellQuote(word: string): string {
  if (SAFE_WORD.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A whole command line from its words. */
export function commandLine(words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}
