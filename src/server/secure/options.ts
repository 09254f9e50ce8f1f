/**
 * What `dbtls secure` is asked to do (src/server/secure/secure.ts), apart from the orchestration so that
 * its steps (ca.ts, steps.ts) can name the options without importing the module that runs them.
 */
import type { InitOptions } from '../../ca/init.js';
import type { Account } from '../admin/session.js';

export interface SecureOptions {
  readonly caDir: string;
  /** The CA passphrase (to open it, or to encrypt a new one). */
  readonly passphrase?: string | undefined;
  /** How to make the CA when there is none. */
  readonly newCa?: Omit<InitOptions, 'passphrase'> | undefined;
  readonly users: readonly Account[];
  readonly requirement: 'SSL' | 'X509';
  /** Client certificates go to DIR/<user>/. */
  readonly out: string;
  /**
   * The server's certificate directory (stable paths). Default: where the server's @@ssl_cert lives, as
   * rotate does (issue 10, item 12), or DEFAULT_CERT_DIR while TLS is off.
   */
  readonly dir?: string | undefined;
  /** The config fragment. Default: DEFAULT_CONFIG_FILE when the server reads it, else ssl-config.cnf in
   * the last directory its option files include. */
  readonly configFile?: string | undefined;
  /** The option file the server reads first; default: found from the running server (src/server/option-files.ts). */
  readonly serverConfig?: string | undefined;
  readonly dns?: readonly string[] | undefined;
  readonly ip?: readonly string[] | undefined;
  readonly requireSecureTransport: boolean;
  /** Restarts the server and resolves once it is back (needed for the first enablement on MariaDB). */
  readonly restart?: (() => Promise<void>) | undefined;
  /** Users' passwords by user name, for the login that checks each REQUIRE (the lockout guard). */
  readonly passwords?: ReadonlyMap<string, string> | undefined;
  readonly inspect?: boolean | undefined;
  readonly now?: Date | undefined;
  /** Plan only: print what would be done, change nothing (no file, no index line, no SQL that writes). */
  readonly dryRun?: boolean | undefined;
}

/** The resolved options: the paths decided from the server (src/server/secure/paths.ts). */
export type ResolvedSecureOptions = SecureOptions & { readonly dir: string; readonly configFile: string };
