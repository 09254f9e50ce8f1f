/**
 * Issue 14, item 8: no input makes dbtls crash. Every option of every command (from the option tables
 * the parser reads) gets random, huge, empty, binary-looking and unicode values from a fixed seed; each run
 * must end in a real error code (never INTERNAL, exit 70), print no stack trace, and, when it fails,
 * leave every file in the working directory as it was. Commands run in this process (thousands of runs;
 * a child each would take minutes) inside a sandbox directory holding a CA and a few certificates.
 * `demo`, `proxy` and `exporter` are left out: with valid values they start servers that run until
 * stopped; their option parsing is the same parse() every other command uses.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Command } from '../../../src/cli/command.js';
import { allCommands, run } from '../../../src/cli/main.js';
import { runCli } from '../../harness/cli.js';
import { capture } from '../../unit/cli/capture.js';

/** Commands that serve until stopped. */
const LONG_RUNNING = new Set(['demo', 'proxy', 'exporter']);
/** Nothing listens on port 1: connections are refused at once. */
const DEAD_TARGET = '127.0.0.1:1';

/** Positional arguments that get each command past "give exactly one …" to its options. */
function positionals(name: string): string[] {
  if (/^(server |users|inspect|connect|snippet|rotate|secure)/.test(name)) return [DEAD_TARGET];
  if (name === 'require') return [DEAD_TARGET, "'app'@'%'"];
  if (name === 'sign') return ['node2/csr.pem'];
  if (name === 'bundle' || name === 'bundle show') return ['db1/chain.pem'];
  if (name === 'keystore show') return ['db1.p12'];
  return [];
}

/** mulberry32: a small seeded PRNG, so a failure reproduces with the same seed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = 14;
const random = prng(SEED);
const pickOne = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

function randomText(): string {
  const alphabet = 'abcXYZ019 -_./:@%?&=\'"\\$`;|*\u0001\u001b\u00e9\u00fc\u4e2d\ud83d\ude00\u202e\u200b';
  const n = 1 + Math.floor(random() * 24);
  return Array.from({ length: n }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
}

/**
 * Files outside the sandbox that a hostile value points at, by absolute path and by `../` traversal.
 * Never a system file: the fuzz runs as root in CI, and a command that legitimately writes its --out
 * (e.g. `cloud-ca rds --out /etc/passwd`) would replace it (it did, once): they live in a directory of the test's own.
 */
const VICTIMS = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-fuzz-victims-'));
const VICTIM_FILE = path.join(VICTIMS, 'passwd');
fs.writeFileSync(VICTIM_FILE, 'root:x:0:0:root:/root:/bin/bash\n');

/** The hostile values every string option gets, plus a few random ones. */
const VALUES: readonly string[] = [
  '',
  '-',
  '-1',
  '99999999999',
  '1e400',
  'A'.repeat(5000),
  '%zz',
  'mysql://%zz@h:3306/?ssl-mode=%E0%A4%A',
  'mysql://u@[::1:3306',
  // Paths stay inside the sandbox: the tests may run as root, where `--out /etc/passwd` would succeed.
  'pw',
  'db1',
  'db1/cert.pem',
  VICTIM_FILE,
  `../../../../../..${VICTIMS}/shadow`,
  '\u0001\u0007\u001b[31mred\u001b[0m',
  'line1\nline2',
  'üser😀\u202e',
  // Issue 14, item 9: one-line-name look-alikes, a C1 control, names Kubernetes refuses.
  '\\xC3\\xBCser',
  'trailing\\',
  'c1\u0085',
  'Bad_Name',
  'a..b',
  ...Array.from({ length: 2 }, randomText),
];

/** Every regular file under dir with its size, mode and modification time. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = fs.lstatSync(p);
        out.set(path.relative(dir, p), `${s.size} ${s.mode} ${s.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out;
}

function changes(before: Map<string, string>, now: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...now.keys()]);
  return [...keys].filter((k) => before.get(k) !== now.get(k));
}

interface Case {
  readonly argv: string[];
  /** The code this case must end in, when it is a known refusal. */
  readonly expect?: string;
}

/** CSRs dbtls refuses to sign (issue 14, item 9), made by openssl in the sandbox. */
const HOSTILE_CSRS: readonly [file: string, curve: string, subject: string, code: string][] = [
  ['k1.csr', 'secp256k1', '/CN=k1', 'KEY_CURVE_UNSUPPORTED'],
  ['twocn.csr', 'P-256', '/CN=app/CN=root', 'CSR_CN_MULTIPLE'],
  ['slash.csr', 'P-256', '/O=a\\\\/CN=app', 'SUBJECT_INVALID'],
];

function casesFor(command: Command): Case[] {
  const name = command.name.join(' ');
  const base = [...command.name, ...positionals(name)];
  const options = Object.entries(command.options ?? {});
  const cases: Case[] = [];
  if (name === 'sign' || name === 'csr show') {
    for (const [file, , , code] of HOSTILE_CSRS) {
      cases.push(
        name === 'sign'
          ? { argv: [...command.name, file, '--profile', 'client', '--out', 'x.pem'], expect: code }
          : { argv: [...command.name, file] },
      );
    }
  }
  for (const [option, def] of options) {
    if (def.type === 'boolean') cases.push({ argv: [...base, `--${option}`] });
    else {
      // `--targets-from -` reads stdin by design: it waits for the end of the input, as cat does.
      const values = option === 'targets-from' ? VALUES.filter((v) => v !== '-') : VALUES;
      for (const v of values) cases.push({ argv: [...base, `--${option}`, v] });
    }
  }
  // Random combinations: several options at once, in any order, with the positionals dropped at times.
  for (let i = 0; i < 10 && options.length > 0; i++) {
    const argv = [...command.name, ...(random() < 0.8 ? positionals(name) : [randomText()])];
    for (let k = 0; k < 1 + Math.floor(random() * 4); k++) {
      const [option, def] = pickOne(options);
      argv.push(`--${option}`);
      if (def.type === 'string') argv.push(option === 'targets-from' ? 'pw' : pickOne(VALUES));
    }
    cases.push({ argv });
  }
  return cases;
}

let sandbox: string;
let home: string;
before(async () => {
  home = process.cwd();
  sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-fuzz-'));
  const steps = [
    ['ca', 'init', '--no-passphrase'],
    ['issue', 'server', '--cn', 'db1.example.com', '--out', 'db1'],
    ['csr', '--cn', 'node2.example.com', '--out', 'node2'],
  ];
  for (const s of steps) {
    const r = await runCli(s, { cwd: sandbox });
    assert.equal(r.code, 0, `${s.join(' ')}: ${r.stderr}`);
  }
  fs.writeFileSync(path.join(sandbox, 'pw'), 'changeit\n');
  for (const [file, curve, subject] of HOSTILE_CSRS) {
    const key = path.join(sandbox, `${file}.key`);
    const args = ['req', '-new', '-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-nodes'];
    execFileSync('openssl', [...args, '-keyout', key, '-out', path.join(sandbox, file), '-subj', subject], {
      stdio: 'ignore',
    });
  }
  // A named pipe with no writer: reading it would block for ever (issue 14, item 8).
  execFileSync('mkfifo', [path.join(sandbox, 'fifo')]);
  const p12 = await runCli(
    [
      'export',
      'p12',
      '--cert',
      'db1/cert.pem',
      '--key',
      'db1/key.pem',
      '--alias',
      'db1',
      '--password-file',
      'pw',
      '--out',
      'db1.p12',
    ],
    { cwd: sandbox },
  );
  assert.equal(p12.code, 0, p12.stderr);
  process.chdir(sandbox);
});
after(() => {
  process.chdir(home);
  fs.rmSync(sandbox, { recursive: true, force: true });
  fs.rmSync(VICTIMS, { recursive: true, force: true });
});

/** A run that does not settle in this time is a hang (the slowest legitimate case is a refused connect). */
const HANG_MS = 30_000;

describe('a named pipe as an input file (issue 14, item 8)', () => {
  it('is refused at once, not read for ever', async () => {
    for (const argv of [
      ['crl', '--passphrase-file', 'fifo'],
      ['bundle', 'show', 'fifo'],
    ]) {
      const { out, render } = capture();
      assert.equal(await run(argv, render), 2, argv.join(' '));
      assert.match(out.stderr, /^error\[FILE_NOT_REGULAR\]: could not read .* it is a named pipe/);
    }
  });
});

describe(`fuzzing every option of every command (seed ${SEED})`, () => {
  it('never ends in INTERNAL, never prints a stack trace, and changes no file when it fails', async () => {
    const failures: string[] = [];
    let runs = 0;
    for (const command of await allCommands()) {
      if (LONG_RUNNING.has(command.name.join(' '))) continue;
      if (process.env.FUZZ_ONLY && !command.name.join(' ').startsWith(process.env.FUZZ_ONLY)) continue;
      for (const c of casesFor(command)) {
        const { out, render } = capture();
        const before = snapshot(sandbox);
        const t0 = performance.now();
        let timer: NodeJS.Timeout | undefined;
        const code = await Promise.race([
          run(c.argv, render),
          new Promise<string>((resolve) => {
            timer = setTimeout(() => resolve('hang'), HANG_MS);
          }),
        ]);
        clearTimeout(timer);
        runs++;
        if (process.env.FUZZ_TRACE) {
          process.stderr.write(
            `${Math.round(performance.now() - t0)} ms ${JSON.stringify(c.argv).slice(0, 120)}\n`,
          );
        }
        const shown = JSON.stringify(c.argv.map((a) => (a.length > 40 ? `${a.slice(0, 40)}…` : a)));
        if (code === 'hang') failures.push(`${shown}: no answer in ${HANG_MS} ms`);
        else if (code === 70 || /error\[INTERNAL\]/.test(out.stderr)) {
          failures.push(`${shown}: ${out.stderr.split('\n')[0]!.slice(0, 200)}`);
        } else if (/\n\s+at .+:\d+:\d+/.test(out.stderr)) failures.push(`${shown}: a stack trace`);
        else if (c.expect && !out.stderr.startsWith(`error[${c.expect}]`)) {
          failures.push(`${shown}: not ${c.expect}: ${out.stderr.split('\n')[0]!.slice(0, 200)}`);
        } else if (code !== 0) {
          const changed = changes(before, snapshot(sandbox));
          if (changed.length) failures.push(`${shown}: exit ${code} but changed ${changed.join(', ')}`);
        }
      }
    }
    assert.ok(runs > 1000, `only ${runs} runs`);
    assert.deepEqual(failures, []);
  });
});
