/**
 * Certificate profiles as frozen data (STYLE.md §7), applied by the one issue function in src/ca/issue.ts.
 * Extension choices follow RFC 5280 §4.2.1 and what `openssl verify -x509_strict` demands.
 */

export type ProfileName = 'root' | 'intermediate' | 'server' | 'client';
export type LeafProfileName = 'server' | 'client';

/** Bit positions of KeyUsage (RFC 5280 §4.2.1.3). */
export const KEY_USAGE_BITS = Object.freeze({
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
});
export type KeyUsageName = keyof typeof KEY_USAGE_BITS;

/** ExtendedKeyUsage purposes (RFC 5280 §4.2.1.12). */
export const EXTENDED_KEY_USAGE_OIDS = Object.freeze({
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
});
export type ExtendedKeyUsageName = keyof typeof EXTENDED_KEY_USAGE_OIDS;

export interface Profile {
  readonly name: ProfileName;
  readonly ca: boolean;
  /** basicConstraints pathLenConstraint; a CA may sign at most this many CA levels below it. */
  readonly pathLength?: number;
  readonly keyUsage: readonly KeyUsageName[];
  /** Added when the subject key is RSA: TLS 1.2 RSA key exchange encrypts to it (RFC 5246 §7.4.7.1). */
  readonly rsaExtraKeyUsage: readonly KeyUsageName[];
  readonly extendedKeyUsage: readonly ExtendedKeyUsageName[];
  readonly defaultDays: number;
  /** The CN is a host name or IP and is repeated as a SAN: clients match SANs only (RFC 6125 §6.4.4). */
  readonly cnInSan: boolean;
}

export const PROFILES: Readonly<Record<ProfileName, Profile>> = Object.freeze({
  // pathLen 1: the root may certify one intermediate, which may certify only leaves.
  root: Object.freeze({
    name: 'root',
    ca: true,
    pathLength: 1,
    keyUsage: Object.freeze(['keyCertSign', 'cRLSign'] as const),
    rsaExtraKeyUsage: Object.freeze([] as const),
    extendedKeyUsage: Object.freeze([] as const),
    defaultDays: 3650,
    cnInSan: false,
  }),
  intermediate: Object.freeze({
    name: 'intermediate',
    ca: true,
    pathLength: 0,
    keyUsage: Object.freeze(['keyCertSign', 'cRLSign'] as const),
    rsaExtraKeyUsage: Object.freeze([] as const),
    extendedKeyUsage: Object.freeze([] as const),
    defaultDays: 1825,
    cnInSan: false,
  }),
  // 397 days: the CA/Browser Forum ceiling for TLS leaves, which many clients also apply to private CAs.
  server: Object.freeze({
    name: 'server',
    ca: false,
    keyUsage: Object.freeze(['digitalSignature'] as const),
    rsaExtraKeyUsage: Object.freeze(['keyEncipherment'] as const),
    extendedKeyUsage: Object.freeze(['serverAuth'] as const),
    defaultDays: 397,
    cnInSan: true,
  }),
  // clientAuth is mandatory: MySQL refuses client certificates whose EKU lacks it (FACTS.md).
  client: Object.freeze({
    name: 'client',
    ca: false,
    keyUsage: Object.freeze(['digitalSignature'] as const),
    rsaExtraKeyUsage: Object.freeze(['keyEncipherment'] as const),
    extendedKeyUsage: Object.freeze(['clientAuth'] as const),
    defaultDays: 397,
    cnInSan: false,
  }),
});

const DAY_MS = 86_400_000;
export const daysToMs = (days: number): number => days * DAY_MS;
