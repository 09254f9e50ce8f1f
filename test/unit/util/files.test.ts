/** writeFileAtomic never replaces what is not a regular file (a rename would turn /dev/null into one). */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import type { DbtlsError } from '../../../src/errors.js';
import { readUserFile, writeFileAtomic } from '../../../src/util/files.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-files-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  test('writes a new file and replaces a regular one', () => {
    const f = path.join(dir, 'out.pem');
    writeFileAtomic(f, 'one');
    writeFileAtomic(f, 'two');
    assert.equal(fs.readFileSync(f, 'utf8'), 'two');
  });

  test('refuses a FIFO and leaves it a FIFO, with no temp file beside it', () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    assert.throws(
      () => writeFileAtomic(fifo, 'x'),
      (err: { code?: string; exitCode?: number }) => err.code === 'OUTPUT_NOT_A_FILE' && err.exitCode === 2,
    );
    assert.ok(fs.lstatSync(fifo).isFIFO());
    assert.deepEqual(
      fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')),
      [],
    );
  });

  test('refuses a character device (/dev/null stays a device)', () => {
    assert.throws(() => writeFileAtomic('/dev/null', 'x'), { code: 'OUTPUT_NOT_A_FILE' });
    assert.ok(fs.statSync('/dev/null').isCharacterDevice());
  });

  test('refuses a directory', () => {
    const sub = path.join(dir, 'sub');
    fs.mkdirSync(sub);
    assert.throws(() => writeFileAtomic(sub, 'x'), { code: 'OUTPUT_NOT_A_FILE' });
    assert.ok(fs.statSync(sub).isDirectory());
  });
});

describe('readUserFile', () => {
  test('a file over 256 MiB (a sparse one here) is FILE_UNREADABLE with its size, not an INTERNAL string error', () => {
    const big = path.join(dir, 'names.txt');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 300 * 1024 * 1024);
    assert.throws(() => readUserFile(big, 'name list'), {
      code: 'FILE_UNREADABLE',
      message: `could not read name list ${big}: it is 300 MiB, and dbtls reads input files up to 256 MiB`,
    });
    fs.rmSync(big);
  });

  test('a symbolic link loop gets a hint about the loop, not about permissions', () => {
    const a = path.join(dir, 'loop-a');
    const b = path.join(dir, 'loop-b');
    fs.symlinkSync(b, a);
    fs.symlinkSync(a, b);
    assert.throws(
      () => readUserFile(a, 'certificate'),
      (err: DbtlsError) =>
        err.code === 'FILE_UNREADABLE' &&
        err.hint === 'the path is a loop of symbolic links: give the file itself',
    );
  });
});
