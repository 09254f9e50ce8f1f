/**
 * The layering of src/ (issue 11: "no import cycle, no import from a higher layer"), read from the import
 * statements of every source file, type-only and dynamic imports included. The order is the one of the
 * layout in docs/layout.md: a module imports its own folder and the layers below it, never above.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const SRC = path.resolve('src');

/** Rank of each part of src/: an import must go to the same folder or to a lower rank. */
const RANKS: Readonly<Record<string, number>> = {
  'errors.ts': 0,
  util: 1,
  // The TLS version vocabulary (issue 11), which server/flavor.ts speaks too: it imports nothing but errors.ts.
  'tls/versions.ts': 1,
  pki: 2,
  protocol: 2,
  sandbox: 2,
  // Facts about server flavors (MariaDB/MySQL + version -> capabilities), which the inspector reads too:
  // the design keeps it in server/, and it imports nothing but errors.ts and the TLS version vocabulary.
  'server/flavor.ts': 2,
  ca: 3,
  keystore: 3,
  tls: 3,
  client: 4,
  deploy: 4,
  inspect: 5,
  proxy: 6,
  server: 6,
  cli: 7,
  'index.ts': 8,
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The part of src/ a file belongs to: its own entry in RANKS, else its top folder. */
function partOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep).join('/');
  if (Object.hasOwn(RANKS, rel)) return rel;
  const top = rel.split('/')[0]!;
  assert.ok(Object.hasOwn(RANKS, top), `${rel}: its folder has no rank in this test`);
  return top;
}

/**
 * The src files `file` imports: static imports and re-exports (type-only ones included) and, with
 * `dynamic`, the lazy `import('./x.js')` too.
 */
function importsOf(file: string, dynamic: boolean): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specifiers = [
    ...text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'(\.{1,2}\/[^']+)'/gms),
    ...(dynamic ? text.matchAll(/\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)/g) : []),
  ].map((m) => m[1]!);
  return specifiers.map((s) => path.resolve(path.dirname(file), s.replace(/\.js$/, '.ts')));
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f, true)]));
/**
 * For cycles, the static imports only: the CLI's command table (cli/main.ts) loads each command group
 * lazily, and `dbtls completion` lazily asks that table for every command; a lazy import runs after both
 * modules are complete, so it cannot meet a half-initialised one.
 */
const staticGraph = new Map(files.map((f) => [f, importsOf(f, false)]));

describe('the layers of src/', () => {
  it('every import names a file that exists (the test reads them all)', () => {
    const missing = [...graph].flatMap(([f, targets]) =>
      targets.filter((t) => !fs.existsSync(t)).map((t) => `${path.relative(SRC, f)} -> ${t}`),
    );
    assert.deepEqual(missing, []);
    assert.ok(files.length > 100 && [...graph.values()].flat().length > 500, 'the imports were read');
  });

  it('no module imports from a higher layer', () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      const from = partOf(file);
      for (const target of targets) {
        const to = partOf(target);
        if (to !== from && RANKS[to]! >= RANKS[from]! && !(from === 'server' && to === 'server/flavor.ts'))
          upward.push(`${path.relative(SRC, file)} (${from}) -> ${path.relative(SRC, target)} (${to})`);
      }
    }
    assert.deepEqual(upward, []);
  });

  it('no import cycle between files (static imports, type-only ones included)', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, stack: string[]) => {
      state.set(file, 'open');
      stack.push(file);
      for (const target of staticGraph.get(file) ?? []) {
        if (state.get(target) === 'open')
          cycles.push(
            [...stack.slice(stack.indexOf(target)), target].map((f) => path.relative(SRC, f)).join(' -> '),
          );
        else if (!state.has(target)) visit(target, stack);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of files) if (!state.has(file)) visit(file, []);
    assert.deepEqual(cycles, []);
  });

  it('the checks see a violation (a file of a low layer importing a high one)', () => {
    const rank = (f: string) => RANKS[partOf(path.join(SRC, f))]!;
    assert.ok(rank('pki/keys.ts') < rank('cli/main.ts'));
    assert.ok(rank('server/flavor.ts') < rank('inspect/session.ts'));
    assert.ok(rank('inspect/session.ts') < rank('server/secure/secure.ts'));
  });
});
