/**
 * go-sql-driver/mysql. Its `tls` parameter takes false, true, skip-verify, preferred or a name registered
 * with mysql.RegisterTLSConfig; verify-ca has no built-in spelling, so it is a registered config that
 * skips Go's default verification and verifies the chain itself in VerifyPeerCertificate (the pattern
 * crypto/tls documents for custom verification). The driver fails closed (ErrNoTLS) without server TLS.
 */
import { address } from '../../tls/dsn.js';
import { SSL_MODES } from '../../tls/ssl-mode.js';
import {
  type ClientMapping,
  EVERY_MODE_EXACT,
  literal,
  need,
  needsClientCert,
  type SnippetContext,
} from './model.js';

const CONFIG_NAME = 'dbtls';
const DRIVER = 'github.com/go-sql-driver/mysql';

/** gofmt's grouping: the standard library, a blank line, then the driver. */
function header(std: string[]): string[] {
  return [
    'package main',
    '',
    'import (',
    ...std.map((i) => `\t${literal(i)}`),
    '',
    `\t${literal(DRIVER)}`,
    ')',
    '',
  ];
}

function configLines(ctx: SnippetContext, tls: string): string[] {
  const lines = [
    '\tcfg := mysql.NewConfig()',
    `\tcfg.User = ${literal(ctx.user)}`,
    '\tcfg.Passwd = os.Getenv("MYSQL_PWD")',
    '\tcfg.Net = "tcp"',
    `\tcfg.Addr = ${literal(address(ctx.host, ctx.port))}`,
  ];
  if (ctx.database) lines.push(`\tcfg.DBName = ${literal(ctx.database)}`);
  lines.push(`\tcfg.TLSConfig = ${literal(tls)}`, '\treturn sql.Open("mysql", cfg.FormatDSN())', '}');
  return lines;
}

export const goSqlDriver: ClientMapping = {
  client: 'go',
  language: 'go',
  modes: EVERY_MODE_EXACT,
  render(ctx) {
    const spec = SSL_MODES[ctx.mode];
    if (!spec.verifiesChain) {
      // Built-in names: "false" is plaintext, "skip-verify" encrypts without verifying and fails closed.
      const tls = ctx.mode === 'disable' ? 'false' : 'skip-verify';
      const lines = [
        ...header(['database/sql', 'os']),
        'func openDB() (*sql.DB, error) {',
        ...configLines(ctx, tls),
      ];
      return { text: `${lines.join('\n')}\n`, warnings: [] };
    }
    const ca = need(ctx.ca, '--ca FILE', ctx, 'go');
    const lines = [
      ...header(['crypto/tls', 'crypto/x509', 'database/sql', 'errors', 'os']),
      'func openDB() (*sql.DB, error) {',
      `\tcaPEM, err := os.ReadFile(${literal(ca)})`,
      '\tif err != nil {',
      '\t\treturn nil, err',
      '\t}',
      '\troots := x509.NewCertPool()',
      '\tif !roots.AppendCertsFromPEM(caPEM) {',
      `\t\treturn nil, errors.New(${literal(`no CA certificate in ${ca}`)})`,
      '\t}',
    ];
    if (spec.verifiesHostname) {
      lines.push(
        `\ttlsConfig := &tls.Config{RootCAs: roots, ServerName: ${literal(ctx.host)}, MinVersion: tls.VersionTLS12}`,
      );
    } else {
      lines.push(
        '\t// ssl-mode verify-ca: Go always checks the host name, so its check is skipped and the chain',
        '\t// is verified here instead (no DNSName: the host name is not checked).',
        '\ttlsConfig := &tls.Config{',
        '\t\tInsecureSkipVerify: true,',
        '\t\tMinVersion:         tls.VersionTLS12,',
        '\t\tVerifyPeerCertificate: func(rawCerts [][]byte, _ [][]*x509.Certificate) error {',
        '\t\t\tif len(rawCerts) == 0 {',
        '\t\t\t\treturn errors.New("the server sent no certificate")',
        '\t\t\t}',
        '\t\t\tcerts := make([]*x509.Certificate, len(rawCerts))',
        '\t\t\tfor i, raw := range rawCerts {',
        '\t\t\t\tc, err := x509.ParseCertificate(raw)',
        '\t\t\t\tif err != nil {',
        '\t\t\t\t\treturn err',
        '\t\t\t\t}',
        '\t\t\t\tcerts[i] = c',
        '\t\t\t}',
        '\t\t\tintermediates := x509.NewCertPool()',
        '\t\t\tfor _, c := range certs[1:] {',
        '\t\t\t\tintermediates.AddCert(c)',
        '\t\t\t}',
        '\t\t\t_, err := certs[0].Verify(x509.VerifyOptions{',
        '\t\t\t\tRoots:         roots,',
        '\t\t\t\tIntermediates: intermediates,',
        '\t\t\t\tKeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},',
        '\t\t\t})',
        '\t\t\treturn err',
        '\t\t},',
        '\t}',
      );
    }
    if (needsClientCert(ctx)) {
      lines.push(
        `\tclientCert, err := tls.LoadX509KeyPair(${literal(need(ctx.cert, '--cert FILE', ctx, 'go'))}, ${literal(need(ctx.key, '--key FILE', ctx, 'go'))})`,
        '\tif err != nil {',
        '\t\treturn nil, err',
        '\t}',
        '\ttlsConfig.Certificates = []tls.Certificate{clientCert}',
      );
    }
    lines.push(
      `\tif err := mysql.RegisterTLSConfig(${literal(CONFIG_NAME)}, tlsConfig); err != nil {`,
      '\t\treturn nil, err',
      '\t}',
      ...configLines(ctx, CONFIG_NAME),
    );
    return { text: `${lines.join('\n')}\n`, warnings: [] };
  },
};
