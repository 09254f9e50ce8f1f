import * as path from 'node:path';
import { issueClientBatch, readNameList } from '../ca/batch.js';
import { issueCertificate } from '../ca/issue.js';
import { checkLeafOutputDir, dirNameFor, leafDelivery } from '../ca/leaf-files.js';
import { DbtlsError } from '../errors.js';
import { DEFAULT_KEY_ALGORITHM, type KeyAlgorithm, privateKeyPem } from '../pki/keys.js';
import { canonicalIp, checkDnsName } from '../pki/san.js';
import { dateText } from '../util/dates.js';
import { readUserFile } from '../util/files.js';
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
  createdLines,
  issuedJson,
  keyOption,
  leafFiles,
  leafJson,
  requireLine,
  rsaKeysWithProgress,
  unlockCa,
} from './ca-common.js';
import { csrCommands } from './ca-csr.js';
import type { Command, CommandContext } from './command.js';
import { COMMON, like } from './options.js';
import { checkOutputDir, refuseStdout } from './out.js';
import { knownAdminTarget } from './profile.js';

const ISSUE_SERVER_USAGE =
  'dbtls issue server --cn HOST [--dns NAME]... [--ip ADDR]... [--days N] [--key ALG] [--out DIR] [--ca-dir DIR] [--passphrase-file F] [--json]';
const ISSUE_CLIENT_USAGE =
  'dbtls issue client (--cn USER [--out DIR] | --cn-from FILE --out DIR) [--days N] [--key ALG] [--ca-dir DIR] [--passphrase-file F] [--json]';

const ISSUE_COMMON: OptionSpec = {
  ...CA_OPTIONS,
  days: like('days', { default: '397 (the CA/Browser Forum ceiling many clients apply)' }),
  key: COMMON.key,
  json: COMMON.json,
};

const ISSUE_SERVER_OPTIONS: OptionSpec = {
  cn: like('cn', {
    value: 'HOST',
    description: 'the host name clients dial (also put in the SANs, which verify-full checks)',
  }),
  dns: like('dns', { description: 'another DNS name clients may dial (the CN is always included)' }),
  ip: like('ip', { description: 'an IP address clients may dial (verify-full checks it too)' }),
  out: like('out', {
    value: 'DIR',
    description: 'the directory for cert.pem, key.pem, chain.pem and ca.pem',
    default: './CN',
  }),
  ...ISSUE_COMMON,
};

const ISSUE_CLIENT_OPTIONS: OptionSpec = {
  cn: like('cn', {
    value: 'USER',
    description: 'the database user the certificate is for (REQUIRE SUBJECT matches it)',
  }),
  'cn-from': {
    type: 'string',
    value: 'FILE',
    description: 'a file with one user per line: one certificate each, in --out DIR/<user>/',
  },
  out: like('out', {
    value: 'DIR',
    description: 'the directory for cert.pem, key.pem, chain.pem and ca.pem (with --cn-from: their parent)',
    default: './CN',
  }),
  ...ISSUE_COMMON,
};

const ISSUE_EXAMPLES = {
  server: [
    'dbtls issue server --cn db1.example.com --out db1',
    'dbtls issue server --cn db1.example.com --dns db1 --ip 10.0.0.5 --days 90 --out db1',
  ],
  client: [
    'dbtls issue client --cn app_user --out app_user',
    'dbtls issue client --cn-from users.txt --out clients',
  ],
} as const;

function issueCommand(profile: 'server' | 'client'): Command {
  const usage = profile === 'server' ? ISSUE_SERVER_USAGE : ISSUE_CLIENT_USAGE;
  const options = profile === 'server' ? ISSUE_SERVER_OPTIONS : ISSUE_CLIENT_OPTIONS;
  return {
    options,
    examples: ISSUE_EXAMPLES[profile],
    name: ['issue', profile],
    usage,
    summary:
      profile === 'server'
        ? 'issue a server certificate (SANs for verify-full)'
        : 'issue client certificates (CN = database user)',
    async run(argv, ctx) {
      const p = noPositionals(parse(argv, options, usage, ctx), usage);
      refuseStdout(str(p, 'out'), 'a directory of certificate files', usage);
      const key = keyOption(p);
      const days = int(p, 'days', usage);
      const common = { ...(key ? { key } : {}), ...(days === undefined ? {} : { days }) };
      const cnFrom = str(p, 'cn-from');
      if (cnFrom !== undefined && str(p, 'cn') !== undefined) {
        throw new DbtlsError('USAGE', 'could not run dbtls issue client: give --cn or --cn-from, not both', {
          hint: `usage: ${usage}`,
        });
      }
      if (cnFrom !== undefined) return issueBatch(p, ctx, cnFrom, common);
      const cn = required(p, 'cn', usage);
      const dns = strs(p, 'dns');
      const ip = strs(p, 'ip');
      for (const d of dns) checkDnsName(d);
      for (const a of ip) canonicalIp(a);
      // Without --out, a directory named after the CN, sanitized: a CN is never a path (issue 10 item 5).
      const out = path.resolve(ctx.cwd, str(p, 'out') ?? dirNameFor(cn, profile));
      checkOutputDir(out); // a file, an unwritable directory: exit 2 before the CA is unlocked
      checkLeafOutputDir(out);
      const ca = await unlockCa(p, ctx);
      const [pair] = (await rsaKeysWithProgress(key ?? DEFAULT_KEY_ALGORITHM, 1, ctx)) ?? [];
      // The files are delivered under the CA lock: a refused or failed delivery records nothing.
      const keyPem = pair ? privateKeyPem(pair.privateKey) : undefined;
      const issued = pair
        ? {
            ...issueCertificate(
              ca,
              { profile, cn, dns, ip, ...common, publicKey: pair.publicKey },
              leafDelivery(out, { keyPem }),
            ),
            keyPem,
          }
        : issueCertificate(ca, { profile, cn, dns, ip, ...common }, leafDelivery(out));
      if (flag(p, 'json')) ctx.render.json(issuedJson(issued, out));
      else
        ctx.render.lines(
          ...createdLines(issued, leafFiles(out), { adminTarget: knownAdminTarget(ctx.env, ctx.profile) }),
        );
      return 0;
    },
  };
}

async function issueBatch(
  p: Parsed,
  ctx: CommandContext,
  file: string,
  common: { key?: KeyAlgorithm; days?: number },
): Promise<number> {
  const out = path.resolve(ctx.cwd, required(p, 'out', ISSUE_CLIENT_USAGE));
  checkOutputDir(out);
  const names = readNameList(readUserFile(path.resolve(ctx.cwd, file), 'name list').toString('utf8'));
  const ca = await unlockCa(p, ctx);
  const started = Date.now();
  const result = await issueClientBatch(ca, names, {
    outDir: out,
    ...common,
    onProgress: (done, total) => ctx.render.progress('issuing', done, total),
  });
  ctx.render.progressDone();
  if (flag(p, 'json')) {
    ctx.render.json(result.entries.map((e, n) => leafJson(e, result.dirs[n])));
    return 0;
  }
  const seconds = (Date.now() - started) / 1000;
  const first = result.entries[0]!;
  const firstDir = path.relative(ctx.cwd, result.dirs[0]!) || '.';
  if (result.resumed) {
    ctx.render.lines(
      `Completed the interrupted batch: ${result.entries.length} client certificates, issued before the interruption, are now in ${path.relative(ctx.cwd, out) || '.'}/<user>/ (none issued twice).`,
    );
  }
  ctx.render.lines(
    `${result.resumed ? 'Delivered' : 'Created'} ${result.entries.length} client certificates in ${path.relative(ctx.cwd, out) || '.'}/<user>/${result.resumed ? '' : ` (${Math.round(result.entries.length / Math.max(seconds, 0.001))}/s)`}`,
    `Each directory holds cert.pem, key.pem, chain.pem and ca.pem; the subjects look like ${first.subject}.`,
    `They will expire on ${dateText(new Date(first.notAfter))}.`,
    `Next: give each user their directory, and require the certificate, for ${first.cn} with: ${requireLine(
      knownAdminTarget(ctx.env, ctx.profile),
      [
        `${first.cn}@%`,
        '--subject-of',
        path.join(firstDir, 'cert.pem'),
        '--verify-cert',
        path.join(firstDir, 'cert.pem'),
        '--verify-key',
        path.join(firstDir, 'key.pem'),
      ],
    )}`,
  );
  return 0;
}

// ---------------------------------------------------------------------------------------------------

/** In the order `dbtls --help` lists them. */
export const issueCommands: Command[] = [issueCommand('server'), issueCommand('client'), ...csrCommands];
