/**
 * `dbtls secure` killed at every rename (issue 10, item 17): strace injects SIGKILL at the Nth rename(2) of
 * a real run against a real MariaDB, for each N until a run completes. A kill before a rename leaves that
 * write's temporary sibling behind (for the server key: a private key). After each kill: the key and the
 * certificate on disk match whenever both exist; the next run of the same command succeeds, leaves no
 * temporary file in the server's ssl directory and a 0600 key that matches its certificate. At the end the
 * server restarts with every fragment the runs wrote, and serves TLS.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../../harness/cli.js';
import { dbtlsKilledAt, eachKillPoint, sameKey } from '../../harness/kill-points.js';
import { type MariadbInstance, startMariadb, type UserSpec } from '../../harness/mariadb.js';

const USERS: UserSpec[] = [{ name: 'app', password: 'app-pw', grants: 'SELECT ON mysql.*' }];
/** Two kill points at a time: the machine has two cores. */
const CONCURRENCY = 2;
/** More renames than a secure run makes: the loop ends at the first run that is not killed. */
const MAX_KILL_POINTS = 60;

let tmp: string;
let confDir: string;
let db: MariadbInstance;
let template: string;
let pwFile: string;
/** Kill points that left a temporary copy of the server key in the ssl directory (the case item 17 is about). */
let keyTempsLeft = 0;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-killpoints-'));
  confDir = path.join(tmp, 'conf.d');
  fs.mkdirSync(confDir);
  db = await startMariadb({ users: USERS, extra: { [`!includedir ${confDir}`]: true } });
  template = path.join(tmp, 'ca-template');
  const init = await runCli(['ca', 'init', '--cn', 'kill-point CA', '--no-passphrase', '--ca-dir', template]);
  assert.equal(init.code, 0, init.stderr);
  pwFile = path.join(tmp, 'admin-pw');
  fs.writeFileSync(pwFile, db.admin.password, { mode: 0o600 });
});

after(async () => {
  await db?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function secureArgs(n: number): string[] {
  const base = path.join(tmp, `k${n}`);
  return [
    'secure',
    `127.0.0.1:${db.port}`,
    '--admin-user',
    db.admin.user,
    '--password-file',
    pwFile,
    '--user',
    'app@%',
    '--ca-dir',
    path.join(base, 'ca'),
    '--dir',
    path.join(base, 'ssl'),
    '--out',
    path.join(base, 'clients'),
    '--config-file',
    path.join(confDir, `ssl-config-${String(n).padStart(2, '0')}.cnf`),
    '--skip-inspect',
  ];
}

async function killPoint(n: number): Promise<'killed' | 'completed'> {
  const base = path.join(tmp, `k${n}`);
  fs.mkdirSync(base);
  fs.cpSync(template, path.join(base, 'ca'), { recursive: true });
  const traced = await dbtlsKilledAt({ syscall: 'rename', n }, secureArgs(n));
  const ssl = path.join(base, 'ssl');
  const files = { cert: path.join(ssl, 'server-cert.pem'), key: path.join(ssl, 'server-key.pem') };
  // secure without --restart-command stops at the restart: exit 1. Anything else is the injected kill.
  if (traced.code === 1 && traced.stdout.includes('Restart the server')) return 'completed';
  if (fs.existsSync(ssl) && fs.readdirSync(ssl).some((f) => f.startsWith('.server-key.pem.'))) keyTempsLeft++;
  if (fs.existsSync(files.cert) && fs.existsSync(files.key))
    assert.ok(
      await sameKey(files.cert, files.key),
      `kill point ${n}: the key does not match the certificate`,
    );
  const next = await runCli(secureArgs(n), { timeoutMs: 120_000 });
  assert.equal(next.code, 1, `kill point ${n}: ${next.stderr}${next.stdout}`);
  assert.match(next.stdout, /Restart the server \(or pass --restart-command CMD\)/, `kill point ${n}`);
  assert.deepEqual(
    fs.readdirSync(ssl).filter((f) => f.endsWith('.tmp')),
    [],
    `kill point ${n}: a temporary file is left in ${ssl}`,
  );
  assert.equal(fs.statSync(files.key).mode & 0o777, 0o600);
  assert.ok(await sameKey(files.cert, files.key), `kill point ${n}: after the next run`);
  return 'killed';
}

test('secure killed at every rename: the next run succeeds, no key temp file is left, key and certificate match, the server restarts', async (t) => {
  const completedAt = await eachKillPoint(killPoint, { concurrency: CONCURRENCY, max: MAX_KILL_POINTS });
  t.diagnostic(
    `a secure run makes ${completedAt - 1} renames; ${keyTempsLeft} kill point(s) left a key temp file`,
  );
  assert.ok(completedAt > 5, `a secure run makes more than a few renames (completed at ${completedAt})`);
  assert.ok(
    keyTempsLeft >= 1,
    'some kill point leaves a temporary copy of the key (then swept by the next run)',
  );
  // Every fragment the runs wrote is in an included directory: the server must start with all of them.
  await db.restart({ users: USERS, extra: { [`!includedir ${confDir}`]: true } });
  assert.equal(await db.sql('SELECT @@have_ssl'), 'YES\n');
});
