/**
 * The one error type of dbtls. Every failure the user can act on is a DbtlsError with a stable `code`
 * (tests and scripts match on it), a message of the form "could not <verb> <object>: <cause>", and a
 * `hint` naming the next step. The CLI renders it as `error[CODE]: message` + `hint: …`.
 *
 * The codes are a closed list, ERROR_CODES below: each with its kind (the exit status) and a one-line
 * meaning. docs/errors.md is generated from it (scripts/errors-doc.ts); a code not listed does not compile.
 */

/**
 * What kind of failure, which decides the CLI's exit code (DESIGN.md): 1 a check failed, 2 usage or bad
 * input (nothing was changed; fix the command), 3 a runtime failure (a server that went away or refused,
 * a revert that failed, an I/O error: the command was right, the world was not).
 */
export type ErrorKind = 'input' | 'check' | 'runtime';

/** The CLI exit code of each kind: a script tells "fix my command" (2) from "retry or repair" (3). */
export const EXIT_CODES: Readonly<Record<ErrorKind, number>> = Object.freeze({
  check: 1,
  input: 2,
  runtime: 3,
});

interface CodeSpec<K extends ErrorKind> {
  readonly kind: K;
  readonly meaning: string;
}
const check = (meaning: string): CodeSpec<'check'> => ({ kind: 'check', meaning });
const input = (meaning: string): CodeSpec<'input'> => ({ kind: 'input', meaning });
const runtime = (meaning: string): CodeSpec<'runtime'> => ({ kind: 'runtime', meaning });

/** Every error code dbtls raises, in alphabetical order: its kind (exit status) and what it means. */
export const ERROR_CODES = Object.freeze({
  ACCOUNT_INVALID: input('an account name cannot be parsed or used as a directory name'),
  ACCOUNT_NOT_FOUND: input('the server has no account user@host of that name'),
  ADMIN_ACCOUNT_PROTECTED: input('a REQUIRE change would apply to the account the admin session itself uses'),
  ALIAS_DUPLICATE: input('two keystore entries have the same alias'),
  ALIAS_INVALID: input('a keystore alias that JKS cannot store'),
  ALREADY_REVOKED: input('the certificate was revoked before'),
  AUTH_FAILED: check('the server refused the login (user, password or REQUIRE)'),
  BATCH_FAILED: runtime('a worker of a --cn-from batch failed'),
  BUNDLE_CERT_EXPIRED: input('a certificate given to bundle is past its notAfter date'),
  BUNDLE_INCOMPLETE: check("bundle --verify: a certificate's issuer is not in the bundle"),
  BUNDLE_LINK_BROKEN: input('a bundle holds an issuer of that name whose signature does not verify'),
  CANCELLED: runtime('the prompt for a secret was cancelled'),
  CA_CORRUPT: input('a file of the CA directory is missing or cannot be parsed'),
  CA_EXISTS: input('ca init on a directory that already holds a CA'),
  CA_NOT_FOUND: input('the CA directory holds no CA (or its ca init was interrupted)'),
  CA_UNREADABLE: input('a file of the CA directory cannot be read (its permissions)'),
  CERT_EXPIRED: check("the server's certificate is outside its validity period"),
  CERT_MALFORMED: input('a certificate file cannot be parsed'),
  CERT_NAMES_MISSING: input('the certificate to re-issue has no CN and no SAN'),
  CERT_NAMES_UNSAFE: input('the certificate to re-issue has a CN that is not one of its SANs'),
  CERT_NOT_CA: input('a certificate given as a CA is not a CA certificate'),
  CERT_NOT_FOUND: input('no delivered leaf certificate of this CA has that serial or CN'),
  CERT_NOT_FROM_CA: input("the server's certificate was not issued by this CA"),
  CERT_NOT_SERVED: check('after a reload the server still serves another certificate'),
  CERT_REVOKED: input('the certificate to renew is revoked'),
  CERT_UNTRUSTED: check("the server's certificate does not chain to the CA given"),
  CHAIN_BROKEN: input('the chain or CA file given does not link the certificate to its issuers'),
  CLIENT_CERT_REJECTED: check('the server refused the client certificate during the handshake'),
  CLIENT_NAME_CLASH: input('two cert-manager client Certificates would get the same name'),
  CLOUD_PROVIDER_UNSUPPORTED: input('no CA bundle of that cloud provider ships with dbtls'),
  CLOUD_REGION_UNKNOWN: input('no RDS CA certificates for that region'),
  CN_DUPLICATE: input('a --cn-from list, or the CSRs of one `dbtls sign`, name the same CN twice'),
  CN_INVALID: input(
    'a common name that is empty, too long, holds control characters or \\xHH, or cannot be a directory',
  ),
  CONFIG_NOT_INCLUDED: input('the config fragment is not among the option files the server reads'),
  CONFIG_VALUE_INVALID: input("a value for the server's option file holds a line break"),
  CONNECTION_CLOSED: runtime('the server closed the connection before the expected packet'),
  CONNECTION_FAILED: runtime('a connection could not be opened (a network error other than the ones below)'),
  CONNECTION_LOST: runtime('the connection broke while running SQL'),
  CONNECTION_REFUSED: runtime('nothing listens on that host and port'),
  CONNECT_TIMEOUT: runtime('the server did not answer in time'),
  CRL_DAYS_INVALID: input('a CRL validity out of range'),
  CRL_EXPIRED: input('a CRL for the server has run out (its nextUpdate is past)'),
  CRL_MALFORMED: input('a CRL file holds no PEM CRL, or one that does not parse'),
  CRL_MISSING: input('a CA the server trusts has no CRL in the file given for ssl_crl'),
  CRL_NOT_YET_VALID: input('a CRL for the server is valid only from a later time (its thisUpdate)'),
  CSR_CN_MULTIPLE: input('a CSR subject holds more than one CN'),
  CSR_MALFORMED: input('a CSR cannot be parsed or lacks a CN'),
  CSR_REQUESTS_CA: input('a CSR asks for a CA certificate'),
  CSR_SIGNATURE_INVALID: input("a CSR's signature does not verify or uses an unsupported algorithm"),
  DAYS_BEYOND_ISSUER: input("the validity asked for ends after the issuing CA's"),
  DAYS_INVALID: input('a validity that is not a whole number of days from 1'),
  DER_MALFORMED: input('DER bytes that cannot be decoded'),
  DIR_INVALID: input('a directory given (the CA directory) does not exist or is a file'),
  DNS_NAME_INVALID: input('a DNS name that is not a valid host name'),
  ENABLE_FAILED: runtime(
    'the server did not take the new TLS files; the previous ones were put back (or not: see the message)',
  ),
  EXPORTER_CONFIG_INVALID: input("the exporter's config file cannot be parsed"),
  FILE_NOT_FOUND: input('an input file does not exist'),
  FILE_NOT_REGULAR: input('an input file is a directory, device, FIFO or socket'),
  FILE_UNREADABLE: input('an input file cannot be read'),
  FLEET_CONCURRENCY_INVALID: input('a concurrency or connection bound that is not a whole number from 1'),
  HOSTNAME_MISMATCH: check("the server's certificate does not name the host dialled"),
  HOST_NOT_FOUND: runtime('the host name does not resolve'),
  INSPECT_FAILED: runtime('an unexpected failure inspecting one target of a fleet (a bug in dbtls)'),
  INVALID_PORT: input('a port outside 1-65535'),
  IP_INVALID: input('an IP address that is neither IPv4 nor IPv6'),
  ISSUER_MISMATCH: input("an issuer of another kind or namespace than the cert-manager manifest's"),
  ISSUER_NOT_FOUND: input('a cert-manager manifest without the issuer named (or with several, none named)'),
  ISSUER_REQUIRED: input('a KubeDB change-issuer request without the new issuer'),
  KEYSTORE_MALFORMED: input('a PKCS#12 or JKS file cannot be parsed'),
  KEYSTORE_NO_KEY: input('a keystore holds no private key entry'),
  KEYSTORE_PASSWORD_WRONG: input('the keystore or key password is wrong (or the file was altered)'),
  KEYSTORE_UNSUPPORTED: input('a keystore uses an algorithm or layout dbtls does not read'),
  KEY_ALGORITHM_MISMATCH: input('the key given is not of the algorithm asked for'),
  KEY_ALGORITHM_UNKNOWN: input('a key algorithm dbtls does not make or read'),
  KEY_CURVE_UNSUPPORTED: input(
    'an EC key on a curve other than P-256, P-384 or P-521 (secp256k1, brainpool)',
  ),
  KEY_ENCRYPTED: input('a key is encrypted where a plain one is needed'),
  KEY_MALFORMED: input('a private key file cannot be parsed'),
  KEY_MISMATCH: input('a key does not belong to its certificate'),
  KEY_MISSING: runtime('the issuance returned no private key'),
  KEY_PASSPHRASE_REQUIRED: input('a key is encrypted and no passphrase was given'),
  KEY_PASSPHRASE_WRONG: input('the passphrase does not decrypt the key'),
  KEY_TOO_WEAK: input('an RSA key below 2048 bits'),
  LISTEN_FAILED: runtime('the address to listen on could not be bound'),
  LISTEN_INVALID: input('a --listen address that cannot be parsed'),
  LISTEN_NOT_LOOPBACK: input(
    'a plaintext listener on a non-loopback address without --allow-remote-plaintext',
  ),
  LOCKED: runtime('another dbtls process holds the lock'),
  LOCKOUT_PREVENTED: check('the account could not log in under its new REQUIRE, so the change was reverted'),
  MANIFEST_INVALID: input('a Kubernetes manifest given to read back is not YAML'),
  MARIADB_NOT_INSTALLED: runtime('the sandbox needs mariadbd, which is not installed'),
  MATERIAL_MISSING: input('the ssl-mode needs a file (CA, client certificate, keystore) that was not given'),
  MODULE_UNKNOWN: input('the exporter has no module of that name'),
  MUTUAL_TLS_UNKNOWN: input('a mutual TLS setting other than enable or disable'),
  MYCNF_INCLUDE_LOOP: input('an option file includes itself or nests too deep'),
  MYCNF_MALFORMED: input('an option file cannot be parsed'),
  NAMESPACE_INVALID: input('a Kubernetes namespace that is not a DNS-1123 label'),
  NAMES_EMPTY: input('a --cn-from list with no name'),
  NAME_INVALID: input(
    'a name with forbidden characters: a subject field, or a Kubernetes name against its rule (label, subdomain)',
  ),
  NOT_A_DIRECTORY: input('a part of an output path is a file'),
  ORG_INVALID: input('a CA organisation (--org) that is empty, too long or holds what a common name may not'),
  OUTPUT_CONFLICT: input('two outputs of one command would go to the same place'),
  OUTPUT_EXISTS: input('an output file exists, or an output directory already holds the files to write'),
  OUTPUT_INVALID: input('the directory of an output path does not exist'),
  OUTPUT_NOT_A_FILE: input('an output path is a device, FIFO, socket or directory'),
  PACKAGE_FILE_MISSING: runtime('a file that ships with dbtls is missing from the installed package'),
  PASSPHRASE_EMPTY: input('an empty CA passphrase'),
  PASSPHRASE_MISMATCH: input('the two entries of a prompted secret differ'),
  PASSPHRASE_REQUIRED: input('the CA key is encrypted (or is to be) and no passphrase was given'),
  PASSPHRASE_TOO_LONG: input('a passphrase over 1,024 bytes'),
  PASSWORD_EMPTY: input('an empty password'),
  PASSWORD_REQUIRED: input('a keystore password is needed and none was given'),
  PATH_INVALID: input('a path given cannot be used (too long, a loop, not writable)'),
  PEM_MALFORMED: input('PEM text that cannot be parsed'),
  PERMISSION_DENIED: input('this user may not write where asked'),
  PRIVILEGES_MISSING: input('the admin account lacks a privilege the operation needs'),
  PRIV_MALFORMED: runtime('mysql.global_priv holds an account with invalid JSON'),
  PROBE_FAILED: runtime('the TLS probe of the server failed'),
  PROFILE_INVALID: input('a profile line that cannot be read (no value, a control character, a key twice)'),
  PROFILE_KEY_UNKNOWN: input('a profile key that dbtls does not know'),
  PROFILE_SECRET: input('a secret (password, passphrase) written in the profile instead of a file'),
  PROTOCOL_MALFORMED: check('a MySQL packet that is short, oversized or not MySQL at all'),
  PROTOCOL_PACKET_TOO_LARGE: runtime('a packet to send does not fit one frame'),
  PROXYSQL_VALUE_INVALID: input('a value for ProxySQL holds a control character'),
  PROXY_AUTH_MALFORMED: check("the client's RSA-encrypted password cannot be decrypted"),
  PROXY_CLIENT_CLOSED: runtime('the client closed the connection before logging in'),
  PROXY_CLIENT_TIMEOUT: runtime('the client did not complete its handshake in time'),
  PROXY_CLIENT_TLS: check("the client's TLS on the local leg failed or is not offered"),
  PROXY_FAILED: runtime('relaying a connection failed'),
  PROXY_MAX_CONNECTIONS: runtime('the proxy is at --max-connections'),
  PROXY_PREWARM_MISMATCH: runtime(
    'a client answered a prewarmed connection with other capabilities and cannot be asked again',
  ),
  PROXY_UPSTREAM_CLOSED: runtime('the server closed the connection while the client was logging in'),
  PROXY_UPSTREAM_RESET: runtime(
    'the connection to the server broke after login (a reset, a TLS error): the client was disconnected',
  ),
  QUERY_FAILED: runtime('the server refused a statement'),
  REASON_UNKNOWN: input('a revocation reason RFC 5280 does not name'),
  RELOAD_UNSUPPORTED: input('the server version has no online TLS reload statement'),
  REQUIRE_JOURNAL_MALFORMED: input('the journal of a REQUIRE change is damaged'),
  REQUIRE_SECURE_TRANSPORT_UNSUPPORTED: input('the server version has no require_secure_transport'),
  RESTART_FAILED: runtime('the restart command exited non-zero'),
  RESTART_REQUIRED: check('TLS cannot be activated without a server restart'),
  REVERT_FAILED: runtime('a REQUIRE change that locked the account out could not be reverted'),
  ROLLOVER_OLD_CA_IN_USE: check('the old CA still has valid certificates, so it cannot be retired'),
  ROLLOVER_OUT_OF_ORDER: input('a CA rollover stage asked for out of its order'),
  ROLLOVER_STATE_MALFORMED: input('rollover.json is damaged'),
  ROTATE_FAILED: runtime(
    'the rotation failed and the old certificate was restored (or not: see the message)',
  ),
  SANDBOX_FAILED: runtime('a sandbox MariaDB could not be initialised or started'),
  SANDBOX_STOPPED: runtime('the sandbox was stopped'),
  SECURE_FAILED: runtime('dbtls secure failed after changing something (the message lists what)'),
  SECURE_NOTHING_TO_UNDO: input('secure --undo finds no record of that server'),
  SECURE_STATE_MALFORMED: input('secure.json is damaged'),
  SECURE_TRANSPORT_REQUIRED: check('the server refused a login without TLS (require_secure_transport)'),
  SERIAL_INVALID: input('a serial that is not hexadecimal'),
  SERVERNAME_INVALID: input('a servername that is neither a host name nor an IP address'),
  SERVER_CONFIG_UNKNOWN: input("the server's option files cannot be found from here"),
  SERVER_FILES_MISMATCH: input('the server serves another certificate than the file it names'),
  SERVER_FILES_NOT_LOCAL: input('a server file (certificate, key, ssl_ca, ssl_crl) is not on this machine'),
  SERVER_NAME_REQUIRED: input('a server certificate without a DNS name or IP address'),
  SERVER_REFUSED: runtime('the server answered with an error packet instead of a greeting'),
  SERVER_VERSION_UNKNOWN: runtime("the server's version string cannot be parsed"),
  SESSION_FAILED: runtime("an unexpected failure of the inspector's login (a bug in dbtls)"),
  SNIPPET_MODE_UNSUPPORTED: input('the client cannot do that ssl-mode for that target'),
  SNIPPET_TARGET_UNSUPPORTED: input('the client cannot reach that target the way the snippet needs'),
  SNIPPET_VALUE_INVALID: input("a value that the client's DSN or config cannot carry"),
  SOCKET_NOT_LOCAL: input("a localhost account's login check needs the server's unix socket"),
  SSL_MODE_INVALID: input('an ssl-mode the operation does not allow (preferred where TLS must hold)'),
  SSL_MODE_UNKNOWN: input('an ssl-mode dbtls does not know'),
  STORAGE_INVALID: input('a volume size that is not a Kubernetes quantity above zero'),
  SUBJECT_COLLISION: input(
    "a certificate whose OpenSSL one-line subject equals that of another CN's valid certificate",
  ),
  SUBJECT_INVALID: input('a CSR subject attribute with a control character or a one-line look-alike'),
  TARGETS_INVALID: input('a targets file with a line that is not one target'),
  TARGET_INVALID: input('a target that is neither host[:port] nor a DSN'),
  TARGET_PASSWORD_IN_DSN: input('a DSN on the command line holds a password'),
  TLS_CA_REQUIRED: input('the ssl-mode verifies the server (a session, a login check) and no CA was given'),
  TLS_CLIENT_CERT_REQUIRED: input('mutual TLS without a client certificate and key'),
  TLS_DOWNGRADE_DETECTED: check('a TLS 1.3 refusal that would downgrade the mutual TLS handshake'),
  TLS_HANDSHAKE_FAILED: check('the TLS handshake failed'),
  TLS_MATERIAL_INVALID: input('a certificate, key or CA file given for TLS cannot be used'),
  TLS_NOT_ENABLED: input('the server has no TLS certificate configured'),
  TLS_NOT_OFFERED: check('the server does not offer TLS'),
  TLS_VERSION_INSECURE: input("TLS 1.0 or 1.1 as a client's minimum or in a server's tls_version"),
  TLS_VERSION_UNKNOWN: input('a TLS version that cannot be read'),
  UNKNOWN_COMMAND: input('no such command or subcommand'),
  USAGE: input('the command line is wrong (an option, a missing or extra argument)'),
  VERIFY_CERT_MISMATCH: input('the --verify-cert does not carry the SUBJECT or ISSUER required'),
  VERIFY_CERT_REQUIRED: input('a login check under REQUIRE X509 needs a client certificate'),
  WRITE_FAILED: runtime('a file could not be written'),
});

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Codes that were renamed, old -> new, so scripts matching the old one can be updated (README changelog).
 * An old code is never raised again; it stays here, and in docs/errors.md, for one release.
 * One failure has one code: the admin session's missing CA was SSL_CA_REQUIRED, a client's TLS_CA_REQUIRED;
 * the admin session's failed connection over the unix socket was CONNECT_FAILED. An old code maps to the
 * code of its usual failure; a rare case that fits neither got its own (an empty server --tls-version
 * list, once TLS_VERSION_INVALID, is TLS_VERSION_UNKNOWN).
 */
export const RENAMED_CODES: Readonly<Record<string, ErrorCode>> = Object.freeze({
  // One certificate model (src/pki/chain.ts): a certificate its chain or CA file did not issue was
  // CERT_CHAIN_INVALID in server enable; a key that is not the certificate's was CERT_KEY_MISMATCH there
  // and KEY_CERT_MISMATCH in keystore export and k8s secrets.
  CERT_CHAIN_INVALID: 'CHAIN_BROKEN',
  CERT_KEY_MISMATCH: 'KEY_MISMATCH',
  CONNECT_FAILED: 'CONNECTION_FAILED',
  KEY_CERT_MISMATCH: 'KEY_MISMATCH',
  // A password in an admin DSN: the one target resolver (src/tls/settings.ts) raises the client's code.
  PASSWORD_IN_ARGV: 'TARGET_PASSWORD_IN_DSN',
  SSL_CA_REQUIRED: 'TLS_CA_REQUIRED',
  // Issue 11, one code per failure: an existing output file (util/files.ts) was FILE_EXISTS, OUTPUT_EXISTS
  // elsewhere; a failed admin statement was SQL_FAILED whether the server refused it (QUERY_FAILED, a
  // client's code) or the session dropped (CONNECTION_LOST); ssl-mode preferred refused by k8s and
  // snippets was SSL_MODE_INSECURE, by an admin session SSL_MODE_INVALID; TLS 1.0/1.1 in a server's
  // --tls-version was TLS_VERSION_INVALID, in a client's --tls-min TLS_VERSION_INSECURE; a login check
  // without a CA was VERIFY_CA_REQUIRED.
  FILE_EXISTS: 'OUTPUT_EXISTS',
  SQL_FAILED: 'QUERY_FAILED',
  SSL_MODE_INSECURE: 'SSL_MODE_INVALID',
  TLS_VERSION_INVALID: 'TLS_VERSION_INSECURE',
  VERIFY_CA_REQUIRED: 'TLS_CA_REQUIRED',
});

/** The kind (and so the exit status) is the code's, from ERROR_CODES: a throw does not choose it. */
export interface DbtlsErrorOptions {
  readonly hint?: string;
  readonly cause?: unknown;
  /** Structured facts for --json output and for tests (e.g. what the server showed). */
  readonly details?: Readonly<Record<string, unknown>>;
}

export class DbtlsError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly hint: string | undefined;
  readonly kind: ErrorKind;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: C, message: string, options: DbtlsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DbtlsError';
    this.code = code;
    this.hint = options.hint;
    this.kind = (ERROR_CODES[code] as CodeSpec<ErrorKind> | undefined)?.kind ?? 'input';
    this.details = options.details;
  }

  /**
   * The same failure (code, cause) told with what an outer layer knows: another message, hint or details.
   * The one way to rephrase an error, so that no layer drops a field on the way.
   */
  reworded(changes: {
    readonly message?: string;
    readonly hint?: string;
    readonly details?: Readonly<Record<string, unknown>>;
  }): DbtlsError<C> {
    const hint = changes.hint ?? this.hint;
    const details = changes.details ?? this.details;
    return new DbtlsError(this.code, changes.message ?? this.message, {
      ...(hint === undefined ? {} : { hint }),
      ...(this.cause === undefined ? {} : { cause: this.cause }),
      ...(details === undefined ? {} : { details }),
    });
  }

  /** The CLI exit code for this error. */
  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CODES, value);
}

export function isDbtlsError(value: unknown): value is DbtlsError {
  return value instanceof DbtlsError;
}

/** The message of any thrown value, for wrapping causes into a DbtlsError message. */
export function causeText(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  return String(cause);
}
