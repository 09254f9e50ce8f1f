/**
 * `dbtls cert show FILE` and `dbtls csr show FILE` (issue 14, item 11): what a certificate or a CSR says,
 * as step's `certificate inspect` shows it, plus the OpenSSL one-line subject that `REQUIRE SUBJECT`
 * compares byte for byte (FACTS.md) — so a CSR can be reviewed before `dbtls sign`.
 */
import { DbtlsError } from '../errors.js';
import { type CertificateInfo, parseCertificates } from '../pki/certificate.js';
import { parseCsr } from '../pki/csr.js';
import { describeKey, type KeyDescription } from '../pki/keys.js';
import { dateText, daysLeft } from '../util/dates.js';
import { readUserFile } from '../util/files.js';
import { oneLine } from '../util/safe-text.js';
import { flag, type OptionSpec, parse } from './args.js';
import { onePositional } from './artifact-args.js';
import type { Command } from './command.js';
import { COMMON } from './options.js';
import { commandLine } from './shell.js';

const CERT_USAGE = 'dbtls cert show FILE [--json]';
const CSR_USAGE = 'dbtls csr show FILE [--json]';
const SHOW_OPTIONS: OptionSpec = { json: COMMON.json };

function certJson(c: CertificateInfo) {
  return {
    subject: c.subject,
    issuer: c.issuer,
    serial: c.serial,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    dnsNames: c.dnsNames,
    ipAddresses: c.ipAddresses,
    isCa: c.isCa,
    ...(c.pathLength === undefined ? {} : { pathLength: c.pathLength }),
    keyUsage: c.keyUsage,
    extendedKeyUsage: c.extendedKeyUsage,
    key: { type: c.keyType, bits: c.keyBits, ...(c.curve ? { curve: c.curve } : {}) },
    signatureAlgorithm: c.signatureAlgorithm,
    selfSigned: c.selfSigned,
    fingerprint: c.fingerprint,
  };
}

function certLines(c: CertificateInfo, now: Date): string[] {
  const days = daysLeft(c.notAfter, now);
  const validity =
    days < 0 ? `EXPIRED ${-days} days ago` : now < c.notBefore ? 'not yet valid' : `${days} days left`;
  return [
    `subject:      ${c.subject}   (REQUIRE SUBJECT '${c.subject}')`,
    `issuer:       ${c.issuer}`,
    `serial:       ${c.serial}`,
    `valid:        ${dateText(c.notBefore)} to ${dateText(c.notAfter)} (${validity})`,
    `names (SAN):  ${[...c.dnsNames, ...c.ipAddresses].join(', ') || '-'}`,
    `usage:        ${[...c.keyUsage, ...c.extendedKeyUsage].join(', ') || '-'}${c.isCa ? `; CA${c.pathLength === undefined ? '' : `, path length ${c.pathLength}`}` : ''}`,
    `key:          ${keyText(c)}, signed with ${c.signatureAlgorithm}${c.selfSigned ? ' (self-signed)' : ''}`,
    `fingerprint:  sha256 ${c.fingerprint}`,
  ];
}

const certShow: Command = {
  name: ['cert', 'show'],
  usage: CERT_USAGE,
  summary: 'show what a certificate file says: subject, SANs, usages, validity, issuer, key',
  options: SHOW_OPTIONS,
  details: ['Every certificate of a PEM chain or bundle is shown, leaf first as the file orders them.'],
  examples: ['dbtls cert show db1/cert.pem', 'dbtls cert show db1/chain.pem --json'],
  async run(argv, ctx) {
    const p = parse(argv, SHOW_OPTIONS, CERT_USAGE, ctx);
    const file = onePositional(p, 'certificate file', CERT_USAGE);
    const bytes = readUserFile(file, 'certificate');
    const certs = parseCertificates(bytes);
    if (certs.length === 0) {
      const csr = bytes.includes('-----BEGIN CERTIFICATE REQUEST-----');
      throw new DbtlsError('CERT_MALFORMED', `could not read ${file}: it holds no PEM certificate`, {
        hint: csr
          ? `it is a certificate signing request: \`${commandLine(['dbtls', 'csr', 'show', file])}\` shows it`
          : 'give a PEM file (-----BEGIN CERTIFICATE-----); a CSR is shown by `dbtls csr show FILE`',
      });
    }
    if (flag(p, 'json')) {
      ctx.render.json({ file, certificates: certs.map(certJson) });
      return 0;
    }
    const now = new Date();
    certs.forEach((c, i) => {
      if (certs.length > 1)
        ctx.render.lines(`${i === 0 ? '' : '\n'}certificate ${i + 1} of ${certs.length}:`);
      // One line per element: a name in the certificate is whatever its maker wrote (util/safe-text.ts).
      ctx.render.lines(...certLines(c, now).map(oneLine));
    });
    return 0;
  },
};

/** `EC P-256`, `RSA 2048 bits`: one wording for a certificate's key and a CSR's. */
function keyText(d: KeyDescription): string {
  return `${d.keyType} ${d.curve ?? `${d.keyBits} bits`}`;
}

const csrShow: Command = {
  name: ['csr', 'show'],
  usage: CSR_USAGE,
  summary: 'show what a certificate signing request asks for, to review it before `dbtls sign`',
  options: SHOW_OPTIONS,
  details: [
    'The signature of the request is checked. `dbtls sign` takes only the names from it: the CA',
    'decides usages and validity.',
  ],
  examples: ['dbtls csr show node2/csr.pem', 'dbtls csr show node2/csr.pem --json'],
  async run(argv, ctx) {
    const p = parse(argv, SHOW_OPTIONS, CSR_USAGE, ctx);
    const file = onePositional(p, 'CSR file', CSR_USAGE);
    const csr = parseCsr(readUserFile(file, 'CSR'));
    const key = keyText(describeKey(csr.publicKey));
    if (flag(p, 'json')) {
      ctx.render.json({
        file,
        subject: csr.subject,
        ...(csr.cn === undefined ? {} : { cn: csr.cn }),
        dnsNames: csr.dnsNames,
        ipAddresses: csr.ipAddresses,
        requestsCa: csr.requestsCa,
        key,
      });
      return 0;
    }
    ctx.render.lines(
      ...[
        `subject:      ${csr.subject}   (after signing, \`dbtls cert show\` gives the REQUIRE SUBJECT string)`,
        `names (SAN):  ${[...csr.dnsNames, ...csr.ipAddresses].join(', ') || '-'}`,
        `key:          ${key}`,
        `asks for CA:  ${csr.requestsCa ? 'yes (dbtls sign never grants it)' : 'no'}`,
        'signature:    valid',
      ].map(oneLine),
    );
    return 0;
  },
};

export const commands: Command[] = [certShow, csrShow];
