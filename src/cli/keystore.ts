/**
 * Keystores and truststores for Java clients: `export p12|jks|truststore` and `keystore show`. The CA
 * bundle commands (`bundle`, `bundle show`, `cloud-ca`) live in ./bundle.ts.
 * Keystore passwords come from --password-file or DBTLS_KEYSTORE_PASSWORD, never argv (./artifact-args.ts).
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbtlsError } from '../errors.js';
import { reportBundle } from '../keystore/bundle.js';
import {
  JAVA_STORE_TYPE,
  KEYSTORE_FORMAT_LABEL,
  KEYSTORE_FORMAT_WORD,
  KEYSTORE_FORMAT_WORDS,
  type KeystoreFormat,
  parseKeystoreFormat,
} from '../keystore/format.js';
import { writeJks } from '../keystore/jks.js';
import { loadKeystoreMaterial } from '../keystore/material.js';
import { type Pkcs12Profile, writePkcs12 } from '../keystore/pkcs12.js';
import { readKeystore, summarize } from '../keystore/read.js';
import { writeTruststore } from '../keystore/truststore.js';
import { dateText } from '../util/dates.js';
import { MODE_SECRET, readUserFile, writeFileAtomic } from '../util/files.js';
import { hasControlCharacter, oneLine, quotedValue } from '../util/safe-text.js';
import {
  flag,
  noPositionals,
  type OptionSpec,
  type Parsed,
  parse,
  readSecretFile,
  required,
  str,
  strs,
} from './args.js';
import {
  certificatesFrom,
  KEYSTORE_PASSWORD_ENV,
  oneOf,
  onePositional,
  optionalPassword,
  type PasswordSource,
  requiredPassword,
} from './artifact-args.js';
import type { Command, OptionDef } from './command.js';
import { COMMON, like, pick } from './options.js';
import { checkOutputFile, refuseStdout } from './out.js';

const PROFILES: readonly Pkcs12Profile[] = ['modern', 'legacy'];
const storePassword = (usage: string): PasswordSource => ({
  fileOption: 'password-file',
  usage,
  forWriting: true,
});

/** The head of `export … --json`: the file, in the words `keystore show` uses for its format. */
function writtenStore(file: string, format: KeystoreFormat, profile: Pkcs12Profile) {
  return {
    file,
    format,
    ...(format === 'pkcs12' ? { profile } : {}),
    mode: '0600',
  };
}

const STORE_PASSWORD_FILE: OptionDef = {
  type: 'string',
  description: 'a file holding the keystore password (never the command line)',
  env: [KEYSTORE_PASSWORD_ENV],
};
const P12_PROFILE: OptionDef = {
  type: 'string',
  description: 'PKCS#12 encryption: modern (AES, PBKDF2) or legacy (3DES/RC2 for Java 8 and old OpenSSL)',
  choices: PROFILES,
  default: 'modern',
};

function keystoreOptions(format: KeystoreFormat): OptionSpec {
  return {
    cert: { type: 'string', description: 'the certificate (PEM) whose key goes in the keystore' },
    key: { type: 'string', description: 'the private key (PEM) of --cert' },
    chain: {
      type: 'string',
      multiple: true,
      description: 'intermediate and root certificates to store with it (default: the rest of --cert)',
    },
    alias: { type: 'string', value: 'NAME', description: 'the alias Java finds the key entry under' },
    'password-file': STORE_PASSWORD_FILE,
    ...(format === 'jks'
      ? {
          'key-password-file': {
            type: 'string',
            description: 'a file holding a separate key password (default: the keystore password)',
          } satisfies OptionDef,
        }
      : { profile: P12_PROFILE }),
    'key-passphrase-file': {
      type: 'string',
      description: 'a file holding the passphrase of an encrypted --key',
    },
    out: like('out', { description: 'the keystore file to write (refused if it exists, unless --force)' }),
    force: FORCE,
    ...pick('allow-empty-password', 'json'),
  };
}

const FORCE: OptionDef = { type: 'boolean', description: 'replace an existing --out file' };

/**
 * A keystore is never replaced by surprise (issue 14, item 9): like `sign` and `csr`, an existing --out
 * is refused; here --force replaces it, since re-exporting a keystore after a renewal is routine. Checked
 * after the material, so a bad input is reported as such whatever --out is.
 */
function refuseExisting(out: string, p: Parsed): void {
  // A directory, a FIFO or a missing directory first (exit 2 before any work): --force cannot help those.
  checkOutputFile(path.resolve(out));
  if (!flag(p, 'force') && fs.existsSync(out)) {
    throw new DbtlsError('OUTPUT_EXISTS', `could not write ${out}: the file already exists`, {
      hint: 'choose another --out file, or add --force to replace it',
    });
  }
}

function exportKeystore(format: KeystoreFormat): Command {
  const word = KEYSTORE_FORMAT_WORD[format];
  const usage = `dbtls export ${word} --cert F --key F [--chain F]... --alias NAME --password-file F${format === 'jks' ? ' [--key-password-file F]' : ''} --out F [--force]${format === 'pkcs12' ? ' [--profile modern|legacy]' : ''} [--key-passphrase-file F] [--allow-empty-password] [--json]`;
  const options = keystoreOptions(format);
  return {
    name: ['export', word],
    usage,
    options,
    examples: [
      `dbtls export ${word} --cert app_user/cert.pem --key app_user/key.pem --alias app_user --password-file ks-pass.txt --out app_user/keystore.${word}`,
      format === 'jks'
        ? 'dbtls export jks --cert app_user/cert.pem --key app_user/key.pem --alias app_user --password-file ks-pass.txt --key-password-file key-pass.txt --out app_user/keystore.jks --force'
        : 'dbtls export p12 --cert app_user/cert.pem --key app_user/key.pem --alias app_user --password-file ks-pass.txt --profile legacy --out app_user/keystore-java8.p12',
    ],
    summary: `write a ${KEYSTORE_FORMAT_LABEL[format]} keystore with a private key and its chain (Java clients)`,
    async run(argv, ctx) {
      const p = noPositionals(parse(argv, options, usage, ctx), usage);
      refuseStdout(str(p, 'out'), 'a keystore (binary)', usage);
      const [certFile, keyFile, alias, out] = ['cert', 'key', 'alias', 'out'].map((n) =>
        required(p, n, usage),
      );
      const profile = oneOf(str(p, 'profile') ?? 'modern', PROFILES, '--profile', usage);
      // keytool -list prints the alias as it is: a control character in it would drive the terminal.
      if (hasControlCharacter(alias!)) {
        throw new DbtlsError(
          'ALIAS_INVALID',
          `could not use alias ${quotedValue(alias!)}: it holds a control character`,
          {
            hint: 'use a short alias of letters, digits, dots, dashes and underscores',
          },
        );
      }
      const password = requiredPassword(p, ctx, storePassword(usage));
      // PKCS#12 has one password for store and key (what Java and keytool expect); JKS may have two.
      const keyPassword =
        optionalPassword(p, ctx, {
          fileOption: 'key-password-file',
          usage,
          forWriting: true,
          fromEnv: false,
          what: 'key password',
        }) ?? password;
      const passphraseFile = str(p, 'key-passphrase-file');
      const material = loadKeystoreMaterial({
        certPem: readUserFile(certFile!, 'certificate'),
        keyPem: readUserFile(keyFile!, 'private key'),
        chainPems: strs(p, 'chain').map((f) => readUserFile(f, 'chain')),
        ...(passphraseFile ? { keyPassphrase: readSecretFile(passphraseFile, 'key passphrase') } : {}),
      });
      const chain = material.chain.map((c) => c.der);
      const bytes =
        format === 'pkcs12'
          ? writePkcs12({ key: material.key, chain, alias: alias!, password, profile })
          : writeJks({
              entries: [{ type: 'PrivateKeyEntry', alias: alias!, key: material.key, chain }],
              storePassword: password,
              keyPassword,
            });
      refuseExisting(out!, p);
      writeFileAtomic(out!, bytes, { mode: MODE_SECRET });
      if (flag(p, 'json')) {
        ctx.render.json({
          ...writtenStore(out!, format, profile),
          entries: [{ alias, type: 'PrivateKeyEntry', chainLength: chain.length }],
        });
        return 0;
      }
      ctx.render.lines(
        `Wrote ${out} (${format === 'pkcs12' ? `PKCS#12, ${profile} profile` : 'JKS'}, mode 0600): PrivateKeyEntry "${alias}" with a chain of ${chain.length} certificates.`,
        ...javaKeystoreHint(path.resolve(out!), format, keyPassword !== password),
      );
      return 0;
    },
  };
}

/**
 * The complete Connector/J settings for a client keystore (issue 9 item 1): MariaDB Connector/J 2.x (Debian
 * 12 ships 2.7.6) ignores every TLS option without useSsl=true, and with a key password that differs from
 * the store's and no keyPassword it silently sends no certificate. Run against 2.7.6 on Java 17.
 */
function javaKeystoreHint(out: string, format: KeystoreFormat, ownKeyPassword: boolean): string[] {
  const type = JAVA_STORE_TYPE[format];
  const keyPassword = ownKeyPassword ? 'the password in your --key-password-file' : 'the same password';
  return [
    `Java, MariaDB Connector/J 2.x and 3.x: jdbc:mariadb://HOST:3306/?useSsl=true&serverSslCert=/path/to/ca.pem&keyStore=${out}&keyStoreType=${type}`,
    `  with the connection properties keyStorePassword (the password in your password file) and keyPassword (${keyPassword}).`,
    `Java, MySQL Connector/J 8+: jdbc:mysql://HOST:3306/?sslMode=VERIFY_IDENTITY&trustCertificateKeyStoreUrl=file:/path/to/truststore&clientCertificateKeyStoreUrl=file:${out}&clientCertificateKeyStoreType=${type}`,
    '  with the property clientCertificateKeyStorePassword. Passwords never go into the URL.',
  ];
}

const truststoreUsage = `dbtls export truststore --format ${KEYSTORE_FORMAT_WORDS.join('|')} --ca F [--ca F]... --password-file F --out F [--force] [--profile modern|legacy] [--allow-empty-password] [--json]`;
const TRUSTSTORE_OPTIONS: OptionSpec = {
  format: { type: 'string', description: 'the truststore format', choices: KEYSTORE_FORMAT_WORDS },
  ca: {
    type: 'string',
    multiple: true,
    description: 'a CA certificate file (PEM) to trust; every certificate in it is added',
  },
  'password-file': STORE_PASSWORD_FILE,
  out: like('out', { description: 'the truststore file to write (refused if it exists, unless --force)' }),
  force: FORCE,
  profile: P12_PROFILE,
  ...pick('allow-empty-password', 'json'),
};
const exportTruststore: Command = {
  name: ['export', 'truststore'],
  usage: truststoreUsage,
  options: TRUSTSTORE_OPTIONS,
  examples: [
    'dbtls export truststore --format p12 --ca dbtls-ca/root.pem --password-file ts-pass.txt --out truststore.p12',
    'dbtls export truststore --format jks --ca old-root.pem --ca new-root.pem --password-file ts-pass.txt --out truststore.jks',
  ],
  summary: 'write a JKS or PKCS#12 truststore with trusted CA certificates (Java clients)',
  async run(argv, ctx) {
    const p = noPositionals(parse(argv, TRUSTSTORE_OPTIONS, truststoreUsage, ctx), truststoreUsage);
    refuseStdout(str(p, 'out'), 'a truststore (binary)', truststoreUsage);
    const format = parseKeystoreFormat(required(p, 'format', truststoreUsage), '--format', truststoreUsage);
    const caFiles = strs(p, 'ca');
    if (caFiles.length === 0) required(p, 'ca', truststoreUsage);
    const out = required(p, 'out', truststoreUsage);
    const profile = oneOf(str(p, 'profile') ?? 'modern', PROFILES, '--profile', truststoreUsage);
    const password = requiredPassword(p, ctx, storePassword(truststoreUsage));
    const cas = certificatesFrom(caFiles, 'CA certificate');
    const bytes = writeTruststore({ format, cas, password, profile });
    refuseExisting(out, p);
    writeFileAtomic(out, bytes, { mode: MODE_SECRET });
    if (flag(p, 'json')) {
      ctx.render.json({
        ...writtenStore(out, format, profile),
        trusted: reportBundle(cas).certificates.map(({ subject, notAfter, fingerprint }) => ({
          subject,
          notAfter,
          fingerprint,
        })),
      });
      return 0;
    }
    ctx.render.lines(
      `Wrote ${out} (${KEYSTORE_FORMAT_LABEL[format]} truststore, mode 0600): ${cas.length} trusted CA certificate(s).`,
      `Java, MariaDB Connector/J 2.x and 3.x: jdbc:mariadb://HOST:3306/?useSsl=true&trustStore=${path.resolve(out)}&trustStoreType=${JAVA_STORE_TYPE[format]} with the property trustStorePassword.`,
      `Java, MySQL Connector/J 8+: jdbc:mysql://HOST:3306/?sslMode=VERIFY_IDENTITY&trustCertificateKeyStoreUrl=file:${path.resolve(out)}&trustCertificateKeyStoreType=${JAVA_STORE_TYPE[format]}&fallbackToSystemTrustStore=false with the property trustCertificateKeyStorePassword.`,
    );
    return 0;
  },
};

const showUsage = 'dbtls keystore show FILE [--password-file F] [--json]';
const SHOW_OPTIONS: OptionSpec = {
  'password-file': STORE_PASSWORD_FILE,
  json: COMMON.json,
};
const keystoreShow: Command = {
  name: ['keystore', 'show'],
  usage: showUsage,
  options: SHOW_OPTIONS,
  examples: [
    'dbtls keystore show app_user/keystore.p12 --password-file ks-pass.txt',
    'dbtls keystore show truststore.jks --password-file ts-pass.txt --json',
  ],
  summary: 'list the entries of a JKS or PKCS#12 keystore (alias, type, subject, expiry, chain length)',
  async run(argv, ctx) {
    const p: Parsed = parse(argv, SHOW_OPTIONS, showUsage, ctx);
    const file = onePositional(p, 'keystore file', showUsage);
    const bytes = readUserFile(file, 'keystore');
    const password = requiredPassword(p, ctx, {
      fileOption: 'password-file',
      usage: showUsage,
      forWriting: false,
    });
    const keystore = readKeystore(bytes, password, { skipKeys: true, file });
    const entries = summarize(keystore);
    if (flag(p, 'json')) {
      ctx.render.json({ file, format: keystore.format, entries });
      return 0;
    }
    ctx.render.lines(
      `${file}: ${KEYSTORE_FORMAT_LABEL[keystore.format]}, ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}`,
    );
    for (const e of entries) {
      ctx.render.lines(
        '',
        `  alias:   ${oneLine(e.alias)}`, // from the file: a JKS alias may hold a newline
        `  type:    ${e.type}`,
        `  subject: ${e.subject}`,
        `  issuer:  ${e.issuer}`,
        `  expires: ${e.notAfter ? dateText(e.notAfter) : '-'}`,
        `  chain:   ${e.chainLength} certificate(s)`,
      );
    }
    return 0;
  },
};

export const commands: Command[] = [
  exportKeystore('pkcs12'),
  exportKeystore('jks'),
  exportTruststore,
  keystoreShow,
];
