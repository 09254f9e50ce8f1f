/**
 * The closed vocabularies are owned once (issue 11): what `--help` and shell completion offer for an option
 * with a closed set of values is exactly what the owner accepts there, so a value added to (or dropped
 * from) an owner shows up everywhere at once. For every such option of every command, read what the help
 * text and the bash and fish scripts offer, then check each offered value against the owner's parser and
 * each value the owner accepts against the offer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bashScript } from '../../../src/cli/completion.js';
import { commandHelp, optionLabel } from '../../../src/cli/help.js';
import { allCommands } from '../../../src/cli/main.js';
import { CERT_MANAGER_KEYS } from '../../../src/deploy/cert-manager.js';
import { k8sSecrets } from '../../../src/deploy/k8s.js';
import { DbtlsError } from '../../../src/errors.js';
import { KEYSTORE_FORMATS, parseKeystoreFormat } from '../../../src/keystore/format.js';
import { KEY_ALGORITHMS, parseKeyAlgorithm } from '../../../src/pki/keys.js';
import { parseAdminSslMode } from '../../../src/tls/settings.js';
import {
  checkProxyMode,
  MUTUAL_TLS_SETTINGS,
  parseMutualTls,
  parseSslMode,
  SSL_MODE_NAMES,
} from '../../../src/tls/ssl-mode.js';
import { parseTlsMinVersion, TLS_VERSIONS } from '../../../src/tls/versions.js';

/** The owner's values, and what the owner makes of a text as this command uses it: a value, or a refusal. */
interface Owner {
  readonly values: readonly string[];
  /** The value meant; undefined or a DbtlsError when this command refuses the text. */
  read(text: string): string | undefined;
}

/** The admin session's ssl-mode: every command that opens one (ADMIN_OPTIONS, secure, require's check). */
const ADMIN_MODE: Owner = { values: SSL_MODE_NAMES, read: parseAdminSslMode };

/** Which owner reads an option, by option name, and where a command narrows it, by command too. */
function ownerOf(command: string, option: string): Owner | undefined {
  switch (option) {
    case 'key':
      if (command === 'k8s cert-manager')
        return {
          values: KEY_ALGORITHMS,
          read: (t) => CERT_MANAGER_KEYS.find((k) => k === parseKeyAlgorithm(t)),
        };
      return { values: KEY_ALGORITHMS, read: parseKeyAlgorithm };
    case 'ssl-mode':
    case 'verify-ssl-mode':
      if (command === 'proxy' || command === 'k8s proxy-sidecar') {
        return {
          values: SSL_MODE_NAMES,
          read: (t) => {
            const mode = parseSslMode(t);
            checkProxyMode(mode);
            return mode;
          },
        };
      }
      if (command === 'k8s secrets') {
        // The library refuses a mode that falls back to plaintext before it looks at the material.
        return {
          values: SSL_MODE_NAMES,
          read: (t) => {
            const mode = parseSslMode(t);
            try {
              k8sSecrets({ mode, mutualTls: 'disable' });
            } catch (err) {
              if (!(err instanceof DbtlsError) || err.code === 'SSL_MODE_INVALID') throw err;
            }
            return mode;
          },
        };
      }
      if (['connect', 'inspect', 'snippet'].includes(command))
        return { values: SSL_MODE_NAMES, read: parseSslMode };
      return ADMIN_MODE;
    case 'mutual-tls':
      return { values: MUTUAL_TLS_SETTINGS, read: parseMutualTls };
    case 'tls-min':
      return { values: TLS_VERSIONS, read: parseTlsMinVersion };
    case 'format':
    case 'keystore-type':
      return { values: KEYSTORE_FORMATS, read: (t) => parseKeystoreFormat(t) };
    default:
      return undefined;
  }
}

function accepted(owner: Owner, text: string): string | undefined {
  try {
    return owner.read(text);
  } catch (err) {
    if (err instanceof DbtlsError) return undefined;
    throw err;
  }
}

/** The values the help text offers for --option: the placeholder `a|b`, or "one of a, b, c". */
function offeredByHelp(help: string, label: string): string[] | undefined {
  const lines = help.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`  ${label} `) || l === `  ${label}`);
  if (at === -1) return undefined;
  // A label too long for the column stands alone, and its text follows on the next line.
  const text = lines[at] === `  ${label}` ? lines[at + 1]! : lines[at]!;
  const oneOf = /one of ([^;]+)/.exec(text);
  if (oneOf) return oneOf[1]!.trim().split(', ');
  const placeholder = / ([^ ]+\|[^ ]+)$/.exec(label);
  return placeholder ? placeholder[1]!.split('|') : undefined;
}

/** The words bash completes after `dbtls COMMAND --option`. */
function offeredByBash(script: string, command: string, option: string): string[] | undefined {
  const key = `${command} --${option}`;
  const line = script
    .split('\n')
    .find((l) => l.trim().startsWith(`'${key}')`) || l.trim().startsWith(`${key})`));
  const words = line && /words=('([^']*)'|(\S+)) ;;/.exec(line);
  return words ? (words[2] ?? words[3])!.split(' ') : undefined;
}

describe('closed vocabularies in help and shell completion', async () => {
  const commands = await allCommands();
  const bash = bashScript(commands);
  const checked: string[] = [];

  for (const command of commands) {
    const name = command.name.join(' ');
    const help = commandHelp(command).join('\n');
    for (const [option, def] of Object.entries(command.options ?? {})) {
      const owner = ownerOf(name, option);
      // `--key` names a file where it has no choices (connect, export); the algorithm where it has.
      if (!owner || def.type !== 'string' || (option === 'key' && !def.choices)) continue;
      checked.push(`${name} --${option}`);
      it(`dbtls ${name} --${option} offers what its owner accepts, and all of it`, () => {
        const byHelp = offeredByHelp(help, optionLabel(option, def));
        const byBash = offeredByBash(bash, name, option);
        assert.ok(byHelp, 'the help lists no values');
        assert.deepEqual(byBash, byHelp, 'bash completion and help offer different values');
        const refused = byHelp.filter((v) => accepted(owner, v) === undefined);
        assert.deepEqual(refused, [], 'offered but refused by the owner');
        const meant = new Set(byHelp.map((v) => accepted(owner, v)));
        assert.equal(meant.size, byHelp.length, 'two offered values mean the same');
        const missing = owner.values.filter((v) => {
          const value = accepted(owner, v);
          return value !== undefined && !meant.has(value);
        });
        assert.deepEqual(missing, [], 'accepted by the owner but not offered');
      });
    }
  }

  it('covers every vocabulary, in the commands that carry it', () => {
    for (const want of [
      'ca init --key',
      'k8s cert-manager --key',
      'connect --ssl-mode',
      'server status --ssl-mode',
      'require --verify-ssl-mode',
      'k8s secrets --ssl-mode',
      'proxy --ssl-mode',
      'k8s proxy-sidecar --ssl-mode',
      'connect --mutual-tls',
      'connect --tls-min',
      'proxy --tls-min',
      'export truststore --format',
      'snippet --keystore-type',
    ])
      assert.ok(checked.includes(want), want);
  });

  it('the readers see a bad offer: preferred for an admin session, rsa-3072 for cert-manager, 1.1 as a floor', () => {
    assert.equal(accepted(ADMIN_MODE, 'preferred'), undefined);
    assert.equal(accepted(ADMIN_MODE, 'verify-ca'), 'verify-ca');
    assert.equal(accepted(ownerOf('k8s cert-manager', 'key')!, 'rsa-3072'), undefined);
    assert.equal(accepted(ownerOf('proxy', 'tls-min')!, 'TLSv1.1'), undefined);
    assert.equal(accepted(ownerOf('proxy', 'ssl-mode')!, 'disable'), undefined);
    assert.equal(accepted(ownerOf('k8s secrets', 'ssl-mode')!, 'preferred'), undefined);
    assert.equal(accepted(ownerOf('k8s secrets', 'ssl-mode')!, 'verify-full'), 'verify-full');
  });
});
