/**
 * Issue 14, item 1: `dbtls --help` prints the overview from a static table and imports no command group,
 * so it costs at most 1.3x a bare node start (`node -e 0`); it was 0.38 s against 0.07 s when it loaded
 * every group. Both are timed as processes, alternating which goes first so machine noise hits both
 * alike; medians are compared. `dbtls issue server --help` (one group loaded) is printed for context.
 * Prints figures; never fails a build.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../test/harness/cli.js';

const ROUNDS = 15;
const CLI_ENTRY = path.join(PROJECT_ROOT, 'dist/src/cli/main.js');
const TARGET_RATIO = 1.3;

function timedMs(args: readonly string[]): number {
  const start = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - start;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function bench(): Promise<void> {
  const contenders: Record<string, string[]> = {
    'node -e 0': ['-e', '0'],
    'dbtls --help': [CLI_ENTRY, '--help'],
    'dbtls issue server --help': [CLI_ENTRY, 'issue', 'server', '--help'],
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  const names = Object.keys(contenders);
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) times[name]!.push(timedMs(contenders[name]!));
  }
  const base = median(times['node -e 0']!);
  for (const name of names) {
    const m = median(times[name]!);
    process.stdout.write(
      `${name.padEnd(28)} median ${m.toFixed(1)} ms  (${(m / base).toFixed(2)}x node -e 0)\n`,
    );
  }
  const ratio = median(times['dbtls --help']!) / base;
  process.stdout.write(
    `dbtls --help / node -e 0 = ${ratio.toFixed(2)} (target <= ${TARGET_RATIO}): ${ratio <= TARGET_RATIO ? 'met' : 'NOT met'}\n`,
  );
}
