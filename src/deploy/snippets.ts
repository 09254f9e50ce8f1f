/**
 * Client snippets: one TLS decision (an ssl-mode, mutual TLS on or off) written in the vocabulary of one
 * client: a command line, an option file, a JDBC URL or driver code. Each client's mapping is data keyed
 * by SslMode (src/deploy/snippets/*.ts); a mode a client cannot express is refused with the reason, a mode
 * it can only express more strictly comes with a warning saying so. Nothing falls back to plaintext.
 */
import * as net from 'node:net';
import { DbtlsError } from '../errors.js';
import {
  type KeystoreFormat,
  type KeystoreFormatInput,
  keystoreFormatOfFile,
  parseKeystoreFormat,
} from '../keystore/format.js';
import { parseHostPort } from '../tls/dsn.js';
import { checkCombination, type MutualTls, type SslMode } from '../tls/ssl-mode.js';
import { quotedValue } from '../util/safe-text.js';
import { mariadbCli, myCnf, mysqlCli } from './snippets/cli.js';
import { goSqlDriver } from './snippets/go.js';
import { jdbcMariadb, jdbcMysql } from './snippets/java.js';
import {
  type ClientMapping,
  refuseControl,
  type SnippetClient,
  type SnippetContext,
} from './snippets/model.js';
import { mariadbNode, mysql2 } from './snippets/node.js';
import { perlMariadb, perlMysql } from './snippets/perl.js';
import { phpMysqli, phpPdo } from './snippets/php.js';
import { pymysql } from './snippets/python.js';

export type { ClientMapping, ModeSupport } from './snippets/model.js';
export { SNIPPET_CLIENTS, type SnippetClient } from './snippets/model.js';

export const CLIENT_MAPPINGS: Readonly<Record<SnippetClient, ClientMapping>> = Object.freeze({
  'mysql-cli': mysqlCli,
  'mariadb-cli': mariadbCli,
  'my.cnf': myCnf,
  'jdbc-mariadb': jdbcMariadb,
  'jdbc-mysql': jdbcMysql,
  mysql2,
  'mariadb-node': mariadbNode,
  go: goSqlDriver,
  python: pymysql,
  'php-mysqli': phpMysqli,
  'php-pdo': phpPdo,
  'perl-mariadb': perlMariadb,
  'perl-mysql': perlMysql,
});

export interface SnippetRequest {
  readonly client: SnippetClient;
  /** host[:port], [ipv6]:port, read by parseHostPort (src/tls/dsn.ts); a DSN is the CLI's to take apart. */
  readonly target: string;
  readonly mode: SslMode;
  readonly mutualTls?: MutualTls;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly keystore?: string;
  readonly truststore?: string;
  /** jks or pkcs12 (also as Java spells it, PKCS12); default: from the keystore's file name. */
  readonly keystoreType?: KeystoreFormatInput;
  readonly user?: string;
  readonly database?: string;
}

export interface Snippet {
  readonly client: SnippetClient;
  readonly mode: SslMode;
  readonly mutualTls: MutualTls;
  /** What the client actually enforces: the mode, or a stricter one when it cannot say the mode exactly. */
  readonly effectiveMode: SslMode;
  readonly language: ClientMapping['language'];
  readonly text: string;
  readonly warnings: readonly string[];
}

function storeType(file: string | undefined, given: KeystoreFormatInput | undefined): KeystoreFormat {
  if (given) return parseKeystoreFormat(given, 'the keystore type');
  return file === undefined ? 'jks' : keystoreFormatOfFile(file);
}

/** The request's free text, by the flag that gave it (for the message when one is refused). */
const TEXT_FIELDS = [
  ['target', 'TARGET'],
  ['ca', '--ca'],
  ['cert', '--cert'],
  ['key', '--key'],
  ['keystore', '--keystore'],
  ['truststore', '--truststore'],
  ['user', '--user'],
  ['database', '--database'],
] as const;

export function snippet(req: SnippetRequest): Snippet {
  for (const [field, flag] of TEXT_FIELDS) refuseControl(req[field], flag, req.client);
  const mutualTls = req.mutualTls ?? 'disable';
  checkCombination(req.mode, mutualTls);
  const mapping = CLIENT_MAPPINGS[req.client];
  const support = mapping.modes[req.mode];
  if (!support.expressed) {
    throw new DbtlsError(
      req.mode === 'preferred' ? 'SSL_MODE_INVALID' : 'SNIPPET_MODE_UNSUPPORTED',
      `could not write the ${req.client} snippet for ssl-mode ${req.mode}: ${support.reason}`,
      {
        hint:
          req.mode === 'preferred'
            ? 'use verify-full (or verify-ca, or trust to encrypt without verifying)'
            : 'choose verify-full with --ca (or another client)',
        details: { client: req.client, mode: req.mode },
      },
    );
  }
  const { host, port } = parseHostPort(req.target);
  // The host goes into URLs, DSNs and code unquoted: `db1?sslMode=DISABLED&x=` would have written a JDBC
  // URL that turns TLS off while the snippet says verify-full.
  if (net.isIP(host) === 0 && !/^[A-Za-z0-9_]([A-Za-z0-9._-]*[A-Za-z0-9_])?$/.test(host)) {
    throw new DbtlsError(
      'TARGET_INVALID',
      `could not write the ${req.client} snippet: ${quotedValue(host, 120)} is not a host name or an IP address`,
      { hint: 'give the server as host[:port], for example db1.example.com:3306 or [::1]:3306' },
    );
  }
  const ctx: SnippetContext = {
    host,
    port,
    user: req.user ?? 'app',
    database: req.database,
    mode: req.mode,
    mutualTls,
    ca: req.ca,
    cert: req.cert,
    key: req.key,
    keystore: req.keystore,
    truststore: req.truststore,
    keystoreType: storeType(req.keystore, req.keystoreType),
    truststoreType: storeType(req.truststore, undefined),
  };
  const rendered = mapping.render(ctx);
  const warnings = [...(support.note ? [support.note] : []), ...rendered.warnings];
  if (req.mode === 'disable')
    warnings.push('ssl-mode disable: the password and every query cross the network in plaintext');
  if (req.mode === 'trust')
    warnings.push(
      'ssl-mode trust encrypts but does not verify the server: an attacker in the middle can read everything',
    );
  return {
    client: req.client,
    mode: req.mode,
    mutualTls,
    effectiveMode: support.effective,
    language: mapping.language,
    text: rendered.text,
    warnings,
  };
}
