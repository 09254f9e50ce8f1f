/**
 * The plumbing of a `dbtls secure` run: the admin session (plaintext only where TLS does not exist yet and
 * the link is local, verified TLS against our CA as soon as it does), and the run's steps and record.
 */
import * as fs from 'node:fs';
import { type NotOfferedFacts, tlsNotOffered } from '../../client/upgrade.js';
import { causeText, DbtlsError } from '../../errors.js';
import { address, isLoopback } from '../../tls/dsn.js';
import { type AdminSession, openAdminSession, type SessionOptions } from '../admin/session.js';
import { probeServedCertificate } from '../tls/reload.js';
import type { SecureStep } from './plan.js';
import {
  EMPTY_RECORD,
  readSecureState,
  type SecureRecord,
  type SecureStateFile,
  writeSecureState,
} from './state.js';

/** The admin session's options once our CA exists: verified TLS against it unless over the socket. */
export function verifiedAdmin(admin: SessionOptions, caFile: string): SessionOptions {
  if (admin.socket) return admin;
  if (
    admin.tls.mode === 'disable' ||
    ((admin.tls.mode === 'verify-ca' || admin.tls.mode === 'verify-full') && !admin.tls.ca)
  ) {
    return { ...admin, tls: { ...admin.tls, mode: 'verify-full', ca: caFile } };
  }
  return admin;
}

/** Opens the admin session; with TLS off on the server, only over the socket or a loopback address. */
export async function openSecureAdmin(admin: SessionOptions, caFile: string): Promise<AdminSession> {
  if (admin.socket) return openAdminSession(admin);
  let notOffered: DbtlsError | undefined;
  try {
    await probeServedCertificate(admin.host, admin.port);
  } catch (err) {
    if (!(err instanceof DbtlsError && err.code === 'TLS_NOT_OFFERED')) throw err;
    notOffered = err;
  }
  if (!notOffered) {
    try {
      return await openAdminSession(verifiedAdmin(admin, caFile));
    } catch (err) {
      const untrusted =
        err instanceof DbtlsError && (err.code === 'CERT_UNTRUSTED' || err.code === 'HOSTNAME_MISMATCH');
      if (!untrusted || admin.tls.ca) throw err;
      // TLS is on with a certificate our CA did not issue (or for another name): say how to get in once.
      throw new DbtlsError(err.code, `${err.message} (checked against ${caFile})`, {
        hint: 'the server already serves a certificate from another CA: pass --admin-ca FILE with that CA for this run, after which secure installs one from its own CA',
        cause: err,
      });
    }
  }
  if (admin.tls.mode === 'disable' || isLoopback(admin.host)) {
    // No TLS yet: the only way in over TCP is plaintext, acceptable on loopback or when asked for explicitly.
    return openAdminSession({ ...admin, tls: { mode: 'disable' } });
  }
  // The probe's details are the greeting's facts (tlsNotOffered wrote them): the same words, secure's next step.
  throw tlsNotOffered(
    `log in to ${address(admin.host, admin.port)} safely`,
    notOffered.details as NotOfferedFacts,
    'run dbtls secure on the server host with --socket PATH, or pass --ssl-mode disable to send the admin password in clear once',
  );
}

/**
 * The error with the steps done before it (details.steps), so that the CLI can print them: a failure
 * half-way must say what was already changed (issue 10, item 11).
 */
export function withSteps(err: unknown, steps: readonly SecureStep[]): unknown {
  if (steps.length === 0) return err;
  if (err instanceof DbtlsError) {
    return err.reworded({ details: { ...err.details, steps } });
  }
  return new DbtlsError('SECURE_FAILED', `could not finish: ${causeText(err)}`, {
    hint: 'the steps above were done; fix the cause and run the same command again (it resumes)',
    cause: err,
    details: { steps },
  });
}

export class Run {
  readonly steps: SecureStep[] = [];
  changed = false;
  private state: SecureStateFile;
  record: SecureRecord;

  constructor(
    readonly caDir: string,
    private readonly key: string,
    /** Plan only: save() writes nothing, steps are 'planned'. */
    readonly dryRun = false,
  ) {
    this.state = fs.existsSync(caDir) ? readSecureState(caDir) : { version: 1, servers: {} };
    this.record = this.state.servers[key] ?? EMPTY_RECORD;
  }

  add(s: SecureStep): void {
    this.steps.push(s);
    // The final inspect only reads; it is not a change.
    if (s.status === 'done' && s.step !== 'inspect') this.changed = true;
  }

  save(record: SecureRecord): void {
    this.record = record;
    if (this.dryRun) return;
    this.state = { ...this.state, servers: { ...this.state.servers, [this.key]: record } };
    writeSecureState(this.caDir, this.state);
  }
}
