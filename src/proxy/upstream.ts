/**
 * The proxy's side of the upstream TLS: one SecureContext shared by every connection (so OpenSSL resumes
 * TLS sessions instead of a full handshake per client connection: the connect-per-query win), rebuilt when
 * the CA, certificate or key files change (reloadable.ts).
 *
 * Mutual TLS prefers TLS 1.3 as the client does (client/mutual.ts): with a 1.2 floor the context offers
 * 1.3 only, so the client certificate travels encrypted. When the upstream refuses that version, a
 * handshake without a certificate verifies it and reads the version it picks: 1.3 there means someone made
 * the first attempt fail (TLS_DOWNGRADE_DETECTED); 1.2 means a verified 1.2-only server, and the context
 * offers 1.2 from then on. The session that met the refusal fails (its client's handshake response is
 * bound to that connection's scramble and cannot be replayed on another); the next one gets through.
 */
import * as tls from 'node:tls';
import {
  downgradeError,
  isVersionRefusal,
  prefersTls13,
  verifiedVersionWithoutCertificate,
} from '../client/mutual.js';
import { causeText, DbtlsError } from '../errors.js';
import { loadTlsMaterial, type TlsMaterial, tlsFloor } from '../tls/options.js';
import type { TlsSettings } from '../tls/settings.js';
import type { SecureTlsVersion } from '../tls/versions.js';
import { Reloadable, type ReloadEvents } from './reloadable.js';

export interface LoadedTls {
  readonly material: TlsMaterial;
  readonly context: tls.SecureContext;
  /** The lowest version the context offers (TLS 1.3 while mutual TLS prefers it). */
  readonly floor: SecureTlsVersion;
  /** The client certificate's notAfter, for the expiry metric. */
  readonly clientCertNotAfter?: Date;
}

/** Reads the files and builds the context; throws DbtlsError naming the file and the fix. */
export function loadUpstreamTls(
  settings: TlsSettings,
  floor: SecureTlsVersion = prefersTls13(settings) ? 'TLSv1.3' : tlsFloor(settings),
): LoadedTls {
  const material = loadTlsMaterial(settings); // the client certificate checked against its key there
  const clientCert = material.clientCertificate; // for its expiry metric
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({
      minVersion: floor,
      ...(material.ca ? { ca: [...material.ca] } : {}),
      ...(material.cert ? { cert: material.cert } : {}),
      ...(material.key ? { key: material.key } : {}),
    });
  } catch (err) {
    throw new DbtlsError(
      'TLS_MATERIAL_INVALID',
      `could not load the TLS files (${[settings.ca, settings.cert, settings.key].filter(Boolean).join(', ')}): ${causeText(err)}`,
      { hint: 'check that each file is a PEM certificate or key (dbtls cert show FILE)', cause: err },
    );
  }
  return { material, context, floor, ...(clientCert ? { clientCertNotAfter: clientCert.notAfter } : {}) };
}

export type UpstreamTlsEvents = ReloadEvents<LoadedTls>;

/** The current context, the TLS session to resume, and the file watch that replaces both (reloadable.ts). */
/**
 * A resumable session is replaced this often even while it keeps resuming: well inside the ticket lifetime
 * servers announce (OpenSSL's default session timeout is 2 hours), so the next handshake does not offer an
 * expired ticket and fall back to a full one.
 */
const SESSION_REFRESH_MS = 30_000;

export class UpstreamTls extends Reloadable<LoadedTls> {
  private session: Buffer | undefined;
  private sessionAt = 0;

  constructor(
    private readonly settings: TlsSettings,
    events: UpstreamTlsEvents,
    /** The floor an earlier handshake learned (a connection test that met a verified 1.2-only server). */
    floor?: SecureTlsVersion,
  ) {
    super(
      (previous) => loadUpstreamTls(settings, previous?.floor ?? floor),
      [settings.ca, settings.cert, settings.key].filter(
        (f): f is string => f !== undefined && f !== 'system',
      ),
      events,
    );
  }

  /** The last session a handshake produced on the current context, if any. */
  get resumable(): Buffer | undefined {
    return this.session;
  }

  /** Keeps the newest session ticket of `context` (one shared ticket: TLS 1.2 and 1.3 tickets are reusable). */
  remember(context: tls.SecureContext, session: Buffer): void {
    if (context !== this.current.context) return;
    this.session = session;
    this.sessionAt = Date.now();
  }

  /** Whether a handshake that resumed should still hand over its new session tickets. */
  wantsSession(): boolean {
    return this.session === undefined || Date.now() - this.sessionAt > SESSION_REFRESH_MS;
  }

  protected override replaced(): void {
    // A resumed session would present the OLD client certificate (the server keeps it in the session).
    this.session = undefined;
  }

  /**
   * The error to report for a handshake on `loaded` that failed with `err`: a refusal of TLS 1.3 under
   * mutual TLS is checked without a certificate (see the top of this file); anything else is `err`.
   */
  async afterFailure(
    err: unknown,
    loaded: LoadedTls,
    upstream: { readonly host: string; readonly port: number; readonly timeoutMs: number },
  ): Promise<unknown> {
    if (loaded.floor !== 'TLSv1.3' || !prefersTls13(this.settings) || !isVersionRefusal(err)) return err;
    let picked: string;
    try {
      picked = await verifiedVersionWithoutCertificate(
        { ...upstream, tls: this.settings },
        upstream.timeoutMs,
      );
    } catch (verification) {
      return verification;
    }
    if (picked === 'TLSv1.3') return downgradeError(upstream);
    if (this.current.floor === 'TLSv1.3')
      this.replace(loadUpstreamTls(this.settings, tlsFloor(this.settings)));
    return err;
  }
}
