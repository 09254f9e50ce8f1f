/**
 * The server commands refuse a path they cannot write before their first change, against one real MariaDB:
 * `secure --out a-file` used to create a CA, issue and install the server certificate and write the config
 * fragment before it failed; `rotate --ca-rollover --stage reissue --out a-file` promoted the new CA and
 * re-issued the served certificate first; a leaf `rotate --out DIR` ran and ignored --out. Each case here is
 * exit 2 with its code and a hint, no stack trace, and nothing changed: the CA directories and every file
 * under the work directory and the server's conf.d byte-identical, the served certificate, the ssl_*
 * variables, the accounts (REQUIRE) and the counters of FLUSH and ALTER USER as they were.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import { probeServedCertificate } from '../../../src/server/tls/reload.js';
import { runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { hashTree } from '../../harness/tree.js';

/** root writes anywhere through CAP_DAC_OVERRIDE: dbtls runs without it, as an ordinary user would. */
const AS_USER = process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search'] : [];

let work: string;
let db: MariadbInstance;
const at = (...parts: string[]) => path.join(work, ...parts);
const confD = () => path.join(db.dir, 'conf.d');

/** What a change on the server would show: the served certificate, ssl_*, accounts, writing statements. */
async function serverState(): Promise<string> {
  return [
    (await probeServedCertificate(db.host, db.port)).fingerprint,
    await db.sql(
      'SELECT @@ssl_cert, @@ssl_key, @@ssl_ca, @@ssl_crl, @@require_secure_transport, @@tls_version',
    ),
    await db.sql('SELECT User, Host, Priv FROM mysql.global_priv ORDER BY User, Host'),
    await db.sql(
      "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('COM_ALTER_USER', 'COM_FLUSH', 'COM_GRANT') ORDER BY 1",
    ),
  ].join('\n');
}

const pwFile = () => at('admin.pw');
/** The admin session of rotate, server enable and crl --install (their TLS flags are --admin-*). */
const admin = () => [
  `127.0.0.1:${db.port}`,
  '--user',
  db.admin.user,
  '--password-file',
  pwFile(),
  '--admin-ca',
  at('ca', 'root.pem'),
];
const CA = () => ['--ca-dir', at('ca')];

async function ok(args: string[]) {
  const r = await runCli(args, { cwd: work });
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r;
}

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-server-out-paths-'));
  const ca = initCa(at('ca'), { passphrase: undefined, cn: 'server out-paths CA' });
  const server = issueCertificate(ca, {
    profile: 'server',
    cn: 'localhost',
    dns: ['localhost'],
    ip: ['127.0.0.1'],
  });
  // A valid client leaf of the CA: the reissue stage re-issues it into --out.
  issueCertificate(ca, { profile: 'client', cn: 'app' });
  fs.mkdirSync(at('ssl'));
  fs.writeFileSync(at('ssl', 'server-cert.pem'), server.chainPem);
  fs.writeFileSync(at('ssl', 'server-key.pem'), server.keyPem!, { mode: 0o600 });
  fs.writeFileSync(at('ssl', 'ca.pem'), ca.caPem());
  fs.writeFileSync(at('afile'), 'not a directory\n');
  execFileSync('mkfifo', [at('fifo')]);
  fs.mkdirSync(at('ro'), { mode: 0o555 });
  fs.chmodSync(at('ro'), 0o555);
  db = await startMariadb({
    users: [{ name: 'app', password: 'app-pw', require: 'SSL' }],
    tls: { ca: at('ssl', 'ca.pem'), cert: at('ssl', 'server-cert.pem'), key: at('ssl', 'server-key.pem') },
  });
  fs.writeFileSync(pwFile(), db.admin.password, { mode: 0o600 });
  fs.writeFileSync(at('app.pw'), 'app-pw', { mode: 0o600 });
  // A directory where secure and server enable would write their fragment, in a directory the server reads.
  fs.mkdirSync(path.join(confD(), 'adir.cnf'), { recursive: true });
});

after(async () => {
  await db?.stop();
  if (work) {
    fs.chmodSync(at('ro'), 0o755);
    fs.rmSync(work, { recursive: true, force: true });
  }
});

/** [argv, code, the message after `error[CODE]: `] */
type Case = readonly [argv: string[], code: string, message: RegExp];

/** Runs every case as an ordinary user; returns what went wrong in each, so one miss does not hide others. */
async function refusals(cases: readonly Case[]): Promise<string[]> {
  const wrong: string[] = [];
  for (const [argv, code, message] of cases) {
    const shown = JSON.stringify(argv.map((a) => a.replaceAll(work, '$WORK')));
    const before = { work: hashTree(work), confD: hashTree(confD()), server: await serverState() };
    const r = await runCli(argv, { cwd: work, prefix: AS_USER });
    const [first = '', second = ''] = r.stderr.split('\n');
    const after = { work: hashTree(work), confD: hashTree(confD()), server: await serverState() };
    const checks: [boolean, string][] = [
      [r.code === 2, `exit ${r.code}`],
      [r.stdout === '', `stdout: ${r.stdout}`],
      [first.startsWith(`error[${code}]: could not `), `not ${code}`],
      [message.test(first.replace(/^error\[\w+\]: /, '')), `not ${message}`],
      [/^hint: \S/.test(second), 'no hint'],
      [!/\n\s+at |EACCES|ENOENT|ENOTDIR|EISDIR/.test(r.stderr), 'a stack trace or an errno'],
      [after.work === before.work, 'a file under the work directory (a CA, a certificate) changed'],
      [after.confD === before.confD, "the server's conf.d changed"],
      [after.server === before.server, 'the server changed'],
    ];
    const missed = checks.filter(([good]) => !good).map(([, what]) => what);
    if (missed.length > 0) wrong.push(`${shown}: ${missed.join('; ')}\n  ${r.stderr.trim()}`);
  }
  return wrong;
}

describe('a server command refuses an output path it cannot write before its first change', () => {
  it('secure, server enable, crl --install and a leaf rotate', async () => {
    // A CA secure would create, and a fresh certificate directory: a bad run used to leave both behind.
    const secure = (...extra: string[]) => [
      'secure',
      `127.0.0.1:${db.port}`,
      '--admin-user',
      db.admin.user,
      '--password-file',
      pwFile(),
      '--ssl-mode',
      'trust',
      '--account',
      "'app'@'%'",
      '--verify-password-file',
      `app=${at('app.pw')}`,
      '--ca-dir',
      at('secure-ca'),
      '--no-passphrase',
      '--skip-inspect',
      ...extra,
    ];
    const inSsl = ['--dir', at('secure-ssl')];
    const toClients = ['--out', at('clients')];
    const enable = (...extra: string[]) => ['server', 'enable', ...admin(), '--issue', ...CA(), ...extra];
    const crl = (...extra: string[]) => ['crl', '--install', ...admin(), ...CA(), ...extra];
    const rotate = (...extra: string[]) => ['rotate', ...admin(), ...CA(), ...extra];
    const wrong = await refusals([
      // secure --out: the client certificates
      [secure(...inSsl, '--out', at('afile')), 'OUTPUT_EXISTS', /afile: it is a file, not a directory$/],
      [secure(...inSsl, '--out', at('fifo')), 'OUTPUT_EXISTS', /it is a device, FIFO or socket/],
      [secure(...inSsl, '--out', at('afile', 'c')), 'NOT_A_DIRECTORY', /a part of the path is a file/],
      [secure(...inSsl, '--out', at('ro')), 'PERMISSION_DENIED', /ro: this user may not write in it$/],
      [secure(...inSsl, '--out', at('ro', 'c')), 'PERMISSION_DENIED', /this user may not write in .*ro$/],
      // secure --dir and --config-file: the server's files (permissions: the preflight, naming the owner)
      [secure(...toClients, '--dir', at('afile')), 'OUTPUT_EXISTS', /afile: it is a file, not a directory$/],
      [secure(...toClients, '--dir', at('afile', 's')), 'NOT_A_DIRECTORY', /a part of the path is a file/],
      [secure(...toClients, '--dir', at('ro')), 'PERMISSION_DENIED', /ro is owned by .*nothing was changed$/],
      [
        secure(...toClients, ...inSsl, '--config-file', path.join(confD(), 'adir.cnf')),
        'OUTPUT_NOT_A_FILE',
        /adir\.cnf: it is a directory, not a regular file$/,
      ],
      [
        secure(...toClients, ...inSsl, '--config-file', at('afile', 'ssl.cnf')),
        'NOT_A_DIRECTORY',
        /a part of the path is a file/,
      ],
      // server enable --issue: the same server paths, before the CA issues anything
      [enable('--dir', at('afile')), 'OUTPUT_EXISTS', /it is a file, not a directory$/],
      [enable('--dir', at('afile', 's')), 'NOT_A_DIRECTORY', /a part of the path is a file/],
      [enable('--dir', at('ro')), 'PERMISSION_DENIED', /ro is owned by .*nothing was changed$/],
      [
        enable('--dir', at('enable-ssl'), '--config-file', path.join(confD(), 'adir.cnf')),
        'OUTPUT_NOT_A_FILE',
        /it is a directory, not a regular file$/,
      ],
      // crl: --install's --dir, and --out (in a dry run too, which says it would write it)
      [crl('--dir', at('afile')), 'OUTPUT_EXISTS', /it is a file, not a directory$/],
      [crl('--dir', at('afile', 'crl')), 'NOT_A_DIRECTORY', /a part of the path is a file/],
      [crl('--dir', at('ro')), 'PERMISSION_DENIED', /ro is owned by .*nothing was changed$/],
      [['crl', ...CA(), '--out', at('ro', 'crl.pem')], 'PERMISSION_DENIED', /crl\.pem: this user may not/],
      [
        ['crl', '--dry-run', ...CA(), '--out', at('afile', 'crl.pem')],
        'NOT_A_DIRECTORY',
        /a part of the path is a file/,
      ],
      // rotate (leaf): --out is not where it writes; --dir is where the server reads its files
      [rotate('--out', at('afile')), 'USAGE', /--out is only for --ca-rollover --stage reissue/],
      [rotate('--out', at('new'), '--dry-run'), 'USAGE', /--out is only for --ca-rollover --stage reissue/],
      [rotate('--dir', at('afile')), 'OUTPUT_EXISTS', /it is a file, not a directory$/],
      [rotate('--dir', at('afile', 's')), 'NOT_A_DIRECTORY', /a part of the path is a file/],
    ]);
    assert.deepEqual(wrong, []);
    assert.equal(fs.existsSync(at('secure-ca')), false, 'secure made no CA');
  });

  it('rotate --ca-rollover: --out is checked before the reissue stage promotes the new CA', async () => {
    await ok(['rotate', '--ca-rollover', '--stage', 'new-ca', ...CA()]);
    await ok(['rotate', ...admin(), '--ca-rollover', '--stage', 'trust-both', ...CA()]);
    const stage = (name: string, ...extra: string[]) => [
      'rotate',
      ...admin(),
      '--ca-rollover',
      '--stage',
      name,
      ...CA(),
      ...extra,
    ];
    const wrong = await refusals([
      [stage('reissue', '--out', at('afile')), 'OUTPUT_EXISTS', /afile: it is a file, not a directory$/],
      [stage('reissue', '--out', at('fifo')), 'OUTPUT_EXISTS', /it is a device, FIFO or socket/],
      [stage('reissue', '--out', at('afile', 'r')), 'NOT_A_DIRECTORY', /a part of the path is a file/],
      [stage('reissue', '--out', at('ro')), 'PERMISSION_DENIED', /ro: this user may not write in it$/],
      [stage('reissue', '--out', at('ro', 'r')), 'PERMISSION_DENIED', /this user may not write in .*ro$/],
      [stage('trust-both', '--out', at('r')), 'USAGE', /--out is only for --ca-rollover --stage reissue/],
      [
        ['rotate', '--ca-rollover', '--status', ...CA(), '--out', at('r')],
        'USAGE',
        /could not show the CA rollover: --out is only/,
      ],
    ]);
    assert.deepEqual(wrong, []);
    // The control: with a --out it can make, the same stage runs and delivers the re-issued leaf there.
    const served = (await probeServedCertificate(db.host, db.port)).fingerprint;
    await ok(stage('reissue', '--out', at('new', 'reissued')));
    assert.deepEqual(
      fs.readdirSync(at('new', 'reissued')).map((d) => d.split(/[-.]/)[0]),
      ['app'],
    );
    assert.notEqual((await probeServedCertificate(db.host, db.port)).fingerprint, served);
  });
});
