/**
 * `dbtls crl --install ADMIN_TARGET`: the CA's CRL installed next to the server's certificate (where its
 * @@ssl_cert lives) at a stable path, then FLUSH SSL so that new connections are checked against it.
 * ssl_crl is read-only at run time (FACTS.md): when the server does not read that path yet, the file is
 * installed and the answer says a restart is needed (after `server enable --crl` writes the fragment).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MODE_PUBLIC, writeFileAtomic } from '../../util/files.js';
import { quotedValue } from '../../util/safe-text.js';
import { checkPrivileges, checkWritable } from '../admin/preflight.js';
import { type AdminSession, globalVariables } from '../admin/session.js';
import { readTlsLiveness } from '../flavor.js';
import { certDirOf } from '../secure/paths.js';
import { crlCoverageGap } from './crl-check.js';
import { crlPath } from './enable.js';
import { sameContent, serverFilePaths, sweepTempFiles } from './install.js';
import { reloadTls } from './reload.js';

export interface CrlInstallResult {
  readonly path: string;
  readonly written: boolean;
  /** The reload statement run, when the server already reads this path. */
  readonly statement: string | undefined;
  /** Why a restart is needed before the server checks this CRL (undefined when it does now). */
  readonly restartNeeded: string | undefined;
  readonly dryRun: boolean;
}

export async function installCrl(
  session: AdminSession,
  crlPem: string,
  o: { readonly dir?: string | undefined; readonly dryRun?: boolean | undefined } = {},
): Promise<CrlInstallResult> {
  const file = crlPath(serverFilePaths(await certDirOf(session, o.dir)));
  const vars = await globalVariables(session, ['ssl_crl', 'ssl_ca', 'ssl_cert']);
  const current = vars.get('ssl_crl');
  // The CRLs must cover every CA the server trusts, or it refuses every client under the others (during
  // a CA rollover's trust-both stage, say, ssl_ca holds two CAs and this CA's CRLs cover one).
  const local = (variable: string) => {
    const f = vars.get(variable);
    return f && fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : undefined;
  };
  const caPem = local('ssl_ca');
  const chainPem = local('ssl_cert');
  const gap = caPem ? crlCoverageGap(crlPem, { caPem, ...(chainPem ? { chainPem } : {}) }, file) : undefined;
  if (gap) {
    throw gap.reworded({
      message: gap.message.replace(
        /^could not use the CRL [^:]*: /,
        `could not install this CA's CRLs as ${quotedValue(file, 200)}: `,
      ),
      hint: `the server trusts a CA whose CRL this CA cannot sign (during a CA rollover, both CAs): install a file holding a current CRL of every CA in ${vars.get('ssl_ca')} by hand, or finish the rollover first (dbtls rotate --ca-rollover --status)`,
    });
  }
  const reads = current === file;
  const restartNeeded = reads
    ? undefined
    : `the server's ssl_crl is ${current || '(none)'}, not ${file}; it is read-only at run time: run \`dbtls server enable … --crl ${file}\` to put it in the config fragment, then restart the server`;
  const base = { path: file, restartNeeded, dryRun: o.dryRun === true };
  if (o.dryRun)
    return { ...base, written: false, statement: reads ? session.capabilities.reloadStatement : undefined };
  await checkPrivileges(session, 'rotate');
  checkWritable([{ path: file, what: 'the CRL' }]);
  sweepTempFiles(path.dirname(file));
  const written = !sameContent(file, crlPem);
  if (written) writeFileAtomic(file, crlPem, { mode: MODE_PUBLIC });
  // TLS liveness the way this server answers it (MySQL 8.4 has no have_ssl: issue 11 item 7).
  const statement = reads && (await readTlsLiveness(session)).live ? await reloadTls(session) : undefined;
  return { ...base, written, statement };
}
