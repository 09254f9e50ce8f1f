/**
 * Text dbtls prints but did not write: what a server (or an attacker on the path) sent, and what a user
 * typed that may hold a secret. Two rules, applied where text is printed (src/cli/render.ts) and where a
 * network string enters a report or an error message:
 *
 *  - printable(): control characters are shown, not obeyed. An ESC in a server version string or an ERR
 *    packet would otherwise drive the terminal (colours, cursor moves, window title, OSC 8 links, erased
 *    lines that hide a warning). C0 (except newline and tab where a text keeps lines), DEL, C1 and the
 *    Unicode bidirectional and zero-width format characters (Trojan Source, CVE-2021-42574) become `\xHH`
 *    / `\u{HHHH}` escapes. (issue 9, item 12)
 *  - redactDsnPasswords() and redactSecrets(): a password written in a DSN (`mysql://u:secret@h`) never
 *    reaches the output, whatever error path echoes the target. (issue 9, item 13)
 */

/**
 * The Unicode characters that reorder, hide or break text without being controls: the Arabic letter mark,
 * zero-width space/joiners and the left-to-right/right-to-left marks, the line and paragraph separators
 * (a line break to some viewers), the bidirectional embeddings, overrides and isolates (Trojan Source), the
 * word joiner and invisible operators, the deprecated format characters, and the byte order mark. A
 * character class body, for src/cli/render.ts's JSON rule too.
 */
export const FORMAT_CHARACTERS = '\\u061c\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\ufeff';
/** C0 controls but newline and tab, DEL, C1, and the format characters: for text that keeps its lines. */
const UNSAFE_KEEP_LINES = new RegExp(`[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f${FORMAT_CHARACTERS}]`, 'gu');
/** The same with newline and tab: for one-line fields (a version string, a server's error message). */
const UNSAFE_ONE_LINE = new RegExp(`[\\x00-\\x1f\\x7f-\\x9f${FORMAT_CHARACTERS}]`, 'gu');

function escaped(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u{${cp.toString(16)}}`;
}

/** Whether `text` holds a character printable() would escape in a one-line field (a name, an alias). */
export function hasControlCharacter(text: string): boolean {
  return new RegExp(UNSAFE_ONE_LINE.source, 'u').test(text);
}

/** `text` with every control and format character shown as an escape; newlines and tabs kept if asked. */
export function printable(text: string, options: { keepLines?: boolean } = {}): string {
  return text.replace(options.keepLines ? UNSAFE_KEEP_LINES : UNSAFE_ONE_LINE, escaped);
}

/**
 * A line a view built from untrusted fields, as printed: newlines, tabs and every other control or format
 * character shown as escapes, so that one element of a view's lines is one line on the terminal.
 */
export function oneLine(text: string): string {
  return printable(text);
}

/**
 * `text` with every character printable() would escape in a one-line field replaced by `mask`: for a
 * reader that must not see backslash escapes (an HTTP answer naming what the request held).
 */
export function masked(text: string, mask = '?'): string {
  return text.replace(UNSAFE_ONE_LINE, mask);
}

/**
 * A value the user gave (a name from a file, which may be a binary line), quoted for a one-line message:
 * escaped as JSON writes it plus printable()'s escapes, and cut, never inside an escape, once the shown
 * text would pass `maxLength` characters.
 */
export function quotedValue(text: string, maxLength = 60): string {
  let shown = '';
  for (const ch of text) {
    const e = printable(JSON.stringify(ch).slice(1, -1));
    if (shown.length + e.length > maxLength) return `"${shown}…"`;
    shown += e;
  }
  return `"${shown}"`;
}

/** Marks text a peer sent before TLS: nothing vouches for it (anyone on the path can write it). */
export const UNAUTHENTICATED = 'unauthenticated, sent before TLS';

/**
 * What a server said, fit for a one-line message: control characters escaped, the length bounded (a hostile
 * peer may send kilobytes).
 */
export function peerText(text: string, maxLength = 300): string {
  return printable(text.length > maxLength ? `${text.slice(0, maxLength)}…` : text);
}

/** Replaces the password of every `scheme://user:password@host` in `text` with `***`. */
export function redactDsnPasswords(text: string): string {
  // The userinfo ends at the last '@' before the next blank or quote that ends the token: a password may
  // itself hold '@', '/', ':' or '?', and over-redacting a message is better than leaking a byte.
  return text.replace(
    /([a-z][a-z0-9+.-]*:\/\/)([^\s"'@:/]*):([^\s"']*)@/gi,
    (_m, scheme: string, user: string) => `${scheme}${user}:***@`,
  );
}

/** The password parts of every DSN in `argv`, raw and percent-decoded: what the output must never show. */
export function dsnSecrets(argv: readonly string[]): string[] {
  const out = new Set<string>();
  for (const arg of argv) {
    for (const m of arg.matchAll(/[a-z][a-z0-9+.-]*:\/\/([^\s]*)@/gi)) {
      const userinfo = m[1] ?? '';
      const colon = userinfo.indexOf(':');
      if (colon < 0) continue;
      const password = userinfo.slice(colon + 1);
      if (password === '') continue;
      out.add(password);
      try {
        out.add(decodeURIComponent(password));
      } catch {
        // Not valid percent-encoding: the raw form is all there is.
      }
      out.add(encodeURIComponent(password));
      out.add(JSON.stringify(password).slice(1, -1));
    }
  }
  return [...out].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
}

/** `text` with each of `secrets` (longest first) and every DSN password replaced by `***`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = redactDsnPasswords(text);
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}
