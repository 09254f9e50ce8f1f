/**
 * Certificate issuance throughput (issue 2): the library's ECDSA P-256 issuance (key generation + signing
 * + PEM), CSR signing, `dbtls issue client --cn-from` of 2,000 names with every file written, and the
 * classic openssl CLI way (`openssl req` + `openssl x509 -req` per certificate) in the same run for the
 * ratio. The machine is shared: the load average is printed with the figures, and CPU-time rates are
 * given beside wall-clock rates.
 */
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initCa } from '../src/ca/init.js';
import { resolveLeaf, signLeaf } from '../src/ca/issue.js';
import { createCsr, parseCsr } from '../src/pki/csr.js';
import { generateKeyMaterial } from '../src/pki/keys.js';
import { dbtlsCommand } from '../test/harness/cli.js';

const LIBRARY_COUNT = 3000;
const CSR_COUNT = 1000;
const CLI_NAMES = 2000;
const OPENSSL_COUNT = 20;

interface Rate {
  perSecond: number;
  cpuPerSecond: number;
}

function measure(count: number, fn: (i: number) => void): Rate {
  for (let i = 0; i < Math.min(200, count); i++) fn(i); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) fn(i);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: count / wall, cpuPerSecond: count / ((cpu.user + cpu.system) / 1e6) };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const line = (label: string, r: Rate): string =>
  `${label.padEnd(52)} ${fmt(r.perSecond).padStart(7)}/s   (${fmt(r.cpuPerSecond)}/s of CPU time)`;

function opensslWay(dir: string, caCert: string, caKey: string): number {
  const ext = path.join(dir, 'client.ext');
  fs.writeFileSync(
    ext,
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
  );
  const t0 = performance.now();
  for (let i = 0; i < OPENSSL_COUNT; i++) {
    const base = path.join(dir, `o${i}`);
    const req = spawnSync('openssl', [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${base}.key`,
      '-out',
      `${base}.csr`,
      '-subj',
      `/O=bench/CN=user_${i}`,
    ]);
    const x = spawnSync('openssl', [
      'x509',
      '-req',
      '-in',
      `${base}.csr`,
      '-CA',
      caCert,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-days',
      '397',
      '-sha256',
      '-extfile',
      ext,
      '-out',
      `${base}.pem`,
    ]);
    if (req.status !== 0 || x.status !== 0) throw new Error(`openssl failed: ${req.stderr}${x.stderr}`);
  }
  return OPENSSL_COUNT / ((performance.now() - t0) / 1000);
}

/** The CLI as a child process, output collected, killed after 5 minutes (a bench must never hang a run). */
function runChild(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stderr });
    });
  });
}

export async function bench(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-bench-issue-'));
  try {
    process.stdout.write(
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${os.cpus().length} CPUs\n`,
    );
    const ca = initCa(path.join(dir, 'ca'), { passphrase: undefined });
    const taken = new Set<string>();
    const data = Buffer.alloc(400, 7);
    const raw = measure(LIBRARY_COUNT, () => {
      const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      sign('sha256', data, kp.privateKey);
    });
    const client = resolveLeaf(ca, { profile: 'client', cn: 'bench_user' });
    const lib = measure(LIBRARY_COUNT, () => signLeaf(ca, client, taken));
    process.stdout.write(`${line('raw node:crypto P-256 keygen + sign (reference)', raw)}\n`);
    process.stdout.write(`${line('library ECDSA P-256 issuance (keygen+sign+PEM)', lib)}\n`);

    const csrs = Array.from({ length: CSR_COUNT }, (_, i) =>
      createCsr({
        subject: [{ type: 'CN', value: `db${i}.example.com` }],
        dnsNames: [`db${i}.example.com`],
        privateKey: generateKeyMaterial('ec-p256').privateKey,
      }),
    );
    const csrRate = measure(CSR_COUNT, (i) => {
      const csr = parseCsr(csrs[i % CSR_COUNT]!);
      signLeaf(
        ca,
        resolveLeaf(ca, {
          profile: 'server',
          cn: csr.cn!,
          dns: csr.dnsNames,
          publicKey: csr.publicKey,
          spki: csr.spki,
        }),
        taken,
      );
    });
    process.stdout.write(`${line('CSR signing (parse + verify + sign + PEM)', csrRate)}\n`);

    const names = path.join(dir, 'names.txt');
    fs.writeFileSync(names, Array.from({ length: CLI_NAMES }, (_, i) => `user_${i}`).join('\n'));
    const [cmd, ...prefix] = dbtlsCommand();
    const t0 = performance.now();
    const cli = await runChild(cmd!, [
      ...prefix,
      'issue',
      'client',
      '--cn-from',
      names,
      '--out',
      path.join(dir, 'fleet'),
      '--ca-dir',
      ca.dir,
    ]);
    const cliSeconds = (performance.now() - t0) / 1000;
    if (cli.code !== 0) throw new Error(`dbtls issue --cn-from failed (${cli.code}): ${cli.stderr}`);
    const cliRate = CLI_NAMES / cliSeconds;
    process.stdout.write(
      `${`dbtls issue client --cn-from (${CLI_NAMES} names, files written)`.padEnd(52)} ${fmt(cliRate).padStart(7)}/s   (${cliSeconds.toFixed(2)} s incl. process start)\n`,
    );

    const osslRate = opensslWay(dir, path.join(ca.dir, 'root.pem'), path.join(ca.dir, 'root.key.pem'));
    process.stdout.write(
      `${`openssl CLI way (req + x509 -req, ${OPENSSL_COUNT} certs)`.padEnd(52)} ${fmt(osslRate).padStart(7)}/s\n`,
    );
    process.stdout.write(
      `ratio: library ${fmt(lib.perSecond / osslRate)}x, --cn-from ${fmt(cliRate / osslRate)}x the openssl CLI way\n`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
