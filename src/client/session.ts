/** The facts of an established session: what was negotiated and what was verified. */
import type * as tls from 'node:tls';
import { type CertificateInfo, certificateFingerprint, parseCertificate } from '../pki/certificate.js';
import { dedupe } from '../pki/chain.js';
import type { Greeting } from '../protocol/handshake.js';
import type { SslMode } from '../tls/ssl-mode.js';
import { peerText } from '../util/safe-text.js';
import { peerChain } from './upgrade.js';

export interface SessionFacts {
  readonly encrypted: boolean;
  readonly protocol?: string;
  readonly cipher?: string;
  /** Leaf first, as node built it (the server's certificates, then the trusted CA when verified). */
  readonly peerChain: readonly CertificateInfo[];
  /** SHA-256 fingerprint of the server certificate. */
  readonly fingerprint?: string;
  /**
   * What the session is actually protected by: the requested mode, or less when `preferred` fell back
   * (`disable` = plaintext, `trust` = encrypted but unverified).
   */
  readonly verifiedAs: SslMode;
  readonly mutualTls: boolean;
  readonly serverVersion: string;
  readonly flavor: 'mariadb' | 'mysql';
  readonly connectionId: number;
  readonly authPlugin: string;
}

/** The chain the server presented as values, leaf first: upgrade.ts's peerChain, parsed. */
function parsedChain(ders: readonly Buffer[]): CertificateInfo[] {
  const chain: CertificateInfo[] = [];
  try {
    for (const der of ders) chain.push(parseCertificate(der));
  } catch {
    // A certificate our parser cannot read still secured the session (node verified it); report the
    // chain up to it rather than fail a connection that is sound.
  }
  return dedupe(chain);
}

export function sessionFacts(o: {
  greeting: Greeting;
  secure: tls.TLSSocket | undefined;
  requested: SslMode;
  mutualTls: boolean;
}): SessionFacts {
  const { greeting, secure } = o;
  const base = {
    // From the greeting, before TLS: escaped, since a peer can put anything there (issue 9, item 12).
    serverVersion: peerText(greeting.serverVersion),
    flavor: greeting.flavor,
    connectionId: greeting.connectionId,
    authPlugin: peerText(greeting.authPluginName),
  };
  if (!secure) return { ...base, encrypted: false, peerChain: [], verifiedAs: 'disable', mutualTls: false };
  const ders = peerChain(secure).chain;
  const chain = parsedChain(ders);
  // From the bytes, so a leaf our parser cannot read still has its fingerprint.
  const fingerprint = ders[0] ? certificateFingerprint(ders[0]) : undefined;
  const protocol = secure.getProtocol() ?? undefined;
  const cipher = secure.getCipher()?.name;
  return {
    ...base,
    encrypted: true,
    ...(protocol ? { protocol } : {}),
    ...(cipher ? { cipher } : {}),
    peerChain: chain,
    ...(fingerprint ? { fingerprint } : {}),
    verifiedAs: o.requested === 'preferred' ? 'trust' : o.requested,
    mutualTls: o.mutualTls,
  };
}
