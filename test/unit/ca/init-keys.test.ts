import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initCa } from '../../../src/ca/init.js';
import { DbtlsError } from '../../../src/errors.js';
import { generateKeyPairAsync, keyAlgorithmOf } from '../../../src/pki/keys.js';

let dir: string;

describe('initCa with keys made beforehand', () => {
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-init-keys-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('certifies exactly the keys given, root and intermediate', async () => {
    const [root, inter] = await Promise.all([
      generateKeyPairAsync('rsa-2048'),
      generateKeyPairAsync('rsa-2048'),
    ]);
    assert.equal(keyAlgorithmOf(root.privateKey), 'rsa-2048');
    const ca = initCa(path.join(dir, 'ok'), {
      passphrase: undefined,
      key: 'rsa-2048',
      intermediate: true,
      keys: { root: root.privateKey, intermediate: inter.privateKey },
    });
    const spki = (k: { export(o: object): Buffer | string }) => k.export({ format: 'der', type: 'spki' });
    assert.deepEqual(spki(createPublicKey(ca.root.pem)), spki(root.publicKey));
    assert.deepEqual(spki(createPublicKey(ca.intermediate!.pem)), spki(inter.publicKey));
  });

  it('refuses a key of another algorithm than `key`, writing nothing', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const target = path.join(dir, 'mismatch');
    assert.throws(
      () => initCa(target, { passphrase: undefined, key: 'rsa-2048', keys: { root: ec.privateKey } }),
      (err: unknown) => err instanceof DbtlsError && err.code === 'KEY_ALGORITHM_MISMATCH',
    );
    assert.equal(fs.existsSync(path.join(target, 'ca.json')), false);
  });
});
