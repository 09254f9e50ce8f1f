/**
 * JDBC URLs. MariaDB Connector/J is written in the vocabulary both 2.x and 3.x honour: 2.x (Debian 12
 * ships 2.7.6) has no `sslMode` and, without `useSsl=true`, ignores every TLS option and connects in
 * plaintext (issue 9 item 1); 3.x maps `useSsl=true` [+ `disableSslHostnameVerification` |
 * `trustServerCertificate`] to verify-full, verify-ca and trust. MySQL Connector/J 8+ uses
 * `sslMode=DISABLED|REQUIRED|VERIFY_CA|VERIFY_IDENTITY` and only Java keystores. Both guess the keystore
 * type from the JVM default unless told, so the type is always spelled out. Passwords never go into the
 * URL: they are connection properties.
 */
import { DbtlsError } from '../../errors.js';
import { JAVA_STORE_TYPE, KEYSTORE_FORMAT_WORD } from '../../keystore/format.js';
import { address } from '../../tls/dsn.js';
import { SSL_MODES, type SslMode } from '../../tls/ssl-mode.js';
import { SECURE_TLS_VERSIONS } from '../../tls/versions.js';
import { commandLine } from '../../util/shell.js';
import {
  type ClientMapping,
  EVERY_MODE_EXACT,
  mysqlSslMode,
  need,
  needsClientCert,
  type SnippetContext,
} from './model.js';

function base(scheme: string, ctx: SnippetContext): string {
  return `jdbc:${scheme}://${address(ctx.host, ctx.port)}/${ctx.database ? encodeURIComponent(ctx.database) : ''}`;
}

function url(scheme: string, ctx: SnippetContext, params: [string, string][]): string {
  return `${base(scheme, ctx)}?${params.map(([k, v]) => `${k}=${encodeURI(v).replace(/[&=?#]/g, encodeURIComponent)}`).join('&')}`;
}

function propertiesNote(props: string[]): string {
  return `# connection properties, from your secret store (never in the URL): ${['user', 'password', ...props].join(', ')}\n`;
}

/** MariaDB Connector/J's switches per mode, as 2.x and 3.x both read them. */
const MARIADB_TLS: Readonly<Record<Exclude<SslMode, 'preferred'>, [string, string][]>> = Object.freeze({
  disable: [['useSsl', 'false']],
  trust: [
    ['useSsl', 'true'],
    ['trustServerCertificate', 'true'],
  ],
  'verify-ca': [
    ['useSsl', 'true'],
    ['disableSslHostnameVerification', 'true'],
  ],
  'verify-full': [['useSsl', 'true']],
});

export const jdbcMariadb: ClientMapping = {
  client: 'jdbc-mariadb',
  language: 'jdbc-url',
  modes: EVERY_MODE_EXACT,
  render(ctx) {
    if (ctx.mode === 'preferred') throw new TypeError('jdbc-mariadb: preferred is never written');
    const params: [string, string][] = [...MARIADB_TLS[ctx.mode]];
    const props: string[] = [];
    if (SSL_MODES[ctx.mode].verifiesChain && ctx.ca === undefined && ctx.truststore !== undefined) {
      // A Java truststore instead of a PEM CA: its type spelled out, as for the keystore.
      params.push(['trustStore', ctx.truststore], ['trustStoreType', JAVA_STORE_TYPE[ctx.truststoreType]]);
      props.push('trustStorePassword');
    } else if (SSL_MODES[ctx.mode].verifiesChain) {
      params.push(['serverSslCert', need(ctx.ca, '--ca FILE (or --truststore FILE)', ctx, 'jdbc-mariadb')]);
    }
    if (needsClientCert(ctx)) {
      params.push(['keyStore', need(ctx.keystore, '--keystore FILE', ctx, 'jdbc-mariadb')]);
      params.push(['keyStoreType', JAVA_STORE_TYPE[ctx.keystoreType]]);
      // 2.7.6 with a key password that differs and no keyPassword silently sends no certificate.
      props.push(
        'keyStorePassword',
        "keyPassword (the key entry's password; dbtls export writes it equal to keyStorePassword)",
      );
    }
    if (ctx.mode !== 'disable') params.push(['enabledSslProtocolSuites', SECURE_TLS_VERSIONS.join(',')]);
    return {
      text: `${url('mariadb', ctx, params)}\n${MARIADB_VERSIONS}\n${propertiesNote(props)}`,
      warnings: [],
    };
  },
};

const MARIADB_VERSIONS =
  '# MariaDB Connector/J 2.x and 3.x (run against 2.7.6 on Java 17): useSsl=true, not sslMode, which 2.x ignores';

/**
 * MySQL Connector/J reads no PEM CA: the export that makes a truststore from the --ca given, in the store
 * type the snippet will name. Its password is the user's to choose, so that file stays a placeholder.
 */
function truststoreHint(ctx: SnippetContext): string {
  const word = KEYSTORE_FORMAT_WORD[ctx.truststoreType];
  const out = `truststore.${word}`;
  const ca = ctx.ca ?? 'CA_FILE';
  const exportLine = commandLine([
    'dbtls',
    'export',
    'truststore',
    '--format',
    word,
    '--ca',
    ca,
    '--password-file',
    'TRUSTSTORE_PASSWORD_FILE',
    '--out',
    out,
  ]);
  const caNote =
    ctx.ca === undefined ? '; CA_FILE: the CA certificate that signed the server certificate' : '';
  return `MySQL Connector/J reads no PEM CA: make a truststore with \`${exportLine}\` (TRUSTSTORE_PASSWORD_FILE: a file holding the password to protect it with${caNote}) and add --truststore ${out}`;
}

export const jdbcMysql: ClientMapping = {
  client: 'jdbc-mysql',
  language: 'jdbc-url',
  modes: EVERY_MODE_EXACT,
  render(ctx) {
    const params: [string, string][] = [['sslMode', mysqlSslMode(ctx.mode)]];
    const props: string[] = [];
    if (SSL_MODES[ctx.mode].verifiesChain) {
      if (ctx.truststore === undefined) {
        throw new DbtlsError(
          'MATERIAL_MISSING',
          `could not write the jdbc-mysql snippet for ssl-mode ${ctx.mode}: --truststore FILE is missing`,
          {
            hint: truststoreHint(ctx),
          },
        );
      }
      params.push(['trustCertificateKeyStoreUrl', `file:${ctx.truststore}`]);
      params.push(['trustCertificateKeyStoreType', JAVA_STORE_TYPE[ctx.truststoreType]]);
      // Trust our CA only, not also the JVM's public CAs (Connector/J 8.0.22+ falls back to them by default).
      params.push(['fallbackToSystemTrustStore', 'false']);
      props.push('trustCertificateKeyStorePassword');
    }
    if (needsClientCert(ctx)) {
      params.push([
        'clientCertificateKeyStoreUrl',
        `file:${need(ctx.keystore, '--keystore FILE', ctx, 'jdbc-mysql')}`,
      ]);
      params.push(['clientCertificateKeyStoreType', JAVA_STORE_TYPE[ctx.keystoreType]]);
      params.push(['fallbackToSystemKeyStore', 'false']);
      props.push('clientCertificateKeyStorePassword');
    }
    if (ctx.mode !== 'disable') params.push(['tlsVersions', SECURE_TLS_VERSIONS.join(',')]);
    return { text: `${url('mysql', ctx, params)}\n${propertiesNote(props)}`, warnings: [] };
  },
};
