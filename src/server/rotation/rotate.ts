/**
 * Leaf rotation without a restart: the server's certificate is re-issued from the CA with the same names
 * and a new key (src/server/rotate-plan.ts decides what and checks first), installed as a new generation
 * behind the server's paths and switched in one rename (src/server/served-pair.ts), and made live with the
 * online reload (FLUSH SSL / ALTER INSTANCE RELOAD TLS). Sessions already open keep their TLS state; new
 * connections get the new certificate (FACTS.md, MariaDB). A reload or proof that fails switches back and
 * reloads again, so the server never stays on files it cannot serve.
 */
import { createPrivateKey } from 'node:crypto';
import { issueCertificate } from '../../ca/issue.js';
import { retireCertificates } from '../../ca/revoke.js';
import type { IssuedCertificate } from '../../ca/sign-leaf.js';
import type { Ca } from '../../ca/store.js';
import { causeText, DbtlsError } from '../../errors.js';
import { parseCertificates } from '../../pki/certificate.js';
import { keyMatches } from '../../pki/chain.js';
import type { KeyAlgorithm } from '../../pki/keys.js';
import type { AdminSession } from '../admin/session.js';
import { proveServed, reloadTls, type ServedCertificate } from '../tls/reload.js';
import {
  convert,
  pairLayout,
  prune,
  readPair,
  switchTo,
  withPairLock,
  writeGeneration,
} from '../tls/served-pair.js';
import {
  type CertificateSummary,
  certificateSummary,
  planRotation,
  type RotateOptions,
  type ServedFiles,
  type ServerNames,
} from './plan.js';

export interface RotateResult {
  readonly files: ServedFiles;
  readonly names: ServerNames;
  readonly keyAlgorithm: KeyAlgorithm;
  readonly before: CertificateSummary;
  readonly after: CertificateSummary;
  readonly statement: string;
  readonly served: ServedCertificate;
}

/**
 * Marks `serial` superseded in a CA index (RFC 5280 reason superseded): the old leaf no longer counts as
 * valid, which is what lets the CA rollover retire its CA. A serial the index does not hold is ignored.
 */
export function supersede(caDir: string, serial: string, now: Date): void {
  retireCertificates(caDir, [serial], 'superseded', now);
}

/**
 * Installs the new pair as a new generation, switches both paths at once (src/server/served-pair.ts) and
 * reloads; on a failed reload or proof switches back to the previous generation and reloads again. At no
 * instant do the paths name a key and a certificate that do not match.
 */
export async function installAndReload(
  session: AdminSession,
  files: ServedFiles,
  issued: Pick<IssuedCertificate, 'chainPem' | 'keyPem' | 'cert'>,
): Promise<{ statement: string; served: ServedCertificate }> {
  if (!issued.keyPem) {
    throw new DbtlsError(
      'KEY_MISSING',
      'could not install the new certificate: no private key was issued with it',
    );
  }
  const layout = pairLayout(files);
  const current = readPair(files);
  const currentSerial = parseCertificates(current.cert)[0]?.serial ?? 'original';
  const previous = convert(layout, current, currentSerial);
  const next = writeGeneration(
    layout,
    issued.cert.serial,
    { cert: issued.chainPem, key: issued.keyPem },
    current,
  );
  switchTo(layout, next);
  const { host, port } = session.options;
  try {
    const statement = await reloadTls(session);
    const served = await proveServed(host, port, issued.cert.fingerprint);
    prune(layout, [previous, next]);
    return { statement, served };
  } catch (err) {
    switchTo(layout, previous);
    let restored = 'the old key and certificate were switched back';
    try {
      await reloadTls(session);
      restored += ' and reloaded';
    } catch (reloadErr) {
      restored += `, but reloading them failed too (${causeText(reloadErr)})`;
    }
    throw new DbtlsError(
      'ROTATE_FAILED',
      `could not rotate the server certificate: ${causeText(err)}; ${restored}`,
      {
        hint: 'check the server error log; the new certificate was marked void in the CA index (never delivered)',
        cause: err,
      },
    );
  }
}

/** `dbtls rotate`: re-issue the served certificate with the same names and a new key, online. */
export async function rotateServerCertificate(
  session: AdminSession,
  ca: Ca,
  o: RotateOptions = {},
): Promise<RotateResult> {
  const now = o.now ?? new Date();
  const plan = await planRotation(session, ca, o);
  void ca.issuerKey; // unlocked (or PASSPHRASE_REQUIRED) before the rotation directory or the index changes
  const { files, names, keyAlgorithm } = plan;
  return withPairLock(pairLayout(files), async () => {
    retireCertificates(ca.dir, plan.orphans, 'void', now);
    retireCertificates(ca.dir, plan.superseded, 'superseded', now);
    const issued = issueCertificate(ca, {
      profile: 'server',
      cn: names.cn,
      dns: [...names.dns],
      ip: [...names.ip],
      subjectPrefix: names.subjectPrefix,
      key: keyAlgorithm,
      now,
      renewedFrom: plan.before.serial,
      ...(o.days === undefined ? {} : { days: o.days }),
    });
    if (!issued.keyPem || !keyMatches(issued.cert, createPrivateKey(issued.keyPem))) {
      throw new DbtlsError(
        'KEY_MISMATCH',
        'could not install the new certificate: its key does not match it',
      );
    }
    let result: { statement: string; served: ServedCertificate };
    try {
      result = await installAndReload(session, files, issued);
    } catch (err) {
      // Never delivered: the index must not keep it as a valid certificate whose key is gone.
      retireCertificates(ca.dir, [issued.cert.serial], 'void', now);
      throw err;
    }
    supersede(ca.dir, plan.before.serial, now);
    return {
      files,
      names,
      keyAlgorithm,
      before: plan.before,
      after: certificateSummary(issued.cert),
      statement: result.statement,
      served: result.served,
    };
  });
}
