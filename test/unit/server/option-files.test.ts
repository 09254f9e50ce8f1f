/**
 * The server's option-file chain as mariadbd reads it, checked against my_print_defaults (MariaDB's own
 * reader, the oracle): !include of a missing file is skipped, !includedir reads only *.cnf, and the
 * fragment check names the exact line to add.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { DbtlsError } from '../../../src/errors.js';
import {
  assertChainReads,
  chainReads,
  includerOf,
  readOptionChain,
  rootsFromArgs,
  serverSetting,
} from '../../../src/server/tls/option-files.js';

test('the chain follows !include and !includedir (*.cnf only), and agrees with my_print_defaults', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-optfiles-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'conf.d'));
  fs.writeFileSync(path.join(dir, 'conf.d', 'a.cnf'), '[mysqld]\nssl-cert = /a/cert.pem\n');
  fs.writeFileSync(path.join(dir, 'conf.d', 'b.conf'), '[mysqld]\nssl_key = /b/key.pem\n');
  fs.writeFileSync(
    path.join(dir, 'extra.cnf'),
    '[client]\nssl_cert = /client.pem\n[server]\nssl_ca = /x/ca.pem\n',
  );
  const root = path.join(dir, 'my.cnf');
  fs.writeFileSync(
    root,
    `[mysqld]\nport=1\n!include ${path.join(dir, 'missing.cnf')}\n  !include   ${path.join(dir, 'extra.cnf')}\n!includedir ${path.join(dir, 'conf.d')}\n`,
  );
  const chain = readOptionChain([root]);
  assert.deepEqual(chain.files, [root, path.join(dir, 'extra.cnf'), path.join(dir, 'conf.d', 'a.cnf')]);
  assert.equal(serverSetting(chain, 'ssl_cert'), '/a/cert.pem');
  assert.equal(serverSetting(chain, 'ssl_ca'), '/x/ca.pem');
  assert.equal(serverSetting(chain, 'ssl_key'), undefined);
  const oracle = execFileSync('my_print_defaults', [`--defaults-file=${root}`, 'mysqld', 'server'], {
    encoding: 'utf8',
  });
  assert.equal(oracle, '--port=1\n--ssl_ca=/x/ca.pem\n--ssl-cert=/a/cert.pem\n');
  assert.equal(chainReads(chain, path.join(dir, 'missing.cnf')), true);
  assert.equal(chainReads(chain, path.join(dir, 'conf.d', 'ssl-config.cnf')), true);
  assert.equal(chainReads(chain, path.join(dir, 'conf.d', 'ssl-config.conf')), false);
  assert.equal(chainReads(chain, path.join(dir, 'other', 'ssl-config.cnf')), false);
  assert.equal(includerOf(chain, path.join(dir, 'conf.d'))?.from, root);
  assert.equal(includerOf(chain, dir)?.from, root);
  assert.equal(includerOf(chain, path.join(dir, 'other')), undefined);
  assert.throws(
    () => assertChainReads(chain, path.join(dir, 'other', 'ssl-config.cnf')),
    (err: DbtlsError) =>
      err.code === 'CONFIG_NOT_INCLUDED' &&
      err.hint ===
        `add the line \`!includedir ${path.join(dir, 'other')}\` at the end of ${root}, or pass --config-file inside a directory it already includes (${path.join(dir, 'conf.d')})`,
  );
});

test('rootsFromArgs: --defaults-file replaces the default list, --no-defaults reads nothing', () => {
  assert.deepEqual(rootsFromArgs(['--defaults-file=/x/my.cnf', '--user=mysql']), ['/x/my.cnf']);
  assert.deepEqual(rootsFromArgs(['--defaults-extra-file=/e.cnf']), [
    '/etc/my.cnf',
    '/etc/mysql/my.cnf',
    '/e.cnf',
  ]);
  assert.deepEqual(rootsFromArgs(['--no-defaults', '--defaults-file=/x']), []);
  assert.deepEqual(rootsFromArgs([]), ['/etc/my.cnf', '/etc/mysql/my.cnf']);
});
