/**
 * `dbtls snippet`: the exact command line, option file, JDBC URL or driver code that gives one ssl-mode in
 * one client's vocabulary (src/deploy/snippets.ts). Loaded with ./deploy.ts.
 */
import * as path from 'node:path';
import { SNIPPET_CLIENTS, type SnippetClient, snippet } from '../deploy/snippets.js';
import { parseTarget } from '../tls/settings.js';
import { parseMutualTls, parseSslMode } from '../tls/ssl-mode.js';
import { flag, parse, required, str } from './args.js';
import { oneOf, onePositional, options } from './artifact-args.js';
import type { Command, CommandContext } from './command.js';

const SNIPPET_USAGE = `dbtls snippet --for ${SNIPPET_CLIENTS.join('|')} TARGET [--ssl-mode M] [--mutual-tls enable|disable] [--ca F] [--cert F --key F] [--keystore F --truststore F] [--keystore-type JKS|PKCS12] [--user U] [--database DB] [--json]`;

const SNIPPET_OPTIONS = [
  'for',
  'ssl-mode',
  'mutual-tls',
  'ca',
  'cert',
  'key',
  'keystore',
  'truststore',
  'keystore-type',
  'user',
  'database',
];

export const snippetCommand: Command = {
  name: ['snippet'],
  usage: SNIPPET_USAGE,
  summary: "the exact command, config, URL or code giving an ssl-mode in one client's vocabulary",
  async run(argv, ctx) {
    const p = parse(argv, options(SNIPPET_OPTIONS, [], ['json']), SNIPPET_USAGE);
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
    const dsn = /^(mysql|mariadb):\/\//i.test(target) ? parseTarget(target, {}, {}) : undefined;
    const fromDsn = (key: string) => dsn?.sources?.[key] === 'dsn';
    const modeText = str(p, 'ssl-mode') ?? (dsn && fromDsn('mode') ? dsn.tls.mode : undefined);
    if (modeText === undefined) required(p, 'ssl-mode', SNIPPET_USAGE);
    const mutualText = str(p, 'mutual-tls') ?? (dsn && fromDsn('mutualTls') ? dsn.tls.mutualTls : undefined);
    const result = snippet({
      client,
      target: dsn ? `${dsn.host.includes(':') ? `[${dsn.host}]` : dsn.host}:${dsn.port}` : target,
      mode: parseSslMode(modeText!),
      mutualTls: parseMutualTls(mutualText ?? 'disable'),
      ca: absolute(str(p, 'ca') ?? dsn?.tls.ca, ctx),
      cert: absolute(str(p, 'cert') ?? dsn?.tls.cert, ctx),
      key: absolute(str(p, 'key') ?? dsn?.tls.key, ctx),
      keystore: absolute(str(p, 'keystore'), ctx),
      truststore: absolute(str(p, 'truststore'), ctx),
      keystoreType:
        ksType === undefined
          ? undefined
          : oneOf(ksType.toUpperCase(), ['JKS', 'PKCS12'] as const, '--keystore-type', SNIPPET_USAGE),
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

/** Snippets name files by absolute path: they run from wherever the user's app runs. */
function absolute(file: string | undefined, ctx: CommandContext): string | undefined {
  return file === undefined ? undefined : path.resolve(ctx.cwd, file);
}

export const commands: Command[] = [snippetCommand];
