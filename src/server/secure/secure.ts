/**
 * `dbtls secure` and `dbtls secure --undo`: the steps of src/server/secure-plan.ts run against a server.
 * Every step looks before it acts, so a second run reports "unchanged" everywhere and touches nothing;
 * what a step changes is recorded (src/server/secure-state.ts) before it is changed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { caPath } from '../../ca/store.js';
import { inspect } from '../../inspect/inspect.js';
import type { InspectReport } from '../../inspect/report.js';
import { shortFingerprint } from '../../pki/certificate.js';
import { checkAccountChangeable } from '../accounts/require.js';
import { accountRequirement } from '../accounts/users.js';
import { checkPrivileges, checkWritable } from '../admin/preflight.js';
import {
  type Account,
  type AdminSession,
  globalVariables,
  openAdminSession,
  type SessionOptions,
} from '../admin/session.js';
import { tlsVariableNames } from '../flavor.js';
import { DEFAULT_TLS_VERSIONS, readConfigFile } from '../tls/config.js';
import {
  type EnableOptions,
  type EnablePlan,
  enableTls,
  planEnable,
  secureTransportUnsupported,
} from '../tls/enable.js';
import { sameContent, serverFilePaths, serverOwner } from '../tls/install.js';
import { checkMaterial, type ServerMaterial } from '../tls/material.js';
import { probeServedCertificate } from '../tls/reload.js';
import { openOrCreateCa, serverMaterial } from './ca.js';
import type { ResolvedSecureOptions, SecureOptions } from './options.js';
import { resolveSecurePaths } from './paths.js';
import { clientDir, type SecureStep, serverNames, step } from './plan.js';
import { openSecureAdmin, Run, withSteps } from './run.js';
import { fileBefore, withFile, withMadeDir } from './state.js';
import { clientStep, inspectCredentials, requireStep, secureTransportStep } from './steps.js';

export type { ResolvedSecureOptions, SecureOptions };

export interface SecureResult {
  readonly steps: readonly SecureStep[];
  readonly caDir: string;
  /** The file verify-full clients pass as their CA. */
  readonly caFile: string;
  readonly serverFingerprint: string | undefined;
  readonly clients: readonly { readonly account: Account; readonly dir: string }[];
  readonly report?: InspectReport | undefined;
  /** Something is left to do by hand (a restart). */
  readonly pending: boolean;
  readonly changed: boolean;
  /** Nothing was changed: the steps say what would be done ('planned'). */
  readonly dryRun?: boolean | undefined;
}

/** enable: files, config, reload or restart, proof. Returns the session to go on with (new after a restart). */
async function enableStep(
  run: Run,
  session: AdminSession,
  o: ResolvedSecureOptions,
  material: ServerMaterial | undefined,
  caFile: string,
): Promise<AdminSession | undefined> {
  const files = serverFilePaths(o.dir);
  const vars = await globalVariables(session, tlsVariableNames(session.capabilities));
  const enable: EnableOptions = {
    files,
    configFile: o.configFile,
    existingConfig: readConfigFile(o.configFile),
    // A dry run without a certificate yet plans with empty material: the plan's decisions do not read it.
    material: material ?? { certPem: '', keyPem: '', caPem: '' },
    tlsVersions: DEFAULT_TLS_VERSIONS,
    // Written into the fragment by the require-secure-transport step, once users are on TLS.
    requireSecureTransport: o.requireSecureTransport && vars.get('require_secure_transport') === 'ON',
  };
  const plan = planEnable(session.capabilities, vars, enable);
  if (!material) return planEnableStep(run, session, o, plan);
  const { fingerprint } = checkMaterial(material);
  const shown = shortFingerprint(fingerprint);
  const filesSame =
    sameContent(files.key, material.keyPem) &&
    sameContent(files.cert, material.certPem) &&
    sameContent(files.ca, material.caPem) &&
    sameContent(plan.config.path, plan.config.text);
  if (filesSame && !plan.restartRequired) {
    const served = await probeServedCertificate(session.options.host, session.options.port);
    if (served.fingerprint === fingerprint) {
      run.add(step('enable', 'unchanged', `the server serves ${shown} from ${files.cert}`));
      return session;
    }
  }
  if (run.dryRun) return planEnableStep(run, session, o, plan);
  let record = run.record;
  for (const file of [files.key, files.cert, files.ca, plan.config.path])
    record = withFile(record, fileBefore(file));
  run.save(record);
  // The restart ends every session: close ours first, so its end is ours and not a connection error.
  let closed = false;
  const outer = o.restart;
  const restart = outer
    ? async () => {
        closed = true;
        await session.close().catch(() => undefined);
        await outer();
      }
    : undefined;
  const result = await enableTls(session, enable, { restart, owner: serverOwner() });
  if (result.restartPending) {
    run.add(
      step(
        'enable',
        'pending',
        `files and ${plan.config.path} written; restart the server to load them (${plan.reasons.join('; ')})`,
      ),
    );
    // Nothing more can be done on this server until it restarts: the caller goes on without a session.
    await session.close();
    return undefined;
  }
  const how = result.restarted ? 'restarted the server' : `ran ${plan.statements.join('; ')}`;
  run.add(step('enable', 'done', `installed in ${files.dir}, ${how}; it now serves ${shown}`));
  if (!result.restarted) return session;
  if (!closed) await session.close();
  // The server now serves a certificate from our CA: an --admin-ca given for the old one no longer applies.
  const o2 = session.options;
  return openAdminSession(o2.socket ? o2 : { ...o2, tls: { ...o2.tls, mode: 'verify-full', ca: caFile } });
}

/** The dry run's enable step: what would be written, and the reload or restart that would follow. */
async function planEnableStep(
  run: Run,
  session: AdminSession,
  o: ResolvedSecureOptions,
  plan: EnablePlan,
): Promise<AdminSession | undefined> {
  const files = serverFilePaths(o.dir);
  const then = plan.restartRequired
    ? `restart the server${o.restart ? ' (--restart-command)' : ' (by you: no --restart-command)'}: ${plan.reasons.join('; ')}`
    : `run ${plan.statements.join('; ')}`;
  run.add(
    step(
      'enable',
      'planned',
      `write ${files.key}, ${files.cert}, ${files.ca} and ${plan.config.path}, then ${then}`,
    ),
  );
  if (!plan.restartRequired || o.restart) return session;
  await session.close();
  return undefined;
}

/** Records the directories this run is about to create (before anything is written into them). */
function recordMadeDirs(run: Run, o: ResolvedSecureOptions): void {
  let record = run.record;
  for (const dir of [o.dir, path.dirname(o.configFile), o.out].map((d) => path.resolve(d))) {
    if (!fs.existsSync(dir)) record = withMadeDir(record, dir);
  }
  if (record !== run.record) run.save(record);
}

/**
 * `dbtls secure`. Nothing changes before the admin session is open, the server's option files are known to
 * read the fragment, and every account exists. A failure carries the steps done so far (details.steps).
 */
export async function secure(admin: SessionOptions, options: SecureOptions): Promise<SecureResult> {
  const now = options.now ?? new Date();
  const caDir = path.resolve(options.caDir);
  const run = new Run(caDir, `${admin.host}:${admin.port}`, options.dryRun === true);
  const caFile = caPath(caDir, 'root');
  let session: AdminSession | undefined;
  const dirs: string[] = [];
  let report: InspectReport | undefined;
  let fingerprint: string | undefined;
  try {
    session = await openSecureAdmin(admin, caFile);
    const paths = await resolveSecurePaths(session, options);
    const o: ResolvedSecureOptions = { ...options, caDir, dir: paths.dir, configFile: paths.configFile };
    // Every account must exist, the admin hold the privileges and the paths be writable before anything changes.
    for (const account of o.users) {
      await accountRequirement(session, session.capabilities, account);
      await checkAccountChangeable(session, account);
    }
    if (o.requireSecureTransport && !session.capabilities.requireSecureTransport)
      throw secureTransportUnsupported(
        session.capabilities,
        'run it again with --no-require-secure-transport',
      );
    await checkPrivileges(session, 'secure', { setsGlobal: o.requireSecureTransport });
    checkWritable([
      { path: caDir, what: 'the CA directory' },
      { path: o.dir, what: "the server's certificate directory" },
      { path: o.configFile, what: 'the config fragment' },
      { path: o.out, what: 'the client certificate directory' },
    ]);
    const ca = openOrCreateCa(run, o);
    recordMadeDirs(run, o);
    const [row] = await session.query('SELECT @@hostname AS hostname');
    const names = serverNames(admin.host, String(row?.hostname ?? ''), o.dns, o.ip);
    const material = serverMaterial(run, ca, o, names, now);
    if (material) fingerprint = checkMaterial(material).fingerprint;
    session = await enableStep(run, session, o, material, caFile);
    for (const account of o.users) dirs.push(clientStep(run, ca, o, account, now));
    if (!session) {
      for (const account of o.users)
        run.add(step(`require '${account.user}'@'${account.host}'`, 'skipped', 'waits for the restart'));
    } else {
      for (const [i, account] of o.users.entries())
        await requireStep(run, session, o, account, dirs[i]!, caFile);
      if (o.requireSecureTransport) await secureTransportStep(run, session, o);
      if (o.inspect !== false && !run.dryRun) {
        report = await inspect(
          { host: admin.host, port: admin.port },
          { ca: caFile, credentials: inspectCredentials(o, session.options, dirs), now },
        );
        const worst = report.findings[0];
        run.add(
          step(
            'inspect',
            'done',
            worst
              ? `${report.findings.length} finding(s), the worst ${worst.severity}: ${worst.id}`
              : 'no findings',
          ),
        );
      }
    }
  } catch (err) {
    throw withSteps(err, run.steps);
  } finally {
    await session?.close().catch(() => undefined);
  }
  return {
    steps: run.steps,
    caDir,
    caFile,
    serverFingerprint: fingerprint,
    clients: options.users.map((account, i) => ({
      account,
      dir: dirs[i] ?? clientDir(options.out, account),
    })),
    report,
    pending: run.steps.some((s) => s.status === 'pending'),
    changed: run.changed,
    dryRun: run.dryRun,
  };
}
