/**
 * `dbtls snippet`: the exact command line, option file, JDBC URL or driver code that gives one ssl-mode in
 * one client's vocabulary (src/deploy/snippets.ts). Loaded with ./deploy.ts.
 */
import * as path from 'node:path';
import { SNIPPET_CLIENTS, type SnippetClient, snippet } from '../deploy/snippets.js';
import { DbtlsError } from '../errors.js';
import { JAVA_STORE_TYPE, KEYSTORE_FORMATS, parseKeystoreFormat } from '../keystore/format.js';
import { address, isDsn } from '../tls/dsn.js';
import { parseTarget } from '../tls/settings.js';
import { type MutualTls, parseMutualTls, parseSslMode } from '../tls/ssl-mode.js';
import { flag, type OptionSpec, parse, required, str } from './args.js';
import { oneOf, onePositional } from './artifact-args.js';
import type { Command, CommandContext } from './command.js';
import { COMMON, KEY_FILE, pick } from './options.js';

/** Java's names for the keystore formats (keyStoreType), as the snippets write them. */
const STORE_TYPES = KEYSTORE_FORMATS.map((f) => JAVA_STORE_TYPE[f]);

const SNIPPET_USAGE = `dbtls snippet --for ${SNIPPET_CLIENTS.join('|')} TARGET --ssl-mode M [--mutual-tls enable|disable] [--ca F] [--cert F --key F] [--keystore F --truststore F] [--keystore-type ${STORE_TYPES.join('|')}] [--user U] [--database DB] [--json]`;

const SNIPPET_OPTIONS: OptionSpec = {
  for: { type: 'string', value: 'CLIENT', description: 'the client to write for', choices: SNIPPET_CLIENTS },
  ...pick('ssl-mode', 'mutual-tls', 'ca', 'cert'),
  key: KEY_FILE,
  keystore: { type: 'string', value: 'FILE', description: 'the client keystore (Java clients, mutual TLS)' },
  truststore: { type: 'string', value: 'FILE', description: 'the truststore holding the CA (Java clients)' },
  'keystore-type': {
    type: 'string',
    value: 'TYPE',
    description: 'the type of --keystore and --truststore (default: from the file name, .p12 or .pfx PKCS12)',
    choices: STORE_TYPES,
  },
  user: COMMON.user,
  database: { type: 'string', value: 'DB', description: 'the database to use' },
  json: COMMON.json,
};

export const snippetCommand: Command = {
  name: ['snippet'],
  usage: SNIPPET_USAGE,
  summary: "the exact command, config, URL or code giving an ssl-mode in one client's vocabulary",
  options: SNIPPET_OPTIONS,
  examples: [
    'dbtls snippet --for mysql-cli db1.example.com --ssl-mode verify-full --ca db1/ca.pem',
    'dbtls snippet --for jdbc-mariadb db1.example.com:3306 --ssl-mode verify-full --mutual-tls enable --ca ca.pem --keystore app.p12 --truststore ts.p12',
  ],
  async run(argv, ctx) {
    const p = parse(argv, SNIPPET_OPTIONS, SNIPPET_USAGE, ctx);
    const client = oneOf<SnippetClient>(
      required(p, 'for', SNIPPET_USAGE),
      SNIPPET_CLIENTS,
      '--for',
      SNIPPET_USAGE,
    );
    const target = onePositional(p, 'TARGET (host[:port] or a mysql:// DSN)', SNIPPET_USAGE);
    const ksType = str(p, 'keystore-type');
    // A DSN target (mysql://user@host:port/db?ssl-mode=..&ssl-ca=..) gives defaults; flags win. Only what the
    // DSN itself says is taken: no environment, no option file (the snippet is for another machine).
    const dsn = isDsn(target) ? parseTarget(target, {}, {}) : undefined;
    const fromDsn = (key: string) => dsn?.sources?.[key] === 'dsn';
    const modeText = str(p, 'ssl-mode') ?? (dsn && fromDsn('mode') ? dsn.tls.mode : undefined);
    if (modeText === undefined) required(p, 'ssl-mode', SNIPPET_USAGE);
    const mutualText = str(p, 'mutual-tls') ?? (dsn && fromDsn('mutualTls') ? dsn.tls.mutualTls : undefined);
    const cert = str(p, 'cert') ?? dsn?.tls.cert;
    const key = str(p, 'key') ?? dsn?.tls.key;
    const keystore = str(p, 'keystore');
    const mutualTls = mutualFromMaterial(mutualText, cert, key, keystore);
    const result = snippet({
      client,
      target: dsn ? address(dsn.host, dsn.port) : target,
      mode: parseSslMode(modeText!),
      mutualTls,
      ca: absolute(str(p, 'ca') ?? dsn?.tls.ca, ctx),
      cert: absolute(cert, ctx),
      key: absolute(key, ctx),
      keystore: absolute(keystore, ctx),
      truststore: absolute(str(p, 'truststore'), ctx),
      keystoreType:
        ksType === undefined ? undefined : parseKeystoreFormat(ksType, '--keystore-type', SNIPPET_USAGE),
      user: str(p, 'user') ?? dsn?.user,
      database: str(p, 'database') ?? dsn?.database,
    });
    for (const w of result.warnings) ctx.render.warn(w);
    if (flag(p, 'json')) {
      ctx.render.json(result);
      return 0;
    }
    ctx.render.lines(result.text.replace(/\n$/, ''));
    return 0;
  },
};

/**
 * A client certificate means mutual TLS (issue 9 item 7): given without --mutual-tls it turns mutual TLS
 * on; with --mutual-tls disable it is an error, never silently dropped (a REQUIRE X509 user is refused).
 */
function mutualFromMaterial(
  text: string | undefined,
  cert: string | undefined,
  key: string | undefined,
  keystore: string | undefined,
): MutualTls {
  if ((cert === undefined) !== (key === undefined)) {
    throw new DbtlsError(
      'USAGE',
      `could not use ${cert === undefined ? '--key' : '--cert'} alone: a client certificate needs both --cert and --key`,
      {
        hint: `give --cert F --key F together\nusage: ${SNIPPET_USAGE}`,
      },
    );
  }
  const material = cert !== undefined || keystore !== undefined;
  const mutualTls = text === undefined ? (material ? 'enable' : 'disable') : parseMutualTls(text);
  if (material && mutualTls === 'disable') {
    throw new DbtlsError(
      'USAGE',
      `could not write the snippet with --mutual-tls disable: ${cert !== undefined ? '--cert and --key' : '--keystore'} would be left out`,
      { hint: 'drop --mutual-tls disable to connect with the client certificate, or drop the certificate' },
    );
  }
  return mutualTls;
}

/** Snippets name files by absolute path: they run from wherever the user's app runs. */
function absolute(file: string | undefined, ctx: CommandContext): string | undefined {
  return file === undefined ? undefined : path.resolve(ctx.cwd, file);
}

export const commands: Command[] = [snippetCommand];
