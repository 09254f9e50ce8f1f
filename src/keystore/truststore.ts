/**
 * Truststores for Java clients (Connector/J `trustCertificateKeyStoreUrl`, `javax.net.ssl.trustStore`):
 * one trustedCertEntry per CA certificate, as JKS or PKCS#12.
 */
import { DbtlsError } from '../errors.js';
import type { CertificateInfo } from '../pki/certificate.js';
import { certificateName, dedupe } from '../pki/chain.js';
import type { KeystoreFormat } from './format.js';
import { writeJks } from './jks.js';
import { type Pkcs12Profile, writePkcs12Truststore } from './pkcs12.js';

export interface TruststoreInput {
  readonly format: KeystoreFormat;
  readonly cas: readonly CertificateInfo[];
  readonly password: string;
  readonly profile?: Pkcs12Profile;
}

/** An alias from the CA's CN: lower case, [a-z0-9._-], unique within the store. */
export function aliasesFor(certs: readonly CertificateInfo[]): string[] {
  const used = new Set<string>();
  return certs.map((c) => {
    const base =
      certificateName(c)
        .toLowerCase()
        .replace(/[^a-z0-9._-]+/g, '-')
        .replace(/^-+|-+$/g, '') || 'ca';
    let alias = base;
    for (let n = 2; used.has(alias); n++) alias = `${base}-${n}`;
    used.add(alias);
    return alias;
  });
}

export function writeTruststore(input: TruststoreInput): Buffer {
  const cas = dedupe(input.cas);
  if (cas.length === 0) {
    throw new DbtlsError('USAGE', 'could not write the truststore: no CA certificate given', {
      hint: 'give one or more --ca FILE',
    });
  }
  const notCa = cas.find((c) => !c.isCa);
  if (notCa) {
    throw new DbtlsError(
      'CERT_NOT_CA',
      `could not trust ${certificateName(notCa)}: it is not a CA certificate`,
      {
        hint: 'a truststore holds the CA that issued the server certificate (ca.pem), not the server certificate',
      },
    );
  }
  const aliases = aliasesFor(cas);
  if (input.format === 'jks') {
    return writeJks({
      entries: cas.map((c, i) => ({ type: 'trustedCertEntry', alias: aliases[i]!, cert: c.der })),
      storePassword: input.password,
    });
  }
  return writePkcs12Truststore({
    certs: cas.map((c, i) => ({ alias: aliases[i]!, cert: c.der })),
    password: input.password,
    ...(input.profile ? { profile: input.profile } : {}),
  });
}
