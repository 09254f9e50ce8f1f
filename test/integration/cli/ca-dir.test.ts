/**
 * `--ca-dir a-file`: every command that takes a CA directory says the same thing (DIR_INVALID, exit 2, a
 * hint naming the file and `dbtls ca init`), where it once said CA_UNREADABLE (exit 3, "check the
 * permissions"), PATH_INVALID, DIR_INVALID or NOT_A_DIRECTORY depending on the command. The real CLI in
 * a child process, so that a stack trace would show.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { allCommands } from '../../../src/cli/main.js';
import { runCli } from '../../harness/cli.js';

/** Nothing listens on port 1: were the server dialled, the connection would be refused at once. */
const DEAD_TARGET = '127.0.0.1:1';

/**
 * What each command needs besides --ca-dir to reach its CA directory. `config show` takes --ca-dir but
 * only prints where the setting comes from (it opens no CA), so a file there is shown, not refused.
 */
const ARGS: Readonly<Record<string, readonly string[]>> = {
  'ca init': ['--no-passphrase'],
  'ca show': [],
  'issue server': ['--cn', 'db1.example.com'],
  'issue client': ['--cn', 'app'],
  sign: ['node/csr.pem', '--profile', 'server', '--out', 'signed.pem'],
  renew: ['--cn', 'db1.example.com'],
  list: [],
  revoke: ['--cn', 'db1.example.com'],
  crl: [],
  'server enable': [DEAD_TARGET, '--issue', '--ssl-mode', 'disable'],
  rotate: [DEAD_TARGET, '--ssl-mode', 'disable'],
  secure: [DEAD_TARGET, '--ssl-mode', 'disable'],
  'k8s cert-manager': ['--namespace', 'db', '--server-dns', 'db1.example.com'],
};
const NOT_OPENING_A_CA = new Set(['config show']);

let dir: string;
const FILE = 'not-a-dir';
const CONTENT = 'a file, not a CA directory\n';

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-ca-dir-'));
  fs.writeFileSync(path.join(dir, FILE), CONTENT);
  const csr = await runCli(['csr', '--cn', 'node.example.com', '--out', 'node'], { cwd: dir });
  assert.equal(csr.code, 0, csr.stderr);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function refusedAsFile(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const before = fs.statSync(path.join(dir, FILE));
  const r = await runCli(argv, { cwd: dir, env });
  const shown = argv.join(' ');
  assert.equal(r.code, 2, `${shown}: exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, /^error\[DIR_INVALID\]: could not use \S+ as the CA directory: /, shown);
  assert.match(r.stderr, /\nhint: pass the CA directory \(not not-a-dir\) with --ca-dir DIR/, shown);
  assert.match(r.stderr, /`dbtls ca init --ca-dir DIR` makes one/, shown);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${shown}: a stack trace`);
  const now = fs.statSync(path.join(dir, FILE));
  assert.equal(fs.readFileSync(path.join(dir, FILE), 'utf8'), CONTENT, `${shown}: the file changed`);
  assert.equal(now.mtimeMs, before.mtimeMs, `${shown}: the file was touched`);
  return r.stderr;
}

describe('--ca-dir naming a file', () => {
  it('is DIR_INVALID, exit 2, from every command that takes --ca-dir', async () => {
    const takers = (await allCommands())
      .filter((c) => c.options && Object.hasOwn(c.options, 'ca-dir'))
      .map((c) => c.name.join(' '))
      .filter((name) => !NOT_OPENING_A_CA.has(name));
    // A new command with --ca-dir fails here until it is in ARGS (and so checked below).
    assert.deepEqual(takers.toSorted(), Object.keys(ARGS).toSorted());
    for (const name of takers) {
      const stderr = await refusedAsFile([...name.split(' '), ...ARGS[name]!, '--ca-dir', FILE]);
      assert.match(stderr, /: it is a file\n/, name);
    }
  });

  it('is the same through DBTLS_CA_DIR, and with a file as a parent of the directory', async () => {
    await refusedAsFile(['list'], { DBTLS_CA_DIR: FILE });
    const stderr = await refusedAsFile(['ca', 'init', '--no-passphrase', '--ca-dir', `${FILE}/ca`]);
    assert.match(stderr, /not-a-dir, a part of it, is a file\n/);
  });
});
