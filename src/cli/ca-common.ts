/** Helpers shared by the CA commands (src/cli/ca.ts, src/cli/ca-issue.ts): CA unlocking, options, messages. */

import type { KeyObject } from 'node:crypto';
import * as path from 'node:path';
import type { IndexEntry } from '../ca/cert-index.js';
import type { IssuedCertificate } from '../ca/sign-leaf.js';
import { CA_PASSPHRASE_ENV, type Ca, openCa, readCaMeta, resolveCaDir } from '../ca/store.js';
import { DbtlsError } from '../errors.js';
import type { CertificateInfo } from '../pki/certificate.js';
import { generateKeyPairAsync, type KeyAlgorithm, parseKeyAlgorithm } from '../pki/keys.js';
import { dateText } from '../util/dates.js';
import { type OptionSpec, type Parsed, readSecret, str } from './args.js';
import type { CommandContext } from './command.js';
import { pick } from './options.js';
import { hintLine } from './shell.js';

export const CA_OPTIONS: OptionSpec = pick('ca-dir', 'passphrase-file');

/**
 * `dbtls require TARGET ACCOUNT …` for a hint, with the target when it is known (else ADMIN_TARGET,
 * explained). The check login of `require` needs the account's certificate (given here) and its password
 * when it has one (the user's to give: --verify-password-file).
 */
export function requireLine(target: string | undefined, rest: readonly string[]): string {
  return hintLine(['dbtls', 'require', target ?? 'ADMIN_TARGET', ...rest]);
}

/** The CA flags the user gave, for a hint that must work when pasted (issue 14, item 5). */
export function givenCaFlags(p: Parsed): string[] {
  return (['ca-dir', 'passphrase-file'] as const).flatMap((name) => {
    const value = str(p, name);
    return value === undefined ? [] : [`--${name}`, value];
  });
}

export function caDirOf(p: Parsed, ctx: CommandContext): string {
  return resolveCaDir(str(p, 'ca-dir'), ctx.env, ctx.cwd);
}

/** Opens the CA, asking for the passphrase only when its keys are encrypted. */
export async function unlockCa(p: Parsed, ctx: CommandContext): Promise<Ca> {
  const dir = caDirOf(p, ctx);
  const meta = readCaMeta(dir);
  if (!meta.encrypted) return openCa(dir);
  const passphrase = await readSecret(
    { file: str(p, 'passphrase-file'), envName: CA_PASSPHRASE_ENV, what: 'CA passphrase', prompt: true },
    ctx.env,
  );
  if (passphrase === undefined) {
    throw new DbtlsError(
      'PASSPHRASE_REQUIRED',
      `could not unlock the CA in ${dir}: its key is encrypted and no passphrase was given`,
      {
        hint: `give it with --passphrase-file FILE or ${CA_PASSPHRASE_ENV}, or run on a terminal to be asked`,
      },
    );
  }
  return openCa(dir, passphrase);
}

export function keyOption(p: Parsed): KeyAlgorithm | undefined {
  const k = str(p, 'key');
  return k === undefined ? undefined : parseKeyAlgorithm(k);
}

/**
 * Makes `count` key pairs of `alg` off the event loop with a ticking line on a TTY when they are RSA (an
 * RSA-4096 key takes a second or several); undefined for EC keys, which the library makes in microseconds.
 */
export async function rsaKeysWithProgress(
  alg: KeyAlgorithm,
  count: number,
  ctx: CommandContext,
): Promise<{ privateKey: KeyObject; publicKey: KeyObject }[] | undefined> {
  if (!alg.startsWith('rsa-')) return undefined;
  const label = `generating ${count === 1 ? 'an' : count} ${alg.toUpperCase()} key${count === 1 ? '' : 's'}`;
  return ctx.render.busy(label, Promise.all(Array.from({ length: count }, () => generateKeyPairAsync(alg))));
}

export function describeCert(c: CertificateInfo): string {
  const key = c.keyType === 'EC' ? `ECDSA ${c.curve}` : `${c.keyType} ${c.keyBits}`;
  return `${c.subject} (${key}), expires on ${dateText(c.notAfter)}`;
}

export function issuedJson(issued: IssuedCertificate, dir?: string) {
  return leafJson(issued.entry, dir, issued.keyPem !== undefined);
}

/** An index entry for --json, with the files of its output directory when there is one. */
export function leafJson(entry: IndexEntry, dir?: string, withKey = true) {
  return {
    ...entry,
    ...(dir
      ? {
          files: {
            cert: path.join(dir, 'cert.pem'),
            ...(withKey ? { key: path.join(dir, 'key.pem') } : {}),
            chain: path.join(dir, 'chain.pem'),
            ca: path.join(dir, 'ca.pem'),
          },
        }
      : {}),
  };
}

/** The files a new certificate went to (absolute paths); `key` is unknown when a CSR was signed elsewhere. */
export interface CreatedFiles {
  readonly cert: string;
  readonly chain: string;
  readonly key: string | undefined;
  readonly ca: string;
}

/** The files of a leaf directory (`issue --out DIR`, `renew`). */
export function leafFiles(dir: string): CreatedFiles {
  const f = (name: string) => path.join(dir, name);
  return { cert: f('cert.pem'), chain: f('chain.pem'), key: f('key.pem'), ca: f('ca.pem') };
}

/**
 * What was made, and the next command with the files really written (issue 14 item 5): for a server
 * certificate `server enable` with them, for a client one `require` with the check login's certificate.
 * `adminTarget`: the server those commands name (src/cli/profile.ts knownAdminTarget).
 */
export function createdLines(
  issued: IssuedCertificate,
  files: CreatedFiles,
  o: { verb?: string; adminTarget?: string | undefined } = {},
): string[] {
  const { verb = 'Created a new' } = o;
  const e = issued.entry;
  const names = [...e.dnsNames, ...e.ipAddresses];
  const rel = (f: string) => path.relative(process.cwd(), f) || f;
  const target = o.adminTarget ?? 'ADMIN_TARGET';
  const key = files.key ? rel(files.key) : 'KEY_FILE';
  const next =
    e.profile === 'server'
      ? `Next: install them on the server: ${hintLine(['dbtls', 'server', 'enable', target, '--server-cert', rel(files.chain), '--server-key', key, '--server-ca', rel(files.ca)])}`
      : `Next: require it for the user: ${requireLine(o.adminTarget, [`${e.cn}@%`, '--subject-of', rel(files.cert), '--verify-cert', rel(files.cert), '--verify-key', key])}`;
  return [
    names.length > 0
      ? `${verb} ${e.profile} certificate valid for the following names:`
      : `${verb} ${e.profile} certificate for the user "${e.cn}"`,
    ...names.map((n) => ` - "${n}"`),
    `Subject: ${e.subject}   (the exact string for REQUIRE SUBJECT)`,
    `Issuer:  ${e.issuer}`,
    `Serial:  ${e.serial}`,
    `It will expire on ${dateText(new Date(e.notAfter))}.`,
    '',
    `The certificate is at "${rel(files.cert)}" (chain: "${rel(files.chain)}") and the key at "${key}".`,
    next,
  ];
}
