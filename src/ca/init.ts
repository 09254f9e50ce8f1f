/**
 * Creating a CA: a root (and optionally an intermediate that signs leaves from then on), written into a
 * fresh directory that appears complete or not at all (built in a sibling temp dir, then renamed).
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
  privateKeyPem,
  publicKeyDer,
} from '../pki/keys.js';
import { encodeName, type NameAttribute } from '../pki/names.js';
import { daysToMs, PROFILES } from '../pki/profiles.js';
import { keyIdentifier, profileExtensions, signCertificate } from '../pki/tbs.js';
import { MODE_PUBLIC, MODE_SECRET, writeFileAtomic } from '../util/files.js';
import {
  CA_FILES,
  type Ca,
  type CaMeta,
  caExists,
  certPath,
  type IndexEntry,
  newSerial,
  openCa,
} from './store.js';

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
export function initCa(caDir: string, options: InitOptions): Ca {
  const dir = path.resolve(caDir);
  if (caExists(dir)) {
    throw new DbtlsError('CA_EXISTS', `could not create a CA in ${dir}: there is already one`, {
      hint: 'dbtls never overwrites a CA; choose another --ca-dir, or move the old CA away if you really mean to replace it',
    });
  }
  if (options.passphrase === '') {
    throw new DbtlsError('PASSPHRASE_EMPTY', 'could not create the CA: the passphrase is empty', {
      hint: 'give a non-empty passphrase, or choose --no-passphrase explicitly',
    });
  }
  const org = options.org ?? DEFAULT_ORG;
  const cn = options.cn ?? DEFAULT_ROOT_CN;
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
          { type: 'CN', value: `${org} Intermediate CA` },
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
          cn: `${org} Intermediate CA`,
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

  // Build the whole CA beside the target, then rename: a crash leaves no half CA behind.
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const targetExists = fs.existsSync(dir);
  const build = targetExists ? dir : fs.mkdtempSync(path.join(parent, `.${path.basename(dir)}.init-`));
  try {
    fs.chmodSync(build, 0o700); // the directory holds the CA keys
    fs.mkdirSync(path.join(build, CA_FILES.certs), { recursive: true });
    const file = (name: string) => path.join(build, name);
    writeFileAtomic(file(CA_FILES.rootKey), privateKeyPem(root.privateKey, options.passphrase), {
      mode: MODE_SECRET,
    });
    writeFileAtomic(file(CA_FILES.root), root.cert.pem, { mode: MODE_PUBLIC });
    if (inter) {
      writeFileAtomic(file(CA_FILES.intermediateKey), privateKeyPem(inter.privateKey, options.passphrase), {
        mode: MODE_SECRET,
      });
      writeFileAtomic(file(CA_FILES.intermediate), inter.cert.pem, { mode: MODE_PUBLIC });
      writeFileAtomic(certPath(build, inter.cert.serial), inter.cert.pem, { mode: MODE_PUBLIC });
    }
    writeFileAtomic(file(CA_FILES.index), index.map((e) => `${JSON.stringify(e)}\n`).join(''), {
      mode: MODE_PUBLIC,
    });
    // ca.json last: it is what marks the directory as a CA.
    writeFileAtomic(file(CA_FILES.meta), `${JSON.stringify(meta, null, 2)}\n`, { mode: MODE_PUBLIC });
    if (!targetExists) fs.renameSync(build, dir);
  } catch (err) {
    if (!targetExists) fs.rmSync(build, { recursive: true, force: true });
    else {
      // an existing (CA-less) directory: take back exactly what was written into it
      for (const f of [
        CA_FILES.meta,
        CA_FILES.index,
        CA_FILES.root,
        CA_FILES.rootKey,
        CA_FILES.intermediate,
        CA_FILES.intermediateKey,
      ]) {
        fs.rmSync(path.join(build, f), { force: true });
      }
      if (inter) fs.rmSync(certPath(build, inter.cert.serial), { force: true });
    }
    throw err;
  }
  return openCa(dir, options.passphrase);
}
