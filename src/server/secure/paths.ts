/**
 * Where `dbtls secure` puts the server's files and its config fragment when the user does not say, decided
 * from the server itself before anything is changed (issue 10, items 11 and 12): the certificate directory
 * is where @@ssl_cert lives (as rotate does), and the fragment must be one the server's option files read.
 */
import * as path from 'node:path';
import { type AdminSession, globalVariables } from '../admin/session.js';
import { DEFAULT_CERT_DIR, DEFAULT_CONFIG_FILE } from '../tls/config.js';
import { assertChainReads, chainReads, type OptionChain, serverOptionChain } from '../tls/option-files.js';

/** The name of dbtls's fragment inside an included directory. */
export const FRAGMENT_NAME = path.basename(DEFAULT_CONFIG_FILE);

export interface SecurePaths {
  readonly dir: string;
  readonly configFile: string;
  readonly chain: OptionChain;
}

export interface PathChoices {
  readonly dir?: string | undefined;
  readonly configFile?: string | undefined;
  readonly serverConfig?: string | undefined;
}

/** The certificate directory: the one given, else the directory of the server's @@ssl_cert, else the default. */
export async function certDirOf(session: AdminSession, given?: string): Promise<string> {
  if (given !== undefined) return path.resolve(given);
  const cert = (await globalVariables(session, ['ssl_cert'])).get('ssl_cert');
  return cert ? path.dirname(cert) : DEFAULT_CERT_DIR;
}

/** The fragment: the one given, else ours where the server already reads it, else one in an included directory. */
export function fragmentIn(chain: OptionChain, given?: string): string {
  if (given !== undefined) return path.resolve(given);
  const ours = chain.files.find((f) => path.basename(f) === FRAGMENT_NAME);
  if (ours) return ours;
  if (chainReads(chain, DEFAULT_CONFIG_FILE)) return DEFAULT_CONFIG_FILE;
  // The last included directory is read last: its settings have the final word.
  const last = chain.includedDirs.at(-1);
  return last ? path.join(last.dir, FRAGMENT_NAME) : DEFAULT_CONFIG_FILE;
}

/** Resolves the paths and refuses a fragment the server would not read (CONFIG_NOT_INCLUDED). Changes nothing. */
export async function resolveSecurePaths(session: AdminSession, o: PathChoices): Promise<SecurePaths> {
  const chain = await serverOptionChain(session, o.serverConfig);
  const configFile = fragmentIn(chain, o.configFile);
  assertChainReads(chain, configFile);
  return { dir: await certDirOf(session, o.dir), configFile, chain };
}
