/**
 * The proxy's side of the upstream TLS: one SecureContext shared by every connection (so OpenSSL resumes
 * TLS sessions instead of a full handshake per client connection: the connect-per-query win), rebuilt when
 * the CA, certificate or key files change. A new file that does not load (unreadable, not PEM, key not
 * matching the certificate) keeps the old context and is reported; connections already open keep theirs.
 *
 * Mutual TLS prefers TLS 1.3 as the client does (client/mutual.ts): with a 1.2 floor the context offers
 * 1.3 only, so the client certificate travels encrypted. When the upstream refuses that version, a
 * handshake without a certificate verifies it and reads the version it picks: 1.3 there means someone made
 * the first attempt fail (TLS_DOWNGRADE_DETECTED); 1.2 means a verified 1.2-only server, and the context
 * offers 1.2 from then on. The session that met the refusal fails (its client's handshake response is
 * bound to that connection's scramble and cannot be replayed on another); the next one gets through.
 */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import {
  downgradeError,
  isVersionRefusal,
  prefersTls13,
  verifiedVersionWithoutCertificate,
} from '../client/mutual.js';
import { causeText, DbtlsError } from '../errors.js';
import { loadTlsMaterial, type TlsMaterial, tlsFloor } from '../tls/options.js';
import type { TlsMinVersion, TlsSettings } from '../tls/settings.js';

/** Editors and `kubectl` write in bursts (temp file, rename, symlink swap): one reload per burst. */
const RELOAD_DEBOUNCE_MS = 200;

export interface LoadedTls {
  readonly material: TlsMaterial;
  readonly context: tls.SecureContext;
  /** The lowest version the context offers (TLS 1.3 while mutual TLS prefers it). */
  readonly floor: TlsMinVersion;
  /** The client certificate's notAfter, for the expiry metric. */
  readonly clientCertNotAfter?: Date;
}

/** Reads the files and builds the context; throws DbtlsError naming the file and the fix. */
export function loadUpstreamTls(
  settings: TlsSettings,
  floor: TlsMinVersion = prefersTls13(settings) ? 'TLSv1.3' : tlsFloor(settings),
): LoadedTls {
  const material = loadTlsMaterial(settings);
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({
      minVersion: floor,
      ...(material.ca ? { ca: [...material.ca] } : {}),
      ...(material.cert ? { cert: material.cert } : {}),
      ...(material.key ? { key: material.key } : {}),
    });
  } catch (err) {
    const mismatch = /key values mismatch|KEY_VALUES_MISMATCH/i.test(causeText(err));
    throw new DbtlsError(
      mismatch ? 'KEY_MISMATCH' : 'TLS_MATERIAL_INVALID',
      mismatch
        ? `could not load the client certificate ${settings.cert}: the key ${settings.key} does not belong to it`
        : `could not load the TLS files (${[settings.ca, settings.cert, settings.key].filter(Boolean).join(', ')}): ${causeText(err)}`,
      {
        hint: mismatch
          ? 'pass the key that was issued with this certificate (both from the same dbtls issue --out DIR)'
          : 'check that each file is a PEM certificate or key (dbtls cert show FILE)',
        cause: err,
      },
    );
  }
  let clientCertNotAfter: Date | undefined;
  if (material.cert) {
    try {
      clientCertNotAfter = new Date(new X509Certificate(material.cert).validTo);
    } catch {
      // node accepted it into the context; the metric is a convenience, not a check.
    }
  }
  return { material, context, floor, ...(clientCertNotAfter ? { clientCertNotAfter } : {}) };
}

export interface UpstreamTlsEvents {
  reloaded(loaded: LoadedTls): void;
  reloadFailed(err: DbtlsError): void;
}

/** The current context, the TLS session to resume, and the file watch that replaces both. */
export class UpstreamTls {
  private loaded: LoadedTls;
  private session: Buffer | undefined;
  private readonly watchers: fs.FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: TlsSettings,
    private readonly events: UpstreamTlsEvents,
  ) {
    this.loaded = loadUpstreamTls(settings);
  }

  get current(): LoadedTls {
    return this.loaded;
  }

  /** The last session a handshake produced on the current context, if any. */
  get resumable(): Buffer | undefined {
    return this.session;
  }

  /** Keeps the newest session ticket of `context` (one shared ticket: TLS 1.2 and 1.3 tickets are reusable). */
  remember(context: tls.SecureContext, session: Buffer): void {
    if (context === this.loaded.context) this.session = session;
  }

  /** Re-reads the files now; true when the new ones are in use. */
  reload(): boolean {
    try {
      this.loaded = loadUpstreamTls(this.settings, this.loaded.floor);
      // A resumed session would present the OLD client certificate (the server keeps it in the session).
      this.session = undefined;
      this.events.reloaded(this.loaded);
      return true;
    } catch (err) {
      this.events.reloadFailed(
        err instanceof DbtlsError
          ? err
          : new DbtlsError('TLS_MATERIAL_INVALID', `could not reload the TLS files: ${causeText(err)}`, {
              cause: err,
            }),
      );
      return false;
    }
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
    if (this.loaded.floor === 'TLSv1.3') {
      this.loaded = loadUpstreamTls(this.settings, tlsFloor(this.settings));
      this.session = undefined;
    }
    return err;
  }

  /** Watches the directories of the files (a rename or a Kubernetes symlink swap replaces the inode). */
  watch(): void {
    const files = [this.settings.ca, this.settings.cert, this.settings.key].filter(
      (f): f is string => f !== undefined && f !== 'system',
    );
    const dirs = new Map<string, Set<string>>();
    for (const f of files) {
      const dir = path.dirname(path.resolve(f));
      const names = dirs.get(dir) ?? new Set<string>();
      names.add(path.basename(f));
      dirs.set(dir, names);
    }
    for (const [dir, names] of dirs) {
      const w = fs.watch(dir, { persistent: false }, (_event, name) => {
        if (name === null || names.has(String(name)) || String(name).startsWith('..')) this.schedule();
      });
      w.on('error', () => {});
      this.watchers.push(w);
    }
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reload();
    }, RELOAD_DEBOUNCE_MS);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
  }
}
