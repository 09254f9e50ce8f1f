/**
 * The first two steps of `dbtls secure`: the CA (opened, or created) and the server certificate (the one
 * installed when it is still right, else a new one). In a dry run neither creates anything: the steps say
 * what would be done.
 */
import * as fs from 'node:fs';
import { initCa } from '../../ca/init.js';
import { issueCertificate } from '../../ca/issue.js';
import { type Ca, caExists, openCa } from '../../ca/store.js';
import { dateText } from '../../util/dates.js';
import { serverFilePaths } from '../tls/install.js';
import type { ServerMaterial } from '../tls/material.js';
import type { ResolvedSecureOptions, SecureOptions } from './options.js';
import { leafProblem, readLeafFile, type serverNames, step, trustPem, validSerials } from './plan.js';
import type { Run } from './run.js';
import { withIssued } from './state.js';

export function openOrCreateCa(run: Run, o: SecureOptions): Ca | undefined {
  if (caExists(o.caDir)) {
    const ca = openCa(o.caDir, o.passphrase);
    run.add(step('ca', 'unchanged', `using the CA in ${ca.dir} (${ca.root.subject})`));
    return ca;
  }
  if (run.dryRun) {
    run.add(step('ca', 'planned', `create a new CA in ${o.caDir}`));
    return undefined;
  }
  const ca = initCa(o.caDir, { ...o.newCa, passphrase: o.passphrase });
  run.save({ ...run.record, createdCa: true });
  run.add(step('ca', 'done', `created a new CA in ${ca.dir} (${ca.root.subject})`));
  return ca;
}

/** The server certificate to install: the one in place when it is right, else a new one. */
export function serverMaterial(
  run: Run,
  ca: Ca | undefined,
  o: ResolvedSecureOptions,
  names: ReturnType<typeof serverNames>,
  now: Date,
): ServerMaterial | undefined {
  const files = serverFilePaths(o.dir);
  const installed = readLeafFile(files.cert);
  const all = [...names.dns, ...names.ip].join(', ');
  if (!ca) {
    run.add(step('server-certificate', 'planned', `issue one from the new CA for ${all}`));
    return undefined;
  }
  const problem = installed
    ? leafProblem({ cert: installed, issuer: ca.issuer, validSerials: validSerials(ca.dir), now, names })
    : 'there is none';
  const existingCa = fs.existsSync(files.ca) ? fs.readFileSync(files.ca, 'utf8') : '';
  // Keep a trust file that already holds our CA (a rollover bundle, say); else trust our CA.
  const caPem = existingCa.includes(ca.root.pem.trim()) ? existingCa : trustPem(ca);
  if (!problem && fs.existsSync(files.key)) {
    run.add(
      step(
        'server-certificate',
        'unchanged',
        `${files.cert} is valid for ${all} until ${dateText(installed!.notAfter)}`,
      ),
    );
    return {
      certPem: fs.readFileSync(files.cert, 'utf8'),
      keyPem: fs.readFileSync(files.key, 'utf8'),
      caPem,
    };
  }
  if (run.dryRun) {
    run.add(
      step('server-certificate', 'planned', `issue one for ${all} (the one in ${files.cert}: ${problem})`),
    );
    return undefined;
  }
  const issued = issueCertificate(ca, { profile: 'server', cn: names.cn, dns: names.dns, ip: names.ip, now });
  run.save(withIssued(run.record, issued.cert.serial));
  run.add(
    step(
      'server-certificate',
      'done',
      `issued for ${all}, expires ${dateText(issued.cert.notAfter)} (the old one: ${problem})`,
    ),
  );
  return { certPem: issued.chainPem, keyPem: issued.keyPem!, caPem };
}
