/**
 * The journal of `dbtls require` (issue 10 item 9). Between ALTER USER and the check login (which can wait
 * up to the connect timeout) a Ctrl-C or SIGKILL used to leave the account under a requirement nobody had
 * proved, often locked out. So the intended change is written to a state file, fsynced, before ALTER USER,
 * and removed once the check passed or the change was reverted. The next dbtls command that opens an admin
 * session on that server finds a journal left behind and reverts the change: the requirement before it was
 * the one known to work.
 *
 * The files live in the user's state directory (DBTLS_STATE_DIR, else $XDG_STATE_HOME/dbtls, else
 * ~/.local/state/dbtls), one per server and account; the server is named by what it says about itself
 * (@@hostname, @@port), so a journal written over TCP is found over the unix socket and back.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { causeText } from '../../errors.js';
import { MODE_SECRET, writeFileAtomic } from '../../util/files.js';
import { readStateFile, type StateFileKind } from '../../util/state-file.js';
import type { Account, AdminSession, SqlSession } from '../admin/session.js';
import { accountSql } from '../admin/sql.js';
import {
  accountRequirement,
  describeRequirement,
  requireClause,
  sameRequirement,
  type TlsRequirement,
} from './users.js';

export interface RequireJournal {
  readonly version: 1;
  readonly server: string;
  readonly account: Account;
  readonly before: TlsRequirement;
  readonly after: TlsRequirement;
  /** The process that wrote it: a live one is still at work and is left alone. */
  readonly pid: number;
  readonly startedAt: string;
}

/** Where journals are kept, from the environment (resolved once by the caller). */
export function stateDir(env: NodeJS.ProcessEnv): string {
  if (env.DBTLS_STATE_DIR) return env.DBTLS_STATE_DIR;
  const base = env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), '.local', 'state');
  return path.join(base, 'dbtls');
}

/** The server as it names itself: `hostname:port`. */
export async function serverIdentity(session: SqlSession): Promise<string> {
  const [row] = await session.query('SELECT @@hostname AS hostname, @@port AS port');
  return `${String(row?.hostname ?? 'unknown')}:${String(row?.port ?? '0')}`;
}

const slug = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);
const PREFIX = 'require-';

function journalFile(dir: string, server: string, account: Account): string {
  return path.join(dir, `${PREFIX}${slug(server)}-${slug(accountSql(account))}.json`);
}

function journalsOf(dir: string, server: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const prefix = `${PREFIX}${slug(server)}-`;
  return names.filter((n) => n.startsWith(prefix) && n.endsWith('.json')).map((n) => path.join(dir, n));
}

/** Records the intended change (fsynced) before ALTER USER; returns the file to remove when settled. */
export function writeJournal(
  dir: string,
  journal: Omit<RequireJournal, 'version' | 'pid' | 'startedAt'>,
): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = journalFile(dir, journal.server, journal.account);
  const full: RequireJournal = {
    version: 1,
    ...journal,
    pid: process.pid,
    startedAt: new Date().toISOString(),
  };
  writeFileAtomic(file, `${JSON.stringify(full, null, 2)}\n`, { mode: MODE_SECRET });
  return file;
}

export function clearJournal(file: string): void {
  fs.rmSync(file, { force: true });
}

function alive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** writeFileAtomic's temporary sibling of a journal: `.require-<server>-<account>.json.<hex>.tmp`. */
const TORN = /^\.require-([0-9a-f]{16})-[0-9a-f]{16}\.json\.[0-9a-f]{12}\.tmp$/;

/**
 * Removes the temporary files of journals of this server that a kill before their rename left: such a
 * `require` never reached ALTER USER, so there is nothing to revert. A concurrent `require` on the same
 * server whose temp file this removes fails to write its journal and changes nothing.
 */
function removeTornJournals(dir: string, names: readonly string[], server: string): void {
  for (const name of names) {
    if (TORN.exec(name)?.[1] === slug(server)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

/** What the recovery found and did, one line per journal, for the CLI to show as warnings. */
export interface Recovery {
  readonly account: Account;
  readonly outcome: 'reverted' | 'not-applied' | 'changed-since' | 'account-gone' | 'revert-failed';
  readonly message: string;
}

const JOURNAL_KIND: StateFileKind<RequireJournal> = {
  code: 'REQUIRE_JOURNAL_MALFORMED',
  hint: 'remove the file; then check the account with `dbtls users ADMIN_TARGET`',
  valid: (j: RequireJournal) => j.version === 1 && typeof j.account?.user === 'string',
};

/**
 * Settles every journal an interrupted `require` left for this server: a change that went through is
 * reverted (and the journal removed); one that never reached the server, or that someone changed since,
 * is only reported. Journals of a process still running are left alone.
 */
export async function recoverInterruptedRequires(session: AdminSession, dir: string): Promise<Recovery[]> {
  const names = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  if (!names.some((n) => n.startsWith(PREFIX) || n.startsWith(`.${PREFIX}`))) return [];
  const server = await serverIdentity(session);
  removeTornJournals(dir, names, server);
  const out: Recovery[] = [];
  for (const file of journalsOf(dir, server)) {
    const j = readStateFile<RequireJournal>(file, JOURNAL_KIND);
    if (!j || alive(j.pid)) continue;
    const name = accountSql(j.account);
    const revert = `ALTER USER ${name} ${requireClause(j.before)}`;
    let current: TlsRequirement;
    try {
      current = await accountRequirement(session, session.capabilities, j.account);
    } catch (err) {
      clearJournal(file);
      out.push({ account: j.account, outcome: 'account-gone', message: `${name}: ${causeText(err)}` });
      continue;
    }
    if (sameRequirement(current, j.after) && !sameRequirement(j.after, j.before)) {
      try {
        await session.query(revert);
      } catch (err) {
        out.push({
          account: j.account,
          outcome: 'revert-failed',
          message: `${name} still requires ${describeRequirement(j.after)} from an interrupted \`dbtls require\` (never checked), and reverting it failed: ${causeText(err)}; run as an admin: ${revert};`,
        });
        continue;
      }
      out.push({
        account: j.account,
        outcome: 'reverted',
        message: `an interrupted \`dbtls require\` (pid ${j.pid}, ${j.startedAt}) left ${name} requiring ${describeRequirement(j.after)} without a check login: reverted it to ${describeRequirement(j.before)}`,
      });
    } else if (sameRequirement(current, j.before)) {
      out.push({
        account: j.account,
        outcome: 'not-applied',
        message: `an interrupted \`dbtls require\` (pid ${j.pid}) left a journal for ${name}, which requires ${describeRequirement(j.before)} as before it: nothing to revert`,
      });
    } else {
      out.push({
        account: j.account,
        outcome: 'changed-since',
        message: `an interrupted \`dbtls require\` (pid ${j.pid}) meant ${name} to require ${describeRequirement(j.after)}; it now requires ${describeRequirement(current)}, changed since: left as it is`,
      });
    }
    clearJournal(file);
  }
  return out;
}
