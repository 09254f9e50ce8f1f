/**
 * docs/layout.md describes src/ as it is on disk (issue 11): every directory of src/ is named there, and
 * every src/ path it names exists.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../harness/cli.js';

function directories(dir: string): string[] {
  return fs
    .readdirSync(path.join(PROJECT_ROOT, dir), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => {
      const rel = `${dir}/${e.name}`;
      return [rel, ...directories(rel)];
    });
}

describe('docs/layout.md', () => {
  const doc = fs.readFileSync(path.join(PROJECT_ROOT, 'docs/layout.md'), 'utf8');

  it('names every directory of src/', () => {
    const missing = directories('src').filter((d) => !doc.includes(`\`${d}/\``));
    assert.deepEqual(missing, []);
  });

  it('names only paths that exist', () => {
    const named = [...doc.matchAll(/`(src\/[\w./-]*)`/g)].map((m) => m[1]!);
    assert.ok(named.length > 20, `${named.length} paths named`);
    assert.deepEqual(
      named.filter((p) => !fs.existsSync(path.join(PROJECT_ROOT, p))),
      [],
    );
  });

  it('is linked from the README', () => {
    assert.match(fs.readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8'), /\(docs\/layout\.md\)/);
  });
});
