/**
 * `dbtls crl --install ADMIN_TARGET`: the CA's CRL installed next to the server's certificate (where its
 * @@ssl_cert lives) at a stable path, then FLUSH SSL so that new connections are checked against it.
 * ssl_crl is read-only at run time (FACTS.md): when the server does not read that path yet, the file is
 * installed and the answer says a restart is needed (after `server enable --crl` writes the fragment).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbtlsError } from '../../errors.js';
import { ensureDir, MODE_PUBLIC, writeFileAtomic } from '../../util/files.js';
import { quotedValue } from '../../util/safe-text.js';
import { shellQuote } from '../../util/shell.js';
import { checkPrivileges, checkWritable } from '../admin/preflight.js';
import { type AdminSession, globalVariables } from '../admin/session.js';
import { readTlsLiveness } from '../flavor.js';
import { currentLeaf } from '../rotation/plan.js';
import { certDirOf } from '../secure/paths.js';
import { crlCoverageGap } from './crl-check.js';
import { crlPath } from './enable.js';
import { sameContent, serverFilePaths, sweepTempFiles } from './install.js';
import { onlineReload, probeServedCertificate, reloadTls } from './reload.js';

export interface CrlInstallResult {
  readonly path: string;
  readonly written: boolean;
  /** The reload statement run, when the server already reads this path. */
  readonly statement: string | undefined;
  /** Why a restart is needed before the server checks this CRL (undefined when it does now). */
  readonly restartNeeded: string | undefined;
  /** The other CAs of a CA rollover whose CRLs the file holds too (their directories). */
  readonly alsoFrom: readonly string[];
}

/** What `crl --install` will do, every check passed before the CA publishes anything. */
export interface CrlInstallPlan {
  readonly path: string;
  /** The statement to run after writing (the server reads this path and TLS is live). */
  readonly statement: string | undefined;
  readonly restartNeeded: string | undefined;
  /** The rollover partners (given to planCrlInstall) whose CRLs must be installed too. */
  readonly partners: readonly string[];
}

/** A CA whose CRLs may go into the file: its directory, and its CRLs as they would be published now. */
export interface CrlSource {
  readonly dir: string;
  readonly preview: () => string;
}

/**
 * Checks everything `crl --install` needs before anything is published or written: the CRLs of `own`
 * (and, during a CA rollover, of the `partners` that are needed) must cover every CA the server trusts,
 * or it would refuse every client under the others; the admin's privileges; a writable target; an online
 * reload when the server reads that path.
 */
export async function planCrlInstall(
  session: AdminSession,
  own: CrlSource,
  partners: readonly CrlSource[],
  o: { readonly dir?: string | undefined } = {},
): Promise<CrlInstallPlan> {
  const file = crlPath(serverFilePaths(await certDirOf(session, o.dir)));
  const vars = await globalVariables(session, ['ssl_crl', 'ssl_ca', 'ssl_cert']);
  const current = vars.get('ssl_crl');
  const local = (variable: string) => {
    const f = vars.get(variable);
    return f && fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : undefined;
  };
  const caPem = local('ssl_ca');
  const chainPem = local('ssl_cert');
  const gapOf = (pem: string) =>
    caPem ? crlCoverageGap(pem, { caPem, ...(chainPem ? { chainPem } : {}) }, file) : undefined;
  const ownPem = own.preview();
  let needed: CrlSource[] = [];
  let gap = gapOf(ownPem);
  if (gap && partners.length > 0) {
    // A CA rollover in progress: ssl_ca holds the other CA too, and dbtls holds its key.
    needed = [...partners];
    gap = gapOf(ownPem + needed.map((p) => p.preview()).join(''));
  }
  if (gap) {
    throw gap.reworded({
      message: gap.message.replace(
        /^could not use the CRL [^:]*: /,
        `could not install this CA's CRLs as ${quotedValue(file, 200)}: `,
      ),
      hint: `the server trusts a CA that is not this CA${partners.length > 0 ? ' nor the other CA of its rollover' : ''}: install a file holding a current CRL of every CA in ${vars.get('ssl_ca')} by hand, or give the --ca-dir of the CA that issued it`,
    });
  }
  // TLS liveness the way this server answers it (MySQL 8.4 has no have_ssl: issue 11 item 7).
  const live = (await readTlsLiveness(session)).live;
  const cert = vars.get('ssl_cert');
  if (cert && o.dir === undefined) {
    // The CRL goes next to the server's certificate: that file must be on this machine and be the one
    // served, or the CRL would land on another machine's disk while this server is reloaded.
    if (!fs.existsSync(cert)) {
      throw new DbtlsError(
        'SERVER_FILES_NOT_LOCAL',
        `could not install the CRL: the server's certificate ${quotedValue(cert, 200)} is not on this machine; nothing was changed`,
        {
          hint: 'run it on the server host, or pass --dir with the directory the server reads its files from',
        },
      );
    }
    if (live)
      currentLeaf(
        cert,
        await probeServedCertificate(session.options.host, session.options.port),
        "install the CRL next to the server's certificate",
      );
  }
  const reads = current === file;
  const restartNeeded = reads
    ? undefined
    : `the server's ssl_crl is ${current || '(none)'}, not ${file}; it is read-only at run time: run the \`dbtls server enable\` that set up TLS here again with \`--crl ${shellQuote(file)}\` added (it writes ssl_crl to the config fragment), then restart the server`;
  await checkPrivileges(session, 'rotate');
  checkWritable([{ path: file, what: 'the CRL' }]);
  const statement =
    reads && live ? onlineReload(session, `install the CRL as ${quotedValue(file, 200)}`) : undefined;
  return { path: file, statement, restartNeeded, partners: needed.map((p) => p.dir) };
}

/** Writes the CRLs (`pem`, as planned: the CA's own, then the partners') and reloads when planned. */
export async function installCrl(
  session: AdminSession,
  plan: CrlInstallPlan,
  pem: string,
): Promise<CrlInstallResult> {
  ensureDir(path.dirname(plan.path));
  sweepTempFiles(path.dirname(plan.path));
  const written = !sameContent(plan.path, pem);
  if (written) writeFileAtomic(plan.path, pem, { mode: MODE_PUBLIC });
  if (plan.statement) await reloadTls(session);
  return {
    path: plan.path,
    written,
    statement: plan.statement,
    restartNeeded: plan.restartNeeded,
    alsoFrom: plan.partners,
  };
}
