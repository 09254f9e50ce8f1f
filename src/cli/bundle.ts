/**
 * CA bundles: `bundle` (build one from any pile of CA files), `bundle show` (what a bundle holds, what
 * expires soon) and `cloud-ca rds` (the Amazon RDS bundle shipped with dbtls).
 */

import * as path from 'node:path';
import { rdsBundle } from '../deploy/cloud.js';
import { DbtlsError } from '../errors.js';
import { buildBundle, reportBundle } from '../keystore/bundle.js';
import { dateText } from '../util/dates.js';
import { MODE_PUBLIC, writeFileAtomic } from '../util/files.js';
import { quotedValue } from '../util/safe-text.js';
import { flag, noPositionals, type OptionSpec, parse, required, str } from './args.js';
import { certificatesFrom, onePositional } from './artifact-args.js';
import type { Command } from './command.js';
import { COMMON, like } from './options.js';
import { checkOutputFile, isStdout, refuseJsonOnStdout } from './out.js';
import { commandLine } from './shell.js';

const bundleUsage = 'dbtls bundle FILE... --out F [--verify] [--json]';
const BUNDLE_OPTIONS: OptionSpec = {
  out: like('out', { description: 'the bundle file to write (PEM)' }),
  verify: {
    type: 'boolean',
    description: 'also check every signature link between the certificates',
  },
  json: COMMON.json,
};
const bundle: Command = {
  name: ['bundle'],
  usage: bundleUsage,
  options: BUNDLE_OPTIONS,
  details: ['FILE... are PEM or DER files holding CA certificates, in any order.'],
  examples: [
    'dbtls bundle old-root.pem new-root.pem --out ca-bundle.pem --verify',
    'dbtls bundle dbtls-ca/root.pem dbtls-ca/intermediate.pem --out ca.pem',
  ],
  summary:
    'build a CA bundle: leaf-to-root order, duplicates removed, expired, non-CA and broken links refused',
  async run(argv, ctx) {
    const p = parse(argv, BUNDLE_OPTIONS, bundleUsage, ctx);
    const out = required(p, 'out', bundleUsage);
    refuseJsonOnStdout(out, flag(p, 'json'), bundleUsage);
    if (p.positionals.length === 0) {
      throw new DbtlsError('USAGE', 'could not build the bundle: no input file given', {
        hint: `usage: ${bundleUsage}`,
      });
    }
    if (!isStdout(out)) checkOutputFile(path.resolve(ctx.cwd, out), 'certificates');
    const certs = certificatesFrom(p.positionals, 'certificate file');
    const result = buildBundle(certs, { verify: flag(p, 'verify') });
    if (isStdout(out)) ctx.render.lines(result.pem.replace(/\n$/, ''));
    else writeFileAtomic(out, result.pem, { mode: MODE_PUBLIC });
    if (flag(p, 'json')) {
      ctx.render.json({ file: out, ...reportBundle(result.certs) });
      return 0;
    }
    if (!isStdout(out)) {
      ctx.render.lines(
        `Wrote ${out}: ${result.certs.length} CA certificate(s), ${result.complete ? 'every chain ends at a root in the file' : 'some issuers are not in the file'}.`,
      );
    }
    if (!result.complete) {
      const show = isStdout(out)
        ? ''
        : `, or check it with \`${commandLine(['dbtls', 'bundle', 'show', out])}\``;
      ctx.render.warn(`the bundle is incomplete: add the root CAs to the files given${show}`);
    }
    return 0;
  },
};

const bundleShowUsage = 'dbtls bundle show FILE [--json]';
const BUNDLE_SHOW_OPTIONS: OptionSpec = { json: COMMON.json };
const bundleShow: Command = {
  name: ['bundle', 'show'],
  usage: bundleShowUsage,
  options: BUNDLE_SHOW_OPTIONS,
  examples: ['dbtls bundle show ca-bundle.pem', 'dbtls bundle show /etc/mysql/ssl/ca.pem --json'],
  summary: 'list the certificates of a PEM bundle with expiry and chain completeness',
  async run(argv, ctx) {
    const p = parse(argv, BUNDLE_SHOW_OPTIONS, bundleShowUsage, ctx);
    const file = onePositional(p, 'bundle file', bundleShowUsage);
    const report = reportBundle(certificatesFrom([file], 'bundle'));
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
        `  issuer:  ${c.issuer}${c.selfSigned ? ' (self-signed root)' : c.issuerInBundle ? '' : c.linkBroken ? ' (BROKEN LINK: a CA of this name is in the file but did not sign it)' : ' (not in this file)'}`,
        `  expires: ${dateText(c.notAfter)} (${c.daysLeft} days left)${flagText}`,
      );
    }
    return 0;
  },
};

const cloudUsage = 'dbtls cloud-ca rds [--region R] --out F [--json]';
const CLOUD_OPTIONS: OptionSpec = {
  region: {
    type: 'string',
    value: 'REGION',
    description: 'only the CAs of one AWS region (us-east-1, eu-west-3, …)',
    default: 'every region',
  },
  out: like('out', { description: 'the bundle file to write (PEM)' }),
  json: COMMON.json,
};
const cloudCa: Command = {
  name: ['cloud-ca', 'rds'],
  usage: cloudUsage,
  options: CLOUD_OPTIONS,
  examples: ['dbtls cloud-ca rds --out rds-ca.pem', 'dbtls cloud-ca rds --region eu-west-1 --out rds-ca.pem'],
  summary: 'write the Amazon RDS/Aurora CA bundle (shipped with dbtls, no network needed)',
  async run(argv, ctx) {
    const p = noPositionals(parse(argv, CLOUD_OPTIONS, cloudUsage, ctx), cloudUsage);
    const out = required(p, 'out', cloudUsage);
    refuseJsonOnStdout(out, flag(p, 'json'), cloudUsage);
    if (!isStdout(out)) checkOutputFile(path.resolve(ctx.cwd, out), 'certificates');
    const region = str(p, 'region');
    const certs = rdsBundle(region === undefined ? {} : { region });
    const result = buildBundle(certs);
    if (isStdout(out)) {
      // `--out -` was a file named "-" (issue 14, item 10).
      ctx.render.lines(result.pem.replace(/\n$/, ''));
      return 0;
    }
    writeFileAtomic(out, result.pem, { mode: MODE_PUBLIC });
    if (flag(p, 'json')) {
      ctx.render.json({ file: out, region: region ?? 'all', ...reportBundle(result.certs) });
      return 0;
    }
    ctx.render.lines(
      `Wrote ${out}: ${result.certs.length} Amazon RDS CA certificate(s)${region ? ` for ${region}` : ' (all regions)'}; use it as ssl-ca with verify-full.`,
    );
    return 0;
  },
};

/** How to build the other providers' bundles (docs/cloud.md): their server CAs are per instance, not shipped. */
const GCP_STEPS = [
  "gcloud sql ssl server-ca-certs list --instance=INSTANCE --format='value(cert)' > cloudsql-cas.pem",
  'dbtls bundle cloudsql-cas.pem --out cloudsql-ca.pem --verify',
];
const OTHER_CLOUDS: Readonly<Record<string, { readonly name: string; readonly steps: readonly string[] }>> =
  Object.freeze({
    gcp: { name: 'Google Cloud SQL', steps: GCP_STEPS },
    cloudsql: { name: 'Google Cloud SQL', steps: GCP_STEPS },
    azure: {
      name: 'Azure Database for MySQL',
      steps: [
        "download DigiCert Global Root G2 and Microsoft RSA Root Certificate Authority 2017 (DigiCert's and Microsoft's PKI repositories)",
        'dbtls bundle DigiCertGlobalRootG2.crt.pem MicrosoftRSARootCertificateAuthority2017.crt.pem --out azure-ca.pem --verify',
      ],
    },
  });

const cloudOther: Command = {
  name: ['cloud-ca'],
  usage:
    'dbtls cloud-ca rds [--region R] --out F   |   dbtls cloud-ca gcp|azure   (prints how to build theirs)',
  summary: 'managed-database CA bundles: `rds` is shipped; Cloud SQL and Azure go through `dbtls bundle`',
  options: {},
  details: [
    'Amazon RDS/Aurora: `dbtls cloud-ca rds`. Cloud SQL and Azure publish per-instance CAs: fetch them',
    '(`dbtls cloud-ca gcp` and `dbtls cloud-ca azure` print how) and build a bundle with `dbtls bundle`.',
  ],
  examples: ['dbtls cloud-ca rds --out rds-ca.pem', 'dbtls cloud-ca gcp'],
  async run(argv, ctx) {
    const provider = argv[0] ?? '';
    const other = OTHER_CLOUDS[provider.toLowerCase()];
    if (other && argv.length === 1) {
      ctx.render.lines(
        `${other.name} publishes its server CAs per instance, so dbtls ships none. Build the bundle:`,
        ...other.steps.map((step, n) => `  ${n + 1}. ${step}`),
        'More in docs/cloud.md.',
      );
      return 0;
    }
    throw new DbtlsError(
      'CLOUD_PROVIDER_UNSUPPORTED',
      `could not write a CA bundle for ${provider ? quotedValue(provider, 40) : 'no provider'}: only rds is shipped with dbtls`,
      {
        hint: other
          ? `${other.steps.join(', then ')} (docs/cloud.md)`
          : "use `dbtls cloud-ca rds --out rds-ca.pem`, or build the bundle from your provider's CA files with `dbtls bundle FILE... --out ca-bundle.pem` (docs/cloud.md)",
      },
    );
  },
};

export const commands: Command[] = [cloudOther, bundle, bundleShow, cloudCa];
