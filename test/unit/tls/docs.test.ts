/**
 * docs/client.md shows the ssl-mode model; DESIGN.md says every part of dbtls, the docs included, reads the
 * one table in code. These tests render the tables from src/tls/ssl-mode.ts and find each row in the page.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  MATERIAL_NAMES,
  type Material,
  type MutualTls,
  requiredMaterial,
  SSL_MODE_NAMES,
  SSL_MODES,
  type SslMode,
} from '../../../src/tls/ssl-mode.js';
import { PROJECT_ROOT } from '../../harness/cli.js';

const page = fs.readFileSync(path.join(PROJECT_ROOT, 'docs/client.md'), 'utf8');
const lines = new Set(page.split('\n'));

const ENCRYPTS = { no: 'no', 'if-offered': 'if offered', yes: 'yes' } as const;

function yesNo(mode: SslMode, value: boolean): string {
  return SSL_MODES[mode].encrypts === 'no' ? '–' : value ? 'yes' : 'no';
}

describe('docs/client.md shows the tables of src/tls/ssl-mode.ts', () => {
  for (const mode of SSL_MODE_NAMES) {
    it(`mode ${mode}`, () => {
      const s = SSL_MODES[mode];
      const row = `| \`${mode}\` | ${ENCRYPTS[s.encrypts]} | ${yesNo(mode, s.verifiesChain)} | ${yesNo(mode, s.verifiesHostname)} | ${s.aliases.map((a) => `\`${a}\``).join(', ')} |`;
      assert.ok(lines.has(row), `missing row: ${row}`);
    });
  }

  it('what each combination needs', () => {
    const columns: [SslMode, MutualTls][] = [
      ['disable', 'disable'],
      ['trust', 'disable'],
      ['verify-ca', 'disable'],
      ['verify-ca', 'enable'],
      ['verify-full', 'disable'],
      ['verify-full', 'enable'],
    ];
    for (const material of Object.keys(MATERIAL_NAMES) as Material[]) {
      const cells = columns.map(([mode, mtls]) =>
        requiredMaterial(mode, mtls).includes(material) ? 'needed' : '–',
      );
      const row = `| ${MATERIAL_NAMES[material]} | ${cells.join(' | ')} |`;
      assert.ok(lines.has(row), `missing row: ${row}`);
    }
  });
});
