/**
 * The two servers the TLS-1.3-first tests (client and proxy) need: one MariaDB offering TLS 1.2 and 1.3,
 * one offering only TLS 1.2, both with a REQUIRE X509 account, plus the client certificate's DER that a
 * wiretap looks for in clear.
 */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { type MariadbInstance, startMariadb } from './mariadb.js';
import { makeTestPki, type TestPki } from './pki.js';

export interface Tls13Servers {
  readonly pki: TestPki;
  /** TLS 1.2 and 1.3. */
  readonly both: MariadbInstance;
  /** TLS 1.2 only. */
  readonly only12: MariadbInstance;
  /** The client certificate as DER: what must not appear in clear over TLS 1.3. */
  readonly clientDer: Buffer;
  stop(): Promise<void>;
}

export async function startTls13Servers(user: { name: string; password: string }): Promise<Tls13Servers> {
  const pki = await makeTestPki();
  const tls = { ca: pki.ca, cert: pki.server.cert, key: pki.server.key };
  const users = [{ ...user, require: 'X509' as const }];
  const [both, only12] = await Promise.all([
    startMariadb({ tls, users }),
    startMariadb({ tls, users, tlsVersion: 'TLSv1.2' }),
  ]);
  const clientDer = new X509Certificate(fs.readFileSync(pki.client.cert)).raw;
  return {
    pki,
    both,
    only12,
    clientDer,
    stop: async () => {
      await Promise.all([both.stop(), only12.stop()]);
    },
  };
}
