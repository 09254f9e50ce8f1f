/**
 * `dbtls rotate`: the server certificate re-issued and reloaded online (leaf rotation), and with
 * `--ca-rollover` the staged CA rollover (src/server/rotation/rollover.ts). Thin: parse, call src/server, render.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { caPath, openCa, resolveCaDir } from '../ca/store.js';
import { DbtlsError } from '../errors.js';
import { planRotation, type RotatePlan } from '../server/rotation/plan.js';
import {
  nextStage,
  ROLLOVER_STAGES,
  type RolloverStage,
  readRolloverState,
  STAGE_DESCRIPTIONS,
  TRUST_BUNDLE_FILE,
} from '../server/rotation/rollover.js';
import { runStage } from '../server/rotation/rollover-stages.js';
import { rotateServerCertificate } from '../server/rotation/rotate.js';
import { DEFAULT_CERT_DIR } from '../server/tls/config.js';
import { serverFilePaths } from '../server/tls/install.js';
import { address } from '../tls/dsn.js';
import { dateText } from '../util/dates.js';
import { flag, int, type OptionSpec, type Parsed, parse, str } from './args.js';
import { CA_OPTIONS, givenCaFlags } from './ca-common.js';
import type { Command, CommandContext } from './command.js';
import { COMMON, like } from './options.js';
import { checkOutputDir, refuseStdout } from './out.js';
import {
  ADMIN_OPTIONS,
  ADMIN_PREFIXED_SESSION_USAGE,
  ADMIN_PREFIXED_TLS_OPTIONS,
  adminCommandLine,
  caPassphrase,
  renderedJson,
  withAdmin,
} from './server-admin.js';
import { checkServerDir } from './server-paths.js';
import { commandLine, hintLine } from './shell.js';
import { shown } from './suggest.js';

/** The rotate command's own flags besides the admin session's (--admin-ca/--admin-cert/--admin-key). */
const ROTATE_OPTIONS: OptionSpec = {
  ...ADMIN_OPTIONS,
  ...ADMIN_PREFIXED_TLS_OPTIONS,
  ...CA_OPTIONS,
};

const ROTATE_COMMAND_OPTIONS: OptionSpec = {
  'ca-rollover': {
    type: 'boolean',
    description: 'the staged CA rollover instead of a leaf rotation (a switch: it takes no file)',
  },
  ca: { type: 'boolean', description: 'the old name of --ca-rollover', renamedTo: 'ca-rollover' },
  stage: {
    type: 'string',
    value: 'STAGE',
    description: 'with --ca-rollover: the rollover stage to run',
    choices: ['new-ca', 'trust-both', 'reissue', 'retire-old'],
  },
  status: { type: 'boolean', description: 'with --ca-rollover: show where the rollover stands' },
  out: like('out', {
    value: 'DIR',
    description: 'with --ca-rollover --stage reissue: where the re-issued client certificates go',
  }),
  dir: {
    type: 'string',
    value: 'DIR',
    description: 'where the server reads its certificate files',
    default: DEFAULT_CERT_DIR,
  },
  days: like('days', { description: 'validity of the new certificate in days', default: '397' }),
  'dry-run': COMMON['dry-run'],
  ...ROTATE_OPTIONS,
};

const USAGE =
  'dbtls rotate ADMIN_TARGET [--ca-dir D] [--passphrase-file F] [--dir D] [--days N] [--dry-run] [--json]\n' +
  `         admin session: ${ADMIN_PREFIXED_SESSION_USAGE}\n` +
  '       dbtls rotate [ADMIN_TARGET] --ca-rollover --stage new-ca|trust-both|retire-old [--ca-dir D] …\n' +
  '       dbtls rotate [ADMIN_TARGET] --ca-rollover --stage reissue [--out DIR] [--ca-dir D] …\n' +
  '       dbtls rotate [ADMIN_TARGET] --ca-rollover --status [--ca-dir D] [--json]';

/**
 * --out is where `--stage reissue` delivers the re-issued client certificates, and nothing else writes
 * there: given anywhere else it was ignored without a word (a leaf rotation ran and wrote nothing to it).
 * For reissue it is checked before the CA is unlocked: a file there was found only after the new CA was
 * promoted and the server's certificate re-issued from it.
 */
function reissueOut(
  p: Parsed,
  ctx: CommandContext,
  doing: string,
  stage?: RolloverStage,
): string | undefined {
  const out = str(p, 'out');
  if (out === undefined) return undefined;
  if (stage !== 'reissue') {
    throw new DbtlsError(
      'USAGE',
      `could not ${doing}: --out is only for --ca-rollover --stage reissue (where the re-issued client certificates go)`,
      {
        hint:
          stage === undefined && !flag(p, 'ca-rollover')
            ? "drop --out: a leaf rotation replaces the server's own files, where it reads them (--dir)"
            : 'drop --out here, and give it to --stage reissue',
      },
    );
  }
  const dir = path.resolve(ctx.cwd, out);
  checkOutputDir(dir, '--out');
  return dir;
}

async function rotateLeaf(p: Parsed, ctx: CommandContext, target: string): Promise<number> {
  reissueOut(p, ctx, 'rotate the server certificate');
  checkServerDir(str(p, 'dir'), ctx.cwd);
  const caDir = resolveCaDir(str(p, 'ca-dir'), ctx.env, ctx.cwd);
  const ca = openCa(caDir, await caPassphrase(p, ctx));
  const dir = str(p, 'dir');
  const files = dir ? serverFilePaths(path.resolve(ctx.cwd, dir)) : undefined;
  const days = int(p, 'days', USAGE);
  const options = {
    ...(files ? { files: { cert: files.cert, key: files.key, ca: files.ca } } : {}),
    ...(days === undefined ? {} : { days }),
  };
  if (flag(p, 'dry-run')) {
    const plan = await withAdmin(p, ctx, target, (s) => planRotation(s, ca, options), {
      tlsPrefix: 'admin-',
      defaultCa: caPath(caDir, 'root'),
    });
    if (!renderedJson(p, ctx, { dryRun: true, ...plan })) renderPlan(ctx, plan);
    return 0;
  }
  const { result, where } = await withAdmin(
    p,
    ctx,
    target,
    async (s) => ({
      where: address(s.options.host, s.options.port),
      result: await rotateServerCertificate(s, ca, options),
    }),
    { tlsPrefix: 'admin-', defaultCa: caPath(caDir, 'root') },
  );
  if (renderedJson(p, ctx, result)) return 0;
  const names = [...result.names.dns, ...result.names.ip].join(', ');
  ctx.render.lines(
    `Rotated the server certificate of ${where} without a restart.`,
    `  files      ${result.files.cert}, ${result.files.key} (switched together through ${path.dirname(result.files.cert)}/dbtls-…/live)`,
    `  names      ${names} (${result.keyAlgorithm}, new key)`,
    `  old        serial ${result.before.serial}, sha256 ${result.before.fingerprint} (marked superseded)`,
    `  new        serial ${result.after.serial}, sha256 ${result.after.fingerprint}, expires ${dateText(result.after.notAfter)}`,
    `  reload     ${result.statement}`,
    `Proved: new connections get sha256 ${result.served.fingerprint} over ${result.served.protocol} ✓`,
    'Sessions opened before the reload keep their TLS state; nothing was restarted.',
  );
  return 0;
}

function renderPlan(ctx: CommandContext, plan: RotatePlan): void {
  ctx.render.lines(
    'Dry run: nothing was changed. rotate would:',
    ...plan.orphans.map(
      (serial) => `  void       serial ${serial} (issued by an interrupted rotation, never installed)`,
    ),
    ...plan.superseded.map((serial) => `  supersede  serial ${serial} (replaced by an interrupted rotation)`),
    `  issue      ${plan.subject} for ${[...plan.names.dns, ...plan.names.ip].join(', ')} (${plan.keyAlgorithm}, new key${plan.days ? `, ${plan.days} days` : ''})`,
    `  write      the new key and certificate into ${plan.pairDir}/gen-<serial>/`,
    ...(plan.convertsFiles
      ? [
          `  link       ${plan.files.cert} and ${plan.files.key} through ${plan.pairDir}/live (first rotation)`,
        ]
      : []),
    `  switch     ${plan.pairDir}/live to the new generation (both files at once)`,
    `  reload     ${plan.statement}, then prove the new certificate is served`,
    `  supersede  serial ${plan.before.serial} (sha256 ${plan.before.fingerprint})`,
  );
}

function parseStage(p: Parsed): RolloverStage {
  const text = str(p, 'stage');
  if (text && (ROLLOVER_STAGES as readonly string[]).includes(text)) return text as RolloverStage;
  // The status of the same CA (and the next stage's line for the same target), as the user named them.
  const target = p.positionals[0] === undefined ? [] : [p.positionals[0]];
  const status = commandLine(['dbtls', 'rotate', ...target, '--ca-rollover', '--status', ...givenCaFlags(p)]);
  const hint = `\`${status}\` shows the next one`;
  if (text === undefined) {
    throw new DbtlsError(
      'USAGE',
      `could not run the CA rollover: --stage is required (one of ${ROLLOVER_STAGES.join(', ')})`,
      { hint: `${hint}; usage: ${USAGE}` },
    );
  }
  throw new DbtlsError('USAGE', `could not run the CA rollover: --stage ${shown(text)} is not a stage`, {
    hint: `choose one of ${ROLLOVER_STAGES.join(', ')}; ${hint}`,
  });
}

function rolloverStatus(p: Parsed, ctx: CommandContext): number {
  const extra = p.positionals[1];
  if (extra !== undefined)
    throw new DbtlsError('USAGE', `could not show the CA rollover: unexpected argument ${shown(extra)}`, {
      hint: `usage: ${USAGE}`,
    });
  reissueOut(p, ctx, 'show the CA rollover');
  const caDir = resolveCaDir(str(p, 'ca-dir'), ctx.env, ctx.cwd);
  const state = readRolloverState(caDir);
  const next = nextStage(state);
  if (
    renderedJson(p, ctx, {
      caDir,
      state: state ?? null,
      next: next ?? null,
      nextCommand: next ? stageLine(p, next, p.positionals[0]) : null,
    })
  )
    return 0;
  if (!state) {
    ctx.render.lines(`No CA rollover in progress in ${caDir}.`, `To start one: ${stageLine(p, 'new-ca')}`);
    return 0;
  }
  ctx.render.lines(
    `CA rollover in ${caDir}:`,
    `  old CA  ${state.oldRoot.subject}  sha256 ${state.oldRoot.fingerprint}`,
  );
  if (state.newRoot)
    ctx.render.lines(`  new CA  ${state.newRoot.subject}  sha256 ${state.newRoot.fingerprint}`);
  for (const stage of ROLLOVER_STAGES) {
    const record = state.history.find((h) => h.stage === stage);
    const mark = record ? '✓' : stage === next ? '→' : ' ';
    ctx.render.lines(
      `  ${mark} ${stage.padEnd(10)}  ${record ? `${record.at.slice(0, 19)}Z  ${record.summary}` : STAGE_DESCRIPTIONS[stage]}`,
    );
  }
  ctx.render.lines(
    next
      ? `Next: ${stageLine(p, next, p.positionals[0])}`
      : `Done: the old CA is retired; clients trust ${path.join(caDir, TRUST_BUNDLE_FILE)}.`,
  );
  return 0;
}

/**
 * The command line that runs a stage, with the flags the user gave (issue 14 item 5): the target and the
 * admin flags for the stages that change the server. Without a target on the command line, in
 * DBTLS_ADMIN_TARGET or in the profile, the line says ADMIN_TARGET and what to put there.
 */
function stageLine(p: Parsed, stage: RolloverStage, target?: string): string {
  const words = ['--ca-rollover', '--stage', stage];
  if (stage === 'new-ca') return commandLine(['dbtls', 'rotate', ...words, ...givenCaFlags(p)]);
  if (target) return adminCommandLine(p, target, ['rotate'], ...words);
  return hintLine(['dbtls', 'rotate', 'ADMIN_TARGET', ...words, ...givenCaFlags(p)]);
}

async function rollover(p: Parsed, ctx: CommandContext): Promise<number> {
  if (flag(p, 'status')) return rolloverStatus(p, ctx);
  const stage = parseStage(p);
  const caDir = resolveCaDir(str(p, 'ca-dir'), ctx.env, ctx.cwd);
  const [target, ...extra] = p.positionals;
  if (extra.length)
    throw new DbtlsError('USAGE', `could not run the CA rollover: unexpected argument ${extra[0]}`, {
      hint: `usage: ${USAGE}`,
    });
  if (stage !== 'new-ca' && !target) {
    throw new DbtlsError('USAGE', `could not run the rollover stage ${stage}: ADMIN_TARGET is missing`, {
      hint: `usage: ${USAGE}`,
    });
  }
  const out = reissueOut(p, ctx, `run the rollover stage ${stage}`, stage);
  const passphrase = await caPassphrase(p, ctx);
  const bundle = path.join(caDir, TRUST_BUNDLE_FILE);
  // The admin session trusts the rollover's bundle once there is one (the server may serve either CA's leaf).
  const result = await (target
    ? withAdmin(
        p,
        ctx,
        target,
        (s) =>
          runStage(caDir, stage, {
            session: s,
            passphrase,
            out,
          }),
        { tlsPrefix: 'admin-', defaultCa: fs.existsSync(bundle) ? bundle : caPath(caDir, 'root') },
      )
    : runStage(caDir, stage, { passphrase }));
  if (renderedJson(p, ctx, result)) return 0;
  ctx.render.lines(
    result.ran ? `Stage ${stage}: ${result.summary}` : `Stage ${stage} was already done; nothing to do.`,
  );
  for (const line of result.details) ctx.render.lines(`  ${line}`);
  const next = nextStage(result.state);
  ctx.render.lines(next ? `Next: ${stageLine(p, next, target)}` : 'The CA rollover is complete.');
  return 0;
}

export const rotateCommand: Command = {
  name: ['rotate'],
  usage: USAGE,
  summary: 're-issue the served certificate and reload it online; with --ca-rollover, the staged CA rollover',
  options: ROTATE_COMMAND_OPTIONS,
  examples: [
    'dbtls rotate db1.example.com --admin-ca dbtls-ca/root.pem --password-file admin-pw.txt',
    'dbtls rotate --ca-rollover --stage new-ca',
    'dbtls rotate --ca-rollover --status',
  ],
  async run(argv, ctx) {
    const p = parse(argv, ROTATE_COMMAND_OPTIONS, USAGE, ctx);
    refuseStdout(str(p, 'out'), 'a directory of certificate files', USAGE);
    if (flag(p, 'ca-rollover')) return rollover(p, ctx);
    const [target, ...extra] = p.positionals;
    if (!target || extra.length) {
      throw new DbtlsError('USAGE', 'could not rotate: expected exactly one ADMIN_TARGET', {
        hint: `usage: ${USAGE}`,
      });
    }
    return rotateLeaf(p, ctx, target);
  },
};

export const commands: Command[] = [rotateCommand];
