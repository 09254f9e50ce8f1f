/**
 * Error codes are one closed list (src/errors.ts, issue 11 item 5): every code raised in src/ is listed
 * with its exit status and meaning, every listed code is raised somewhere, and docs/errors.md is the list.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { errorsDoc } from '../../../scripts/errors-doc.js';
import { DbtlsError, ERROR_CODES, type ErrorCode, EXIT_CODES, RENAMED_CODES } from '../../../src/errors.js';
import { PROJECT_ROOT } from '../../harness/cli.js';

const listed = Object.keys(ERROR_CODES) as ErrorCode[];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** String literals in the places a code is written: `new DbtlsError(<code>, …)` and `code: <code>`. */
function codesRaised(): Map<string, string> {
  const found = new Map<string, string>();
  // The values an expression can take: `'A'`, `x ? 'A' : 'B'`, `m.code ?? 'A'` (not the operands of a test).
  const literals = (node: ts.Expression, where: string): void => {
    if (ts.isStringLiteral(node)) found.set(node.text, where);
    else if (ts.isConditionalExpression(node)) {
      literals(node.whenTrue, where);
      literals(node.whenFalse, where);
    } else if (ts.isBinaryExpression(node)) {
      literals(node.left, where);
      literals(node.right, where);
    } else if (ts.isParenthesizedExpression(node) || ts.isAsExpression(node))
      literals(node.expression, where);
  };
  for (const file of sourceFiles(path.join(PROJECT_ROOT, 'src'))) {
    const text = fs.readFileSync(file, 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      const at = () =>
        `${path.relative(PROJECT_ROOT, file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
      if (ts.isNewExpression(node) && node.expression.getText() === 'DbtlsError' && node.arguments?.[0]) {
        literals(node.arguments[0], at());
      }
      if (
        ts.isPropertyAssignment(node) &&
        node.name.getText() === 'code' &&
        !ts.isNumericLiteral(node.initializer)
      ) {
        literals(node.initializer, at());
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

describe('error codes: one closed list (src/errors.ts)', () => {
  const raised = codesRaised();

  it('finds the codes raised in src/ (the scan works)', () => {
    for (const code of [
      'CA_NOT_FOUND',
      'USAGE',
      'INSPECT_FAILED',
      'BATCH_FAILED',
      'ROLLOVER_STATE_MALFORMED',
    ]) {
      assert.ok(raised.has(code), code);
    }
  });

  it('every code raised in src/ is listed', () => {
    const unlisted = [...raised].filter(([code]) => !Object.hasOwn(ERROR_CODES, code));
    assert.deepEqual(unlisted, []);
  });

  it('every listed code is raised somewhere in src/ (no dead entries)', () => {
    const literal = new Set<string>();
    for (const file of sourceFiles(path.join(PROJECT_ROOT, 'src'))) {
      if (file.endsWith(`${path.sep}errors.ts`)) continue;
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/'([A-Z][A-Z0-9_]*)'/g)) literal.add(m[1]!);
    }
    assert.deepEqual(
      listed.filter((c) => !literal.has(c)),
      [],
    );
  });

  it('each entry has an exit status, a one-line meaning, and the list is in alphabetical order', () => {
    for (const code of listed) {
      const { kind, meaning } = ERROR_CODES[code];
      assert.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      assert.ok(Object.hasOwn(EXIT_CODES, kind), code);
      assert.match(meaning, /^[^\n]{10,110}$/, code);
      assert.doesNotMatch(meaning, /\.$/, code);
    }
    assert.deepEqual(listed, [...listed].sort());
  });

  it("an error's kind and exit status are its code's (a throw site cannot choose them)", () => {
    assert.deepEqual(
      [new DbtlsError('USAGE', 'x').exitCode, new DbtlsError('CERT_UNTRUSTED', 'x').exitCode],
      [2, 1],
    );
    assert.equal(new DbtlsError('WRITE_FAILED', 'x').exitCode, 3);
    for (const code of listed) assert.equal(new DbtlsError(code, 'x').kind, ERROR_CODES[code].kind, code);
  });

  it('a reworded error keeps its code, exit status, cause and every field not changed', () => {
    const cause = new Error('ECONNREFUSED');
    const err = new DbtlsError('CONNECTION_REFUSED', 'could not connect', {
      hint: 'start the server',
      cause,
      details: { port: 3307 },
    });
    const hinted = err.reworded({ hint: 'start db1' });
    assert.deepEqual(
      [hinted.code, hinted.exitCode, hinted.message, hinted.hint, hinted.cause, hinted.details],
      ['CONNECTION_REFUSED', err.exitCode, 'could not connect', 'start db1', cause, { port: 3307 }],
    );
    const told = err.reworded({ message: 'db1: could not connect', details: { steps: [] } });
    assert.deepEqual(
      [told.message, told.hint, told.cause, told.details],
      ['db1: could not connect', 'start the server', cause, { steps: [] }],
    );
    assert.equal(told instanceof DbtlsError, true);
    assert.equal(err.hint, 'start the server', 'the original is not changed');
  });

  it('renamed codes point at listed ones and are no longer raised', () => {
    for (const [old, now] of Object.entries(RENAMED_CODES)) {
      assert.equal(Object.hasOwn(ERROR_CODES, old), false, old);
      assert.equal(Object.hasOwn(ERROR_CODES, now), true, now);
      assert.equal(raised.has(old), false, old);
    }
  });

  it('docs/errors.md is the list (npm run docs:errors writes it)', () => {
    const doc = fs.readFileSync(path.join(PROJECT_ROOT, 'docs/errors.md'), 'utf8');
    assert.equal(doc, errorsDoc(), 'docs/errors.md is stale: run npm run docs:errors');
    for (const code of [...listed, ...Object.keys(RENAMED_CODES)])
      assert.ok(doc.includes(`\`${code}\``), code);
  });
});
