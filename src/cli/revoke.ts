/**
 * `dbtls revoke` and `dbtls crl`: revocation in the CA index, and the CRL file servers load as ssl_crl.
 */
import * as path from 'node:path';
import { readIndex } from '../ca/cert-index.js';
import { type CrlSet, generateCrls, planCrls, planRevocation, previewCrls, revoke } from '../ca/revoke.js';
import { CA_PASSPHRASE_ENV, type Ca, openCa, resolveCaDir } from '../ca/store.js';
import { DbtlsError } from '../errors.js';
import { parseRevocationReason, REVOCATION_REASONS } from '../pki/crl.js';
import { type AdminSession, openAdminSession } from '../server/admin/session.js';
import { rolloverPartnerDirs } from '../server/rotation/rollover.js';
import { type CrlInstallResult, installCrl, planCrlInstall } from '../server/tls/crl-install.js';
import { dateText } from '../util/dates.js';
import { flag, int, type OptionSpec, type Parsed, parse, readSecret, str } from './args.js';
import { givenCaFlags } from './ca-common.js';
import type { Command, CommandContext } from './command.js';
import { COMMON, like, pick } from './options.js';
import { checkOutputFile, isStdout, refuseJsonOnStdout } from './out.js';
import { knownAdminTarget } from './profile.js';
import {
  ADMIN_OPTIONS,
  ADMIN_PREFIXED_SESSION_USAGE,
  ADMIN_PREFIXED_TLS_OPTIONS,
  adminSessionOptions,
  pastableHint,
  withSession,
} from './server-admin.js';
import { checkServerDir } from './server-paths.js';
import { hintLine } from './shell.js';

const revokeUsage =
  'dbtls revoke SERIAL|--cn NAME [--reason keyCompromise|superseded|cessationOfOperation|affiliationChanged|caCompromise|unspecified] [--dry-run] [--ca-dir DIR] [--json]';

const REVOKE_OPTIONS: OptionSpec = {
  cn: like('cn', { description: 'revoke every valid certificate with this common name (instead of SERIAL)' }),
  reason: {
    type: 'string',
    value: 'REASON',
    description: 'the CRL reason code',
    choices: Object.keys(REVOCATION_REASONS),
    default: 'unspecified',
  },
  'dry-run': COMMON['dry-run'],
  ...pick('ca-dir', 'json'),
};

const revokeCommand: Command = {
  name: ['revoke'],
  usage: revokeUsage,
  summary: 'mark a certificate revoked in the CA index (then run `dbtls crl`)',
  options: REVOKE_OPTIONS,
  details: ['SERIAL is the hex serial `dbtls list` shows.'],
  examples: [
    'dbtls revoke --cn app_user --reason keyCompromise',
    'dbtls revoke --cn db1.example.com --reason superseded',
  ],
  async run(argv, ctx) {
    const p = parse(argv, REVOKE_OPTIONS, revokeUsage, ctx);
    const serial = p.positionals[0];
    const cn = str(p, 'cn');
    if (p.positionals.length > 1 || (serial === undefined) === (cn === undefined)) {
      throw new DbtlsError('USAGE', 'could not revoke: give either one SERIAL or --cn NAME', {
        hint: `usage: ${revokeUsage}`,
      });
    }
    const reasonText = str(p, 'reason');
    const caDir = resolveCaDir(str(p, 'ca-dir'), ctx.env, ctx.cwd);
    const req = {
      ...(serial !== undefined ? { serial } : {}),
      ...(cn !== undefined ? { cn } : {}),
      ...(reasonText !== undefined ? { reason: parseRevocationReason(reasonText) } : {}),
    };
    if (flag(p, 'dry-run')) {
      // The same checks and the same selection as a real run; no lock, no write (issue 10 item 14).
      const planned = planRevocation(readIndex(caDir), req);
      if (flag(p, 'json')) {
        ctx.render.json({ dryRun: true, revoked: planned });
        return 0;
      }
      for (const e of planned)
        ctx.render.lines(
          `Would revoke ${e.serial} (${e.profile} ${e.subject}), reason ${e.revocationReason}.`,
        );
      ctx.render.lines('Nothing was changed (--dry-run).');
      return 0;
    }
    const revoked = revoke(caDir, req);
    if (flag(p, 'json')) {
      ctx.render.json({ revoked });
      return 0;
    }
    for (const e of revoked)
      ctx.render.lines(`Revoked ${e.serial} (${e.profile} ${e.subject}), reason ${e.revocationReason}.`);
    ctx.render.lines(
      `Servers still accept it until they load a new CRL; to sign one, install it as ssl_crl and reload: ${crlInstallLine(p, ctx)}`,
    );
    return 0;
  },
};

/** `dbtls crl --install TARGET` with the CA flags given, for the hints after revoke and crl. */
function crlInstallLine(p: Parsed, ctx: CommandContext): string {
  const target = knownAdminTarget(ctx.env, ctx.profile) ?? 'ADMIN_TARGET';
  return hintLine(['dbtls', 'crl', '--install', target, ...givenCaFlags(p)]);
}

const crlUsage =
  'dbtls crl [--days N] [--out FILE] [--dry-run] [--ca-dir DIR] [--passphrase-file F] [--json]\n' +
  `         [--install ADMIN_TARGET [--dir D] ${ADMIN_PREFIXED_SESSION_USAGE}]`;

const CRL_OPTIONS: OptionSpec = {
  days: like('days', { description: 'days until the next update the CRL announces' }),
  out: like('out', {
    description: 'also write the CRL file here (it is always written in the CA directory)',
  }),
  'dry-run': COMMON['dry-run'],
  ...pick('ca-dir', 'passphrase-file', 'json'),
  install: {
    type: 'string',
    value: 'ADMIN_TARGET',
    description: 'also install the CRL on this server, next to its certificate, and FLUSH SSL',
  },
  dir: {
    type: 'string',
    value: 'DIR',
    description: 'with --install: the directory the CRL goes to (default: where the server certificate is)',
  },
  ...ADMIN_OPTIONS,
  ...ADMIN_PREFIXED_TLS_OPTIONS,
};

const crlCommand: Command = {
  name: ['crl'],
  usage: crlUsage,
  summary: 'publish the CRLs of the whole chain as one PEM file, ready for ssl_crl',
  options: CRL_OPTIONS,
  examples: ['dbtls crl', 'dbtls crl --days 7 --out /etc/mysql/ssl/crl.pem'],
  async run(argv, ctx) {
    const p = parse(argv, CRL_OPTIONS, crlUsage, ctx);
    if (p.positionals.length > 0) {
      throw new DbtlsError('USAGE', `could not run dbtls crl: unexpected argument ${p.positionals[0]}`, {
        hint: `usage: ${crlUsage}`,
      });
    }
    const caDir = resolveCaDir(str(p, 'ca-dir'), ctx.env, ctx.cwd);
    // The files it writes are checked before the passphrase is asked (and in a dry run, which says it would
    // write them): --out here, and with --install the server's --dir, whose permissions the preflight checks.
    const out = str(p, 'out');
    if (out && !isStdout(out)) checkOutputFile(path.resolve(ctx.cwd, out), 'crl');
    if (str(p, 'install') !== undefined) checkServerDir(str(p, 'dir'), ctx.cwd);
    if (flag(p, 'dry-run')) return crlDryRun(p, ctx, caDir);
    const passphrase = await readSecret(
      { file: str(p, 'passphrase-file'), envName: CA_PASSPHRASE_ENV, what: 'CA passphrase', prompt: true },
      ctx.env,
    );
    const ca = openCa(caDir, passphrase);
    const days = int(p, 'days', crlUsage);
    refuseJsonOnStdout(out, flag(p, 'json'), crlUsage);
    const target = str(p, 'install');
    // Bad input is refused before the CRL is published: a failed command changes nothing (issue 14, item 8).
    const session = target ? await adminSessionOptions(p, ctx, target, { tlsPrefix: 'admin-' }) : undefined;
    const crlOptions = days === undefined ? {} : { days };
    const publish = (): CrlSet =>
      generateCrls(ca, {
        ...crlOptions,
        ...(out && !isStdout(out) ? { out: path.resolve(ctx.cwd, out) } : {}),
      });
    // --install: checked on the server first (src/server/tls/crl-install.ts), then published, written next
    // to its certificate, and reloaded. During a CA rollover the file holds the other CA's CRLs too.
    let set: CrlSet | undefined;
    const installOn = async (s: AdminSession): Promise<CrlInstallResult> => {
      // Opened only when this CA's CRLs alone leave a gap (a rollover partner's key is asked for then).
      const partners = rolloverPartnerDirs(caDir).map((dir) => {
        let opened: Ca | undefined;
        return { dir, ca: () => (opened ??= openCa(dir, passphrase)) };
      });
      const plan = await planCrlInstall(
        s,
        { dir: ca.dir, preview: () => previewCrls(ca, crlOptions) },
        partners.map((x) => ({ dir: x.dir, preview: () => previewCrls(x.ca(), crlOptions) })),
        { dir: str(p, 'dir') },
      );
      set = publish();
      const others = partners.filter((x) => plan.partners.includes(x.dir));
      return installCrl(s, plan, set.pem + others.map((x) => generateCrls(x.ca(), crlOptions).pem).join(''));
    };
    // A hint naming another server command (`server reload ADMIN_TARGET`) gets the target and the flags.
    const installed = session
      ? await withSession(await openAdminSession(session), installOn).catch((err: unknown) => {
          throw pastableHint(err, p, target!);
        })
      : undefined;
    set ??= publish();
    if (flag(p, 'json')) {
      ctx.render.json({
        file: set.file,
        out: out ?? null,
        thisUpdate: set.thisUpdate,
        nextUpdate: set.nextUpdate,
        crls: set.crls,
        ...(installed ? { installed } : {}),
      });
      return installed?.restartNeeded ? 1 : 0;
    }
    if (isStdout(out)) {
      // `--out -`: the CRL is what stdout carries (issue 14, item 10); it is in the CA directory too.
      ctx.render.lines(set.pem.replace(/\n$/, ''));
      return installed?.restartNeeded ? 1 : 0;
    }
    for (const crl of set.crls) {
      ctx.render.lines(
        `CRL #${crl.crlNumber} of ${crl.issuerSubject}: ${crl.revokedSerials.length} revoked${crl.revokedSerials.length ? ` (${crl.revokedSerials.join(', ')})` : ''}.`,
      );
    }
    ctx.render.lines(
      `Wrote ${set.file}${out ? ` and ${out}` : ''}; next update due ${dateText(set.nextUpdate)} (publish again before then).`,
      ...(installed
        ? [
            `Installed it as ${installed.path}${installed.alsoFrom.length > 0 ? `, with the current CRLs of ${installed.alsoFrom.join(' and ')} (the other CA of the rollover)` : ''}${installed.written ? '' : ' (it was already there)'}.`,
            installed.restartNeeded
              ? `Restart needed: ${installed.restartNeeded}.`
              : `Reloaded online: ${installed.statement ?? 'nothing to reload (TLS is off)'}.`,
          ]
        : [
            `To install it as ssl_crl and reload the server (FLUSH SSL, or ALTER INSTANCE RELOAD TLS on MySQL): ${crlInstallLine(p, ctx)}`,
          ]),
    );
    return installed?.restartNeeded ? 1 : 0;
  },
};

/** `crl --dry-run`: the CRLs that would be signed and the files written; no key unlocked, nothing written. */
function crlDryRun(p: Parsed, ctx: CommandContext, caDir: string): number {
  const days = int(p, 'days', crlUsage);
  const plan = planCrls(openCa(caDir), days === undefined ? {} : { days });
  const out = str(p, 'out');
  if (flag(p, 'json')) {
    ctx.render.json({
      dryRun: true,
      file: plan.file,
      out: out ?? null,
      thisUpdate: plan.thisUpdate,
      nextUpdate: plan.nextUpdate,
      crls: plan.crls,
    });
    return 0;
  }
  for (const crl of plan.crls) {
    ctx.render.lines(
      `Would sign CRL #${crl.crlNumber} of ${crl.issuerSubject}: ${crl.revokedSerials.length} revoked${crl.revokedSerials.length ? ` (${crl.revokedSerials.join(', ')})` : ''}.`,
    );
  }
  ctx.render.lines(
    `Would write ${plan.file}${out ? ` and ${out}` : ''} and advance the CRL number in ca.json; next update due ${dateText(plan.nextUpdate)}.`,
    'Nothing was changed (--dry-run).',
  );
  return 0;
}

export const commands: Command[] = [revokeCommand, crlCommand];
