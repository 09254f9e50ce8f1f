/**
 * my.cnf option files, as the MariaDB/MySQL clients read them (mariadb.com/kb/en/configuring-mariadb-with-option-files):
 * `[group]` headers, `key=value` or bare `key` lines, `#`/`;` comments, quoted values, dashes and
 * underscores interchangeable in keys, `!include FILE` and `!includedir DIR` (its *.cnf files in name
 * order). Later lines override earlier ones; groups are read in the order asked for.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbtlsError } from '../errors.js';
import { readUserFile } from '../util/files.js';

/** The client groups dbtls reads, in increasing priority; [dbtls] is ours and wins. */
export const CLIENT_GROUPS: readonly string[] = Object.freeze([
  'client',
  'client-server',
  'client-mariadb',
  'mariadb-client',
  'mysql',
  'dbtls',
]);
/** Include chains deeper than this are a loop or a mistake. */
const MAX_INCLUDE_DEPTH = 10;

export type OptionGroups = Map<string, Map<string, string>>;

/** `ssl_ca` and `ssl-ca` are the same option. */
export function optionKey(key: string): string {
  return key.trim().toLowerCase().replace(/_/g, '-');
}

function unquote(raw: string): string {
  const v = raw.trim();
  const q = v[0];
  if ((q === '"' || q === "'") && v.length >= 2) {
    const end = v.indexOf(q, 1);
    if (end > 0)
      return v.slice(1, end).replace(/\\(.)/g, (_m, c: string) => ({ n: '\n', t: '\t', '\\': '\\' })[c] ?? c);
  }
  // An unquoted value ends at a comment that follows whitespace.
  return v.replace(/\s+[#;].*$/, '').trim();
}

function parseInto(groups: OptionGroups, file: string, depth: number, seen: Set<string>): void {
  const real = fs.existsSync(file) ? fs.realpathSync(file) : file;
  if (depth > MAX_INCLUDE_DEPTH || seen.has(real)) {
    throw new DbtlsError(
      'MYCNF_INCLUDE_LOOP',
      `could not read the option file ${file}: it includes itself or nests more than ${MAX_INCLUDE_DEPTH} deep`,
      {
        hint: 'remove the circular !include',
      },
    );
  }
  seen.add(real);
  const text = readUserFile(file, 'the option file').toString('utf8');
  let group: Map<string, string> | undefined;
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const directive = /^!(include|includedir)\s+(.+)$/.exec(line);
    if (directive) {
      const target = path.resolve(path.dirname(file), unquote(directive[2] ?? ''));
      if (directive[1] === 'include') parseInto(groups, target, depth + 1, seen);
      else if (fs.existsSync(target)) {
        for (const name of fs
          .readdirSync(target)
          .filter((n) => n.endsWith('.cnf'))
          .sort()) {
          parseInto(groups, path.join(target, name), depth + 1, seen);
        }
      }
      return;
    }
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      const name = (header[1] ?? '').trim().toLowerCase();
      group = groups.get(name) ?? new Map();
      groups.set(name, group);
      return;
    }
    if (!group) {
      throw new DbtlsError(
        'MYCNF_MALFORMED',
        `could not read the option file ${file}: line ${index + 1} is outside any [group]`,
        {
          hint: 'put options under a group such as [client]',
        },
      );
    }
    const eq = line.indexOf('=');
    if (eq < 0) group.set(optionKey(line.replace(/\s+[#;].*$/, '')), '');
    else group.set(optionKey(line.slice(0, eq)), unquote(line.slice(eq + 1)));
  });
  seen.delete(real);
}

/** Every group of `file` and what it includes. */
export function readOptionFile(file: string): OptionGroups {
  const groups: OptionGroups = new Map();
  parseInto(groups, file, 0, new Set());
  return groups;
}

/** The merged options of `groups` (later groups override earlier ones). */
export function clientOptions(
  file: string,
  groups: readonly string[] = CLIENT_GROUPS,
): ReadonlyMap<string, string> {
  const all = readOptionFile(file);
  const merged = new Map<string, string>();
  for (const name of groups) for (const [k, v] of all.get(name) ?? []) merged.set(k, v);
  return merged;
}
