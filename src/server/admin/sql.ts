/**
 * SQL text for administration: string literals, account names, and CURRENT_USER() read back. Pure; the
 * admin session (src/server/admin/session.ts) makes the literals safe by clearing NO_BACKSLASH_ESCAPES.
 */
/** A MariaDB/MySQL account: 'user'@'host'. */
export interface Account {
  readonly user: string;
  readonly host: string;
}

/** CURRENT_USER() is `user@host`; the user may itself contain '@', the host never does. */
export function splitCurrentUser(text: string): Account {
  const at = text.lastIndexOf('@');
  return at < 0 ? { user: text, host: '%' } : { user: text.slice(0, at), host: text.slice(at + 1) };
}

/**
 * A SQL string literal. Backslash escapes are valid because admin sessions clear NO_BACKSLASH_ESCAPES;
 * quotes are doubled (standard SQL) so the literal also survives that mode for every other character.
 */
export function quoteString(value: string): string {
  let out = "'";
  for (const ch of value) {
    switch (ch) {
      case "'":
        out += "''";
        break;
      case '\\':
        out += '\\\\';
        break;
      case '\0':
        out += '\\0';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\x1a':
        out += '\\Z';
        break;
      default:
        out += ch;
    }
  }
  return `${out}'`;
}

/** An account in SQL: 'user'@'host'. */
export function accountSql(account: Account): string {
  return `${quoteString(account.user)}@${quoteString(account.host)}`;
}
