import * as path from 'node:path';
import { issueClientBatch, readNameList } from '../ca/batch.js';
import { issueCertificate } from '../ca/issue.js';
import { checkLeafOutputDir, dirNameFor, leafDelivery } from '../ca/leaf-files.js';
import { DbtlsError } from '../errors.js';
import { DEFAULT_KEY_ALGORITHM, type KeyAlgorithm, privateKeyPem } from '../pki/keys.js';
import { canonicalIp, checkDnsName } from '../pki/san.js';
import { readUserFile } from '../util/files.js';
import { flag, int, type OptionSpec, type Parsed, parse, required, str, strs } from './args.js';
import {
  CA_OPTIONS,
  createdLines,
  dateText,
  issuedJson,
  keyOption,
  leafJson,
  rsaKeysWithProgress,
  unlockCa,
} from './ca-common.js';
import { csrCommands } from './ca-csr.js';
import type { Command, CommandContext } from './command.js';

const ISSUE_SERVER_USAGE =
  'dbtls issue server --cn HOST [--dns NAME]... [--ip ADDR]... [--days N] [--key ALG] [--out DIR] [--ca-dir DIR] [--passphrase-file F] [--json]';
const ISSUE_CLIENT_USAGE =
  'dbtls issue client (--cn USER [--out DIR] | --cn-from FILE --out DIR) [--days N] [--key ALG] [--ca-dir DIR] [--passphrase-file F] [--json]';

function issueCommand(profile: 'server' | 'client'): Command {
  const usage = profile === 'server' ? ISSUE_SERVER_USAGE : ISSUE_CLIENT_USAGE;
  return {
    name: ['issue', profile],
    usage,
    summary:
      profile === 'server'
        ? 'issue a server certificate (SANs for verify-full)'
        : 'issue client certificates (CN = database user)',
    async run(argv, ctx) {
      const options: OptionSpec = {
        ...CA_OPTIONS,
        cn: { type: 'string' },
        days: { type: 'string' },
        key: { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean' },
        ...(profile === 'server'
          ? { dns: { type: 'string', multiple: true }, ip: { type: 'string', multiple: true } }
          : { 'cn-from': { type: 'string' } }),
      };
      const p = parse(argv, options, usage);
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
      else ctx.render.lines(...createdLines(issued, out));
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
  if (result.resumed) {
    ctx.render.lines(
      `Completed the interrupted batch: ${result.entries.length} client certificates, issued before the interruption, are now in ${path.relative(ctx.cwd, out) || '.'}/<user>/ (none issued twice).`,
    );
  }
  ctx.render.lines(
    `${result.resumed ? 'Delivered' : 'Created'} ${result.entries.length} client certificates in ${path.relative(ctx.cwd, out) || '.'}/<user>/${result.resumed ? '' : ` (${Math.round(result.entries.length / Math.max(seconds, 0.001))}/s)`}`,
    `Each directory holds cert.pem, key.pem, chain.pem and ca.pem; the subjects look like ${first.subject}.`,
    `They will expire on ${dateText(new Date(first.notAfter))}.`,
    'Next: give each user their directory, and require the certificate: dbtls require ADMIN_TARGET USER@HOST --x509',
  );
  return 0;
}

// ---------------------------------------------------------------------------------------------------

/** In the order `dbtls --help` lists them. */
export const issueCommands: Command[] = [issueCommand('server'), issueCommand('client'), ...csrCommands];
