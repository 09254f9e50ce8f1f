/**
 * caching_sha2_password full authentication on a plaintext client leg (MySQL manual, "Caching SHA-2
 * Pluggable Authentication"; sql/auth/sha2_password.cc). A client that believes its link is plaintext
 * TCP asks for the server's RSA public key (0x02) and sends `RSA-OAEP(password NUL XOR scramble)`. The
 * proxy answers with its OWN key (generated at start, held in memory only, never written to disk),
 * recovers the password and forwards it in clear inside the verified TLS to the server, which is exactly
 * what a MySQL client does on a TLS link. The real server key never matters: the upstream sees TLS.
 */
import { constants, generateKeyPairSync, type KeyObject, privateDecrypt } from 'node:crypto';
import { DbtlsError } from '../errors.js';

/** RSA-2048: what MySQL generates for caching_sha2_password_auto_generate_rsa_keys. */
const RSA_BITS = 2048;

export interface ProxyRsaKey {
  /** SubjectPublicKeyInfo PEM, what the server sends after 0x01 (PEM_read_bio_RSA_PUBKEY on the client). */
  readonly publicPem: Buffer;
  /** Ciphertext length: the modulus size in bytes. */
  readonly blobLength: number;
  readonly privateKey: KeyObject;
}

/** ~100 ms on this machine: done once per proxy start, off the connection path. */
export function generateProxyRsaKey(): ProxyRsaKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: RSA_BITS });
  return {
    publicPem: Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })),
    blobLength: RSA_BITS / 8,
    privateKey,
  };
}

/**
 * The password (with its NUL, as the server expects it inside TLS) from the client's RSA blob. Only OAEP
 * (SHA-1, what MySQL clients since 8.0.5 and PyMySQL/mysql2 send) is accepted: PKCS#1 v1.5 decryption is
 * a padding oracle (Bleichenbacher), so such a blob fails like any other. The caller zeroes the result.
 */
export function recoverPassword(key: ProxyRsaKey, blob: Buffer, scramble: Buffer): Buffer {
  if (blob.length !== key.blobLength) {
    throw new DbtlsError(
      'PROXY_AUTH_MALFORMED',
      `could not decrypt the client's password: the RSA blob has ${blob.length} bytes, ${key.blobLength} expected`,
      {
        hint: 'the client did not encrypt with the key the proxy sent; check its server public key option',
      },
    );
  }
  let plain: Buffer;
  try {
    plain = privateDecrypt(
      { key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      blob,
    );
  } catch (err) {
    throw new DbtlsError(
      'PROXY_AUTH_MALFORMED',
      "could not decrypt the client's password: the blob is not RSA-OAEP for the proxy's key",
      {
        hint: 'use a client that encrypts with OAEP padding (MySQL 8.0.5+ libraries, PyMySQL, mysql2); PKCS#1 v1.5 is refused',
        cause: err,
      },
    );
  }
  if (scramble.length > 0) for (let i = 0; i < plain.length; i++) plain[i]! ^= scramble[i % scramble.length]!;
  return plain;
}
