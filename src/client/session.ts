/** The facts of an established session: what was negotiated and what was verified. */
import type * as tls from 'node:tls';
import { type CertificateInfo, certificateFingerprint, parseCertificate } from '../pki/certificate.js';
import type { Greeting } from '../protocol/handshake.js';
import type { SslMode } from '../tls/ssl-mode.js';
import { peerText } from '../util/safe-text.js';

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

/** The chain the server presented, leaf first (node links it through issuerCertificate). */
export function sessionPeerChain(socket: tls.TLSSocket): CertificateInfo[] {
  const chain: CertificateInfo[] = [];
  const seen = new Set<string>();
  for (let cert = socket.getPeerCertificate(true); cert?.raw; cert = cert.issuerCertificate) {
    let info: CertificateInfo;
    try {
      info = parseCertificate(cert.raw);
    } catch {
      // A certificate our parser cannot read still secured the session (node verified it); report the
      // chain up to it rather than fail a connection that is sound.
      break;
    }
    if (seen.has(info.fingerprint)) break; // node links a self-signed root to itself
    seen.add(info.fingerprint);
    chain.push(info);
  }
  return chain;
}

/** SHA-256 of the server certificate's DER, lowercase hex without colons. */
function leafFingerprint(socket: tls.TLSSocket): string | undefined {
  const raw = socket.getPeerCertificate(false)?.raw;
  return raw ? certificateFingerprint(raw) : undefined;
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
  const chain = sessionPeerChain(secure);
  const fingerprint = leafFingerprint(secure);
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
