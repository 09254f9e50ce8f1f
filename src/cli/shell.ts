/**
 * Command lines that dbtls prints for the user to paste ("Next: …", "did you mean"): each word quoted
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
