/**
 * The four stages of the CA rollover (src/server/rollover.ts has the model and the layout), run against
 * the CA directory and, from trust-both on, the server. Each stage checks what is already done before it
 * acts, and the state is saved after every step that moved something, so running a stage again resumes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readIndex } from '../../ca/cert-index.js';
import { initCa } from '../../ca/init.js';
import { issueCertificate } from '../../ca/issue.js';
import { settlePending } from '../../ca/journal.js';
import { dirNameFor, leafDelivery } from '../../ca/leaf-files.js';
import { issueAgainLine } from '../../ca/renew.js';
import { generateCrls } from '../../ca/revoke.js';
import { CA_FILES, type Ca, caPath, openCa, withCaLockAsync } from '../../ca/store.js';
import { DbtlsError } from '../../errors.js';
import { type CertificateInfo, parseCertificates } from '../../pki/certificate.js';
import { dedupe } from '../../pki/chain.js';
import { commonName, decodeName } from '../../pki/names.js';
import { dateText } from '../../util/dates.js';
import { MODE_PUBLIC, removeStaleTemps, writeFileAtomic } from '../../util/files.js';
import { commandLine } from '../../util/shell.js';
import { checkPrivileges, checkWritable } from '../admin/preflight.js';
import { type AdminSession, globalVariables } from '../admin/session.js';
import { crlCoverageGap } from '../tls/crl-check.js';
import { onlineReload, probeServedCertificate, reloadTls } from '../tls/reload.js';
import { planRotation } from './plan.js';
import {
  completeStage,
  NEXT_DIR,
  PREVIOUS_DIR,
  promoteNextCa,
  REISSUED_DIR,
  RETIRED_DIR,
  ROLLOVER_FILE,
  type RolloverStage,
  type RolloverState,
  type RootFacts,
  readRolloverState,
  stageDecision,
  TRUST_BUNDLE_FILE,
  writeRolloverState,
} from './rollover.js';
import { rotateServerCertificate, supersede } from './rotate.js';

export interface StageOptions {
  /** The admin session (every stage but new-ca changes the server). */
  readonly session?: AdminSession | undefined;
  readonly passphrase?: string | undefined;
  /** Where re-issued leaves other than the server's go (DIR/<cn>/); default <ca-dir>/reissued. */
  readonly out?: string | undefined;
  readonly now?: Date | undefined;
  /** How long to wait for another dbtls that holds the CA lock before LOCKED (default 60 s). */
  readonly lockTimeoutMs?: number | undefined;
}

export interface StageResult {
  readonly stage: RolloverStage;
  /** False when the stage had already completed: nothing was done. */
  readonly ran: boolean;
  readonly summary: string;
  readonly details: readonly string[];
  readonly state: RolloverState;
}

function rootFacts(ca: Ca): RootFacts {
  return {
    subject: ca.root.subject,
    fingerprint: ca.root.fingerprint,
    notAfter: ca.root.notAfter.toISOString(),
  };
}

/** The next generation's CN: `dbtls Root CA` -> `dbtls Root CA G2` -> `… G3`. Distinct names keep chains unambiguous. */
export function nextCaName(subject: string | Uint8Array): string {
  // From the DER when given: the one-line form writes ü as \xC3\xBC, text no longer a name (issue 14, item 9).
  const cn =
    (typeof subject === 'string' ? commonName(subject) : commonName(decodeName(subject))) ?? 'dbtls Root CA';
  const m = /^(.*) G(\d+)$/.exec(cn);
  return m ? `${m[1]} G${Number(m[2]) + 1}` : `${cn} G2`;
}

const pemOf = (certs: readonly CertificateInfo[]) => certs.map((c) => c.pem.trim()).join('\n') + '\n';
const caCerts = (ca: Ca) => parseCertificates(ca.caPem() + ca.chainPem());

/**
 * The session of a stage that changes the server, with what the stage needs checked before any change:
 * an online reload and the privilege for it, the server files it rewrites (`writes`) on this machine and
 * writable, and the CA directory writable (a stage that failed half-way would leave the server's trust
 * changed on disk but not in memory).
 */
async function stageSession(
  o: StageOptions,
  stage: RolloverStage,
  writes: readonly ('ssl_ca' | 'ssl_crl')[],
  caDir: string,
): Promise<AdminSession> {
  const doing = `run the rollover stage ${stage}`;
  if (!o.session) {
    throw new DbtlsError(
      'USAGE',
      `could not ${doing}: it changes the server, and no ADMIN_TARGET was given`,
      {
        hint: `run \`dbtls rotate ADMIN_TARGET --ca-rollover --stage ${stage}\``,
      },
    );
  }
  const session = o.session;
  onlineReload(session, doing);
  await checkPrivileges(session, 'rotate');
  const vars = writes.length > 0 ? await globalVariables(session, writes) : new Map<string, string>();
  checkWritable([
    ...writes.flatMap((v) => {
      const file = vars.get(v);
      return file ? [{ path: localServerFile(file, v, doing), what: `the server's ${v} file` }] : [];
    }),
    { path: caDir, what: 'the CA directory' },
  ]);
  return session;
}

/** `file`, the server's `variable`, when it is on this machine; SERVER_FILES_NOT_LOCAL otherwise. */
function localServerFile(file: string, variable: string, doing: string): string {
  if (fs.existsSync(file)) return file;
  throw new DbtlsError(
    'SERVER_FILES_NOT_LOCAL',
    `could not ${doing}: the server's ${variable} file ${file} is not on this machine; nothing was changed`,
    { hint: 'run the rollover on the server host' },
  );
}

/** A file the server reads, replaced atomically with its mode (at least world-readable) and owner kept. */
function replaceServerFile(file: string, text: string): void {
  const st = fs.statSync(file);
  // A stage killed before this rename left its temp file beside the server's (issue 10 item 17); this run
  // writes the file again. (A concurrent writer of the same file, unguarded anyway, would fail, not corrupt.)
  removeStaleTemps(file);
  writeFileAtomic(file, text, { mode: (st.mode & 0o777) | MODE_PUBLIC });
  if (process.getuid?.() === 0) fs.chownSync(file, st.uid, st.gid);
}

/**
 * A server that checks revocation (ssl_crl) checks it at every level of a client's chain: once the new
 * CA's clients arrive (reissue), it would refuse every one of them unless its CRL file also holds a CRL of
 * the new CA. So trust-both adds the new CA's current CRLs to that file (the old CA's stay: its clients
 * log in until retire-old). Returns what was done, or undefined when the server has no ssl_crl or its
 * file already holds a current CRL of the new CA.
 */
async function addCrlsOf(session: AdminSession, next: Ca): Promise<string | undefined> {
  const crlFile = (await globalVariables(session, ['ssl_crl'])).get('ssl_crl');
  if (!crlFile) return undefined;
  const file = localServerFile(crlFile, 'ssl_crl', "add the new CA's CRLs to the server's");
  const text = fs.readFileSync(file, 'utf8');
  const newCa = { caPem: next.caPem(), ...(next.intermediate ? { chainPem: next.chainPem() } : {}) };
  if (!crlCoverageGap(text, newCa, file)) return undefined;
  replaceServerFile(file, `${text.trimEnd()}\n${generateCrls(next).pem}`);
  return `${file} (ssl_crl) now also holds the new CA's CRLs, so its clients pass the server's revocation check`;
}

/**
 * Rewrites the server's ssl_ca file to hold what `compute` makes of its certificates (deduplicated) and
 * reloads online. Returns a line for the report.
 */
async function rewriteServerTrust(
  session: AdminSession,
  compute: (current: CertificateInfo[]) => CertificateInfo[],
): Promise<string> {
  const vars = await globalVariables(session, ['ssl_ca']);
  const caFile = vars.get('ssl_ca');
  if (!caFile)
    return 'the server has no ssl_ca (it verifies no client certificates): nothing to change there';
  const file = localServerFile(caFile, 'ssl_ca', "update the server's trust");
  const current = parseCertificates(fs.readFileSync(file));
  const wanted = dedupe(compute(current));
  const same =
    wanted.length === current.length && wanted.every((c, i) => c.fingerprint === current[i]!.fingerprint);
  // Reloaded even when the file is right already: a run stopped between the write and the reload left
  // the server with the old trust in memory, and a reload costs nothing.
  if (!same) replaceServerFile(file, pemOf(wanted));
  const statement = await reloadTls(session);
  // The reload must leave the server serving: a probe after it fails loudly if the new file was refused.
  await probeServedCertificate(session.options.host, session.options.port);
  return same
    ? `${file} already holds the right CAs; ran ${statement}`
    : `${file} now holds ${wanted.length} CA certificate(s); ran ${statement}`;
}

async function newCa(
  caDir: string,
  state: RolloverState | undefined,
  o: StageOptions,
  now: Date,
): Promise<StageResult> {
  const active = openCa(caDir, o.passphrase);
  // The new CA is encrypted with the old one's passphrase: unlocking the old key first proves it is the
  // right one, and refuses (PASSPHRASE_REQUIRED) before next/ exists, never making a CA without one.
  if (active.meta.encrypted) active.rootKey();
  const nextDir = path.join(caDir, NEXT_DIR);
  // A CA already in next/ is from an interrupted run of this stage: keep it.
  const next = fs.existsSync(path.join(nextDir, CA_FILES.meta))
    ? openCa(nextDir, o.passphrase)
    : initCa(nextDir, {
        cn: nextCaName(active.root.subjectDer),
        org: active.meta.org,
        key: active.meta.keyAlgorithm,
        intermediate: active.meta.intermediate,
        passphrase: active.meta.encrypted ? o.passphrase : undefined,
        now,
      });
  const fresh: RolloverState = state ?? {
    version: 1,
    startedAt: now.toISOString(),
    completed: [],
    oldRoot: rootFacts(active),
    history: [],
  };
  const summary = `made ${next.root.subject} in ${nextDir}`;
  const done = completeStage({ ...fresh, newRoot: rootFacts(next) }, 'new-ca', summary, now);
  writeRolloverState(caDir, done);
  return {
    stage: 'new-ca',
    ran: true,
    summary,
    details: [`sha256 ${next.root.fingerprint}, expires ${dateText(next.root.notAfter)}`],
    state: done,
  };
}

async function trustBoth(
  caDir: string,
  state: RolloverState,
  o: StageOptions,
  now: Date,
): Promise<StageResult> {
  const session = await stageSession(o, 'trust-both', ['ssl_ca', 'ssl_crl'], caDir);
  const active = openCa(caDir);
  // The passphrase unlocks next/'s keys when its CRLs must join the server's (an encrypted CA).
  const next = openCa(path.join(caDir, NEXT_DIR), o.passphrase);
  // First what can fail on the CA's side (next/'s CRLs need its keys), then the files.
  const crl = await addCrlsOf(session, next);
  const bundle = dedupe([...caCerts(active), ...caCerts(next)]);
  const bundleFile = path.join(caDir, TRUST_BUNDLE_FILE);
  writeFileAtomic(bundleFile, pemOf(bundle), { mode: MODE_PUBLIC });
  const server = await rewriteServerTrust(session, (current) => [...current, ...caCerts(next)]);
  const summary = `clients and the server trust old + new CA (${bundleFile})`;
  const done = completeStage(state, 'trust-both', summary, now);
  writeRolloverState(caDir, done);
  return {
    stage: 'trust-both',
    ran: true,
    summary,
    details: [...(crl ? [crl] : []), server, `give clients ${bundleFile} as their CA file now`],
    state: done,
  };
}

async function reissue(
  caDir: string,
  state: RolloverState,
  o: StageOptions,
  now: Date,
): Promise<StageResult> {
  const session = await stageSession(o, 'reissue', [], caDir);
  // Under the CA lock: an issue or revoke running meanwhile would write into files that are being moved.
  let current = await withCaLockAsync(
    caDir,
    async () => {
      if (state.promotion === undefined) {
        // Before the CAs change places, what the rest of the stage needs: the new CA's key (to issue),
        // the server's rotation preflight when it serves a certificate of the old CA (privileges, its
        // files here and writable, issued by the old CA), a writable directory for the re-issued leaves.
        const incoming = openCa(path.join(caDir, NEXT_DIR), o.passphrase);
        void incoming.issuerKey;
        const served = await probeServedCertificate(session.options.host, session.options.port);
        if (readIndex(caDir).some((e) => e.fingerprint === served.fingerprint))
          await planRotation(session, incoming, { acceptIssuers: [openCa(caDir).issuer], now });
        checkWritable([{ path: o.out ?? path.join(caDir, REISSUED_DIR), what: 'the re-issued leaves' }]);
      }
      return promoteNextCa(caDir, state, (s) => writeRolloverState(caDir, s), CA_FILES.lock);
    },
    o.lockTimeoutMs,
  );
  const previousDir = path.join(caDir, PREVIOUS_DIR);
  const ca = openCa(caDir, o.passphrase);
  const old = openCa(previousDir);
  const details: string[] = [];
  const served = await probeServedCertificate(session.options.host, session.options.port);
  const servedFromOld = readIndex(previousDir).find((e) => e.fingerprint === served.fingerprint);
  if (servedFromOld) {
    const r = await rotateServerCertificate(session, ca, { acceptIssuers: [old.issuer], now });
    supersede(previousDir, r.before.serial, now);
    details.push(
      `server: re-issued ${r.names.cn} from the new CA, ran ${r.statement}, serves sha256 ${r.after.fingerprint}`,
    );
  } else {
    // A run killed after the rotation, before it marked the old certificate: marked now, not issued again.
    const renewedFrom = readIndex(caDir).find((e) => e.fingerprint === served.fingerprint)?.renewedFrom;
    if (renewedFrom) supersede(previousDir, renewedFrom, now);
    details.push('server: already serves a certificate of the new CA');
  }
  const out = o.out ?? path.join(caDir, REISSUED_DIR);
  // Leaves a killed run re-issued but did not mark yet: committed, so delivered once the journal settles.
  settlePending(caDir);
  const reissued = new Set(
    readIndex(caDir)
      .filter((e) => e.status === 'valid' && e.renewedFrom !== undefined)
      .map((e) => e.renewedFrom),
  );
  for (const e of readIndex(previousDir)) {
    if (e.status !== 'valid' || e.profile === 'intermediate' || new Date(e.notAfter) <= now) continue;
    // A directory named from the CN made safe (no '..', no separator), delivered under the CA lock.
    const dir = path.join(out, dirNameFor(e.cn, e.serial));
    if (!reissued.has(e.serial)) {
      issueCertificate(
        ca,
        { profile: e.profile, cn: e.cn, dns: e.dnsNames, ip: e.ipAddresses, now, renewedFrom: e.serial },
        leafDelivery(dir, { overwrite: true }),
      );
    }
    supersede(previousDir, e.serial, now);
    details.push(`${e.profile} ${e.cn}: re-issued into ${dir}/ (old serial ${e.serial} superseded)`);
  }
  const summary = `the new CA is active; leaves re-issued from it (old CA in ${previousDir})`;
  current = completeStage(current, 'reissue', summary, now);
  writeRolloverState(caDir, current);
  return { stage: 'reissue', ran: true, summary, details, state: current };
}

async function retireOld(
  caDir: string,
  state: RolloverState,
  o: StageOptions,
  now: Date,
): Promise<StageResult> {
  const session = await stageSession(o, 'retire-old', ['ssl_ca'], caDir);
  const previousDir = path.join(caDir, PREVIOUS_DIR);
  const details: string[] = [];
  if (fs.existsSync(previousDir)) {
    // previous/ is a CA directory of its own, which `dbtls revoke --ca-dir previous/` (the hint below) may
    // be writing: its lock is held from the check to the move, so no revocation lands in a CA in transit.
    const retired = await withCaLockAsync(
      previousDir,
      async () => {
        const left = readIndex(previousDir).filter(
          (e) => e.status === 'valid' && e.profile !== 'intermediate' && new Date(e.notAfter) > now,
        );
        if (left.length > 0) {
          throw new DbtlsError(
            'ROLLOVER_OLD_CA_IN_USE',
            `could not retire the old CA: it still has ${left.length} valid certificate(s): ${left.map((e) => `${e.profile} ${e.cn} (${e.serial})`).join(', ')}`,
            {
              hint: `re-issue each from the new CA: ${left.map((e) => issueAgainLine(e, '--ca-dir', caDir)).join('; ')}; then mark each old one superseded: ${left.map((e) => commandLine(['dbtls', 'revoke', e.serial, '--reason', 'superseded', '--ca-dir', previousDir])).join('; ')}; or wait until they expire`,
              details: { serials: left.map((e) => e.serial) },
            },
          );
        }
        const old = openCa(previousDir);
        const ca = openCa(caDir);
        const oldPrints = new Set(caCerts(old).map((c) => c.fingerprint));
        writeFileAtomic(path.join(caDir, TRUST_BUNDLE_FILE), pemOf(caCerts(ca)), { mode: MODE_PUBLIC });
        details.push(
          await rewriteServerTrust(session, (current) => [
            ...current.filter((c) => !oldPrints.has(c.fingerprint)),
            ...caCerts(ca),
          ]),
        );
        const to = path.join(
          caDir,
          RETIRED_DIR,
          `${now.toISOString().slice(0, 10)}-${old.root.fingerprint.slice(0, 8)}`,
        );
        fs.mkdirSync(path.dirname(to), { recursive: true });
        fs.renameSync(previousDir, to);
        fs.rmSync(caPath(to, 'lock'), { force: true }); // the lock moved with it
        return to;
      },
      o.lockTimeoutMs,
    );
    state = { ...state, retiredTo: retired };
    details.push(`the old CA moved to ${retired}`);
  }
  const summary = 'the old CA is out of every trust file; the rollover is complete';
  const done = completeStage(state, 'retire-old', summary, now);
  writeRolloverState(caDir, done);
  return { stage: 'retire-old', ran: true, summary, details, state: done };
}

/** Runs one stage (or reports it done). */
export async function runStage(
  caDir: string,
  stage: RolloverStage,
  o: StageOptions = {},
): Promise<StageResult> {
  const now = o.now ?? new Date();
  // What a stage killed mid-write left beside the files it writes again (issue 10 item 17).
  for (const file of [ROLLOVER_FILE, TRUST_BUNDLE_FILE]) removeStaleTemps(path.join(caDir, file));
  const state = readRolloverState(caDir);
  const decision = stageDecision(state, stage);
  if (decision === 'done') return { stage, ran: false, summary: 'already done', details: [], state: state! };
  if (stage === 'new-ca') return newCa(caDir, decision === 'restart' ? undefined : state, o, now);
  if (stage === 'trust-both') return trustBoth(caDir, state!, o, now);
  if (stage === 'reissue') return reissue(caDir, state!, o, now);
  return retireOld(caDir, state!, o, now);
}
