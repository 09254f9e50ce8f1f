/**
 * Per-account TLS requirements with the lockout guard. The classic advice for changing how an account
 * logs in is "keep your current session open and check with a second one"; this module does exactly
 * that: the admin session stays open, ALTER USER … REQUIRE … is applied, a second session logs in AS THAT
 * ACCOUNT with the credentials its clients will use, and if that fails the remembered requirement is put
 * back before we report (LOCKOUT_PREVENTED).
 */
import * as fs from 'node:fs';
import { causeText, DbtlsError } from '../../errors.js';
import { parseCertificate } from '../../pki/certificate.js';
import { checkCombination } from '../../tls/ssl-mode.js';
import { readUserFile } from '../../util/files.js';
import { checkPrivileges } from '../admin/preflight.js';
import {
  type Account,
  type AdminSession,
  type AdminSslMode,
  openSession,
  type SessionTls,
} from '../admin/session.js';
import { accountSql, splitCurrentUser } from '../admin/sql.js';
import { clearJournal, serverIdentity, stateDir, writeJournal } from './require-journal.js';
import {
  accountRequirement,
  describeRequirement,
  requireClause,
  sameRequirement,
  type TlsRequirement,
} from './users.js';

export interface VerifyCredentials {
  readonly password?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  /** The CA that the verify session checks the server against; defaults to the admin session's. */
  readonly ca?: string | undefined;
  /** Defaults to the admin session's mode (verify-full when it used none, e.g. over the unix socket). */
  readonly mode?: AdminSslMode | undefined;
}

export interface RequireOptions {
  readonly account: Account;
  readonly requirement: TlsRequirement;
  readonly verify: VerifyCredentials;
  readonly dryRun?: boolean;
  /** Allows changing the account the admin session itself is logged in as. */
  readonly iHaveAnotherWayIn?: boolean;
  /** Where the journal of the change is written (default: stateDir(process.env)). */
  readonly journalDir?: string | undefined;
}

export interface RequireResult {
  readonly account: Account;
  readonly before: TlsRequirement;
  readonly after: TlsRequirement;
  /** The ALTER USER statement (run, or to be run in a dry run); undefined when nothing changes. */
  readonly statement: string | undefined;
  /** The statement that restores `before`. */
  readonly revertStatement: string;
  readonly changed: boolean;
  readonly dryRun: boolean;
  /** The verify session's TLS protocol ('TLSv1.3'), or 'none' when it was not encrypted. */
  readonly verifiedOver: string | undefined;
}

export function alterRequireStatement(account: Account, r: TlsRequirement): string {
  return `ALTER USER ${accountSql(account)} ${requireClause(r)}`;
}

function sameAccount(a: Account, b: Account): boolean {
  return a.user === b.user && a.host.toLowerCase() === b.host.toLowerCase();
}

/** The TLS settings of the second session: the verify flags, else the admin session's. */
export function verifyTls(admin: AdminSession, v: VerifyCredentials): SessionTls {
  const adminTls = admin.options.tls;
  const ca = v.ca ?? adminTls.ca;
  // An admin over the unix socket (or with TLS off) says nothing about how clients connect: they use TLS.
  const inherited = admin.options.socket || adminTls.mode === 'disable' ? 'verify-full' : adminTls.mode;
  return { mode: v.mode ?? inherited, ca, cert: v.cert, key: v.key };
}

/** 'localhost' accounts are reached only over the unix socket (MariaDB and MySQL: host 'localhost'). */
const isSocketAccount = (account: Account) => account.host.toLowerCase() === 'localhost';

/**
 * The unix socket a 'localhost' account's check login uses: the admin session's, else the server's
 * @@socket, which must be on this machine (issue 10 item 10: over TCP the login lands on another account).
 */
async function checkSocket(admin: AdminSession, name: string): Promise<string> {
  if (admin.options.socket) return admin.options.socket;
  const [row] = await admin.query('SELECT @@socket AS socket');
  const socket = String(row?.socket ?? '');
  if (!socket || !fs.existsSync(socket)) {
    throw new DbtlsError(
      'SOCKET_NOT_LOCAL',
      `could not check the login of ${name}: a 'localhost' account logs in over the server's unix socket${socket ? ` (${socket})` : ''}, which is not on this machine`,
      { hint: 'run dbtls on the server host (add --socket PATH if the socket is elsewhere)' },
    );
  }
  return socket;
}

async function verifyLogin(
  admin: AdminSession,
  account: Account,
  v: VerifyCredentials,
  socket: string | undefined,
): Promise<string> {
  const session = await openSession({
    host: admin.options.host,
    port: admin.options.port,
    ...(socket ? { socket, socketTls: true } : {}),
    user: account.user,
    password: v.password,
    tls: verifyTls(admin, v),
  });
  try {
    // The server picks the account by the client's address; a login that landed on another account
    // (say 'app'@'localhost' rather than 'app'@'%') proves nothing about the one we changed.
    const [row] = await session.query('SELECT CURRENT_USER() AS account');
    const landed = splitCurrentUser(String(row?.account ?? ''));
    if (!sameAccount(landed, account)) {
      throw new Error(
        `the login matched '${landed.user}'@'${landed.host}', not '${account.user}'@'${account.host}', so it proves nothing`,
      );
    }
    return session.tlsProtocol ?? 'none';
  } finally {
    await session.close();
  }
}

/**
 * What refuses any REQUIRE change of `account` from this session: the admin's own account (unless the
 * user has another way in), a 'localhost' account whose unix socket is not on this machine (its login
 * cannot be checked). Returns that socket. `secure` asks this for every account before its first change.
 */
export async function checkAccountChangeable(
  admin: AdminSession,
  account: Account,
  iHaveAnotherWayIn = false,
): Promise<string | undefined> {
  const name = `'${account.user}'@'${account.host}'`;
  if (sameAccount(account, admin.account) && !iHaveAnotherWayIn) {
    throw new DbtlsError(
      'ADMIN_ACCOUNT_PROTECTED',
      `could not change ${name}: it is the account this admin session uses`,
      {
        hint: 'connect as another admin account, or pass --i-have-another-way-in if you are sure you can still get in',
      },
    );
  }
  return isSocketAccount(account) ? checkSocket(admin, name) : undefined;
}

/** `dbtls require`: change one account's requirement, proved by a login as that account, or reverted. */
export async function applyRequirement(admin: AdminSession, o: RequireOptions): Promise<RequireResult> {
  const { account } = o;
  const name = `'${account.user}'@'${account.host}'`;
  const socket = await checkAccountChangeable(admin, account, o.iHaveAnotherWayIn);
  // Preflight (issue 10 item 15): an account that may not ALTER USER fails here, not half-way.
  await checkPrivileges(admin, 'require');
  const before = await accountRequirement(admin, admin.capabilities, account);
  const revertStatement = alterRequireStatement(account, before);
  const changed = !sameRequirement(before, o.requirement);
  const statement = changed ? alterRequireStatement(account, o.requirement) : undefined;
  const base = {
    account,
    before,
    after: o.requirement,
    statement,
    revertStatement,
    changed,
    dryRun: !!o.dryRun,
  };
  // Fail before changing anything when the verify session could not even be set up (no CA, no key file).
  const tls = verifyTls(admin, o.verify);
  if (tls.mode === 'verify-ca' || tls.mode === 'verify-full') {
    if (!tls.ca) {
      throw new DbtlsError(
        'TLS_CA_REQUIRED',
        `could not check the login of ${name}: no CA to verify the server with`,
        {
          hint: 'pass --verify-ca FILE (the CA of the server certificate), or --verify-ssl-mode trust',
        },
      );
    }
  }
  // Mutual TLS only with a verified server (DESIGN.md); a bad combination must fail before ALTER USER.
  checkCombination(tls.mode, tls.cert ? 'enable' : 'disable');
  for (const [file, what] of [
    [tls.cert, 'client certificate'],
    [tls.key, 'client key'],
    [tls.ca, 'CA certificate'],
  ] as const) {
    if (file && tls.mode !== 'disable') readUserFile(file, what);
  }
  refuseKnownFailures(name, o, tls.cert);
  if (o.dryRun || !statement) return { ...base, verifiedOver: undefined };

  // The intended change is on disk before the server sees it: if this process dies before the check
  // settles it, the next dbtls command on this server reverts it (src/server/require-journal.ts).
  const journal = writeJournal(o.journalDir ?? stateDir(process.env), {
    server: await serverIdentity(admin),
    account,
    before,
    after: o.requirement,
  });
  try {
    await admin.query(statement);
  } catch (err) {
    clearJournal(journal);
    throw err;
  }
  try {
    const verifiedOver = await verifyLogin(admin, account, o.verify, socket);
    clearJournal(journal);
    return { ...base, verifiedOver };
  } catch (loginError) {
    try {
      await admin.query(revertStatement);
      clearJournal(journal);
    } catch (revertError) {
      // Say exactly where the account was left, and the one statement that puts it back (issue 10 item 16).
      throw new DbtlsError(
        'REVERT_FAILED',
        `could not revert ${name} after a failed login check: ${causeText(revertError)}; ${name} is left requiring ${describeRequirement(o.requirement)} (it required ${describeRequirement(before)}), and the check login as ${name} failed: ${causeText(loginError).trim()}`,
        {
          hint: `run this as an admin now to restore it: ${revertStatement};`,
          cause: revertError,
          details: {
            account,
            state: o.requirement,
            before,
            revertStatement,
            loginError: causeText(loginError).trim(),
          },
        },
      );
    }
    throw new DbtlsError(
      'LOCKOUT_PREVENTED',
      `could not log in as ${name} after REQUIRE ${describeRequirement(o.requirement)}: ${causeText(loginError).trim()}; reverted it to ${describeRequirement(before)}`,
      {
        hint: 'check the credentials passed with --verify-password-file / --verify-cert / --verify-key / --verify-ca, and that this machine matches the account host',
        cause: loginError,
        details: {
          before,
          attempted: o.requirement,
          revertStatement,
          loginError: causeText(loginError).trim(),
        },
      },
    );
  }
}

/**
 * Refuses, before any change, what is known here to fail (issue 10 item 9): a certificate requirement
 * without a client certificate for the check login, or a --subject-of / --issuer-of name that the
 * --verify-cert does not carry (the server compares them byte for byte, so the check could never pass).
 */
function refuseKnownFailures(name: string, o: RequireOptions, certFile: string | undefined): void {
  const r = o.requirement;
  if (r.type !== 'X509' && r.type !== 'SPECIFIED') return;
  if (!certFile) {
    if (o.dryRun) return;
    throw new DbtlsError(
      'VERIFY_CERT_REQUIRED',
      `could not check the login of ${name} after REQUIRE ${describeRequirement(r)}: no client certificate to log in with`,
      { hint: 'pass --verify-cert FILE --verify-key FILE: the certificate the account will use' },
    );
  }
  const cert = parseCertificate(readUserFile(certFile, 'client certificate'));
  for (const [field, wanted, has] of [
    ['subject', r.subject, cert.subject],
    ['issuer', r.issuer, cert.issuer],
  ] as const) {
    if (wanted !== undefined && wanted !== has) {
      throw new DbtlsError(
        'VERIFY_CERT_MISMATCH',
        `could not require ${field.toUpperCase()} ${JSON.stringify(wanted)} of ${name}: the --verify-cert ${certFile} has the ${field} ${JSON.stringify(has)}, so the check login could never pass; nothing was changed`,
        {
          hint: `pass the certificate the account will use both as --${field}-of and as --verify-cert (with its --verify-key)`,
          details: { [field]: wanted, verifyCert: has },
        },
      );
    }
  }
}

/**
 * The one-line subject or issuer (`/C=DE/O=Org/CN=app`) of the first certificate in a PEM file: the form
 * MariaDB and MySQL compare REQUIRE SUBJECT / ISSUER against byte for byte (X509_NAME_oneline, FACTS.md).
 * ISSUER is the direct issuer: the intermediate when there is one.
 */
export function certificateName(file: string, which: 'subject' | 'issuer'): string {
  const cert = parseCertificate(readUserFile(file, 'certificate'));
  return which === 'subject' ? cert.subject : cert.issuer;
}
