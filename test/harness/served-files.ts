/**
 * A server certificate, key and CA file from a dbtls CA, named by an option-file fragment: the state a
 * `server enable` run replaces, set up as an administrator would have it (plain files, key 0600).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { issueCertificate } from '../../src/ca/issue.js';
import type { Ca } from '../../src/ca/store.js';

/** Writes <sslDir>/server-cert.pem, server-key.pem and ca.pem for localhost and the [mysqld] fragment naming them. */
export function writeServedFiles(ca: Ca, sslDir: string, fragment: string): void {
  const served = issueCertificate(ca, { profile: 'server', cn: 'localhost', ip: ['127.0.0.1'] });
  const at = (f: string) => path.join(sslDir, f);
  fs.mkdirSync(sslDir);
  fs.writeFileSync(at('server-cert.pem'), served.chainPem);
  fs.writeFileSync(at('server-key.pem'), served.keyPem!, { mode: 0o600 });
  fs.writeFileSync(at('ca.pem'), ca.caPem());
  fs.mkdirSync(path.dirname(fragment), { recursive: true });
  fs.writeFileSync(
    fragment,
    `[mysqld]\nssl_cert = ${at('server-cert.pem')}\nssl_key = ${at('server-key.pem')}\nssl_ca = ${at('ca.pem')}\n`,
  );
}
