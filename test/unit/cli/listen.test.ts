/** One --listen parser (issue 11): `dbtls exporter` reads its address with the proxy's, over TCP only. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { run } from '../../../src/cli/main.js';
import { parseListen } from '../../../src/proxy/listen.js';
import { capture } from './capture.js';

describe('dbtls exporter --listen', () => {
  it('takes HOST:PORT, :PORT and [v6]:PORT as the proxy does (the scrape config names it)', async () => {
    const table: [string, string][] = [
      ['10.0.0.5:9442', '10.0.0.5:9442'],
      [':9443', '0.0.0.0:9443'],
      ['[::1]:9444', '[::1]:9444'],
    ];
    for (const [listen, shown] of table) {
      const { out, render } = capture();
      assert.equal(await run(['exporter', '--print', 'scrape-config', '--listen', listen], render), 0);
      assert.ok(out.stdout.includes(`replacement: ${shown}\n`), out.stdout);
      assert.ok(out.stdout.includes(`targets: [${shown}]`), out.stdout);
      assert.ok(!out.stdout.includes('127.0.0.1:9442'), listen);
    }
  });

  it('refuses what the proxy refuses, and a unix socket, with LISTEN_INVALID', async () => {
    const table: [string, string][] = [
      ['9442', 'error[LISTEN_INVALID]: could not use --listen 9442: expected HOST:PORT'],
      ['h:99999', 'error[LISTEN_INVALID]: could not use --listen h:99999: expected HOST:PORT'],
      [
        'unix:/run/x.sock',
        'error[LISTEN_INVALID]: could not use --listen unix:/run/x.sock: the exporter serves HTTP on TCP',
      ],
    ];
    for (const [listen, first] of table) {
      const { out, render } = capture();
      assert.equal(await run(['exporter', '--print', 'rules', '--listen', listen], render), 2, listen);
      assert.equal(out.stderr.split('\n')[0], first);
    }
  });
});

describe('proxy --listen unix:PATH[:MODE]', () => {
  it('takes permission bits as the mode, and refuses a bad mode, a path the kernel would cut, a missing directory', () => {
    assert.deepEqual(parseListen('unix:/tmp/p.sock'), { kind: 'unix', path: '/tmp/p.sock', mode: 0o660 });
    assert.deepEqual(parseListen('unix:/tmp/p.sock:0600'), {
      kind: 'unix',
      path: '/tmp/p.sock',
      mode: 0o600,
    });
    assert.deepEqual(parseListen('unix:/tmp/p.sock:640'), { kind: 'unix', path: '/tmp/p.sock', mode: 0o640 });
    const long = `/tmp/${'x'.repeat(103)}`; // 108 bytes: one too many for sun_path
    const table: [string, string][] = [
      ['unix:/tmp/p.sock:0999', 'the mode 0999 is not octal permission bits (such as 0660 or 0600)'],
      ['unix:/tmp/p.sock:7777', 'the mode 7777 is not octal permission bits (such as 0660 or 0600)'],
      [`unix:${long}`, 'a unix socket path is at most 107 bytes, this one is 108'],
      ['unix:/no/such/dir/p.sock', 'the directory /no/such/dir does not exist'],
    ];
    for (const [text, why] of table) {
      assert.throws(() => parseListen(text), {
        code: 'LISTEN_INVALID',
        message: `could not use --listen ${text}: ${why}`,
      });
    }
    assert.deepEqual(parseListen(`unix:${long.slice(0, -1)}`).kind, 'unix', '107 bytes fit');
  });
});
