/**
 * A CRL given to `server enable --crl`, checked against the CA certificates the server will trust
 * (its ssl_ca) before anything is installed. With ssl_crl set, the server checks revocation at every level
 * of a client's chain (FACTS.md), and OpenSSL refuses a client certificate when one level has no CRL, or
 * only one that has run out or is not valid yet: a file that fails here would lock every X509 account
 * out at the next restart.
 */
import { DbtlsError } from '../../errors.js';
import { type CertificateInfo, parseCertificates } from '../../pki/certificate.js';
import { certificateName, dedupe } from '../../pki/chain.js';
import { crlSignedBy, readCrls } from '../../pki/crl.js';
import { dateText } from '../../util/dates.js';
import { quotedValue } from '../../util/safe-text.js';

const FRESH_CRL =
  "sign them again with the CA that issued the clients' certificates: dbtls crl --out crl.pem";

/**
 * Returns the CRL text when, at `now`, it holds a current CRL from every CA certificate the server knows:
 * those of its ssl_ca (`caPem`) and the intermediates its own chain carries (`chainPem`: clients of a
 * dbtls CA are issued by its intermediate, which is not in ssl_ca). Throws the first gap otherwise.
 */
export function checkCrlCoverage(
  crlPem: string,
  ca: { readonly caPem: string; readonly chainPem?: string },
  file: string,
  now = new Date(),
): string {
  const shown = quotedValue(file, 200);
  const crls = readCrls(crlPem, `the CRL ${shown}`);
  const cas: CertificateInfo[] = dedupe([
    ...parseCertificates(ca.caPem),
    ...(ca.chainPem ? parseCertificates(ca.chainPem) : []),
  ]).filter((c) => c.isCa);
  for (const ca of cas) {
    const own = crls
      .filter((c) => crlSignedBy(c, ca))
      .sort((a, b) => b.thisUpdate.getTime() - a.thisUpdate.getTime());
    const latest = own[0];
    const name = quotedValue(certificateName(ca));
    if (!latest) {
      const held = [...new Set(crls.map((c) => c.issuer))].join(', ');
      throw new DbtlsError(
        'CRL_MISSING',
        `could not use the CRL ${shown}: it holds no CRL signed by the CA ${name}, which the server trusts; with ssl_crl set, the server would refuse every client certificate under that CA (the file holds CRLs of ${held})`,
        { hint: `the file needs one CRL from each CA of the server's chain; ${FRESH_CRL}` },
      );
    }
    if (latest.thisUpdate > now) {
      throw new DbtlsError(
        'CRL_NOT_YET_VALID',
        `could not use the CRL ${shown}: the CRL of the CA ${name} is valid only from ${dateText(latest.thisUpdate)}; until then the server would refuse every client certificate under that CA`,
        { hint: `check this machine's clock and the CA's; ${FRESH_CRL}` },
      );
    }
    if (latest.nextUpdate && latest.nextUpdate <= now) {
      throw new DbtlsError(
        'CRL_EXPIRED',
        `could not use the CRL ${shown}: the CRL of the CA ${name} ran out on ${dateText(latest.nextUpdate)}; the server would refuse every client certificate under that CA`,
        { hint: `${FRESH_CRL} (and publish the next one before it runs out)` },
      );
    }
  }
  return crlPem;
}
