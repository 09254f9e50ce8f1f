/**
 * The per-user steps of `dbtls secure` and the last server-wide one: a client certificate per user,
 * REQUIRE through the lockout guard, and require_secure_transport (online and in the config fragment).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { issueCertificate } from '../../ca/issue.js';
import { leafDelivery } from '../../ca/leaf-files.js';
import type { Ca } from '../../ca/store.js';
import type { SessionCredentials } from '../../inspect/session.js';
import { dateText } from '../../util/dates.js';
import { writeFileAtomic } from '../../util/files.js';
import { alterRequireStatement, applyRequirement } from '../accounts/require.js';
import {
  accountRequirement,
  describeRequirement,
  sameRequirement,
  type TlsRequirement,
} from '../accounts/users.js';
import { type Account, type AdminSession, globalVariables, type SessionOptions } from '../admin/session.js';
import { DEFAULT_TLS_VERSIONS, editConfig, readConfigFile } from '../tls/config.js';
import { secureTransportUnsupported } from '../tls/enable.js';
import { sameContent, serverFilePaths } from '../tls/install.js';
import type { ResolvedSecureOptions, SecureOptions } from './options.js';
import { clientDir, leafProblem, readLeafFile, step, validSerials } from './plan.js';
import type { Run } from './run.js';
import {
  fileBefore,
  withCreatedDir,
  withFile,
  withIssued,
  withRequirement,
  withRequireSecureTransport,
} from './state.js';

export function clientStep(
  run: Run,
  ca: Ca | undefined,
  o: ResolvedSecureOptions,
  account: Account,
  now: Date,
): string {
  const dir = clientDir(o.out, account);
  const cert = readLeafFile(path.join(dir, 'cert.pem'));
  const problem = !ca
    ? 'the CA is new'
    : cert
      ? leafProblem({ cert, issuer: ca.issuer, validSerials: validSerials(ca.dir), now, cn: account.user })
      : 'there is none';
  if (!problem && fs.existsSync(path.join(dir, 'key.pem'))) {
    run.add(
      step(
        `client-certificate ${account.user}`,
        'unchanged',
        `${dir}/cert.pem is valid until ${dateText(cert!.notAfter)}`,
      ),
    );
    return dir;
  }
  if (run.dryRun || !ca) {
    run.add(step(`client-certificate ${account.user}`, 'planned', `issue one into ${dir}/ (${problem})`));
    return dir;
  }
  if (!fs.existsSync(dir)) run.save(withCreatedDir(run.record, dir));
  // Delivered under the CA lock: an index entry means files that were written (issue 10 item 3).
  const issued = issueCertificate(
    ca,
    { profile: 'client', cn: account.user, now },
    leafDelivery(dir, { overwrite: true }),
  );
  run.save(withIssued(run.record, issued.cert.serial));
  run.add(
    step(
      `client-certificate ${account.user}`,
      'done',
      `${dir}/ (${issued.cert.subject}, expires ${dateText(issued.cert.notAfter)})`,
    ),
  );
  return dir;
}

export async function requireStep(
  run: Run,
  session: AdminSession,
  o: ResolvedSecureOptions,
  account: Account,
  dir: string,
  caFile: string,
): Promise<void> {
  const name = `'${account.user}'@'${account.host}'`;
  const want: TlsRequirement = { type: o.requirement };
  const before = await accountRequirement(session, session.capabilities, account);
  if (sameRequirement(before, want)) {
    run.add(step(`require ${name}`, 'unchanged', `already REQUIRE ${describeRequirement(want)}`));
    return;
  }
  if (run.dryRun) {
    run.add(
      step(
        `require ${name}`,
        'planned',
        `${alterRequireStatement(account, want)} (now REQUIRE ${describeRequirement(before)}), then a login as ${name} to check it`,
      ),
    );
    return;
  }
  run.save(withRequirement(run.record, { user: account.user, host: account.host, before }));
  const result = await applyRequirement(session, {
    account,
    requirement: want,
    verify: {
      password: o.passwords?.get(account.user),
      cert: path.join(dir, 'cert.pem'),
      key: path.join(dir, 'key.pem'),
      ca: caFile,
      mode: 'verify-full',
    },
  });
  run.add(
    step(
      `require ${name}`,
      'done',
      `REQUIRE ${describeRequirement(want)} (was ${describeRequirement(before)}); a login as ${name} over ${result.verifiedOver} worked`,
    ),
  );
}

export async function secureTransportStep(
  run: Run,
  session: AdminSession,
  o: ResolvedSecureOptions,
): Promise<void> {
  const files = serverFilePaths(o.dir);
  const text = editConfig(readConfigFile(o.configFile), {
    ca: files.ca,
    cert: files.cert,
    key: files.key,
    tlsVersions: DEFAULT_TLS_VERSIONS,
    requireSecureTransport: true,
  });
  // The server has the variable (secure's preflight refused one without it): an absent value is never
  // recorded as OFF, which `secure --undo` would then try to set back.
  const now = (await globalVariables(session, ['require_secure_transport'])).get('require_secure_transport');
  if (now === undefined)
    throw secureTransportUnsupported(session.capabilities, 'run it again with --no-require-secure-transport');
  const configFile = path.resolve(o.configFile);
  if (now === 'ON' && sameContent(configFile, text)) {
    run.add(step('require-secure-transport', 'unchanged', 'already ON, and in the config fragment'));
    return;
  }
  if (run.dryRun) {
    const what = [
      ...(now !== 'ON' ? ['SET GLOBAL require_secure_transport = ON'] : []),
      ...(!sameContent(configFile, text) ? [`write require_secure_transport = ON into ${configFile}`] : []),
    ];
    run.add(step('require-secure-transport', 'planned', what.join('; ')));
    return;
  }
  run.save(withFile(withRequireSecureTransport(run.record, now), fileBefore(configFile)));
  if (now !== 'ON') await session.query('SET GLOBAL require_secure_transport = ON');
  if (!sameContent(configFile, text)) writeFileAtomic(configFile, text);
  run.add(
    step(
      'require-secure-transport',
      'done',
      `ON now and in ${configFile}: plaintext TCP logins are refused for every account`,
    ),
  );
}

export function inspectCredentials(
  o: SecureOptions,
  admin: SessionOptions,
  dirs: readonly string[],
): SessionCredentials | undefined {
  const i = o.users.findIndex((u) => o.passwords?.has(u.user));
  if (i >= 0) {
    const user = o.users[i]!;
    const dir = dirs[i]!;
    return {
      user: user.user,
      password: o.passwords?.get(user.user),
      cert: path.join(dir, 'cert.pem'),
      key: path.join(dir, 'key.pem'),
    };
  }
  return admin.socket ? undefined : { user: admin.user, password: admin.password };
}
