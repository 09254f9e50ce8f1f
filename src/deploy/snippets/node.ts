/**
 * Node.js drivers. mysql2 verifies the chain when given `ca` but checks no host name unless
 * `verifyIdentity: true`; it fails closed before sending credentials when `ssl` is set and the server has
 * no TLS. The `mariadb` connector passes node's TLS options through, so verify-ca is
 * `checkServerIdentity: () => undefined` with `rejectUnauthorized: true` (FACTS.md, drivers).
 *
 * For an IP target neither driver sends a servername (SNI takes no address), and Node then checks the
 * name "localhost" (issue 9 items 4 and 5): a certificate naming localhost passed at any address and a
 * correct IP-only one was refused. The `mariadb` snippet checks the dialled address itself; mysql2 has no
 * way to pass a check (mysql2 3.x sets checkServerIdentity itself), so verify-full by IP is refused for it.
 */
import { isIP } from 'node:net';
import { DbtlsError } from '../../errors.js';
import { SSL_MODES } from '../../tls/ssl-mode.js';
import {
  type ClientMapping,
  EVERY_MODE_EXACT,
  literal,
  need,
  needsClientCert,
  type SnippetContext,
} from './model.js';

/** `fs` only when a file is read (the verifying modes), `tls` only for an address to check. */
function imports(ctx: SnippetContext, driver: string, checksAddress = false): string[] {
  return [
    ...(SSL_MODES[ctx.mode].verifiesChain ? ["import fs from 'node:fs';"] : []),
    ...(checksAddress ? ["import tls from 'node:tls';"] : []),
    driver,
    '',
  ];
}

/** verify-full by IP address: mysql2 would check the name localhost instead (item 4). */
function refuseMysql2ByAddress(ctx: SnippetContext): void {
  if (ctx.mode !== 'verify-full' || isIP(ctx.host) === 0) return;
  throw new DbtlsError(
    'SNIPPET_MODE_UNSUPPORTED',
    `could not write the mysql2 snippet for ssl-mode verify-full at ${ctx.host}: mysql2 sends no server name for an IP address, so Node checks the name localhost instead of the address`,
    {
      hint: 'connect by a DNS name the server certificate holds, or run `dbtls proxy` next to the application (it verifies the address) and point mysql2 at it',
      details: { client: 'mysql2', mode: ctx.mode, host: ctx.host },
    },
  );
}

function connectionLines(ctx: SnippetContext): string[] {
  const lines = [
    `  host: ${literal(ctx.host)},`,
    `  port: ${ctx.port},`,
    `  user: ${literal(ctx.user)},`,
    '  password: process.env.MYSQL_PWD,',
  ];
  if (ctx.database) lines.push(`  database: ${literal(ctx.database)},`);
  return lines;
}

/** The `ssl` lines shared by both drivers: files, then the checks each mode turns on or off. */
function sslLines(
  ctx: SnippetContext,
  client: 'mysql2' | 'mariadb-node',
  hostCheck: (on: boolean) => string[],
): string[] {
  const spec = SSL_MODES[ctx.mode];
  const lines = ['  ssl: {'];
  if (spec.verifiesChain)
    lines.push(`    ca: fs.readFileSync(${literal(need(ctx.ca, '--ca FILE', ctx, client))}),`);
  if (needsClientCert(ctx)) {
    lines.push(`    cert: fs.readFileSync(${literal(need(ctx.cert, '--cert FILE', ctx, client))}),`);
    lines.push(`    key: fs.readFileSync(${literal(need(ctx.key, '--key FILE', ctx, client))}),`);
  }
  lines.push(
    spec.verifiesChain
      ? '    rejectUnauthorized: true, // verify the chain up to ca'
      : '    rejectUnauthorized: false, // ssl-mode trust: encrypted, server not verified',
  );
  if (spec.verifiesChain) lines.push(...hostCheck(spec.verifiesHostname));
  lines.push("    minVersion: 'TLSv1.2',", '  },');
  return lines;
}

export const mysql2: ClientMapping = {
  client: 'mysql2',
  language: 'javascript',
  modes: EVERY_MODE_EXACT,
  render(ctx) {
    refuseMysql2ByAddress(ctx);
    const lines = [
      ...imports(ctx, "import mysql from 'mysql2/promise';"),
      'const connection = await mysql.createConnection({',
    ];
    lines.push(...connectionLines(ctx));
    if (ctx.mode === 'disable') lines.push('  // ssl-mode disable: no ssl option, plaintext');
    else {
      lines.push(
        ...sslLines(ctx, 'mysql2', (on) => [
          on
            ? '    verifyIdentity: true, // and the host name: mysql2 checks none without it'
            : '    verifyIdentity: false, // ssl-mode verify-ca: the host name is not checked',
        ]),
      );
    }
    lines.push('});');
    return { text: `${lines.join('\n')}\n`, warnings: [] };
  },
};

export const mariadbNode: ClientMapping = {
  client: 'mariadb-node',
  language: 'javascript',
  modes: EVERY_MODE_EXACT,
  render(ctx) {
    const byAddress = ctx.mode === 'verify-full' && isIP(ctx.host) !== 0;
    const lines = [
      ...imports(ctx, "import mariadb from 'mariadb';", byAddress),
      'const connection = await mariadb.createConnection({',
    ];
    lines.push(...connectionLines(ctx));
    // Its default is 1 s, which a loaded host or a name with an IPv6 address tried first can exceed.
    lines.push('  connectTimeout: 10000,');
    if (ctx.mode === 'disable') lines.push('  ssl: false, // ssl-mode disable: plaintext');
    else {
      lines.push(
        ...sslLines(ctx, 'mariadb-node', (on) =>
          on
            ? byAddress
              ? [
                  '    // An IP target sends no servername, and Node would check the name localhost: check the',
                  "    // address dialled against the certificate's IP SANs instead.",
                  `    checkServerIdentity: (_name, cert) => tls.checkServerIdentity(${literal(ctx.host)}, cert),`,
                ]
              : [`    servername: ${literal(ctx.host)}, // the name the certificate must hold`]
            : [
                '    checkServerIdentity: () => undefined, // ssl-mode verify-ca: the host name is not checked',
              ],
        ),
      );
    }
    lines.push('});');
    return { text: `${lines.join('\n')}\n`, warnings: [] };
  },
};
