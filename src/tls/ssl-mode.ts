/**
 * The ssl-mode model: DESIGN.md's two tables as frozen data, the single source of truth that the
 * client, the snippets, the Kubernetes output and the docs all read.
 *
 * Table 1 (modes):
 *   disable      encrypts no          chain –    hostname –    aliases DISABLED, false
 *   preferred    encrypts if offered  chain no   hostname no   aliases PREFERRED (falls back to plaintext: never
 *                                                                the default, always reported as insecure)
 *   trust        encrypts yes         chain no   hostname no   aliases REQUIRED, require
 *   verify-ca    encrypts yes         chain yes  hostname no   aliases VERIFY_CA
 *   verify-full  encrypts yes         chain yes  hostname yes  aliases VERIFY_IDENTITY
 *
 * Table 2 (what a combination needs): a CA certificate for verify-ca and verify-full; with mutual TLS also a
 * client certificate, its key, a keystore and the keystore passwords (for Java clients). Mutual TLS is valid
 * only with verify-ca and verify-full: presenting a client certificate to a server you have not verified
 * proves your identity to whoever sits in the middle.
 */
import { DbtlsError } from '../errors.js';

export type SslMode = 'disable' | 'preferred' | 'trust' | 'verify-ca' | 'verify-full';
/** The mutual TLS settings, as the CLI, DSNs and values files name them (parseMutualTls reads more spellings). */
export const MUTUAL_TLS_SETTINGS = Object.freeze(['enable', 'disable'] as const);
export type MutualTls = (typeof MUTUAL_TLS_SETTINGS)[number];

export interface ModeSpec {
  readonly mode: SslMode;
  readonly encrypts: 'no' | 'if-offered' | 'yes';
  readonly verifiesChain: boolean;
  readonly verifiesHostname: boolean;
  readonly aliases: readonly string[];
  /** True when the mode both encrypts for sure and authenticates the server (verify-ca, verify-full). */
  readonly secure: boolean;
}

function spec(s: ModeSpec): ModeSpec {
  return Object.freeze({ ...s, aliases: Object.freeze([...s.aliases]) });
}

/** DESIGN.md "The ssl-mode model", table 1. */
export const SSL_MODES: Readonly<Record<SslMode, ModeSpec>> = Object.freeze({
  disable: spec({
    mode: 'disable',
    encrypts: 'no',
    verifiesChain: false,
    verifiesHostname: false,
    aliases: ['DISABLED', 'false'],
    secure: false,
  }),
  preferred: spec({
    mode: 'preferred',
    encrypts: 'if-offered',
    verifiesChain: false,
    verifiesHostname: false,
    aliases: ['PREFERRED'],
    secure: false,
  }),
  trust: spec({
    mode: 'trust',
    encrypts: 'yes',
    verifiesChain: false,
    verifiesHostname: false,
    aliases: ['REQUIRED', 'require'],
    secure: false,
  }),
  'verify-ca': spec({
    mode: 'verify-ca',
    encrypts: 'yes',
    verifiesChain: true,
    verifiesHostname: false,
    aliases: ['VERIFY_CA'],
    secure: true,
  }),
  'verify-full': spec({
    mode: 'verify-full',
    encrypts: 'yes',
    verifiesChain: true,
    verifiesHostname: true,
    aliases: ['VERIFY_IDENTITY'],
    secure: true,
  }),
});

/** Every mode, weakest first (the order of the table). */
export const SSL_MODE_NAMES: readonly SslMode[] = Object.freeze([
  'disable',
  'preferred',
  'trust',
  'verify-ca',
  'verify-full',
]);

/** The default when nothing is configured: secure by default (verify-full), DESIGN.md. */
export const DEFAULT_SSL_MODE: SslMode = 'verify-full';

/** True for the modes that must never send a credential byte before verified TLS (DESIGN.md security rules). */
export function requiresTls(mode: SslMode): boolean {
  return SSL_MODES[mode].encrypts === 'yes';
}

/** The modes that never fall back to plaintext: the only ones the proxy, which exists to add TLS, accepts. */
export const TLS_REQUIRED_MODES: readonly SslMode[] = Object.freeze(SSL_MODE_NAMES.filter(requiresTls));

/** SSL_MODE_INVALID unless `mode` is one of TLS_REQUIRED_MODES: the proxy and the sidecar that runs it. */
export function checkProxyMode(mode: SslMode, what = 'start the proxy'): void {
  if (requiresTls(mode)) return;
  throw new DbtlsError(
    'SSL_MODE_INVALID',
    `could not ${what} with ssl-mode ${mode}: it would relay in plaintext`,
    {
      hint: 'use --ssl-mode verify-full (the default) with --ca FILE',
    },
  );
}

/** All but `preferred`, whose silent fallback can send a password in clear: for admin sessions and k8s values. */
export const SSL_MODES_WITHOUT_FALLBACK: readonly Exclude<SslMode, 'preferred'>[] = Object.freeze(
  SSL_MODE_NAMES.filter((m): m is Exclude<SslMode, 'preferred'> => SSL_MODES[m].encrypts !== 'if-offered'),
);

function normalize(text: string): string {
  return text.trim().toLowerCase().replace(/_/g, '-');
}

const BY_NAME: ReadonlyMap<string, SslMode> = new Map(
  SSL_MODE_NAMES.flatMap((mode) => [
    [normalize(mode), mode] as const,
    ...SSL_MODES[mode].aliases.map((a) => [normalize(a), mode] as const),
  ]),
);

/** A mode from its name or any alias, case-insensitively (`VERIFY_IDENTITY`, `verify_full`, `require`...). */
export function parseSslMode(text: string): SslMode {
  const mode = BY_NAME.get(normalize(text));
  if (mode === undefined) {
    const accepted = SSL_MODE_NAMES.map((m) => [m, ...SSL_MODES[m].aliases].join('|')).join(', ');
    throw new DbtlsError(
      'SSL_MODE_UNKNOWN',
      `could not read the ssl-mode ${JSON.stringify(text)}: it is not a known mode`,
      {
        hint: `use one of ${accepted}`,
        details: { value: text },
      },
    );
  }
  return mode;
}

/** `enable`/`disable`, and the spellings configs use for booleans (true/false, on/off, yes/no, 1/0). */
export function parseMutualTls(text: string): MutualTls {
  const t = text.trim().toLowerCase();
  if (['enable', 'enabled', 'true', 'on', 'yes', '1'].includes(t)) return 'enable';
  if (['disable', 'disabled', 'false', 'off', 'no', '0'].includes(t)) return 'disable';
  throw new DbtlsError(
    'MUTUAL_TLS_UNKNOWN',
    `could not read the mutual TLS setting ${JSON.stringify(text)}: expected enable or disable`,
    {
      hint: 'use mutualTls=enable or mutualTls=disable',
      details: { value: text },
    },
  );
}

export type Material =
  | 'caCertificate'
  | 'clientCertificate'
  | 'clientKey'
  | 'clientKeystore'
  | 'keystorePasswords';

/** Human names of each material, in table order, for messages and docs. */
export const MATERIAL_NAMES: Readonly<Record<Material, string>> = Object.freeze({
  caCertificate: 'CA certificate',
  clientCertificate: 'client certificate',
  clientKey: 'client key',
  clientKeystore: 'client keystore (JKS/PKCS#12, for Java clients)',
  keystorePasswords: 'keystore passwords secret',
});

const NOTHING: readonly Material[] = Object.freeze([]);
const CA_ONLY: readonly Material[] = Object.freeze(['caCertificate']);
const MUTUAL: readonly Material[] = Object.freeze([
  'caCertificate',
  'clientCertificate',
  'clientKey',
  'clientKeystore',
  'keystorePasswords',
]);

/** DESIGN.md table 2. Throws SSL_MODE_INVALID for a combination that table does not allow. */
export function requiredMaterial(mode: SslMode, mutualTls: MutualTls): readonly Material[] {
  checkCombination(mode, mutualTls);
  if (!SSL_MODES[mode].verifiesChain) return NOTHING;
  return mutualTls === 'enable' ? MUTUAL : CA_ONLY;
}

/** Mutual TLS is valid only with verify-ca and verify-full (DESIGN.md). */
export function checkCombination(mode: SslMode, mutualTls: MutualTls): void {
  if (mutualTls === 'disable' || SSL_MODES[mode].verifiesChain) return;
  const why =
    mode === 'disable' || mode === 'preferred'
      ? `ssl-mode ${mode} may send no TLS at all, so there is no handshake to present a client certificate in`
      : `ssl-mode ${mode} does not verify the server, so the client certificate would prove your identity to whoever answers, an attacker in the middle included`;
  throw new DbtlsError('SSL_MODE_INVALID', `could not use ssl-mode ${mode} with mutual TLS: ${why}`, {
    hint: 'choose ssl-mode verify-full (or verify-ca) with mutual TLS enable, or turn mutual TLS off',
    details: { mode, mutualTls },
  });
}
