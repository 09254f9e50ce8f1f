import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DbtlsError } from '../../../src/errors.js';
import { withLock, withLockAsync } from '../../../src/util/lock.js';

let dir: string;
const lockFile = () => path.join(dir, 'lock');

describe('the directory lock', () => {
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-lock-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('holds a 0600 file with our pid while fn runs, and removes it after, even when fn throws', () => {
    withLock(lockFile(), () => {
      assert.equal(fs.readFileSync(lockFile(), 'utf8'), String(process.pid));
      assert.equal(fs.statSync(lockFile()).mode & 0o777, 0o600);
    });
    assert.equal(fs.existsSync(lockFile()), false);
    assert.throws(() =>
      withLock(lockFile(), () => {
        throw new Error('boom');
      }),
    );
    assert.equal(fs.existsSync(lockFile()), false);
  });

  it('takes over a lock whose owner is gone', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => child.on('exit', resolve));
    fs.writeFileSync(lockFile(), String(child.pid));
    assert.equal(
      withLock(lockFile(), () => 'taken'),
      'taken',
    );
  });

  it('takes over a lock left without a pid (an older dbtls killed before writing it) once seen so for 5 s, not before', () => {
    fs.writeFileSync(lockFile(), '');
    const isLocked = (err: unknown) => err instanceof DbtlsError && err.code === 'LOCKED';
    assert.throws(() => withLock(lockFile(), () => 1, 50), isLocked, 'not seen for 5 s yet');
    // An old mtime proves nothing (another file may have stood there; a network file system's clock):
    // the grace runs on this process's clock, from when it first saw that file.
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lockFile(), old, old);
    assert.throws(() => withLock(lockFile(), () => 1, 50), isLocked, 'still not seen for 5 s');
    assert.equal(
      withLock(lockFile(), () => 'taken'),
      'taken',
    );
    assert.equal(fs.existsSync(lockFile()), false);
  });

  it('is born with its pid (a hard link of a private file, removed after), and sweeps pid files of dead takers', () => {
    const dead = `${lockFile()}.999999999.tmp`;
    fs.writeFileSync(dead, '999999999');
    withLock(lockFile(), () => {
      assert.equal(fs.readFileSync(lockFile(), 'utf8'), String(process.pid));
      assert.equal(fs.existsSync(dead), false, "a dead process's pid file is removed under the lock");
    });
    assert.deepEqual(fs.readdirSync(dir), [], 'nothing left beside it');
  });

  it('a release leaves alone a lock that another process took over meanwhile', () => {
    withLock(lockFile(), () => {
      fs.rmSync(lockFile());
      fs.writeFileSync(lockFile(), '1'); // pid 1 is alive: another holder now
    });
    assert.equal(fs.readFileSync(lockFile(), 'utf8'), '1');
    fs.rmSync(lockFile());
  });

  it('gives LOCKED while a live process holds it, sync and async', async () => {
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      fs.writeFileSync(lockFile(), String(holder.pid));
      const isLocked = (err: unknown) => err instanceof DbtlsError && err.code === 'LOCKED';
      assert.throws(() => withLock(lockFile(), () => 1, 50), isLocked);
      await assert.rejects(
        withLockAsync(lockFile(), async () => 1, 50),
        isLocked,
      );
      assert.equal(fs.readFileSync(lockFile(), 'utf8'), String(holder.pid), "the owner's lock is untouched");
    } finally {
      holder.kill();
      fs.rmSync(lockFile(), { force: true });
    }
  });

  it('serialises asynchronous holders: no two run at once', async () => {
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 5 }, () =>
        withLockAsync(lockFile(), async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((r) => setTimeout(r, 10));
          inside--;
        }),
      ),
    );
    assert.equal(most, 1);
  });
});
