/**
 * Signing what others made and renewing what the CA made: `csr` (key + request on the database node; the
 * key never leaves it), `sign` (the CA decides the extensions) and `renew`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type IndexEntry, readIndex } from '../ca/cert-index.js';
import { checkCommonName, csrRequest, issueCertificate, resolveLeaf, signCsr } from '../ca/issue.js';
import { settlePending } from '../ca/journal.js';
import { dirNameFor, fileDelivery, leafDelivery } from '../ca/leaf-files.js';
import { renewalRequest, selectForRenewal } from '../ca/renew.js';
import { checkCsrs, signCsrs, targetFiles } from '../ca/sign-csrs.js';
import { caPath, openCa } from '../ca/store.js';
import { DbtlsError } from '../errors.js';
import { createCsr } from '../pki/csr.js';
import { DEFAULT_KEY_ALGORITHM, generateKeyPair, privateKeyPem, readPrivateKey } from '../pki/keys.js';
import { oneLineName } from '../pki/names.js';
import { canonicalIp, checkDnsName, isHostName, isIpAddress } from '../pki/san.js';
import { dateText } from '../util/dates.js';
import { ensureDir, MODE_PUBLIC, MODE_SECRET, readUserFile, writeFileAtomic } from '../util/files.js';
import {
  flag,
  int,
  noPositionals,
  type OptionSpec,
  type Parsed,
  parse,
  required,
  str,
  strs,
} from './args.js';
import {
  CA_OPTIONS,
  caDirOf,
  createdLines,
  issuedJson,
  keyOption,
  leafFiles,
  rsaKeysWithProgress,
  unlockCa,
} from './ca-common.js';
import type { Command, CommandContext } from './command.js';
import { COMMON, like, pick } from './options.js';
import { checkOutputDir, checkOutputFile, isStdout, refuseJsonOnStdout, refuseStdout } from './out.js';
import { knownAdminTarget } from './profile.js';
import { commandLine } from './shell.js';

const CSR_USAGE = 'dbtls csr --cn NAME [--dns NAME]... [--ip ADDR]... [--key ALG] --out DIR [--json]';

const CSR_OPTIONS: OptionSpec = {
  cn: like('cn', { description: 'the common name to request (the host name, or the database user)' }),
  ...pick('dns', 'ip', 'key'),
  out: like('out', { value: 'DIR', description: 'the directory for key.pem (0600) and csr.pem' }),
  json: COMMON.json,
};

const csrCommand: Command = {
  name: ['csr'],
  usage: CSR_USAGE,
  summary: 'make a key and a certificate signing request on this node (the key never leaves it)',
  options: CSR_OPTIONS,
  examples: [
    'dbtls csr --cn db2.example.com --dns db2 --out db2',
    'dbtls csr --cn app_user --key rsa-2048 --out app_user',
  ],
  async run(argv, ctx) {
    const p = noPositionals(parse(argv, CSR_OPTIONS, CSR_USAGE, ctx), CSR_USAGE);
    refuseStdout(str(p, 'out'), 'a directory with key.pem and csr.pem', CSR_USAGE);
    const cn = required(p, 'cn', CSR_USAGE);
    checkCommonName(cn);
    const out = path.resolve(ctx.cwd, required(p, 'out', CSR_USAGE));
    checkOutputDir(out); // before the key is made: a key generated for nowhere is lost
    const alg = keyOption(p) ?? DEFAULT_KEY_ALGORITHM;
    const dnsNames = strs(p, 'dns').map((d) => checkDnsName(d));
    const ipAddresses = strs(p, 'ip').map((a) => canonicalIp(a));
    for (const f of ['key.pem', 'csr.pem']) {
      if (fs.existsSync(path.join(out, f))) {
        throw new DbtlsError('OUTPUT_EXISTS', `could not write to ${out}: it already holds ${f}`, {
          hint: 'choose another --out directory; dbtls never overwrites a key',
        });
      }
    }
    const pair = (await rsaKeysWithProgress(alg, 1, ctx))?.[0] ?? generateKeyPair(alg);
    const csr = createCsr({
      subject: [{ type: 'CN', value: cn }],
      dnsNames,
      ipAddresses,
      privateKey: pair.privateKey,
    });
    ensureDir(out);
    writeFileAtomic(path.join(out, 'key.pem'), privateKeyPem(pair.privateKey), {
      mode: MODE_SECRET,
      exclusive: true,
    });
    writeFileAtomic(path.join(out, 'csr.pem'), csr, { mode: MODE_PUBLIC, exclusive: true });
    const rel = (f: string) => path.relative(ctx.cwd, path.join(out, f)) || f;
    if (flag(p, 'json')) {
      ctx.render.json({
        cn,
        dnsNames,
        ipAddresses,
        key: path.join(out, 'key.pem'),
        csr: path.join(out, 'csr.pem'),
      });
      return 0;
    }
    ctx.render.lines(
      `Created a new key and a signing request for "${cn}".`,
      `The key is at "${rel('key.pem')}" (0600; it stays here) and the request at "${rel('csr.pem')}".`,
      // A request with names, or for a dotted host name or an IP address (the server profile puts the CN in
      // the SAN), is for a server; otherwise for a database user (issue 14, item 5: pasteable).
      `Next: on the CA host, ${commandLine(['dbtls', 'sign', rel('csr.pem'), '--profile', forServer(cn, dnsNames.length + ipAddresses.length) ? 'server' : 'client', '--out', rel('cert.pem')])}`,
    );
    return 0;
  },
};

const SIGN_USAGE =
  'dbtls sign CSR... --profile server|client [--days N] (--out FILE | --out-dir DIR) [--dry-run] [--ca-dir DIR] [--passphrase-file F] [--json]';

/** Whether a CSR is most likely a server's: it names hosts, or its CN is a dotted host name or an IP. */
function forServer(cn: string, names: number): boolean {
  return names > 0 || isIpAddress(cn) || (cn.includes('.') && isHostName(cn));
}

const SIGN_OPTIONS: OptionSpec = {
  profile: {
    type: 'string',
    description: 'the certificate profile: its key usages and extended key usage',
    choices: ['server', 'client'],
  },
  days: like('days', { default: '397' }),
  out: like('out', {
    description:
      "the certificate file to write (leaf and intermediates, PEM); clients verify with the CA's root.pem",
  }),
  'out-dir': {
    type: 'string',
    value: 'DIR',
    description: 'sign every CSR given (all or none) and write each certificate to DIR/<CN>.pem',
  },
  'dry-run': COMMON['dry-run'],
  ...CA_OPTIONS,
  json: COMMON.json,
};

const signCommand: Command = {
  name: ['sign'],
  usage: SIGN_USAGE,
  summary: 'sign a CSR with the CA; the CA decides the extensions, only the names come from the CSR',
  options: SIGN_OPTIONS,
  examples: [
    'dbtls sign db2/csr.pem --profile server --out db2/cert.pem',
    'dbtls sign app_user/csr.pem --profile client --days 90 --out app_user/cert.pem',
    'dbtls sign requests/*.csr --profile server --out-dir certs',
  ],
  async run(argv, ctx) {
    const p = parse(argv, SIGN_OPTIONS, SIGN_USAGE, ctx);
    const csrFile = p.positionals[0];
    if (!csrFile) {
      throw new DbtlsError('USAGE', 'could not run dbtls sign: give a CSR file', {
        hint: `usage: ${SIGN_USAGE}`,
      });
    }
    const profile = required(p, 'profile', SIGN_USAGE);
    if (profile !== 'server' && profile !== 'client') {
      throw new DbtlsError(
        'USAGE',
        `could not sign with the profile ${JSON.stringify(profile)}: it must be server or client`,
        {
          hint: `usage: ${SIGN_USAGE}`,
        },
      );
    }
    const outDirText = str(p, 'out-dir');
    if (outDirText !== undefined) {
      if (str(p, 'out') !== undefined) {
        throw new DbtlsError(
          'USAGE',
          'could not run dbtls sign: give --out FILE or --out-dir DIR, not both',
          {
            hint: `usage: ${SIGN_USAGE}`,
          },
        );
      }
      return signMany(p, ctx, profile, outDirText);
    }
    if (p.positionals.length > 1) {
      throw new DbtlsError(
        'USAGE',
        `could not run dbtls sign: ${p.positionals.length} CSRs need --out-dir DIR (each certificate goes to DIR/<CN>.pem)`,
        { hint: `usage: ${SIGN_USAGE}` },
      );
    }
    const outText = required(p, 'out', SIGN_USAGE);
    refuseJsonOnStdout(outText, flag(p, 'json'), SIGN_USAGE);
    // `--out -`: the certificate chain on stdout, recorded in the CA like any other (issue 14, item 10).
    const toStdout = isStdout(outText);
    const out = path.resolve(ctx.cwd, outText);
    const days = int(p, 'days', SIGN_USAGE);
    const caDir = caDirOf(p, ctx); // a --ca-dir that is a file is refused before the CSR is read
    const csrText = readUserFile(path.resolve(ctx.cwd, csrFile), 'CSR');
    if (!toStdout && /[/\\]$/.test(outText)) {
      throw new DbtlsError(
        'OUTPUT_NOT_A_FILE',
        `could not write ${outText}: --out ends with a slash, so it names a directory`,
        {
          hint: 'give --out the certificate file to write, for example db1.pem (or --out-dir DIR with several CSRs)',
        },
      );
    }
    if (!toStdout) checkOutputFile(out); // a directory, a FIFO, a missing directory: exit 2 before signing
    if (!toStdout && fs.existsSync(out)) {
      throw new DbtlsError('OUTPUT_EXISTS', `could not write ${out}: the file already exists`, {
        hint: 'choose another --out file, or move the old one away first',
      });
    }
    if (flag(p, 'dry-run')) {
      // Every check of a real run (CSR, profile, validity against the issuer); nothing signed or written.
      const ca = openCa(caDir);
      const leaf = resolveLeaf(ca, csrRequest(csrText, { profile, ...(days === undefined ? {} : { days }) }));
      const plan = {
        dryRun: true,
        profile,
        subject: oneLineName(leaf.subject),
        issuer: ca.issuer.subject,
        dnsNames: leaf.dnsNames,
        ipAddresses: leaf.ipAddresses,
        notBefore: leaf.notBefore.toISOString(),
        notAfter: leaf.notAfter.toISOString(),
        out: toStdout ? outText : out,
      };
      if (flag(p, 'json')) ctx.render.json(plan);
      else
        ctx.render.lines(
          `Would sign a ${profile} certificate for ${plan.subject} (new random serial), issued by ${plan.issuer}`,
          ...[...plan.dnsNames, ...plan.ipAddresses].map((n) => ` - "${n}"`),
          `valid from ${dateText(plan.notBefore)} to ${dateText(plan.notAfter)}, record it in the CA index and write ${toStdout ? 'it to stdout' : out}.`,
          'Nothing was changed (--dry-run).',
        );
      return 0;
    }
    const ca = await unlockCa(p, ctx);
    const issued = signCsr(
      ca,
      csrText,
      { profile, ...(days === undefined ? {} : { days }) },
      toStdout ? undefined : fileDelivery(out, (i) => i.chainPem),
    );
    if (toStdout) {
      ctx.render.lines(issued.chainPem.replace(/\n$/, ''));
      return 0;
    }
    if (flag(p, 'json')) {
      ctx.render.json({ ...issued.entry, files: { cert: out } });
      return 0;
    }
    // The key stays where the CSR was made; on the same machine it is the key.pem next to the CSR.
    const key = path.join(path.dirname(path.resolve(ctx.cwd, csrFile)), 'key.pem');
    const lines = createdLines(
      issued,
      { cert: out, chain: out, key: fs.existsSync(key) ? key : undefined, ca: caPath(ca.dir, 'root') },
      { verb: 'Signed a new', adminTarget: knownAdminTarget(ctx.env, ctx.profile) },
    );
    ctx.render.lines(
      ...lines.slice(0, -3),
      `The certificate (with its intermediates) is at "${path.relative(ctx.cwd, out) || out}"; the CA certificate is ${path.join(ca.dir, 'root.pem')}.`,
      lines[lines.length - 1]!,
    );
    return 0;
  },
};

/** `dbtls sign CSR... --out-dir DIR`: every CSR checked first, then all signed in one journal (src/ca/sign-csrs.ts). */
async function signMany(
  p: Parsed,
  ctx: CommandContext,
  profile: 'server' | 'client',
  outDirText: string,
): Promise<number> {
  refuseStdout(outDirText, 'a directory of certificate files', SIGN_USAGE);
  const outDir = path.resolve(ctx.cwd, outDirText);
  const days = int(p, 'days', SIGN_USAGE);
  const caDir = caDirOf(p, ctx);
  checkOutputDir(outDir, '--out-dir');
  const csrs = p.positionals.map((f) => ({ name: f, text: readUserFile(path.resolve(ctx.cwd, f), 'CSR') }));
  const options = { profile, ...(days === undefined ? {} : { days }) };
  const shown = path.relative(ctx.cwd, outDir) || '.';
  if (flag(p, 'dry-run')) {
    const ca = openCa(caDir);
    const leaves = await checkCsrs(ca, csrs, options);
    const files = targetFiles(
      outDir,
      leaves.map((l) => l.cn),
      csrs,
    );
    const plan = leaves.map((leaf, n) => ({
      csr: csrs[n]!.name,
      subject: oneLineName(leaf.subject),
      dnsNames: leaf.dnsNames,
      ipAddresses: leaf.ipAddresses,
      notBefore: leaf.notBefore.toISOString(),
      notAfter: leaf.notAfter.toISOString(),
      out: files[n]!,
    }));
    if (flag(p, 'json'))
      ctx.render.json({ dryRun: true, profile, issuer: ca.issuer.subject, certificates: plan });
    else
      ctx.render.lines(
        `Would sign ${plan.length} ${profile} certificate${plan.length === 1 ? '' : 's'} (new random serials), issued by ${ca.issuer.subject}, valid from ${dateText(plan[0]!.notBefore)} to ${dateText(plan[0]!.notAfter)}:`,
        ...plan.map((c) => ` - ${c.subject} from "${c.csr}" to "${path.relative(ctx.cwd, c.out)}"`),
        `and record them in the CA index. Nothing was changed (--dry-run).`,
      );
    return 0;
  }
  const ca = await unlockCa(p, ctx);
  const started = Date.now();
  const { certificates: signed, resumed } = await signCsrs(ca, csrs, {
    ...options,
    outDir,
    onProgress: (done, total) => ctx.render.progress('signing', done, total),
  });
  ctx.render.progressDone();
  if (flag(p, 'json')) {
    ctx.render.json(signed.map((s) => ({ ...s.entry, csr: s.name, files: { cert: s.file } })));
    return 0;
  }
  const seconds = (Date.now() - started) / 1000;
  const first = signed[0]!.entry;
  const count = `${signed.length} ${profile} certificate${signed.length === 1 ? '' : 's'}`;
  ctx.render.lines(
    resumed
      ? `Completed the interrupted run: ${count}, signed before the interruption, are now in ${shown}/<CN>.pem (none signed twice); the subjects look like ${first.subject}.`
      : `Signed ${count} into ${shown}/<CN>.pem (${Math.round(signed.length / Math.max(seconds, 0.001))}/s); the subjects look like ${first.subject}.`,
    `Each file holds the leaf and its intermediates; peers verify it with the CA certificate ${caPath(ca.dir, 'root')}.`,
    `They will expire on ${dateText(new Date(first.notAfter))}.`,
    `Next: copy each certificate back to the node that made the request, next to its key.pem.`,
  );
  return 0;
}

const RENEW_USAGE =
  'dbtls renew SERIAL|--cn NAME|--expiring-within DAYS [--out DIR] [--reuse-key] [--days N] [--dry-run] [--ca-dir DIR] [--passphrase-file F] [--json]';

const RENEW_OPTIONS: OptionSpec = {
  cn: like('cn', { description: 'renew the valid certificates with this common name' }),
  'expiring-within': {
    type: 'string',
    value: 'DAYS',
    description: 'renew every valid certificate that expires within DAYS days',
  },
  out: like('out', {
    value: 'DIR',
    description: 'the directory for the renewed files (with several certificates: their parent)',
  }),
  'reuse-key': { type: 'boolean', description: 'keep the old key pair (default: a new key)' },
  days: like('days', { default: 'the profile default (397 for leaves)' }),
  'dry-run': COMMON['dry-run'],
  ...CA_OPTIONS,
  json: COMMON.json,
};

const renewCommand: Command = {
  name: ['renew'],
  usage: RENEW_USAGE,
  summary: 'renew certificates: same names, new serial, new key unless --reuse-key',
  options: RENEW_OPTIONS,
  examples: [
    'dbtls renew --cn db1.example.com --out db1-renewed',
    'dbtls renew --expiring-within 30 --out renewed',
  ],
  async run(argv, ctx) {
    const p = parse(argv, RENEW_OPTIONS, RENEW_USAGE, ctx);
    refuseStdout(str(p, 'out'), 'a directory of certificate files', RENEW_USAGE);
    const within = int(p, 'expiring-within', RENEW_USAGE);
    const days = int(p, 'days', RENEW_USAGE);
    const cn = str(p, 'cn');
    const serial = p.positionals[0];
    const chosen = [serial, cn, within].filter((x) => x !== undefined).length;
    if (chosen !== 1 || p.positionals.length > 1) {
      throw new DbtlsError(
        'USAGE',
        'could not run dbtls renew: name exactly one of SERIAL, --cn or --expiring-within',
        {
          hint: `usage: ${RENEW_USAGE}`,
        },
      );
    }
    const selector =
      serial !== undefined ? { serial } : cn !== undefined ? { cn } : { expiringWithinDays: within! };
    const dir = caDirOf(p, ctx);
    // A renewal a crash interrupted is completed (or taken back) first: what is due is read from an index
    // that says what was delivered, and a re-run with nothing left to renew still finishes the delivery.
    settlePending(dir);
    const targets = selectForRenewal(readIndex(dir), selector);
    if (targets.length === 0) {
      ctx.render.lines(`No certificates expire within ${within} days; nothing to renew.`);
      return 0;
    }
    const outOf = (e: IndexEntry) => {
      const base = path.resolve(ctx.cwd, str(p, 'out') ?? '.');
      // One certificate named (SERIAL, --cn): --out is its directory. --expiring-within: one directory per
      // certificate, named after its CN sanitized (a CN is never a path, issue 10 item 5), however many are
      // due: a re-run after a crash, with one left, must deliver where the first run would have.
      return within === undefined && str(p, 'out') !== undefined
        ? base
        : path.join(base, dirNameFor(e.cn, e.profile));
    };
    // Two certificates whose CNs sanitize to one name must not renew into (and over) one directory.
    const outs = new Map<string, IndexEntry>();
    for (const e of targets) {
      const other = outs.get(outOf(e));
      if (other) {
        throw new DbtlsError(
          'OUTPUT_CONFLICT',
          `could not renew ${other.serial} and ${e.serial}: both would be written to ${outOf(e)}`,
          { hint: 'renew them one at a time, each with its own --out DIR' },
        );
      }
      outs.set(outOf(e), e);
    }
    // Every target checked before the first renewal is issued (each is issued on its own): a file, an
    // unwritable directory or one holding another CN's certificate is exit 2 with nothing renewed.
    const deliveries = targets.map((e) => leafDelivery(outOf(e), { overwrite: true, replaces: e.cn }));
    for (const out of outs.keys()) checkOutputDir(out);
    for (const d of deliveries) d.check?.();
    const reuse = flag(p, 'reuse-key');
    const keys = targets.map((e) =>
      reuse ? readPrivateKey(readUserFile(path.join(outOf(e), 'key.pem'), 'old key')) : undefined,
    );
    if (flag(p, 'dry-run')) {
      const plan = targets.map((e) => ({
        serial: e.serial,
        profile: e.profile,
        subject: e.subject,
        names: [...e.dnsNames, ...e.ipAddresses],
        key: reuse ? 'reused' : 'new',
        out: outOf(e),
      }));
      if (flag(p, 'json')) ctx.render.json({ dryRun: true, renew: plan });
      else
        ctx.render.lines(
          ...plan.map(
            (r) =>
              `Would renew ${r.serial} (${r.profile} ${r.subject}${r.names.length ? `, names ${r.names.join(', ')}` : ''}) with a ${r.key} key into ${r.out}.`,
          ),
          'Nothing was changed (--dry-run).',
        );
      return 0;
    }
    const ca = await unlockCa(p, ctx);
    // Every renewal checked before the first is issued: a failure names its certificate and changes nothing.
    const requests = targets.map((e, i) => {
      const key = keys[i];
      return renewalRequest(ca, e, {
        ...(key ? { reuseKey: key } : {}),
        ...(days === undefined ? {} : { days }),
      });
    });
    const results = targets.map((e, i) => ({
      issued: issueCertificate(ca, requests[i]!, deliveries[i]),
      out: outOf(e),
    }));
    if (flag(p, 'json')) {
      ctx.render.json(results.map((r) => issuedJson(r.issued, r.out)));
      return 0;
    }
    for (const r of results) {
      ctx.render.lines(
        ...createdLines(r.issued, leafFiles(r.out), {
          verb: `Renewed (from ${r.issued.entry.renewedFrom}) a`,
          adminTarget: knownAdminTarget(ctx.env, ctx.profile),
        }),
        '',
      );
    }
    return 0;
  },
};

/** In the order `dbtls --help` lists them. */
export const csrCommands: Command[] = [csrCommand, signCommand, renewCommand];
