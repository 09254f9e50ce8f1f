/**
 * The options many commands share, described once so that `--ca-dir` or `--json` read the same in every
 * command's help. A command's table picks these by name and adds its own entries (command.ts, OptionDef);
 * a command whose option means something narrower overrides the entry with its own description.
 */
import { DEFAULT_KEY_ALGORITHM, KEY_ALGORITHMS } from '../pki/keys.js';
import { MUTUAL_TLS_SETTINGS, SSL_MODE_NAMES } from '../tls/ssl-mode.js';
import { SECURE_TLS_VERSIONS } from '../tls/versions.js';
import type { OptionDef, OptionTable } from './command.js';

export const COMMON = {
  json: { type: 'boolean', description: 'print one JSON document on stdout instead of text' },
  'ca-dir': {
    type: 'string',
    description: 'the CA directory',
    default: './dbtls-ca',
    env: ['DBTLS_CA_DIR'],
  },
  'passphrase-file': {
    type: 'string',
    description: "a file holding the CA key's passphrase (else the variable, else a prompt on a terminal)",
    env: ['DBTLS_CA_PASSPHRASE'],
  },
  days: { type: 'string', description: 'validity in days' },
  key: {
    type: 'string',
    value: 'ALG',
    description: 'the key algorithm of the new key',
    choices: KEY_ALGORITHMS,
    default: DEFAULT_KEY_ALGORITHM,
  },
  cn: { type: 'string', value: 'NAME', description: 'the subject common name' },
  dns: {
    type: 'string',
    value: 'NAME',
    multiple: true,
    description: 'a DNS name for the subject alternative names (verify-full checks it)',
  },
  ip: {
    type: 'string',
    value: 'ADDR',
    multiple: true,
    description: 'an IP address for the subject alternative names',
  },
  'ssl-mode': {
    type: 'string',
    value: 'MODE',
    description: 'how TLS is verified: the ssl-mode model (VERIFY_IDENTITY, REQUIRED… are accepted too)',
    choices: SSL_MODE_NAMES,
  },
  'mutual-tls': {
    type: 'string',
    description: 'send a client certificate (needs verify-ca or verify-full)',
    choices: MUTUAL_TLS_SETTINGS,
    default: 'disable',
  },
  'tls-min': {
    type: 'string',
    value: 'VERSION',
    description: 'the lowest TLS version',
    choices: SECURE_TLS_VERSIONS,
  },
  ca: { type: 'string', description: 'the CA certificate (PEM) that verifies the server' },
  cert: { type: 'string', description: 'the client certificate (PEM) for mutual TLS' },
  user: { type: 'string', value: 'USER', description: 'the database user to log in as' },
  'password-file': {
    type: 'string',
    description: "a file holding the user's password (else MYSQL_PWD, else a prompt on a terminal)",
    env: ['MYSQL_PWD'],
  },
  socket: { type: 'string', value: 'PATH', description: "the server's unix socket, instead of TCP" },
  out: { type: 'string', description: 'where to write; - for stdout' },
  'allow-empty-password': {
    type: 'boolean',
    description: 'accept an empty keystore password (it protects nothing)',
  },
  'dry-run': { type: 'boolean', description: 'print what would change, change nothing' },
} as const satisfies Record<string, OptionDef>;

/** `--key` where it names a file (connect, inspect, export); in ca init/issue/csr it is the algorithm. */
export const KEY_FILE: OptionDef = { type: 'string', description: 'the private key (PEM) of --cert' };

type CommonName = keyof typeof COMMON;

/** The shared entries named, as a table to spread into a command's own: `{ ...pick('json'), cn: … }`. */
export function pick(...names: readonly CommonName[]): OptionTable {
  return Object.fromEntries(names.map((n) => [n, COMMON[n]]));
}

/** An entry with a command-specific description (and more), keeping the shared rest. */
export function like(name: CommonName, more: Partial<OptionDef>): OptionDef {
  return { ...COMMON[name], ...more } as OptionDef;
}
