/**
 * `npm run bench`: runs every bench/*.bench.ts module (or those named as arguments, e.g. `issue`), one
 * after the other. Each exports `bench(): Promise<void>` and prints its own figures; benchmarks never
 * fail a build, so a failing one is reported and the others still run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface BenchModule {
  bench(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const SUFFIX = import.meta.url.endsWith('.ts') ? '.bench.ts' : '.bench.js';

async function main(names: readonly string[]): Promise<void> {
  const available = fs
    .readdirSync(here)
    .filter((f) => f.endsWith(SUFFIX))
    .map((f) => f.slice(0, -SUFFIX.length))
    .sort();
  const chosen = names.length > 0 ? names : available;
  for (const name of chosen) {
    if (!available.includes(name)) {
      process.stderr.write(`bench ${name}: no bench/${name}${SUFFIX} (have: ${available.join(', ')})\n`);
      process.exitCode = 2;
      continue;
    }
    process.stdout.write(`\n== ${name} ==\n`);
    try {
      const mod = (await import(pathToFileURL(path.join(here, name + SUFFIX)).href)) as BenchModule;
      await mod.bench();
    } catch (err) {
      process.stderr.write(
        `bench ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    }
  }
}

await main(process.argv.slice(2));
