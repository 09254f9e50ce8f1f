/**
 * The JDK's keytool as an oracle for the keystores dbtls writes: what it lists (alias, entry type, chain
 * length), the certificates it reads back (`-list -rfc`, `-exportcert`), byte for byte.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { keytool as runKeytool } from '../../harness/oracles.js';

/** A JVM that starts in half the CPU time (C1 only, serial GC): the machine's 2 cores are shared. */
const JVM_QUICK_START = ['-J-XX:TieredStopAtLevel=1', '-J-XX:+UseSerialGC'];
export const keytool = (args: string[], input?: string) =>
  runKeytool([...JVM_QUICK_START, ...args], input === undefined ? {} : { input });

export type StoreType = 'PKCS12' | 'JKS';

export interface ListedEntry {
  readonly alias: string;
  readonly type: string;
  readonly chain: number;
}

const store = (file: string, type: StoreType, passwordFile: string) => [
  '-keystore',
  file,
  '-storetype',
  type,
  '-storepass:file',
  passwordFile,
];

/** `keytool -list -v`: one row per entry. */
export async function keytoolList(
  file: string,
  type: StoreType,
  passwordFile: string,
): Promise<ListedEntry[]> {
  const r = await keytool(['-list', '-v', ...store(file, type, passwordFile)]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout
    .split(/\*{20,}/)
    .filter((block) => block.includes('Alias name:'))
    .map((block) => ({
      alias: /Alias name: (.*)/.exec(block)![1]!,
      type: /Entry type: (.*)/.exec(block)![1]!,
      chain: Number(/Certificate chain length: (\d+)/.exec(block)?.[1] ?? 1),
    }));
}

/** `keytool -list -rfc -alias A`: every certificate of the entry, as DER, in keytool's order. */
export async function keytoolChain(
  file: string,
  type: StoreType,
  passwordFile: string,
  alias: string,
): Promise<Buffer[]> {
  const r = await keytool(['-list', '-rfc', '-alias', alias, ...store(file, type, passwordFile)]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const blocks = r.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b).raw);
}

/** `keytool -exportcert -alias A`: the entry's (leaf) certificate as the DER file keytool writes. */
export async function keytoolExportCert(
  file: string,
  type: StoreType,
  passwordFile: string,
  alias: string,
): Promise<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-exportcert-'));
  try {
    const out = path.join(dir, 'cert.der');
    const r = await keytool([
      '-exportcert',
      '-alias',
      alias,
      '-file',
      out,
      ...store(file, type, passwordFile),
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The DER of each certificate in PEM files, in order. */
export function derOf(...pemFiles: string[]): Buffer[] {
  return pemFiles.flatMap((f) =>
    (
      fs.readFileSync(f, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
    ).map((b) => new X509Certificate(b).raw),
  );
}
