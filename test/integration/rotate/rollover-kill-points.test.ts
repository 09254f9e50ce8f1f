/**
 * The CA rollover killed at every rename of every stage (issue 10 item 17), against a real MariaDB that
 * reads its TLS settings from an option file: for each stage, each kill point starts from the state before
 * the stage (the CA directory and the server's files put back, FLUSH SSL), strace kills `dbtls rotate
 * --ca-rollover --stage S` at its Nth rename(2), and then: the key and certificate behind the server's paths
 * match; when the kill changed the server's files, a real restart serves them; the same stage run again
 * completes; every CA directory's index agrees with its files; nothing was issued twice; and 'app' (REQUIRE
 * X509) logs in with verify-full, with its old certificate and, from reissue on, its new one. Two worlds
 * (a server, its files and its CA each) take kill points in turn, one per core.
 */
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { readIndex } from '../../../src/ca/cert-index.js';
import { initCa } from '../../../src/ca/init.js';
import { issueCertificate } from '../../../src/ca/issue.js';
import { writeLeafFiles } from '../../../src/ca/leaf-files.js';
import { openSession } from '../../../src/server/admin/session.js';
import { probeServedCertificate } from '../../../src/server/tls/reload.js';
import { runCli } from '../../harness/cli.js';
import {
  assertCaAgrees,
  dbtlsKilledAt,
  eachKillPoint,
  tempLeftovers,
  wasKilled,
} from '../../harness/kill-points.js';
import { type MariadbInstance, startMariadb, type UserSpec } from '../../harness/mariadb.js';

const USERS: UserSpec[] = [{ name: 'app', password: 'app-pw', require: 'X509', grants: 'USAGE ON *.*' }];
/** Two kill points at a time, each in its own world: the machine has two cores. */
const CONCURRENCY = 2;

type Stage = 'new-ca' | 'trust-both' | 'reissue' | 'retire-old';

/** A MariaDB reading its TLS settings from a fragment, its files, a CA, and 'app' with a certificate. */
class World {
  constructor(
    readonly dir: string,
    readonly db: MariadbInstance,
  ) {}

  at = (...p: string[]) => path.join(this.dir, ...p);
  caDir = () => this.at('ca');
  ssl = (f = '') => this.at('ssl', f);

  static async make(dir: string): Promise<World> {
    fs.mkdirSync(dir);
    const ssl = (f = '') => path.join(dir, 'ssl', f);
    const ca = initCa(path.join(dir, 'ca'), { passphrase: undefined, cn: 'rollover kill-point CA' });
    const server = issueCertificate(ca, { profile: 'server', cn: 'localhost', ip: ['127.0.0.1'] });
    fs.mkdirSync(ssl());
    fs.writeFileSync(ssl('server-cert.pem'), server.chainPem);
    fs.writeFileSync(ssl('server-key.pem'), server.keyPem!, { mode: 0o600 });
    fs.writeFileSync(ssl('ca.pem'), ca.caPem());
    writeLeafFiles(path.join(dir, 'old-app'), issueCertificate(ca, { profile: 'client', cn: 'app' }));
    fs.copyFileSync(path.join(ca.dir, 'root.pem'), path.join(dir, 'trusted.pem'));
    const fragment = path.join(dir, 'ssl-config.cnf');
    fs.writeFileSync(
      fragment,
      `[mysqld]\nssl_cert = ${ssl('server-cert.pem')}\nssl_key = ${ssl('server-key.pem')}\nssl_ca = ${ssl('ca.pem')}\n`,
    );
    const db = await startMariadb({ users: USERS, extra: { [`!include ${fragment}`]: true } });
    fs.writeFileSync(path.join(dir, 'admin.pw'), db.admin.password, { mode: 0o600 });
    return new World(dir, db);
  }

  stageArgs(stage: Stage): string[] {
    const admin = [
      `127.0.0.1:${this.db.port}`,
      '--user',
      this.db.admin.user,
      '--password-file',
      this.at('admin.pw'),
      '--admin-ca',
      this.at('trusted.pem'),
    ];
    // new-ca changes nothing on the server: it takes no ADMIN_TARGET.
    return [
      'rotate',
      '--ca-rollover',
      '--stage',
      stage,
      '--ca-dir',
      this.caDir(),
      ...(stage === 'new-ca' ? [] : admin),
    ];
  }

  /** The pair behind the server's paths matches; returns its certificate's fingerprint. */
  pairOnDisk(what: string): string {
    const cert = new X509Certificate(fs.readFileSync(this.ssl('server-cert.pem')));
    const key = createPrivateKey(fs.readFileSync(this.ssl('server-key.pem')));
    assert.ok(cert.checkPrivateKey(key), `${what}: the server key does not match its certificate`);
    return cert.fingerprint256.replaceAll(':', '').toLowerCase();
  }

  served = async () => (await probeServedCertificate(this.db.host, this.db.port)).fingerprint;

  /** 'app' logs in with verify-full (trusting `trusted.pem`) and the client certificate in `dir`. */
  async appLogsIn(dir: string): Promise<string> {
    try {
      const s = await openSession({
        host: this.db.host,
        port: this.db.port,
        user: 'app',
        password: 'app-pw',
        tls: {
          mode: 'verify-full',
          ca: this.at('trusted.pem'),
          cert: path.join(dir, 'cert.pem'),
          key: path.join(dir, 'key.pem'),
        },
      });
      await s.close();
      return 'ok';
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    }
  }

  snapshot(stage: Stage): void {
    for (const d of ['ca', 'ssl'])
      fs.cpSync(this.at(d), this.at(`before-${stage}`, d), { recursive: true, verbatimSymlinks: true });
  }

  /** Puts back the CA directory and the server's files as they were before the stage; the server reloads. */
  async restore(stage: Stage): Promise<void> {
    for (const d of ['ca', 'ssl']) {
      fs.rmSync(this.at(d), { recursive: true, force: true });
      fs.cpSync(this.at(`before-${stage}`, d), this.at(d), { recursive: true, verbatimSymlinks: true });
    }
    await this.db.sql('FLUSH SSL;');
  }
}

let tmp: string;
let worlds: World[] = [];

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-rollover-kill-'));
  worlds = await Promise.all(
    Array.from({ length: CONCURRENCY }, (_, i) => World.make(path.join(tmp, `world-${i}`))),
  );
});

after(async () => {
  await Promise.all(worlds.map((w) => w.db.stop()));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Every file under `dir`, by content (links followed): what the server would load. */
function treeHash(dir: string): string {
  const h = createHash('sha256');
  for (const f of (fs.readdirSync(dir, { recursive: true }) as string[]).sort()) {
    const file = path.join(dir, f);
    if (fs.statSync(file).isFile()) h.update(f).update(fs.readFileSync(file));
  }
  return h.digest('hex');
}

/** Every CA directory of the rollover agrees with its index. */
function casAgree(w: World, what: string): void {
  for (const dir of [w.caDir(), path.join(w.caDir(), 'next'), path.join(w.caDir(), 'previous')]) {
    if (fs.existsSync(path.join(dir, 'ca.json'))) assertCaAgrees(dir, `${what}: ${dir}`);
  }
}

/** Checks that hold after a stage completed, killed or not. */
async function afterStage(w: World, stage: Stage, what: string): Promise<void> {
  casAgree(w, what);
  assert.deepEqual(tempLeftovers(w.ssl()), [], `${what}: no temp file left beside the server's files`);
  assert.equal(await w.served(), w.pairOnDisk(what), `${what}: the server serves the pair on disk`);
  // The old certificate works until retire-old takes its CA out of ssl_ca; the new one from reissue on.
  const oldApp = await w.appLogsIn(w.at('old-app'));
  assert.equal(oldApp === 'ok', stage !== 'retire-old', `${what}: app with its old certificate: ${oldApp}`);
  if (stage === 'reissue' || stage === 'retire-old') {
    const reissued = await w.appLogsIn(path.join(w.caDir(), 'reissued', 'app'));
    assert.equal(reissued, 'ok', `${what}: app with its re-issued certificate`);
  }
  if (stage === 'reissue') {
    const index = readIndex(w.caDir());
    const apps = index.filter((e) => e.cn === 'app');
    assert.deepEqual(
      apps.map((e) => e.status),
      ['valid'],
      `${what}: app re-issued once`,
    );
    const servers = index.filter((e) => e.profile === 'server' && e.status === 'valid');
    assert.equal(servers.length, 1, `${what}: one valid server certificate in the new CA`);
    const old = readIndex(path.join(w.caDir(), 'previous')).filter((e) => e.status === 'valid');
    assert.deepEqual(old, [], `${what}: every leaf of the old CA superseded`);
  }
}

/** One kill point of `stage` in world `w`, from the state before the stage. */
async function killPoint(w: World, stage: Stage, n: number, before: string): Promise<'killed' | 'completed'> {
  const what = `${stage}, rename #${n}`;
  await w.restore(stage);
  const r = await dbtlsKilledAt({ syscall: 'rename', n }, w.stageArgs(stage));
  if (r.code === 0) {
    await afterStage(w, stage, `${stage}, the run that completed`);
    return 'completed';
  }
  assert.ok(wasKilled(r), `${what}: killed, not failed (${r.code}): ${r.stderr}`);
  const onDisk = w.pairOnDisk(what);
  if (treeHash(w.ssl()) !== before) {
    await w.db.restart();
    assert.equal(await w.served(), onDisk, `${what}: the restarted server serves the pair on disk`);
  }
  const again = await runCli(w.stageArgs(stage));
  assert.equal(again.code, 0, `${what}: the same stage again: ${again.stdout}${again.stderr}`);
  await afterStage(w, stage, what);
  return 'killed';
}

async function killStage(stage: Stage): Promise<number> {
  const before = new Map<World, string>();
  for (const w of worlds) {
    w.snapshot(stage);
    before.set(w, treeHash(w.ssl()));
  }
  const free = [...worlds];
  const completedAt = await eachKillPoint(
    async (n) => {
      const w = free.pop()!;
      try {
        return await killPoint(w, stage, n, before.get(w)!);
      } finally {
        free.push(w);
      }
    },
    { concurrency: CONCURRENCY },
  );
  // A world whose last kill point stopped short of the stage (its worker ended) finishes it now.
  for (const w of worlds) {
    const r = await runCli(w.stageArgs(stage));
    assert.equal(r.code, 0, r.stderr);
  }
  return completedAt - 1;
}

test('the CA rollover killed at every rename of every stage: each stage resumes, the server restarts, app logs in', async (t) => {
  const counts: string[] = [];
  for (const stage of ['new-ca', 'trust-both', 'reissue', 'retire-old'] as const) {
    counts.push(`${stage} ${await killStage(stage)}`);
    // Clients take the bundle once the server trusts both CAs (what trust-both tells them to do).
    if (stage === 'trust-both')
      for (const w of worlds) fs.copyFileSync(path.join(w.caDir(), 'trust-bundle.pem'), w.at('trusted.pem'));
  }
  t.diagnostic(`renames: ${counts.join(', ')}`);
  // The promotion's moves and state saves, the server's rotation, app's re-issue, the old CA's index.
  assert.deepEqual(counts, ['new-ca 5', 'trust-both 3', 'reissue 31', 'retire-old 4']);
  for (const w of worlds) assert.match((await probeServedCertificate(w.db.host, w.db.port)).issuer, /G2/);
});
