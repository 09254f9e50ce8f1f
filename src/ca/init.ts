/**
 * Creating a CA: a root (and optionally an intermediate that signs leaves from then on). The files are
 * written in the CA directory itself (new, or an existing one without a CA) behind a marker file,
 * INIT_MARKER, created first and removed last: while it is there the directory is a half CA that every
 * command refuses and the next `ca init` repairs (issue 10 item 4). No hidden build directory holding CA
 * keys is ever left beside it (item 17), and a `ca init` that fails takes back everything it wrote.
 */

import { createPublicKey, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbtlsError } from '../errors.js';
import { type CertificateInfo, parseCertificate } from '../pki/certificate.js';
import {
  DEFAULT_KEY_ALGORITHM,
  describeKey,
  generateKeyPair,
  type KeyAlgorithm,
  keyAlgorithmOf,
  PEM_PASSPHRASE_MAX,
  privateKeyPem,
  publicKeyDer,
  readPrivateKey,
} from '../pki/keys.js';
import { encodeName, MAX_NAME_VALUE_LENGTH, type NameAttribute, nameValueProblem } from '../pki/names.js';
import { daysToMs, PROFILES } from '../pki/profiles.js';
import { keyIdentifier, profileExtensions, signCertificate } from '../pki/tbs.js';
import { ensureDir, fsyncDir, MODE_PUBLIC, MODE_SECRET, writeFileAtomic } from '../util/files.js';
import { withLock } from '../util/lock.js';
import { quotedValue } from '../util/safe-text.js';
import type { IndexEntry } from './cert-index.js';
import {
  CA_FILES,
  type Ca,
  type CaMeta,
  caExists,
  certPath,
  checkCaDir,
  INIT_MARKER,
  initInterrupted,
  newSerial,
  openCa,
} from './store.js';

/**
 * OpenSSL reads at most this many bytes of a PEM passphrase (PEM_BUFSIZE): Node encrypts with the first
 * 1,024 bytes of a longer one and then fails to decrypt with all of them. Refused before anything is
 * written rather than silently cut (issue 10 item 4).
 */
export const MAX_PASSPHRASE_BYTES = PEM_PASSPHRASE_MAX;

/** The files `ca init` writes, which are the only ones a repair removes (with their temp files). */
const INIT_FILES = [
  CA_FILES.meta,
  CA_FILES.index,
  CA_FILES.root,
  CA_FILES.rootKey,
  CA_FILES.intermediate,
  CA_FILES.intermediateKey,
  CA_FILES.crl,
] as const;

/**
 * Removes what an interrupted `ca init` wrote: its files, their temp files (`.<name>.<hex>.tmp`, which may
 * hold a key), the certificate copies in certs/; nothing else the directory holds.
 */
function removeInitFiles(dir: string): void {
  const names = new Set<string>(INIT_FILES);
  const temp = /^\.(.+)\.[0-9a-f]{12}\.tmp$/;
  for (const name of fs.readdirSync(dir)) {
    const t = temp.exec(name);
    if (names.has(name) || (t && names.has(t[1]!))) fs.rmSync(path.join(dir, name), { force: true });
  }
  const certs = path.join(dir, CA_FILES.certs);
  if (fs.existsSync(certs)) {
    for (const name of fs.readdirSync(certs)) {
      if (/\.pem$|\.tmp$/.test(name)) fs.rmSync(path.join(certs, name), { force: true });
    }
    if (fs.readdirSync(certs).length === 0) fs.rmdirSync(certs);
  }
}

export interface InitOptions {
  readonly cn?: string;
  readonly org?: string;
  readonly key?: KeyAlgorithm;
  /** Root validity; default 10 years. */
  readonly days?: number;
  readonly intermediate?: boolean;
  /** The passphrase that encrypts the CA keys; undefined only when the user chose --no-passphrase. */
  readonly passphrase: string | undefined;
  readonly now?: Date;
  /** Keys made beforehand (of the `key` algorithm), e.g. off the event loop; generated here otherwise. */
  readonly keys?: { readonly root: KeyObject; readonly intermediate?: KeyObject };
}

export const DEFAULT_ROOT_CN = 'dbtls Root CA';
export const DEFAULT_ORG = 'dbtls';

interface Made {
  cert: CertificateInfo;
  privateKey: KeyObject;
}

function makeCa(
  profile: 'root' | 'intermediate',
  subject: readonly NameAttribute[],
  alg: KeyAlgorithm,
  notBefore: Date,
  notAfter: Date,
  issuer: Made | undefined,
  taken: Set<string>,
  givenKey: KeyObject | undefined,
): Made {
  if (givenKey && keyAlgorithmOf(givenKey) !== alg) {
    throw new DbtlsError(
      'KEY_ALGORITHM_MISMATCH',
      `could not create the ${profile} CA: the key given is not ${alg}`,
      { hint: 'pass keys of the algorithm named by `key`, or let initCa generate them' },
    );
  }
  const pair = givenKey
    ? { privateKey: givenKey, publicKey: createPublicKey(givenKey) }
    : generateKeyPair(alg);
  const spki = publicKeyDer(pair.publicKey);
  const subjectDer = encodeName(subject);
  const serial = newSerial(taken);
  taken.add(serial.toString('hex'));
  const der = signCertificate(
    {
      serial,
      issuer: issuer ? issuer.cert.subjectDer : subjectDer,
      subject: subjectDer,
      notBefore,
      notAfter,
      spki,
      extensions: profileExtensions({
        profile: PROFILES[profile],
        subjectSpki: spki,
        subjectIsRsa: describeKey(pair.publicKey).keyType === 'RSA',
        issuerKeyId: issuer ? Buffer.from(issuer.cert.subjectKeyId ?? '', 'hex') : keyIdentifier(spki),
        dnsNames: [],
        ipAddresses: [],
      }),
    },
    issuer ? issuer.privateKey : pair.privateKey,
  );
  return { cert: parseCertificate(der), privateKey: pair.privateKey };
}

/** Creates a CA in `caDir` (CA_EXISTS if one is there) and returns it opened. */
/** The intermediate's CN is the organisation with this suffix. */
const INTERMEDIATE_SUFFIX = ' Intermediate CA';

/**
 * The CA's O and CN are in every certificate it issues (issuer, and O in each leaf subject) and are what
 * REQUIRE ISSUER compares: no control character, no backslash (names.ts), at most 64 characters.
 */
function checkCaName(code: 'ORG_INVALID' | 'CN_INVALID', what: string, value: string): void {
  const problem = nameValueProblem(value);
  if (problem) {
    throw new DbtlsError(code, `could not create the CA with the ${what} ${quotedValue(value)}: ${problem}`, {
      hint: `give --${code === 'CN_INVALID' ? 'cn' : 'org'} a plain name of at most ${MAX_NAME_VALUE_LENGTH} characters${code === 'ORG_INVALID' ? ` (with --intermediate ${MAX_NAME_VALUE_LENGTH - INTERMEDIATE_SUFFIX.length}: the intermediate is named "ORG${INTERMEDIATE_SUFFIX}")` : ''}; nothing was written`,
    });
  }
}

export function initCa(caDir: string, options: InitOptions): Ca {
  const dir = checkCaDir(path.resolve(caDir));
  if (caExists(dir)) {
    throw new DbtlsError('CA_EXISTS', `could not create a CA in ${dir}: there is already one`, {
      hint: 'dbtls never overwrites a CA; choose another --ca-dir, or move the old CA away if you really mean to replace it',
    });
  }
  if (options.passphrase !== undefined && Buffer.byteLength(options.passphrase) > MAX_PASSPHRASE_BYTES) {
    throw new DbtlsError(
      'PASSPHRASE_TOO_LONG',
      `could not create the CA: the passphrase is ${Buffer.byteLength(options.passphrase)} bytes, more than the ${MAX_PASSPHRASE_BYTES} OpenSSL uses`,
      { hint: `give a passphrase of at most ${MAX_PASSPHRASE_BYTES} bytes; nothing was written` },
    );
  }
  if (options.passphrase === '') {
    throw new DbtlsError('PASSPHRASE_EMPTY', 'could not create the CA: the passphrase is empty', {
      hint: 'give a non-empty passphrase, or choose --no-passphrase explicitly',
    });
  }
  const org = options.org ?? DEFAULT_ORG;
  const cn = options.cn ?? DEFAULT_ROOT_CN;
  checkCaName('ORG_INVALID', 'organisation', org);
  checkCaName('CN_INVALID', 'common name', cn);
  if (options.intermediate) checkCaName('ORG_INVALID', 'intermediate CN', `${org}${INTERMEDIATE_SUFFIX}`);
  const alg = options.key ?? DEFAULT_KEY_ALGORITHM;
  const days = options.days ?? PROFILES.root.defaultDays;
  if (!Number.isInteger(days) || days < 1) {
    throw new DbtlsError(
      'DAYS_INVALID',
      `could not create the CA for ${days} days: give a whole number, at least 1`,
      {
        hint: 'give --days N with N >= 1 (default 3650)',
      },
    );
  }
  const now = options.now ?? new Date();
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const rootEnd = new Date(notBefore.getTime() + daysToMs(days));
  const taken = new Set<string>();
  const root = makeCa(
    'root',
    [
      { type: 'O', value: org },
      { type: 'CN', value: cn },
    ],
    alg,
    notBefore,
    rootEnd,
    undefined,
    taken,
    options.keys?.root,
  );
  // The intermediate is cut to the root's lifetime: it must not outlive its issuer.
  const interEnd = new Date(
    Math.min(rootEnd.getTime(), notBefore.getTime() + daysToMs(PROFILES.intermediate.defaultDays)),
  );
  const inter = options.intermediate
    ? makeCa(
        'intermediate',
        [
          { type: 'O', value: org },
          { type: 'CN', value: `${org}${INTERMEDIATE_SUFFIX}` },
        ],
        alg,
        notBefore,
        interEnd,
        root,
        taken,
        options.keys?.intermediate,
      )
    : undefined;
  const meta: CaMeta = {
    format: 1,
    createdAt: now.toISOString(),
    org,
    keyAlgorithm: alg,
    encrypted: options.passphrase !== undefined,
    intermediate: Boolean(inter),
    serialBits: 128,
    crlNumber: 1,
  };
  const index: IndexEntry[] = inter
    ? [
        {
          serial: inter.cert.serial,
          cn: `${org}${INTERMEDIATE_SUFFIX}`,
          subject: inter.cert.subject,
          issuer: inter.cert.issuer,
          dnsNames: [],
          ipAddresses: [],
          profile: 'intermediate',
          notBefore: inter.cert.notBefore.toISOString(),
          notAfter: inter.cert.notAfter.toISOString(),
          status: 'valid',
          fingerprint: inter.cert.fingerprint,
          issuedBy: 'root',
        },
      ]
    : [];

  // The marker first, ca.json last, the marker removed only once the keys read back with the passphrase.
  ensureDir(path.dirname(dir));
  ensureDir(dir, 0o700);
  withLock(path.join(dir, CA_FILES.lock), () => writeCa(dir, root, inter, meta, index, options.passphrase));
  return openCa(dir, options.passphrase);
}

/** Writes the CA files behind the marker (caller holds the lock); on failure takes them all back. */
function writeCa(
  dir: string,
  root: Made,
  inter: Made | undefined,
  meta: CaMeta,
  index: readonly IndexEntry[],
  passphrase: string | undefined,
): void {
  if (caExists(dir)) {
    throw new DbtlsError('CA_EXISTS', `could not create a CA in ${dir}: there is already one`, {
      hint: 'another `dbtls ca init` made it just now; choose another --ca-dir',
    });
  }
  fs.chmodSync(dir, 0o700); // the directory holds the CA keys, whoever made it
  if (initInterrupted(dir)) removeInitFiles(dir);
  const marker = path.join(dir, INIT_MARKER);
  const file = (name: string) => path.join(dir, name);
  try {
    // Written in place, not renamed: its existence is the signal, even if a crash cut its text.
    const fd = fs.openSync(marker, 'w', MODE_PUBLIC);
    fs.writeSync(
      fd,
      `dbtls ca init started ${meta.createdAt}; if this file is here, run \`dbtls ca init\` again\n`,
    );
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fsyncDir(dir);
    ensureDir(path.join(dir, CA_FILES.certs), 0o755);
    const rootKeyPem = privateKeyPem(root.privateKey, passphrase);
    writeFileAtomic(file(CA_FILES.rootKey), rootKeyPem, { mode: MODE_SECRET });
    writeFileAtomic(file(CA_FILES.root), root.cert.pem, { mode: MODE_PUBLIC });
    if (inter) {
      writeFileAtomic(file(CA_FILES.intermediateKey), privateKeyPem(inter.privateKey, passphrase), {
        mode: MODE_SECRET,
      });
      writeFileAtomic(file(CA_FILES.intermediate), inter.cert.pem, { mode: MODE_PUBLIC });
      writeFileAtomic(certPath(dir, inter.cert.serial), inter.cert.pem, { mode: MODE_PUBLIC });
    }
    writeFileAtomic(file(CA_FILES.index), index.map((e) => `${JSON.stringify(e)}\n`).join(''), {
      mode: MODE_PUBLIC,
    });
    writeFileAtomic(file(CA_FILES.meta), `${JSON.stringify(meta, null, 2)}\n`, { mode: MODE_PUBLIC });
    // A key that cannot be read back is a bricked CA: check before the CA exists.
    readPrivateKey(fs.readFileSync(file(CA_FILES.rootKey), 'utf8'), passphrase);
    if (inter) readPrivateKey(fs.readFileSync(file(CA_FILES.intermediateKey), 'utf8'), passphrase);
    fs.rmSync(marker);
    fsyncDir(dir);
  } catch (err) {
    removeInitFiles(dir);
    fs.rmSync(marker, { force: true });
    throw err;
  }
}
