/**
 * Keystores, truststores and CA bundles: `export p12|jks|truststore`, `keystore show`, `bundle`,
 * `bundle show`, `cloud-ca rds`. Keystore passwords come from --password-file or DBTLS_KEYSTORE_PASSWORD,
 * never argv (DESIGN.md security rules).
 */

import { rdsBundle } from '../deploy/cloud.js';
import { DbtlsError } from '../errors.js';
import { buildBundle, reportBundle } from '../keystore/bundle.js';
import { pemCertificates } from '../keystore/chain.js';
import { writeJks } from '../keystore/jks.js';
import { loadKeystoreMaterial } from '../keystore/material.js';
import { type Pkcs12Profile, writePkcs12 } from '../keystore/pkcs12.js';
import { readKeystore, summarize } from '../keystore/read.js';
import { type TruststoreFormat, writeTruststore } from '../keystore/truststore.js';
import { MODE_PUBLIC, MODE_SECRET, readUserFile, writeFileAtomic } from '../util/files.js';
import { flag, type Parsed, parse, readSecret, readSecretFile, required, str, strs } from './args.js';
import type { Command, CommandContext } from './command.js';

/** The environment variable that may hold the keystore password (documented in docs/keystores.md). */
export const KEYSTORE_PASSWORD_ENV = 'DBTLS_KEYSTORE_PASSWORD';

async function storePassword(
  p: Parsed,
  ctx: CommandContext,
  usage: string,
  forWriting: boolean,
): Promise<string> {
  const password = await readSecret(
    {
      file: str(p, 'password-file'),
      envName: KEYSTORE_PASSWORD_ENV,
      what: 'keystore password',
      prompt: !forWriting,
    },
    ctx.env,
  );
  if (password === undefined) {
    throw new DbtlsError('PASSWORD_REQUIRED', 'could not open the keystore: no keystore password given', {
      hint: `give --password-file FILE or set ${KEYSTORE_PASSWORD_ENV}; usage: ${usage}`,
    });
  }
  if (password === '' && forWriting && !flag(p, 'allow-empty-password')) {
    throw new DbtlsError('PASSWORD_EMPTY', 'could not protect the keystore: the password is empty', {
      hint: 'put a password in the file; an empty one protects nothing (use --allow-empty-password if you must)',
    });
  }
  return password;
}

function profileOf(p: Parsed, usage: string): Pkcs12Profile {
  const profile = str(p, 'profile') ?? 'modern';
  if (profile !== 'modern' && profile !== 'legacy') {
    throw new DbtlsError('USAGE', `could not use profile ${profile}: expected modern or legacy`, {
      hint: `usage: ${usage}`,
    });
  }
  return profile;
}

function exportKeystore(format: 'p12' | 'jks'): Command {
  const usage = `dbtls export ${format} --cert F --key F [--chain F]... --alias NAME --password-file F [--key-password-file F] --out F${format === 'p12' ? ' [--profile modern|legacy]' : ''} [--key-passphrase-file F] [--allow-empty-password]`;
  return {
    name: ['export', format],
    usage,
    summary: `Write a ${format === 'p12' ? 'PKCS#12' : 'JKS'} keystore with a private key and its chain (Java clients)`,
    async run(argv, ctx) {
      const p = parse(
        argv,
        {
          cert: { type: 'string' },
          key: { type: 'string' },
          chain: { type: 'string', multiple: true },
          alias: { type: 'string' },
          'password-file': { type: 'string' },
          'key-password-file': { type: 'string' },
          'key-passphrase-file': { type: 'string' },
          out: { type: 'string' },
          profile: { type: 'string' },
          'allow-empty-password': { type: 'boolean' },
        },
        usage,
      );
      const certFile = required(p, 'cert', usage);
      const keyFile = required(p, 'key', usage);
      const alias = required(p, 'alias', usage);
      const out = required(p, 'out', usage);
      const profile = profileOf(p, usage);
      if (format === 'jks' && str(p, 'profile') !== undefined) {
        throw new DbtlsError('USAGE', 'could not use --profile: it applies to PKCS#12 only', {
          hint: `usage: ${usage}`,
        });
      }
      const password = await storePassword(p, ctx, usage, true);
      const keyPasswordFile = str(p, 'key-password-file');
      const keyPassword = keyPasswordFile ? readSecretFile(keyPasswordFile, 'key password') : password;
      if (format === 'p12' && keyPassword !== password) {
        throw new DbtlsError(
          'KEY_PASSWORD_UNSUPPORTED',
          'could not use a separate key password: PKCS#12 keystores use the store password',
          {
            hint: 'drop --key-password-file (Java and keytool expect one password for PKCS#12), or export jks',
          },
        );
      }
      const passphraseFile = str(p, 'key-passphrase-file');
      const material = loadKeystoreMaterial({
        certPem: readUserFile(certFile, 'certificate'),
        keyPem: readUserFile(keyFile, 'private key'),
        chainPems: strs(p, 'chain').map((f) => readUserFile(f, 'chain')),
        ...(passphraseFile ? { keyPassphrase: readSecretFile(passphraseFile, 'key passphrase') } : {}),
      });
      const chain = material.chain.map((c) => c.raw);
      const bytes =
        format === 'p12'
          ? writePkcs12({ key: material.key, chain, alias, password, profile })
          : writeJks({
              entries: [{ type: 'PrivateKeyEntry', alias, key: material.key, chain }],
              storePassword: password,
              keyPassword,
            });
      writeFileAtomic(out, bytes, { mode: MODE_SECRET });
      ctx.render.lines(
        `Wrote ${out} (${format === 'p12' ? `PKCS#12, ${profile} profile` : 'JKS'}, mode 0600): PrivateKeyEntry "${alias}" with a chain of ${chain.length} certificates.`,
        `Java: keyStore=${out}, keyStoreType=${format === 'p12' ? 'PKCS12' : 'JKS'}; the password stays in your password file.`,
      );
      return 0;
    },
  };
}

const truststoreUsage =
  'dbtls export truststore --format jks|p12 --ca F [--ca F]... --password-file F --out F [--allow-empty-password]';
const exportTruststore: Command = {
  name: ['export', 'truststore'],
  usage: truststoreUsage,
  summary: 'Write a JKS or PKCS#12 truststore with trusted CA certificates (Java clients)',
  async run(argv, ctx) {
    const p = parse(
      argv,
      {
        format: { type: 'string' },
        ca: { type: 'string', multiple: true },
        'password-file': { type: 'string' },
        out: { type: 'string' },
        profile: { type: 'string' },
        'allow-empty-password': { type: 'boolean' },
      },
      truststoreUsage,
    );
    const format = required(p, 'format', truststoreUsage);
    if (format !== 'jks' && format !== 'p12') {
      throw new DbtlsError('USAGE', `could not use format ${format}: expected jks or p12`, {
        hint: `usage: ${truststoreUsage}`,
      });
    }
    const caFiles = strs(p, 'ca');
    if (caFiles.length === 0) {
      throw new DbtlsError('USAGE', 'could not run the command: --ca is required', {
        hint: `usage: ${truststoreUsage}`,
      });
    }
    const out = required(p, 'out', truststoreUsage);
    const profile = profileOf(p, truststoreUsage);
    const password = await storePassword(p, ctx, truststoreUsage, true);
    const cas = caFiles.flatMap((f) => pemCertificates(readUserFile(f, 'CA certificate'), f));
    const bytes = writeTruststore({ format: format as TruststoreFormat, cas, password, profile });
    writeFileAtomic(out, bytes, { mode: MODE_SECRET });
    ctx.render.lines(
      `Wrote ${out} (${format === 'p12' ? 'PKCS#12' : 'JKS'} truststore, mode 0600): ${cas.length} trusted CA certificate(s).`,
    );
    return 0;
  },
};

const showUsage = 'dbtls keystore show FILE [--password-file F] [--json]';
const keystoreShow: Command = {
  name: ['keystore', 'show'],
  usage: showUsage,
  summary: 'List the entries of a JKS or PKCS#12 keystore (alias, type, subject, expiry, chain length)',
  async run(argv, ctx) {
    const p = parse(argv, { 'password-file': { type: 'string' }, json: { type: 'boolean' } }, showUsage);
    const file = p.positionals[0];
    if (!file || p.positionals.length > 1) {
      throw new DbtlsError('USAGE', 'could not run the command: give exactly one keystore file', {
        hint: `usage: ${showUsage}`,
      });
    }
    const bytes = readUserFile(file, 'keystore');
    const password = await storePassword(p, ctx, showUsage, false);
    const keystore = readKeystore(bytes, password, { skipKeys: true });
    const entries = summarize(keystore);
    if (flag(p, 'json')) {
      ctx.render.json({ file, format: keystore.format, entries });
      return 0;
    }
    ctx.render.lines(
      `${file}: ${keystore.format === 'jks' ? 'JKS' : 'PKCS#12'}, ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}`,
    );
    for (const e of entries) {
      ctx.render.lines(
        '',
        `  alias:   ${e.alias}`,
        `  type:    ${e.type}`,
        `  subject: ${e.subject}`,
        `  issuer:  ${e.issuer}`,
        `  expires: ${e.notAfter}`,
        `  chain:   ${e.chainLength} certificate(s)`,
      );
    }
    return 0;
  },
};

const bundleUsage = 'dbtls bundle FILE... --out F [--verify]';
const bundle: Command = {
  name: ['bundle'],
  usage: bundleUsage,
  summary: 'Build a CA bundle: leaf-to-root order, duplicates removed, expired and non-CA refused',
  async run(argv, ctx) {
    const p = parse(argv, { out: { type: 'string' }, verify: { type: 'boolean' } }, bundleUsage);
    const out = required(p, 'out', bundleUsage);
    if (p.positionals.length === 0) {
      throw new DbtlsError('USAGE', 'could not build the bundle: no input file given', {
        hint: `usage: ${bundleUsage}`,
      });
    }
    const certs = p.positionals.flatMap((f) => pemCertificates(readUserFile(f, 'certificate file'), f));
    const result = buildBundle(certs, { verify: flag(p, 'verify') });
    writeFileAtomic(out, result.pem, { mode: MODE_PUBLIC });
    ctx.render.lines(
      `Wrote ${out}: ${result.certs.length} CA certificate(s), ${result.complete ? 'every chain ends at a root in the file' : 'some issuers are not in the file'}.`,
    );
    if (!result.complete)
      ctx.render.warn('the bundle is incomplete: add the root CAs, or check it with `dbtls bundle show`');
    return 0;
  },
};

const bundleShowUsage = 'dbtls bundle show FILE [--json]';
const bundleShow: Command = {
  name: ['bundle', 'show'],
  usage: bundleShowUsage,
  summary: 'List the certificates of a PEM bundle with expiry and chain completeness',
  async run(argv, ctx) {
    const p = parse(argv, { json: { type: 'boolean' } }, bundleShowUsage);
    const file = p.positionals[0];
    if (!file || p.positionals.length > 1) {
      throw new DbtlsError('USAGE', 'could not run the command: give exactly one bundle file', {
        hint: `usage: ${bundleShowUsage}`,
      });
    }
    const report = reportBundle(pemCertificates(readUserFile(file, 'bundle'), file));
    if (flag(p, 'json')) {
      ctx.render.json({ file, ...report });
      return 0;
    }
    ctx.render.lines(
      `${file}: ${report.certificates.length} certificate(s), chain ${report.complete ? 'complete' : 'INCOMPLETE (an issuer is missing)'}`,
    );
    for (const c of report.certificates) {
      const flagText = c.expired
        ? '  EXPIRED'
        : c.expiringSoon
          ? `  EXPIRES WITHIN ${report.expiringWithinDays} DAYS`
          : '';
      ctx.render.lines(
        '',
        `  subject: ${c.subject}`,
        `  issuer:  ${c.issuer}${c.selfSigned ? ' (self-signed root)' : c.issuerInBundle ? '' : ' (not in this file)'}`,
        `  expires: ${c.notAfter} (${c.daysLeft} days left)${flagText}`,
      );
    }
    return 0;
  },
};

const cloudUsage = 'dbtls cloud-ca rds [--region R] --out F';
const cloudCa: Command = {
  name: ['cloud-ca', 'rds'],
  usage: cloudUsage,
  summary: 'Write the Amazon RDS/Aurora CA bundle (shipped with dbtls, no network needed)',
  async run(argv, ctx) {
    const p = parse(argv, { region: { type: 'string' }, out: { type: 'string' } }, cloudUsage);
    const out = required(p, 'out', cloudUsage);
    const region = str(p, 'region');
    const certs = rdsBundle(region === undefined ? {} : { region });
    const result = buildBundle(certs);
    writeFileAtomic(out, result.pem, { mode: MODE_PUBLIC });
    ctx.render.lines(
      `Wrote ${out}: ${result.certs.length} Amazon RDS CA certificate(s)${region ? ` for ${region}` : ' (all regions)'}; use it as ssl-ca with verify-full.`,
    );
    return 0;
  },
};

/** Where the other providers' server CAs come from (docs/cloud.md): they are per instance, not shipped. */
const OTHER_CLOUDS: Readonly<Record<string, string>> = Object.freeze({
  gcp: "gcloud sql ssl server-ca-certs list --instance=INSTANCE --format='value(cert)' > cas.pem",
  cloudsql: "gcloud sql ssl server-ca-certs list --instance=INSTANCE --format='value(cert)' > cas.pem",
  azure: 'download DigiCert Global Root G2 and Microsoft RSA Root Certificate Authority 2017',
});

const cloudOther: Command = {
  name: ['cloud-ca'],
  usage: 'dbtls cloud-ca rds [--region R] --out F   (Cloud SQL, Azure: see docs/cloud.md)',
  summary: 'Managed-database CA bundles: `rds` is shipped; Cloud SQL and Azure go through `dbtls bundle`',
  async run(argv) {
    const provider = argv[0] ?? '';
    const step = OTHER_CLOUDS[provider.toLowerCase()];
    throw new DbtlsError(
      'CLOUD_PROVIDER_UNSUPPORTED',
      `could not write a CA bundle for ${provider || 'no provider'}: only rds is shipped with dbtls`,
      {
        hint: step
          ? `${step}, then \`dbtls bundle FILE... --out ca.pem --verify\` (docs/cloud.md)`
          : "use `dbtls cloud-ca rds`, or build the bundle from your provider's CA files with `dbtls bundle` (docs/cloud.md)",
      },
    );
  },
};

export const commands: Command[] = [
  cloudOther,
  exportKeystore('p12'),
  exportKeystore('jks'),
  exportTruststore,
  keystoreShow,
  bundle,
  bundleShow,
  cloudCa,
];
