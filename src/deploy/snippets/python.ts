/**
 * PyMySQL. `ssl_ca` alone verifies nothing: the checks are `ssl_verify_cert` and `ssl_verify_identity`,
 * spelled out here. PyMySQL also continues in plaintext, password included, when the server does not
 * offer TLS whatever the ssl settings (connections.py, _request_authentication checks
 * `self.ssl and self.server_capabilities & CLIENT.SSL`), so every TLS mode uses a Connection subclass that
 * refuses before any credential is sent.
 */
import { SSL_MODES } from '../../tls/ssl-mode.js';
import {
  type ClientMapping,
  EVERY_MODE_EXACT,
  literal,
  need,
  needsClientCert,
  type SnippetContext,
} from './model.js';

const TLS_ONLY = [
  'class TlsOnlyConnection(pymysql.connections.Connection):',
  '    """Refuses a server that offers no TLS before sending credentials (PyMySQL would go on in plaintext)."""',
  '',
  '    def _request_authentication(self):',
  '        if not self.server_capabilities & CLIENT.SSL:',
  '            raise pymysql.err.OperationalError(2026, "the server offers no TLS: refusing to send credentials")',
  '        return super()._request_authentication()',
  '',
];

function py(value: boolean): string {
  return value ? 'True' : 'False';
}

function args(ctx: SnippetContext): string[] {
  const out = [
    `    host=${literal(ctx.host)},`,
    `    port=${ctx.port},`,
    `    user=${literal(ctx.user)},`,
    '    password=os.environ["MYSQL_PWD"],',
  ];
  if (ctx.database) out.push(`    database=${literal(ctx.database)},`);
  return out;
}

export const pymysql: ClientMapping = {
  client: 'python',
  language: 'python',
  modes: EVERY_MODE_EXACT,
  render(ctx) {
    const spec = SSL_MODES[ctx.mode];
    if (ctx.mode === 'disable') {
      const lines = [
        'import os',
        '',
        'import pymysql',
        '',
        'connection = pymysql.connect(',
        ...args(ctx),
        '    ssl_disabled=True,',
        ')',
      ];
      return { text: `${lines.join('\n')}\n`, warnings: [] };
    }
    const lines = ['import os'];
    if (!spec.verifiesChain) lines.push('import ssl');
    lines.push('', 'import pymysql', 'from pymysql.constants import CLIENT', '', ...TLS_ONLY);
    if (!spec.verifiesChain) {
      // ssl_verify_cert=False alone turns TLS off in PyMySQL; an explicit context keeps it on, unverified.
      lines.push(
        'context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)',
        'context.minimum_version = ssl.TLSVersion.TLSv1_2',
        'context.check_hostname = False  # ssl-mode trust: encrypted, server not verified',
        'context.verify_mode = ssl.CERT_NONE',
        '',
        'connection = TlsOnlyConnection(',
        ...args(ctx),
        '    ssl=context,',
        ')',
      );
      return { text: `${lines.join('\n')}\n`, warnings: [] };
    }
    lines.push('connection = TlsOnlyConnection(', ...args(ctx));
    lines.push(`    ssl_ca=${literal(need(ctx.ca, '--ca FILE', ctx, 'python'))},`);
    if (needsClientCert(ctx)) {
      lines.push(`    ssl_cert=${literal(need(ctx.cert, '--cert FILE', ctx, 'python'))},`);
      lines.push(`    ssl_key=${literal(need(ctx.key, '--key FILE', ctx, 'python'))},`);
    }
    lines.push(
      `    ssl_verify_cert=${py(spec.verifiesChain)},  # without it PyMySQL verifies nothing`,
      `    ssl_verify_identity=${py(spec.verifiesHostname)},  # the host name`,
      ')',
    );
    return { text: `${lines.join('\n')}\n`, warnings: [] };
  },
};
