/**
 * A CRL given to `server enable --crl`, checked against the CA certificates the server will know before
 * anything is installed. With ssl_crl set, the server checks revocation at every level of a client's
 * chain (FACTS.md), and OpenSSL refuses a client certificate when one level has no complete CRL current
 * now, from an issuer that may sign CRLs, without a critical extension it does not handle: a file that
 * fails here would lock every X509 account under that CA out at the next restart.
 */
import { DbtlsError } from '../../errors.js';
import type { CertificateInfo } from '../../pki/certificate.js';
import { certificateName, dedupe, readCertificates } from '../../pki/chain.js';
import { type CrlInfo, crlNames, crlSignedBy, readCrls } from '../../pki/crl.js';
import { dateText } from '../../util/dates.js';
import { quotedValue } from '../../util/safe-text.js';
import { commandLine } from '../../util/shell.js';

/** Paths are shown whole up to this many characters. */
const PATH_SHOWN = 200;

/** The CA certificates a server knows, and the dbtls CA directory they come from when there is one. */
export interface CrlScope {
  /** The server's ssl_ca. */
  readonly caPem: string;
  /** The server's own chain: its intermediates issue clients too (a dbtls CA's are not in ssl_ca). */
  readonly chainPem?: string;
  /** The dbtls CA directory (server enable --issue): the hint then signs fresh CRLs from it. */
  readonly caDir?: string;
}

/**
 * Refuses the CRL file unless, at `now`, each CA certificate of the scope (every trust anchor of ssl_ca,
 * and every CA of the server's chain) has a complete CRL in it that is current, as OpenSSL chooses
 * CRLs: any current one counts, whatever else the file holds.
 */
export function checkCrlCoverage(crlPem: string, scope: CrlScope, file: string, now = new Date()): void {
  const gap = crlCoverageGap(crlPem, scope, file, now);
  if (gap) throw gap;
}

/** The first CA of the scope the CRL file leaves uncovered, as the error checkCrlCoverage throws; undefined when none. */
export function crlCoverageGap(
  crlPem: string,
  scope: CrlScope,
  file: string,
  now = new Date(),
): DbtlsError | undefined {
  const shown = quotedValue(file, PATH_SHOWN);
  const crls = readCrls(crlPem, `the CRL ${shown}`);
  const anchors = readCertificates(scope.caPem, 'the CA certificate');
  const chain = scope.chainPem ? readCertificates(scope.chainPem, "the server's chain") : [];
  const issuers = dedupe([...anchors, ...chain.filter((c) => c.isCa)]);
  const fix = scope.caDir
    ? `sign current ones: ${commandLine(['dbtls', 'crl', '--out', 'crl.pem', '--ca-dir', scope.caDir])}, and pass --crl crl.pem`
    : 'put a current CRL signed by each CA the server trusts into the file (a dbtls CA writes them all with: dbtls crl --out crl.pem)';
  for (const issuer of issuers) {
    const gap = issuerGap(issuer, crls, { shown, fix, now });
    if (gap) return gap;
  }
  return undefined;
}

function issuerGap(
  issuer: CertificateInfo,
  crls: readonly CrlInfo[],
  o: { readonly shown: string; readonly fix: string; readonly now: Date },
): DbtlsError | undefined {
  const name = quotedValue(certificateName(issuer), 120);
  const refuse = (code: 'CRL_MISSING' | 'CRL_EXPIRED' | 'CRL_NOT_YET_VALID', why: string, hint = o.fix) =>
    new DbtlsError(code, `could not use the CRL ${o.shown}: ${why}`, { hint });
  const lockout = 'the server would refuse every client certificate under that CA';
  if (issuer.keyUsage.length > 0 && !issuer.keyUsage.includes('cRLSign')) {
    return refuse(
      'CRL_MISSING',
      `the CA ${name} may not sign CRLs (its keyUsage lacks cRLSign), so no CRL of it counts; with ssl_crl set, ${lockout}`,
      'leave --crl out for this CA: revocation checking needs a CA whose certificate allows cRLSign',
    );
  }
  const named = crls.filter((c) => crlNames(c, issuer));
  const own = named.filter((c) => crlSignedBy(c, issuer));
  const critical = own.find((c) => c.unhandledCritical !== undefined);
  if (critical) {
    return refuse(
      'CRL_MISSING',
      `the CRL of the CA ${name} carries the critical extension ${critical.unhandledCritical}, which OpenSSL does not handle; ${lockout}`,
    );
  }
  const complete = own.filter((c) => c.partial === undefined);
  const current = complete.filter((c) => c.thisUpdate <= o.now && !(c.nextUpdate && c.nextUpdate <= o.now));
  if (current.length > 0) return undefined;
  if (complete.length === 0) {
    const held = [...new Set(crls.map((c) => quotedValue(c.issuer, 120)))];
    const why =
      own.length > 0
        ? `its only CRL from the CA ${name} is ${own[0]!.partial}, which OpenSSL does not take as the CA's CRL`
        : named.length > 0
          ? `the CRL naming the CA ${name} as its issuer is not signed by that CA's key (or with an algorithm dbtls cannot check)`
          : `it holds no CRL signed by the CA ${name}, which the server trusts (it holds CRLs of ${held.slice(0, 5).join(', ')}${held.length > 5 ? `, and ${held.length - 5} more` : ''})`;
    return refuse('CRL_MISSING', `${why}; with ssl_crl set, ${lockout}`);
  }
  const newest = [...complete].sort((a, b) => b.thisUpdate.getTime() - a.thisUpdate.getTime())[0]!;
  const started = complete.filter((c) => c.thisUpdate <= o.now);
  if (started.length === 0) {
    return refuse(
      'CRL_NOT_YET_VALID',
      `the CRL of the CA ${name} is valid only from ${dateText(newest.thisUpdate)}; until then ${lockout}`,
      `check this machine's clock and the CA's; ${o.fix}`,
    );
  }
  const latest = [...started].sort((a, b) => b.nextUpdate!.getTime() - a.nextUpdate!.getTime())[0]!;
  return refuse(
    'CRL_EXPIRED',
    `the CRL of the CA ${name} ran out on ${dateText(latest.nextUpdate!)}; ${lockout}`,
    `${o.fix}; publish the next one before it runs out`,
  );
}
