import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DbtlsError } from '../../../src/errors.js';
import {
  checkCombination,
  type Material,
  type MutualTls,
  parseMutualTls,
  parseSslMode,
  requiredMaterial,
  requiresTls,
  SSL_MODES,
  type SslMode,
} from '../../../src/tls/ssl-mode.js';

// DESIGN.md table 1, row by row.
const MODES: [SslMode, ModeRow][] = [
  ['disable', { encrypts: 'no', chain: false, host: false, aliases: ['DISABLED', 'false'] }],
  ['preferred', { encrypts: 'if-offered', chain: false, host: false, aliases: ['PREFERRED'] }],
  ['trust', { encrypts: 'yes', chain: false, host: false, aliases: ['REQUIRED', 'require'] }],
  ['verify-ca', { encrypts: 'yes', chain: true, host: false, aliases: ['VERIFY_CA'] }],
  ['verify-full', { encrypts: 'yes', chain: true, host: true, aliases: ['VERIFY_IDENTITY'] }],
];
interface ModeRow {
  encrypts: string;
  chain: boolean;
  host: boolean;
  aliases: string[];
}

// DESIGN.md table 2: mode x mutual TLS -> what is needed (undefined = invalid combination).
const CA = 'caCertificate';
const ALL: Material[] = [
  'caCertificate',
  'clientCertificate',
  'clientKey',
  'clientKeystore',
  'keystorePasswords',
];
const NEEDS: [SslMode, MutualTls, Material[] | undefined][] = [
  ['disable', 'disable', []],
  ['disable', 'enable', undefined],
  ['preferred', 'disable', []],
  ['preferred', 'enable', undefined],
  ['trust', 'disable', []],
  ['trust', 'enable', undefined],
  ['verify-ca', 'disable', [CA]],
  ['verify-ca', 'enable', ALL],
  ['verify-full', 'disable', [CA]],
  ['verify-full', 'enable', ALL],
];

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DbtlsError);
    return err.code;
  }
  return undefined;
}

describe('ssl-mode table 1', () => {
  for (const [mode, row] of MODES) {
    it(`${mode}: encrypts ${row.encrypts}, chain ${row.chain}, hostname ${row.host}`, () => {
      const s = SSL_MODES[mode];
      assert.equal(s.mode, mode);
      assert.equal(s.encrypts, row.encrypts);
      assert.equal(s.verifiesChain, row.chain);
      assert.equal(s.verifiesHostname, row.host);
      assert.deepEqual([...s.aliases], row.aliases);
      assert.equal(s.secure, row.chain);
      assert.equal(requiresTls(mode), row.encrypts === 'yes');
      assert.equal(parseSslMode(mode), mode);
      assert.equal(parseSslMode(mode.toUpperCase()), mode);
      assert.equal(parseSslMode(mode.replace('-', '_').toUpperCase()), mode);
      for (const alias of row.aliases) {
        assert.equal(parseSslMode(alias), mode);
        assert.equal(parseSslMode(alias.toLowerCase()), mode);
        assert.equal(parseSslMode(` ${alias.toUpperCase()} `), mode);
      }
    });
  }

  it('is frozen', () => {
    assert.ok(Object.isFrozen(SSL_MODES));
    assert.ok(Object.isFrozen(SSL_MODES.trust));
    assert.ok(Object.isFrozen(SSL_MODES.trust.aliases));
  });

  for (const bad of ['', 'verify', 'required-ca', 'true', 'ssl']) {
    it(`rejects ${JSON.stringify(bad)} with SSL_MODE_UNKNOWN`, () => {
      assert.equal(
        code(() => parseSslMode(bad)),
        'SSL_MODE_UNKNOWN',
      );
    });
  }
});

describe('ssl-mode table 2', () => {
  for (const [mode, mtls, needs] of NEEDS) {
    it(`${mode} + mutual TLS ${mtls} -> ${needs ? needs.join(', ') || 'nothing' : 'SSL_MODE_INVALID'}`, () => {
      if (needs === undefined) {
        assert.equal(
          code(() => requiredMaterial(mode, mtls)),
          'SSL_MODE_INVALID',
        );
        try {
          checkCombination(mode, mtls);
          assert.fail('expected SSL_MODE_INVALID');
        } catch (err) {
          assert.ok(err instanceof DbtlsError);
          assert.match(err.message, /^could not use ssl-mode \S+ with mutual TLS: /);
          assert.match(err.hint ?? '', /verify-full/);
        }
      } else {
        assert.deepEqual([...requiredMaterial(mode, mtls)], needs);
        checkCombination(mode, mtls);
      }
    });
  }

  it('parses mutual TLS spellings', () => {
    assert.equal(parseMutualTls('enable'), 'enable');
    assert.equal(parseMutualTls('TRUE'), 'enable');
    assert.equal(parseMutualTls('disabled'), 'disable');
    assert.equal(
      code(() => parseMutualTls('maybe')),
      'MUTUAL_TLS_UNKNOWN',
    );
  });
});
