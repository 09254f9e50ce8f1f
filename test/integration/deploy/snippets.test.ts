/**
 * The generated snippets, run for real: the mariadb command line, a [client-mariadb] option file, mysql2
 * and the mariadb connector, against one harness MariaDB restarted with four TLS set-ups. Each outcome
 * (connects or not, encrypted or not) is what the ssl-mode model predicts for the mode the client
 * actually enforces (Snippet.effectiveMode).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { snippet } from '../../../src/deploy/snippets.js';
import { SSL_MODES, type SslMode } from '../../../src/tls/ssl-mode.js';
import { startDowngradeRelay } from '../../harness/attacker.js';
import { PROJECT_ROOT } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { run } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

const USER = 'snip_app';
const PASSWORD = 'snippet-pw-1';
const MTLS_USER = 'snip_mtls';
const MODES: readonly SslMode[] = ['disable', 'trust', 'verify-ca', 'verify-full'];
type Client = 'mariadb-cli' | 'my.cnf' | 'mysql2' | 'mariadb-node' | 'python';
/** The Python snippet runs too when a python3 with PyMySQL is installed (Debian: python3-pymysql). */
const CLIENTS: Client[] = ['mariadb-cli', 'my.cnf', 'mysql2', 'mariadb-node'];
let python: string | undefined;
const STATUS_SQL = "SHOW STATUS LIKE 'Ssl_cipher'";

let pki: TestPki;
let db: MariadbInstance;
let work: string;

interface Outcome {
  readonly ok: boolean;
  readonly cipher: string;
  readonly output: string;
}

/** Splits the shell words our snippets print (bare words and single-quoted words). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g))
    words.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!);
  return words;
}

function findPython(): string | undefined {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    if (spawnSync(candidate, ['-c', 'import pymysql'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return undefined;
}

const PYTHON_TAIL = `cursor = connection.cursor()\ncursor.execute(${JSON.stringify(STATUS_SQL)})\nprint("CIPHER=" + (cursor.fetchone()[1] or ""))\nconnection.close()\n`;

const NODE_TAIL: Record<'mysql2' | 'mariadb-node', string> = {
  mysql2: `const [rows] = await connection.query(${JSON.stringify(STATUS_SQL)});\nconsole.log('CIPHER=' + rows[0].Value);\nawait connection.end();\n`,
  'mariadb-node': `const rows = await connection.query(${JSON.stringify(STATUS_SQL)});\nconsole.log('CIPHER=' + rows[0].Value);\nawait connection.end();\n`,
};

let counter = 0;
async function runSnippet(client: Client, text: string): Promise<Outcome> {
  const env = { ...process.env, MYSQL_PWD: PASSWORD };
  let result: { code: number; stdout: string; stderr: string };
  if (client === 'mariadb-cli') {
    const line = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'))[0]!;
    const [cmd, ...args] = shellWords(line);
    assert.equal(cmd, 'mariadb');
    result = await run(cmd, ['--no-defaults', ...args, '-N', '-B', '-e', STATUS_SQL], {
      env,
      timeoutMs: 30_000,
    });
  } else if (client === 'my.cnf') {
    const file = path.join(work, `client-${counter++}.cnf`);
    fs.writeFileSync(file, text, { mode: 0o600 });
    result = await run('mariadb', [`--defaults-file=${file}`, '-N', '-B', '-e', STATUS_SQL], {
      env,
      timeoutMs: 30_000,
    });
  } else if (client === 'python') {
    const file = path.join(work, `client-${counter++}.py`);
    fs.writeFileSync(file, text + PYTHON_TAIL);
    result = await run(python!, [file], { env, timeoutMs: 30_000 });
  } else {
    const file = path.join(work, `client-${counter++}.mjs`);
    fs.writeFileSync(file, text + NODE_TAIL[client]);
    result = await run(process.execPath, [file], { env, timeoutMs: 30_000 });
  }
  const output = `${result.stdout}${result.stderr}`;
  const cipher =
    client === 'mysql2' || client === 'mariadb-node' || client === 'python'
      ? (/CIPHER=(.*)/.exec(result.stdout)?.[1] ?? '').trim()
      : (result.stdout.split('\t')[1] ?? '').trim();
  return { ok: result.code === 0, cipher, output };
}

function make(client: Client, mode: SslMode, mtls = false, port = db.port) {
  return snippet({
    client,
    // mysql2 cannot check an IP address (it checks the name localhost instead): its verify-full snippet
    // is refused by IP (client-matrix.test.ts), so it dials the name the certificate holds.
    target: `${client === 'mysql2' && mode === 'verify-full' ? 'localhost' : db.host}:${port}`,
    mode,
    mutualTls: mtls ? 'enable' : 'disable',
    ca: pki.ca,
    cert: mtls ? pki.client.cert : undefined,
    key: mtls ? pki.client.key : undefined,
    user: mtls ? MTLS_USER : USER,
  });
}

/** Runs every client in every mode it can express and checks the predicted outcome. */
async function checkAll(setup: string, predict: (effective: SslMode) => boolean) {
  // Clients in parallel (each its own process), modes one after another.
  await Promise.all(CLIENTS.map((client) => checkClient(client, setup, predict)));
}

async function checkClient(client: Client, setup: string, predict: (effective: SslMode) => boolean) {
  for (const mode of MODES) {
    let s: ReturnType<typeof snippet>;
    try {
      s = make(client, mode);
    } catch (err) {
      // The mariadb client cannot say trust without a plaintext fallback: refused, never approximated.
      assert.equal((err as { code?: string }).code, 'SNIPPET_MODE_UNSUPPORTED', `${client} ${mode}`);
      assert.ok(client === 'mariadb-cli' || client === 'my.cnf');
      assert.equal(mode, 'trust');
      continue;
    }
    const expected = predict(s.effectiveMode);
    const outcome = await runSnippet(client, s.text);
    assert.equal(
      outcome.ok,
      expected,
      `${setup}: ${client} ${mode} (enforces ${s.effectiveMode}):\n${s.text}\n${outcome.output}`,
    );
    if (outcome.ok) {
      const encrypted = SSL_MODES[s.effectiveMode].encrypts === 'yes';
      assert.equal(
        outcome.cipher !== '',
        encrypted,
        `${setup}: ${client} ${mode} cipher ${JSON.stringify(outcome.cipher)}`,
      );
    }
  }
}

describe('generated client snippets against a real MariaDB', () => {
  before(async () => {
    pki = await makeTestPki();
    python = findPython();
    if (python) CLIENTS.push('python');
    else
      process.stderr.write(
        '# PyMySQL not installed: the python snippet is not run (apt-get install python3-pymysql)\n',
      );
    work = fs.mkdtempSync(path.join(PROJECT_ROOT, 'node_modules', '.dbtls-snippets-'));
    db = await startMariadb({
      tls: { ca: pki.ca, cert: pki.server.cert, key: pki.server.key },
      users: [
        { name: USER, password: PASSWORD },
        { name: MTLS_USER, password: PASSWORD, require: { subject: pki.client.subject } },
      ],
    });
  });
  after(async () => {
    await db?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('a server certificate from our CA for 127.0.0.1: every mode connects, encrypted unless disable', async () => {
    await checkAll('good certificate', () => true);
  });

  it('a downgrade attacker (CLIENT_SSL cleared): every TLS snippet refuses before a credential byte leaves', async () => {
    const relay = await startDowngradeRelay({ port: db.port });
    try {
      for (const client of CLIENTS) {
        for (const mode of MODES.filter((m) => m !== 'disable')) {
          let s: ReturnType<typeof snippet>;
          try {
            s = make(client, mode, false, relay.port);
          } catch {
            continue; // refused for this client (mariadb trust), as the first test checks
          }
          const outcome = await runSnippet(client, s.text);
          assert.equal(outcome.ok, false, `${client} ${mode} went on without TLS:\n${outcome.output}`);
        }
      }
      const sent = relay.clientBytes();
      assert.equal(sent.includes(USER), false, 'the user name crossed in plaintext');
      assert.equal(sent.includes(PASSWORD), false, 'the password crossed in plaintext');
      // The control: disable does go through the relay in plaintext, so the recording works.
      const plain = await runSnippet('mysql2', make('mysql2', 'disable', false, relay.port).text);
      assert.ok(plain.ok, plain.output);
      assert.equal(relay.clientBytes().includes(USER), true);
    } finally {
      await relay.close();
    }
  });

  it('mutual TLS: a REQUIRE SUBJECT user connects with the client certificate and not without it', async () => {
    for (const client of CLIENTS) {
      for (const mode of ['verify-ca', 'verify-full'] as const) {
        const withCert = await runSnippet(client, make(client, mode, true).text);
        assert.ok(withCert.ok, `${client} ${mode} with certificate:\n${withCert.output}`);
        assert.notEqual(withCert.cipher, '');
      }
      const without = make(client, 'verify-full').text.replaceAll(USER, MTLS_USER);
      const denied = await runSnippet(client, without);
      assert.equal(denied.ok, false, `${client} without certificate must be refused`);
    }
  });

  it('a certificate from another CA: trust connects, verify-ca and verify-full refuse', async () => {
    await db.restart({ tls: { cert: pki.otherServer.cert, key: pki.otherServer.key } });
    await checkAll('untrusted CA', (m) => !SSL_MODES[m].verifiesChain);
  });

  it('our CA but a certificate for another host: verify-ca connects, verify-full refuses', async () => {
    await db.restart({ tls: { cert: pki.wrongHost.cert, key: pki.wrongHost.key } });
    await checkAll('wrong host', (m) => !SSL_MODES[m].verifiesHostname);
  });

  it('a server without TLS: every TLS mode fails closed, disable connects in plaintext', async () => {
    await db.restart({});
    await checkAll('no TLS', (m) => m === 'disable');
  });
});
