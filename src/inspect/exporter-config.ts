/**
 * The exporter's modules file (issue 13): YAML, keyed with the CLI's own option names, checked whole at
 * start so that a typo fails the deployment instead of every scrape. Each error names its line.
 *
 * ```yaml
 * modules:
 *   default:
 *     ssl-mode: verify-full
 *     ca: /etc/dbtls/ca.pem
 *     timeout: 5s
 * ```
 * Relative paths are read from the config file's directory, as Prometheus reads its own.
 */
import * as path from 'node:path';
import { isMap, isScalar, LineCounter, type Node, parseDocument, type YAMLMap } from 'yaml';
import { DbtlsError, isDbtlsError } from '../errors.js';
import { parseCertificates } from '../pki/certificate.js';
import { checkClientPair } from '../tls/options.js';
import { parseSslMode } from '../tls/ssl-mode.js';
import { readUserFile } from '../util/files.js';
import { hasControlCharacter } from '../util/safe-text.js';
import { type InspectOptions, prepareInspection } from './inspect.js';
import { DEFAULT_PROBE_TIMEOUT_MS } from './probe.js';

/** The module a probe uses when the request names none. */
export const DEFAULT_MODULE = 'default';
/** A probe longer than this would outlive any sane scrape timeout. */
const MAX_TIMEOUT_MS = 300_000;

export interface ExporterModule {
  readonly name: string;
  /** The inspection options, files already read or checked. */
  readonly options: InspectOptions;
}

export type ExporterModules = ReadonlyMap<string, ExporterModule>;

/** Keys of one module, with what each takes (the hint lists them). */
const MODULE_KEYS = [
  'ssl-mode',
  'ca',
  'servername',
  'cert',
  'key',
  'user',
  'password-file',
  'timeout',
  'details',
  'plaintext-login-check',
] as const;
type ModuleKey = (typeof MODULE_KEYS)[number];

/** Without --config: one module, `default`, verify-full against the system store. */
export function defaultModules(): ExporterModules {
  return new Map([
    [DEFAULT_MODULE, { name: DEFAULT_MODULE, options: { timeoutMs: DEFAULT_PROBE_TIMEOUT_MS } }],
  ]);
}

/** Parses and checks a modules file; `text` is its content, `file` its path (for messages and relative paths). */
export function parseExporterConfig(text: string, file: string): ExporterModules {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const fail = (line: number | undefined, cause: string, hint: string): never => {
    throw new DbtlsError(
      'EXPORTER_CONFIG_INVALID',
      `could not read the exporter config ${file}: ${line === undefined ? '' : `line ${line}: `}${cause}`,
      { hint },
    );
  };
  const lineOf = (node: Node | null | undefined): number | undefined =>
    node?.range ? lines.linePos(node.range[0]).line : undefined;
  const syntax = doc.errors[0];
  if (syntax) {
    fail(
      lines.linePos(syntax.pos[0]).line,
      `not valid YAML (${syntax.code})`,
      'fix the YAML syntax at that line',
    );
  }
  const root = doc.contents;
  if (!isMap(root)) fail(lineOf(root as Node | null), 'expected a map with a `modules` key', EXAMPLE_HINT);
  const top = root as YAMLMap;
  let modulesNode: Node | undefined;
  for (const pair of top.items) {
    const key = scalarText(pair.key);
    if (key !== 'modules')
      fail(lineOf(pair.key as Node), `unknown key ${JSON.stringify(key)} at the top level`, EXAMPLE_HINT);
    modulesNode = pair.value as Node;
  }
  if (!modulesNode || !isMap(modulesNode) || modulesNode.items.length === 0) {
    fail(lineOf(modulesNode ?? top), '`modules` must map each module name to its settings', EXAMPLE_HINT);
  }
  const base = path.dirname(file);
  const out = new Map<string, ExporterModule>();
  for (const pair of (modulesNode as YAMLMap).items) {
    const name = scalarText(pair.key);
    const at = lineOf(pair.key as Node);
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
      fail(
        at,
        `module name ${JSON.stringify(name)} is not a plain word`,
        'name modules with letters, digits, _ . -',
      );
    }
    const value = pair.value as Node | null;
    // `name:` with nothing after it is a module with every default.
    const empty = value === null || (isScalar(value) && value.value === null);
    const settings = empty
      ? []
      : isMap(value)
        ? value.items
        : fail(at, `module ${name} is not a map`, KEYS_HINT);
    const seen: Partial<Record<ModuleKey, { text: string; line: number | undefined }>> = {};
    for (const setting of settings) {
      const key = scalarText(setting.key);
      const line = lineOf(setting.key as Node);
      if (!(MODULE_KEYS as readonly string[]).includes(key)) {
        fail(line, `unknown key ${JSON.stringify(key)} in module ${name}`, KEYS_HINT);
      }
      const v = setting.value as Node | null;
      if (!isScalar(v) || v.value === null || typeof v.value === 'object') {
        fail(line, `${key} in module ${name} needs a single value`, KEYS_HINT);
      }
      seen[key as ModuleKey] = { text: String((v as { value: unknown }).value), line };
    }
    try {
      out.set(name, { name, options: moduleOptions(name, seen, base, fail) });
    } catch (err) {
      // A file that cannot be read, a mode that cannot log in: the module's line, the library's reason.
      if (isDbtlsError(err) && err.code !== 'EXPORTER_CONFIG_INVALID') {
        throw new DbtlsError(
          'EXPORTER_CONFIG_INVALID',
          `could not read the exporter config ${file}: line ${at}: module ${name}: ${err.message}`,
          { ...(err.hint === undefined ? {} : { hint: err.hint }), cause: err },
        );
      }
      throw err;
    }
  }
  return out;
}

const EXAMPLE_HINT =
  'write `modules:` then, per module, its settings, e.g. `modules: { default: { ssl-mode: verify-full, ca: ca.pem } }`';
const KEYS_HINT = `a module takes: ${MODULE_KEYS.join(', ')}`;

function scalarText(node: unknown): string {
  return isScalar(node) ? String(node.value) : String(node);
}

type Seen = Partial<Record<ModuleKey, { text: string; line: number | undefined }>>;
type Fail = (line: number | undefined, cause: string, hint: string) => never;

function moduleOptions(name: string, seen: Seen, base: string, fail: Fail): InspectOptions {
  const file = (key: 'ca' | 'cert' | 'key' | 'password-file') => {
    const v = seen[key];
    return v === undefined ? undefined : path.resolve(base, v.text);
  };
  const timeoutMs = seen.timeout
    ? parseDuration(seen.timeout.text, seen.timeout.line, name, fail)
    : undefined;
  const user = seen.user?.text;
  const details = seen.details ? parseBoolean('details', seen.details, name, fail) : undefined;
  const check = seen['plaintext-login-check'];
  const plaintextCheck = check ? parseBoolean('plaintext-login-check', check, name, fail) : undefined;
  if (plaintextCheck && user === undefined) {
    fail(
      check?.line,
      `module ${name} has plaintext-login-check but no user`,
      'add user: NAME (it logs in without TLS)',
    );
  }
  const cert = file('cert');
  const key = file('key');
  if ((cert === undefined) !== (key === undefined)) {
    fail(
      (seen.cert ?? seen.key)?.line,
      `module ${name} needs cert and key together`,
      'give both, or neither',
    );
  }
  const passwordFile = file('password-file');
  if (passwordFile !== undefined && user === undefined) {
    fail(seen['password-file']?.line, `module ${name} has a password-file but no user`, 'add user: NAME');
  }
  // The password is read now: a scrape never waits on a file, and a missing one fails the start.
  const password =
    passwordFile === undefined
      ? undefined
      : readUserFile(passwordFile, 'password file')
          .toString('utf8')
          .replace(/\r?\n$/, '');
  if (cert !== undefined && key !== undefined) {
    // The pair is a login's: without a user it would never be used, and a wrong pair fails every scrape.
    if (user === undefined)
      fail(seen.cert?.line, `module ${name} has cert and key but no user`, 'add user: NAME');
    checkClientPair(cert, key);
  }
  const ca = file('ca');
  if (ca !== undefined) {
    let certificates = 0;
    try {
      certificates = parseCertificates(readUserFile(ca, 'CA certificate file')).length;
    } catch (err) {
      if (isDbtlsError(err) && err.code.startsWith('FILE_')) throw err;
    }
    if (certificates === 0)
      fail(
        seen.ca?.line,
        `the ca of module ${name} (${ca}) holds no PEM certificate`,
        'give the CA certificate file the servers chain to',
      );
  }
  const servername = seen.servername;
  if (servername !== undefined && (servername.text.includes(' ') || hasControlCharacter(servername.text))) {
    fail(
      servername.line,
      `the servername of module ${name} holds a space or a control character`,
      'give the host name the server certificate names',
    );
  }
  const options: InspectOptions = {
    ca,
    servername: seen.servername?.text,
    sslMode: seen['ssl-mode'] ? parseSslMode(seen['ssl-mode'].text) : undefined,
    credentials: user === undefined ? undefined : { user, password, cert, key },
    timeoutMs: timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
    details: details ?? false,
    // Off unless asked: the attempt sends the module's credentials once without TLS (issue 9).
    plaintextCheck: plaintextCheck ?? false,
  };
  // The inspector's own checks (CA readable, a mode that can log in), without a connection.
  prepareInspection({ host: 'localhost', port: 3306 }, options);
  return options;
}

/** `500ms`, `5s`, `1.5s`, `1m`: Prometheus's duration spelling, for the units a probe can use. */
export function parseDuration(text: string, line: number | undefined, name: string, fail: Fail): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'] : Number.NaN;
  if (!(ms >= 1 && ms <= MAX_TIMEOUT_MS)) {
    fail(
      line,
      `timeout ${JSON.stringify(text)} in module ${name} is not a duration from 1ms to 5m`,
      'write e.g. 5s or 500ms',
    );
  }
  return Math.round(ms);
}

function parseBoolean(
  key: string,
  value: { text: string; line: number | undefined },
  name: string,
  fail: Fail,
): boolean {
  if (value.text === 'true') return true;
  if (value.text === 'false') return false;
  return fail(
    value.line,
    `${key} in module ${name} must be true or false`,
    `write ${key}: true or ${key}: false`,
  );
}
