/** One --listen parser (issue 11): `dbtls exporter` reads its address with the proxy's, over TCP only. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { run } from '../../../src/cli/main.js';
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
