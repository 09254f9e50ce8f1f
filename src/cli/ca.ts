/**
 * The CA commands: ca init, ca show, list (and, from ca-issue.ts, issue, csr, sign, renew). Thin: parse,
 * call src/ca, render. Messages follow mkcert's voice: what was made, for which names, until when, what next.
 */

import { type IndexEntry, readIndex } from '../ca/cert-index.js';
import { initCa } from '../ca/init.js';
import { settlePending } from '../ca/journal.js';
import { CA_PASSPHRASE_ENV, type Ca, openCa } from '../ca/store.js';
import { DbtlsError } from '../errors.js';
import type { CertificateInfo } from '../pki/certificate.js';
import { DEFAULT_KEY_ALGORITHM } from '../pki/keys.js';
import { daysToMs } from '../pki/profiles.js';
import { dateText, dayText } from '../util/dates.js';
import { envValue, flag, int, noPositionals, type OptionSpec, parse, readSecret, str } from './args.js';
import {
  CA_OPTIONS,
  caDirOf,
  describeCert,
  givenCaFlags,
  keyOption,
  rsaKeysWithProgress,
} from './ca-common.js';
import { issueCommands } from './ca-issue.js';
import type { Command } from './command.js';
import { COMMON, like } from './options.js';
import { commandLine } from './shell.js';

// ---------------------------------------------------------------------------------------------------

const INIT_USAGE =
  'dbtls ca init [--cn NAME] [--org ORG] [--key ec-p256|ec-p384|rsa-2048|rsa-3072|rsa-4096] [--days N] [--intermediate] [--no-passphrase] [--passphrase-file F] [--ca-dir DIR] [--json]';

const INIT_OPTIONS: OptionSpec = {
  ...CA_OPTIONS,
  'passphrase-file': like('passphrase-file', {
    description:
      "a file holding the new CA key's passphrase (else the variable, else asked twice on a terminal)",
  }),
  cn: like('cn', { description: 'the root CA common name', default: 'dbtls Root CA' }),
  org: {
    type: 'string',
    value: 'ORG',
    description: 'the organization (O) in the CA subjects',
    default: 'dbtls',
  },
  key: like('key', { description: 'the key algorithm of the CA keys' }),
  days: like('days', { description: 'validity of the root in days', default: '3650 (intermediate: 1825)' }),
  intermediate: {
    type: 'boolean',
    description: 'also make an intermediate CA that signs the leaves (the root key can then stay offline)',
  },
  'no-passphrase': {
    type: 'boolean',
    description: 'leave the CA key unencrypted (only for throwaway CAs; keep the directory private)',
  },
  json: COMMON.json,
};

const caInit: Command = {
  name: ['ca', 'init'],
  usage: INIT_USAGE,
  summary: 'create a private CA (root, optionally an intermediate) for the database fleet',
  options: INIT_OPTIONS,
  examples: [
    'dbtls ca init --passphrase-file ca-pass.txt',
    "dbtls ca init --cn 'Acme DB Root CA' --org Acme --intermediate --ca-dir /srv/dbtls-ca",
    'dbtls ca init --no-passphrase --ca-dir /tmp/throwaway-ca',
  ],
  async run(argv, ctx) {
    const p = noPositionals(parse(argv, INIT_OPTIONS, INIT_USAGE, ctx), INIT_USAGE);
    const key = keyOption(p);
    const days = int(p, 'days', INIT_USAGE);
    const dir = caDirOf(p, ctx);
    let passphrase: string | undefined;
    if (flag(p, 'no-passphrase')) {
      // Contradictory flags are an error, not a silent choice of the unencrypted key (issue 10 item 4).
      const other =
        str(p, 'passphrase-file') !== undefined
          ? '--passphrase-file'
          : envValue(ctx.env, CA_PASSPHRASE_ENV) !== undefined
            ? `${CA_PASSPHRASE_ENV} (set in the environment)`
            : undefined;
      if (other) {
        throw new DbtlsError('USAGE', `could not run dbtls ca init: --no-passphrase contradicts ${other}`, {
          hint: other.startsWith('--')
            ? 'choose one: --no-passphrase for an unencrypted key, or --passphrase-file F to encrypt it'
            : `unset ${CA_PASSPHRASE_ENV} for an unencrypted key, or drop --no-passphrase to encrypt it with it`,
        });
      }
    } else {
      passphrase = await readSecret(
        {
          file: str(p, 'passphrase-file'),
          envName: CA_PASSPHRASE_ENV,
          what: 'new CA passphrase',
          prompt: true,
          confirm: true,
        },
        ctx.env,
      );
      if (passphrase === undefined) {
        throw new DbtlsError(
          'PASSPHRASE_REQUIRED',
          'could not create the CA: no passphrase to encrypt its key with',
          {
            hint: `give one with --passphrase-file FILE or ${CA_PASSPHRASE_ENV}, run on a terminal to be asked, or choose --no-passphrase for an unencrypted key`,
          },
        );
      }
    }
    const intermediate = flag(p, 'intermediate');
    const made = await rsaKeysWithProgress(key ?? DEFAULT_KEY_ALGORITHM, intermediate ? 2 : 1, ctx);
    const ca = initCa(dir, {
      passphrase,
      intermediate,
      ...(made ? { keys: { root: made[0]!.privateKey, intermediate: made[1]?.privateKey } } : {}),
      ...(str(p, 'cn') ? { cn: str(p, 'cn')! } : {}),
      ...(str(p, 'org') ? { org: str(p, 'org')! } : {}),
      ...(key ? { key } : {}),
      ...(days === undefined ? {} : { days }),
    });
    if (flag(p, 'json')) {
      ctx.render.json(caSummary(ca, []));
      return 0;
    }
    // The hints carry the flags the user gave, so that they work when pasted (issue 14, item 5).
    const caFlags = givenCaFlags(p);
    ctx.render.lines(
      `Created a new local CA in ${ca.dir}`,
      `Root: ${describeCert(ca.root)}`,
      ...(ca.intermediate
        ? [`Intermediate: ${describeCert(ca.intermediate)} (it signs the certificates from now on)`]
        : []),
      passphrase === undefined
        ? 'The CA key is NOT encrypted (--no-passphrase): keep this directory private.'
        : 'The CA key is encrypted with your passphrase; keep a copy of the passphrase, dbtls cannot recover it.',
      '',
      `Next: ${commandLine(['dbtls', 'issue', 'server', '--cn', 'db1.example.com', '--out', 'db1', ...caFlags])}`,
      `  (and ${commandLine(['dbtls', 'issue', 'client', '--cn', 'app_user', '--out', 'app_user', ...caFlags])})`,
    );
    return 0;
  },
};

function certJson(c: CertificateInfo) {
  return {
    subject: c.subject,
    issuer: c.issuer,
    serial: c.serial,
    fingerprint: c.fingerprint,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    keyType: c.keyType,
    keyBits: c.keyBits,
    ...(c.curve ? { curve: c.curve } : {}),
    pathLength: c.pathLength,
  };
}

function caSummary(ca: Ca, entries: readonly IndexEntry[], now = new Date()) {
  const expired = entries.filter(
    (e) => e.status === 'valid' && Date.parse(e.notAfter) < now.getTime(),
  ).length;
  return {
    dir: ca.dir,
    encrypted: ca.meta.encrypted,
    root: certJson(ca.root),
    ...(ca.intermediate ? { intermediate: certJson(ca.intermediate) } : {}),
    counts: {
      issued: entries.filter((e) => e.profile !== 'intermediate' && e.status !== 'void').length,
      server: entries.filter((e) => e.profile === 'server').length,
      client: entries.filter((e) => e.profile === 'client').length,
      valid: entries.filter((e) => e.profile !== 'intermediate' && e.status === 'valid').length - expired,
      revoked: entries.filter((e) => e.status === 'revoked').length,
      expired,
      /** Signed but never delivered (an interrupted issuance), keys destroyed: src/ca/journal.ts. */
      void: entries.filter((e) => e.status === 'void').length,
    },
  };
}

const SHOW_USAGE = 'dbtls ca show [--ca-dir DIR] [--passphrase-file F] [--json]';
/** ca show and list read no key; --passphrase-file is accepted so one set of CA flags fits every CA command. */
const NO_KEY_CA_OPTIONS: OptionSpec = {
  ...CA_OPTIONS,
  'passphrase-file': like('passphrase-file', {
    description: 'accepted for symmetry; this command reads no key',
  }),
};
const SHOW_OPTIONS: OptionSpec = { ...NO_KEY_CA_OPTIONS, json: COMMON.json };

const caShow: Command = {
  name: ['ca', 'show'],
  options: SHOW_OPTIONS,
  examples: ['dbtls ca show', 'dbtls ca show --ca-dir /srv/dbtls-ca --json'],
  usage: SHOW_USAGE,
  summary: 'show the CA: root and intermediate, fingerprints, validity, key type, counts',
  async run(argv, ctx) {
    const p = noPositionals(parse(argv, SHOW_OPTIONS, SHOW_USAGE, ctx), SHOW_USAGE);
    const ca = openCa(caDirOf(p, ctx));
    settlePending(ca.dir);
    const s = caSummary(ca, readIndex(ca.dir));
    if (flag(p, 'json')) {
      ctx.render.json(s);
      return 0;
    }
    const block = (label: string, c: CertificateInfo) => [
      `${label}: ${c.subject}`,
      `  SHA-256 fingerprint: ${c.fingerprint}`,
      `  valid from ${dateText(c.notBefore)} to ${dateText(c.notAfter)}`,
      `  key: ${c.keyType === 'EC' ? `ECDSA ${c.curve}` : `${c.keyType} ${c.keyBits}`}, serial ${c.serial}`,
    ];
    ctx.render.lines(
      `CA in ${ca.dir} (key ${ca.meta.encrypted ? 'encrypted' : 'NOT encrypted'})`,
      ...block('Root', ca.root),
      ...(ca.intermediate ? block('Intermediate (signs leaves)', ca.intermediate) : []),
      `Certificates: ${s.counts.issued} issued (${s.counts.server} server, ${s.counts.client} client); ${s.counts.valid} valid, ${s.counts.expired} expired, ${s.counts.revoked} revoked`,
    );
    return 0;
  },
};

// ---------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------

const LIST_USAGE = 'dbtls list [--json] [--expiring-within DAYS] [--ca-dir DIR] [--passphrase-file F]';
const LIST_OPTIONS: OptionSpec = {
  ...NO_KEY_CA_OPTIONS,
  json: COMMON.json,
  'expiring-within': {
    type: 'string',
    value: 'DAYS',
    description: 'only the valid certificates that expire within DAYS days',
  },
};

const listCommand: Command = {
  name: ['list'],
  options: LIST_OPTIONS,
  examples: ['dbtls list', 'dbtls list --expiring-within 30 --json'],
  usage: LIST_USAGE,
  summary: 'list the certificates the CA issued',
  async run(argv, ctx) {
    const p = noPositionals(parse(argv, LIST_OPTIONS, LIST_USAGE, ctx), LIST_USAGE);
    const within = int(p, 'expiring-within', LIST_USAGE);
    const dir = caDirOf(p, ctx);
    settlePending(dir); // an interrupted issuance is completed or taken back before it is listed
    let entries = readIndex(dir);
    if (within !== undefined) {
      const limit = Date.now() + daysToMs(within);
      entries = entries.filter((e) => e.status === 'valid' && Date.parse(e.notAfter) <= limit);
    }
    if (flag(p, 'json')) {
      ctx.render.json(entries);
      return 0;
    }
    if (entries.length === 0) {
      ctx.render.lines(
        within === undefined
          ? 'No certificates issued yet.'
          : `No certificates expire within ${within} days.`,
      );
      return 0;
    }
    const now = Date.now();
    const anyRevoked = entries.some((e) => e.status === 'revoked');
    // void entries (never delivered) are shown as such: their STATUS says it
    const rows = entries.map((e) => [
      e.serial,
      e.profile,
      e.status === 'valid' && Date.parse(e.notAfter) < now ? 'expired' : e.status,
      dayText(e.notAfter),
      e.cn,
      [...e.dnsNames, ...e.ipAddresses].join(','),
      ...(anyRevoked ? [revocationText(e)] : []),
    ]);
    const header = [
      'SERIAL',
      'PROFILE',
      'STATUS',
      'EXPIRES',
      'CN',
      'NAMES',
      ...(anyRevoked ? ['REVOKED'] : []),
    ];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const fmt = (r: string[]) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd();
    ctx.render.lines(fmt(header), ...rows.map(fmt));
    return 0;
  },
};

/** When and why a certificate was revoked, for the REVOKED column of `dbtls list`. */
function revocationText(e: IndexEntry): string {
  if (e.status !== 'revoked') return '';
  return `${e.revokedAt ? dayText(e.revokedAt) : '?'} (${e.revocationReason ?? 'unspecified'})`;
}

export const commands: Command[] = [caInit, caShow, ...issueCommands, listCommand];
