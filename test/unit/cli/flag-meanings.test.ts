/**
 * One meaning per flag name across commands (issue 14 item 4): `--ca` must not be the CA that verifies a
 * server in one command and a CA to install in another. Every flag that two or more commands take has one
 * meaning here, and each command's description of it must say that meaning. A renamed old spelling
 * (OptionDef.renamedTo) is exempt for its one release; the conflicts still open are listed with their
 * reason, and the test fails when one of them is resolved without being taken off the list.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from '../../../src/cli/args.js';
import { allCommands, findCommand } from '../../../src/cli/main.js';
import { DbtlsError } from '../../../src/errors.js';
import { capture } from './capture.js';

/** The one meaning of each shared flag name, as a pattern its description must match. */
const MEANINGS: Readonly<Record<string, RegExp>> = {
  ca: /CA.*(verifies|signed the server|to trust)/,
  cert: /client certificate|whose key goes in the keystore/,
  key: /private key|the key of --cert/,
  'password-file': /(admin account's|user's) password/,
  user: /logs? in as/,
  socket: /unix socket/,
  'ssl-mode': /ssl-mode|verifie/,
  'mutual-tls': /client certificate/,
  servername: /name .*certificate|check the certificate against/,
  'tls-min': /lowest TLS version/,
  'defaults-file': /my\.cnf/,
  'connect-timeout': /connecting|deadline/,
  'max-connections': /connections/,
  dir: /certificate files|the directory the CRL goes to/,
  out: /write|directory for|go(es)? |here/,
  days: /days/,
  cn: /common name|host name clients dial|database user the certificate is for/,
  dns: /DNS name/,
  ip: /IP address/,
  'server-dns': /DNS name/,
  json: /JSON/,
  'passphrase-file': /passphrase|reads no key/,
  'no-passphrase': /unencrypted/,
  'expiring-within': /expires? within/,
  'fail-on': /at least this severe/,
  crl: /CRL/,
  cipher: /cipher/,
  listen: /connect:|serve .* on this address/,
  namespace: /namespace/,
  'cluster-issuer': /ClusterIssuer/,
  keystore: /keystore/,
  'keystore-password-file': /keystore/,
  'key-password-file': /key password/,
  'verify-password-file': /password.*login|checking login/,
  profile: /the profile to read/,
  'ca-dir': /CA directory/,
  'dry-run': /change|would/,
  'admin-ca': /admin session/,
  'admin-cert': /admin session's client certificate/,
  'admin-key': /--admin-cert/,
  chain: /chain|intermediate/,
  alias: /alias/,
  'key-passphrase-file': /passphrase/,
  'allow-empty-password': /empty .*password/,
  database: /database/,
  'config-file': /option file/,
  'server-config': /option file/,
  'restart-command': /restart/,
  force: /replace|overwrite/,
};

/** Flag and command pairs that still give a flag another meaning: to rename in a later release. */
const OPEN_CONFLICTS: Readonly<Record<string, { commands: readonly string[]; why: string }>> = {
  ca: {
    commands: ['rotate', 'proxysql'],
    why: "rotate's --ca is the CA-rollover switch (its hints are pinned by tests); proxysql's is ProxySQL's frontend CA",
  },
  cert: { commands: ['proxysql'], why: "ProxySQL's frontend certificate" },
  key: {
    commands: ['ca init', 'issue server', 'issue client', 'csr', 'k8s cert-manager'],
    why: 'a key algorithm (ec-p256…) where a new key is made',
  },
  'password-file': {
    commands: ['export p12', 'export jks', 'export truststore', 'keystore show'],
    why: "a keystore's password",
  },
  profile: {
    commands: ['sign', 'export p12', 'export truststore'],
    why: 'the certificate profile (sign) and the PKCS#12 encryption (export); the settings profile is DBTLS_PROFILE there',
  },
};

async function sharedFlags(): Promise<
  Map<string, { command: string; description: string; renamed: boolean }[]>
> {
  const byFlag = new Map<string, { command: string; description: string; renamed: boolean }[]>();
  for (const c of await allCommands()) {
    for (const [name, def] of Object.entries(c.options ?? {})) {
      const list = byFlag.get(name) ?? [];
      list.push({ command: c.name.join(' '), description: def.description ?? '', renamed: !!def.renamedTo });
      byFlag.set(name, list);
    }
  }
  return new Map([...byFlag].filter(([, uses]) => new Set(uses.map((u) => u.command)).size > 1));
}

describe('one meaning per flag name', () => {
  it('every flag two commands take has one meaning, and every command describes that meaning', async () => {
    const wrong: string[] = [];
    for (const [flag, uses] of await sharedFlags()) {
      const meaning = MEANINGS[flag];
      if (!meaning) {
        wrong.push(`--${flag} (${uses.map((u) => u.command).join(', ')}): add its one meaning to MEANINGS`);
        continue;
      }
      for (const u of uses) {
        if (u.renamed || OPEN_CONFLICTS[flag]?.commands.includes(u.command)) continue;
        if (!meaning.test(u.description))
          wrong.push(`${u.command} --${flag}: "${u.description}" is not ${meaning}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('each open conflict is still one (take it off the list once the flag is renamed)', async () => {
    const shared = await sharedFlags();
    for (const [flag, { commands }] of Object.entries(OPEN_CONFLICTS)) {
      for (const command of commands) {
        const use = shared.get(flag)?.find((u) => u.command === command);
        assert.ok(use, `${command} --${flag} no longer exists`);
        assert.ok(
          !use.renamed && !MEANINGS[flag]!.test(use.description),
          `${command} --${flag} now has the one meaning`,
        );
      }
    }
  });

  it('a renamed spelling names an option of the same command', async () => {
    for (const c of await allCommands()) {
      for (const [name, def] of Object.entries(c.options ?? {})) {
        if (def.renamedTo)
          assert.ok(c.options?.[def.renamedTo], `${c.name.join(' ')} --${name} -> --${def.renamedTo}`);
      }
    }
  });
});

describe('a renamed spelling works for one release, with a warning', () => {
  const parsed = async (argv: string[]) => {
    const found = await findCommand(argv);
    assert.ok(found?.command.options);
    const { out, render } = capture();
    const p = parse(found.rest, found.command.options, found.command.usage, { env: {}, render });
    return { p, stderr: out.stderr };
  };
  it('server enable --ca/--cert/--key are --server-ca/--server-cert/--server-key', async () => {
    const { p, stderr } = await parsed([
      'server',
      'enable',
      'db1',
      '--ca',
      'c.pem',
      '--cert',
      's.pem',
      '--key',
      'k.pem',
    ]);
    assert.deepEqual(
      [p.values['server-ca'], p.values['server-cert'], p.values['server-key'], p.values.ca, p.values.cert],
      ['c.pem', 's.pem', 'k.pem', undefined, undefined],
    );
    assert.equal(
      stderr,
      [
        'warning: --cert is now --server-cert in `dbtls server enable`; the old name goes in the next release',
        'warning: --key is now --server-key in `dbtls server enable`; the old name goes in the next release',
        'warning: --ca is now --server-ca in `dbtls server enable`; the old name goes in the next release',
        '',
      ].join('\n'),
    );
  });
  it("secure --user 'app'@'%' is --account", async () => {
    const { p, stderr } = await parsed(['secure', 'db1', '--user', "'app'@'%'", '--user', 'b']);
    assert.deepEqual(p.values.account, ["'app'@'%'", 'b']);
    assert.match(stderr, /^warning: --user is now --account in `dbtls secure`/);
  });
  it('both spellings at once is a USAGE error naming the new one', async () => {
    await assert.rejects(
      parsed(['secure', 'db1', '--user', 'a', '--account', 'b']),
      (e: unknown) =>
        e instanceof DbtlsError && e.code === 'USAGE' && /write --account only/.test(e.hint ?? ''),
    );
  });
});
