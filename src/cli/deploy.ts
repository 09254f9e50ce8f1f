/**
 * Deployment artifacts: `dbtls k8s secrets|cert-manager|kubedb` and `dbtls snippet`. Each command parses,
 * calls src/deploy, and hands the text to the renderer; manifests go to stdout or to --out (0600: they
 * may hold keys and passwords).
 */

import { X509Certificate } from 'node:crypto';
import * as path from 'node:path';
import { CA_PASSPHRASE_ENV, openCa, resolveCaDir } from '../ca/store.js';
import { type CertManagerKey, certManagerManifests } from '../deploy/cert-manager.js';
import { k8sSecrets } from '../deploy/k8s.js';
import {
  type IssuerKind,
  type KubedbFlavor,
  type KubedbOp,
  kubedbDatabase,
  kubedbOpsRequest,
} from '../deploy/kubedb.js';
import { SNIPPET_CLIENTS, type SnippetClient, snippet } from '../deploy/snippets.js';
import { toYaml, yamlStream } from '../deploy/yaml.js';
import { causeText, DbtlsError } from '../errors.js';
import { parseTarget } from '../tls/settings.js';
import { parseMutualTls, parseSslMode } from '../tls/ssl-mode.js';
import { MODE_SECRET, readUserFile, writeFileAtomic } from '../util/files.js';
import { flag, int, parse, readSecret, readSecretFile, required, str, strs } from './args.js';
import type { Command, CommandContext } from './command.js';

function oneOf<T extends string>(value: string, allowed: readonly T[], what: string, usage: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new DbtlsError(
    'USAGE',
    `could not use ${what} ${JSON.stringify(value)}: expected one of ${allowed.join(', ')}`,
    {
      hint: `usage: ${usage}`,
    },
  );
}

function optionalFile(file: string | undefined, what: string): Buffer | undefined {
  return file === undefined ? undefined : readUserFile(file, what);
}

/** Writes to --out (0600, atomic) or prints; returns 0. */
function emit(text: string, out: string | undefined, ctx: CommandContext, what: string): number {
  if (out === undefined) {
    ctx.render.lines(text.replace(/\n$/, ''));
    return 0;
  }
  const file = path.resolve(ctx.cwd, out);
  writeFileAtomic(file, text, { mode: MODE_SECRET });
  ctx.render.lines(`Wrote ${what} to ${file} (mode 0600: it may hold keys or passwords).`);
  return 0;
}

/** Comments are ignored by kubectl, so the stream stays appliable with the values block after it. */
function commented(text: string): string {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => `# ${l}`)
    .join('\n');
}

const SECRETS_USAGE =
  'dbtls k8s secrets --ssl-mode M [--mutual-tls enable|disable] [--ca F] [--cert F --key F] [--keystore F] [--keystore-password-file F] [--key-password-file F] [--namespace NS] [--names PREFIX] [--out F] [--values-out F] [--json]';

const secretsCommand: Command = {
  name: ['k8s', 'secrets'],
  usage: SECRETS_USAGE,
  summary: 'ConfigMaps, Secrets and Helm values for an app connecting with an ssl-mode',
  async run(argv, ctx) {
    const p = parse(
      argv,
      {
        'ssl-mode': { type: 'string' },
        'mutual-tls': { type: 'string' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        keystore: { type: 'string' },
        'keystore-password-file': { type: 'string' },
        'key-password-file': { type: 'string' },
        namespace: { type: 'string' },
        names: { type: 'string' },
        out: { type: 'string' },
        'values-out': { type: 'string' },
        json: { type: 'boolean' },
      },
      SECRETS_USAGE,
    );
    const mode = parseSslMode(required(p, 'ssl-mode', SECRETS_USAGE));
    const mutualTls = parseMutualTls(str(p, 'mutual-tls') ?? 'disable');
    const pwFile = str(p, 'keystore-password-file');
    const keyPwFile = str(p, 'key-password-file');
    const result = k8sSecrets({
      mode,
      mutualTls,
      namespace: str(p, 'namespace'),
      namePrefix: str(p, 'names'),
      ca: optionalFile(str(p, 'ca'), 'CA certificate'),
      clientCert: optionalFile(str(p, 'cert'), 'client certificate'),
      clientKey: optionalFile(str(p, 'key'), 'client key'),
      keystore: optionalFile(str(p, 'keystore'), 'keystore'),
      keystorePassword: pwFile === undefined ? undefined : readSecretFile(pwFile, 'keystore password'),
      keyPassword: keyPwFile === undefined ? undefined : readSecretFile(keyPwFile, 'key password'),
    });
    for (const w of result.warnings) ctx.render.warn(w);
    if (flag(p, 'json')) {
      ctx.render.json({
        objects: result.objects,
        values: result.values,
        keystoreBuilt: result.keystoreBuilt,
      });
      return 0;
    }
    const valuesYaml = toYaml(result.values);
    const valuesOut = str(p, 'values-out');
    if (valuesOut !== undefined) writeFileAtomic(path.resolve(ctx.cwd, valuesOut), valuesYaml);
    const stream =
      yamlStream(result.objects) +
      (valuesOut === undefined
        ? `${commented(`values for the chart (ssl-mode ${mode}):\n${valuesYaml}`)}\n`
        : '');
    if (result.keystoreBuilt)
      ctx.render.warn('built the JKS keystore from --cert and --key (alias "client")');
    return emit(stream, str(p, 'out'), ctx, `${result.objects.length} objects`);
  },
};

/** The CA that signs leaves (src/ca/store.ts), its key decrypted: cert-manager reads no encrypted key. */
function issuingCa(caDir: string, passphrase: string | undefined): { certPem: string; keyPem: string } {
  const ca = openCa(caDir, passphrase);
  // With an intermediate, tls.crt carries the chain up to the root (cert-manager's CA issuer docs).
  const certPem = ca.intermediate ? `${ca.issuer.pem}${ca.caPem()}` : ca.issuer.pem;
  return { certPem, keyPem: ca.issuerKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

const CM_USAGE =
  'dbtls k8s cert-manager --namespace NS --server-dns NAME... [--server-ip ADDR]... [--client-cn USER]... [--client-org ORG] [--ca-secret NAME] [--cluster-issuer] [--issuer-name NAME] [--key ec-p256|ec-p384|rsa-2048|rsa-4096] [--days N] [--keystore-password-file F] [--trust-bundle OLD_CA NEW_CA] [--ca-dir D] [--passphrase-file F] [--out F] [--json]';

const certManagerCommand: Command = {
  name: ['k8s', 'cert-manager'],
  usage: CM_USAGE,
  summary: 'cert-manager CA Secret, Issuer and Certificates (with keystores) from the dbtls CA',
  async run(argv, ctx) {
    const p = parse(
      argv,
      {
        namespace: { type: 'string' },
        'server-dns': { type: 'string', multiple: true },
        'server-ip': { type: 'string', multiple: true },
        'client-cn': { type: 'string', multiple: true },
        'client-org': { type: 'string' },
        'ca-secret': { type: 'string' },
        'cluster-issuer': { type: 'boolean' },
        'issuer-name': { type: 'string' },
        key: { type: 'string' },
        days: { type: 'string' },
        'keystore-password-file': { type: 'string' },
        'trust-bundle': { type: 'string', multiple: true },
        'ca-dir': { type: 'string' },
        'passphrase-file': { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean' },
      },
      CM_USAGE,
    );
    const namespace = required(p, 'namespace', CM_USAGE);
    const caDir = resolveCaDir(str(p, 'ca-dir'), ctx.env, ctx.cwd);
    const passphrase = await readSecret(
      {
        file: str(p, 'passphrase-file'),
        envName: CA_PASSPHRASE_ENV,
        what: 'CA passphrase',
        prompt: true,
      },
      ctx.env,
    );
    const ca = issuingCa(caDir, passphrase);
    const keyName = str(p, 'key');
    const pwFile = str(p, 'keystore-password-file');
    // `--trust-bundle OLD NEW` (the files after the flag) or `--trust-bundle OLD --trust-bundle NEW`.
    const bundleFiles = strs(p, 'trust-bundle');
    if (p.positionals.length > 0 && bundleFiles.length === 0) {
      throw new DbtlsError('USAGE', `could not run the command: unexpected ${p.positionals.join(' ')}`, {
        hint: `usage: ${CM_USAGE}`,
      });
    }
    const trust = [...bundleFiles, ...p.positionals].map((f) => {
      const pem = readUserFile(f, 'trust bundle CA').toString('utf8');
      try {
        new X509Certificate(pem);
      } catch (err) {
        throw new DbtlsError('CERT_MALFORMED', `could not read the CA certificate ${f}: ${causeText(err)}`, {
          hint: 'give PEM CA certificates: --trust-bundle OLD_CA.pem --trust-bundle NEW_CA.pem',
          cause: err,
        });
      }
      return pem;
    });
    const result = certManagerManifests({
      namespace,
      serverDns: strs(p, 'server-dns'),
      serverIps: strs(p, 'server-ip'),
      clientCns: strs(p, 'client-cn'),
      clientOrg: str(p, 'client-org'),
      caCertPem: ca.certPem,
      caKeyPem: ca.keyPem,
      caSecretName: str(p, 'ca-secret'),
      clusterIssuer: flag(p, 'cluster-issuer'),
      issuerName: str(p, 'issuer-name'),
      key:
        keyName === undefined
          ? undefined
          : oneOf<CertManagerKey>(keyName, ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-4096'], '--key', CM_USAGE),
      days: int(p, 'days', CM_USAGE),
      keystorePassword: pwFile === undefined ? undefined : readSecretFile(pwFile, 'keystore password'),
      trustBundle: trust.length > 0 ? trust : undefined,
    });
    for (const w of result.warnings) ctx.render.warn(w);
    if (result.keystorePasswordGenerated) {
      ctx.render.warn('generated a random keystore password into the Secret dbtls-keystore-password');
    }
    if (flag(p, 'json')) {
      ctx.render.json({ objects: result.objects, clients: result.clients });
      return 0;
    }
    const notes = result.clients.map(
      (c) =>
        `# ${c.user}: ALTER USER '${c.user}'@'%' REQUIRE SUBJECT '${c.requireSubject}';  (Secret ${c.secretName})`,
    );
    const text = `${yamlStream(result.objects)}${notes.length > 0 ? `${notes.join('\n')}\n` : ''}`;
    return emit(text, str(p, 'out'), ctx, `${result.objects.length} objects`);
  },
};

const KUBEDB_USAGE =
  'dbtls k8s kubedb --name DB --issuer NAME [--namespace NS] [--flavor mysql|mariadb] [--version V] [--cluster-issuer] [--require-ssl] [--storage SIZE] [--server-dns NAME]... [--ops rotate|change-issuer|remove [--new-issuer NAME]] [--out F] [--json]';

const kubedbCommand: Command = {
  name: ['k8s', 'kubedb'],
  usage: KUBEDB_USAGE,
  summary: 'a KubeDB MySQL/MariaDB with TLS from a cert-manager issuer, or a ReconfigureTLS ops request',
  async run(argv, ctx) {
    const p = parse(
      argv,
      {
        name: { type: 'string' },
        namespace: { type: 'string' },
        flavor: { type: 'string' },
        version: { type: 'string' },
        issuer: { type: 'string' },
        'cluster-issuer': { type: 'boolean' },
        'require-ssl': { type: 'boolean' },
        storage: { type: 'string' },
        'server-dns': { type: 'string', multiple: true },
        ops: { type: 'string' },
        'new-issuer': { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean' },
      },
      KUBEDB_USAGE,
    );
    const name = required(p, 'name', KUBEDB_USAGE);
    const flavorText = str(p, 'flavor');
    const flavor =
      flavorText === undefined
        ? undefined
        : oneOf<KubedbFlavor>(flavorText, ['mysql', 'mariadb'], '--flavor', KUBEDB_USAGE);
    const kind: IssuerKind = flag(p, 'cluster-issuer') ? 'ClusterIssuer' : 'Issuer';
    const opText = str(p, 'ops');
    let object: ReturnType<typeof kubedbDatabase>;
    if (opText !== undefined) {
      const op = oneOf<KubedbOp>(opText, ['rotate', 'change-issuer', 'remove'], '--ops', KUBEDB_USAGE);
      object = kubedbOpsRequest({
        name,
        namespace: str(p, 'namespace'),
        flavor,
        op,
        newIssuer: str(p, 'new-issuer'),
        newIssuerKind: kind,
      });
      ctx.render.warn(`KubeDB restarts the database pods to apply the ${op} request`);
    } else {
      object = kubedbDatabase({
        name,
        namespace: str(p, 'namespace'),
        flavor,
        version: str(p, 'version'),
        issuer: required(p, 'issuer', KUBEDB_USAGE),
        issuerKind: kind,
        requireSsl: flag(p, 'require-ssl'),
        storage: str(p, 'storage'),
        serverDns: strs(p, 'server-dns'),
      });
      if (!flag(p, 'require-ssl')) {
        ctx.render.warn('without --require-ssl the database still accepts plaintext connections');
      }
    }
    if (flag(p, 'json')) {
      ctx.render.json({ objects: [object] });
      return 0;
    }
    return emit(yamlStream([object]), str(p, 'out'), ctx, `${object.kind} ${object.metadata.name}`);
  },
};

const SNIPPET_USAGE = `dbtls snippet --for ${SNIPPET_CLIENTS.join('|')} TARGET [--ssl-mode M] [--mutual-tls enable|disable] [--ca F] [--cert F --key F] [--keystore F --truststore F] [--keystore-type JKS|PKCS12] [--user U] [--database DB] [--json]`;

const snippetCommand: Command = {
  name: ['snippet'],
  usage: SNIPPET_USAGE,
  summary: "the exact command, config, URL or code giving an ssl-mode in one client's vocabulary",
  async run(argv, ctx) {
    const p = parse(
      argv,
      {
        for: { type: 'string' },
        'ssl-mode': { type: 'string' },
        'mutual-tls': { type: 'string' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        keystore: { type: 'string' },
        truststore: { type: 'string' },
        'keystore-type': { type: 'string' },
        user: { type: 'string' },
        database: { type: 'string' },
        json: { type: 'boolean' },
      },
      SNIPPET_USAGE,
    );
    const client = oneOf<SnippetClient>(
      required(p, 'for', SNIPPET_USAGE),
      SNIPPET_CLIENTS,
      '--for',
      SNIPPET_USAGE,
    );
    const target = p.positionals[0];
    if (target === undefined || p.positionals.length > 1) {
      throw new DbtlsError(
        'USAGE',
        'could not run the command: give exactly one TARGET (host[:port] or a mysql:// DSN)',
        {
          hint: `usage: ${SNIPPET_USAGE}`,
        },
      );
    }
    const ksType = str(p, 'keystore-type');
    // A DSN target (mysql://user@host:port/db?ssl-mode=..&ssl-ca=..) gives defaults; flags win. Only what the
    // DSN itself says is taken: no environment, no option file (the snippet is for another machine).
    const dsn = /^(mysql|mariadb):\/\//i.test(target) ? parseTarget(target, {}, {}) : undefined;
    const fromDsn = (key: string) => dsn?.sources?.[key] === 'dsn';
    const modeText = str(p, 'ssl-mode') ?? (dsn && fromDsn('mode') ? dsn.tls.mode : undefined);
    if (modeText === undefined) required(p, 'ssl-mode', SNIPPET_USAGE);
    const mutualText = str(p, 'mutual-tls') ?? (dsn && fromDsn('mutualTls') ? dsn.tls.mutualTls : undefined);
    const result = snippet({
      client,
      target: dsn ? `${dsn.host.includes(':') ? `[${dsn.host}]` : dsn.host}:${dsn.port}` : target,
      mode: parseSslMode(modeText!),
      mutualTls: parseMutualTls(mutualText ?? 'disable'),
      ca: absolute(str(p, 'ca') ?? dsn?.tls.ca, ctx),
      cert: absolute(str(p, 'cert') ?? dsn?.tls.cert, ctx),
      key: absolute(str(p, 'key') ?? dsn?.tls.key, ctx),
      keystore: absolute(str(p, 'keystore'), ctx),
      truststore: absolute(str(p, 'truststore'), ctx),
      keystoreType:
        ksType === undefined
          ? undefined
          : oneOf(ksType.toUpperCase(), ['JKS', 'PKCS12'] as const, '--keystore-type', SNIPPET_USAGE),
      user: str(p, 'user') ?? dsn?.user,
      database: str(p, 'database') ?? dsn?.database,
    });
    for (const w of result.warnings) ctx.render.warn(w);
    if (flag(p, 'json')) {
      ctx.render.json(result);
      return 0;
    }
    ctx.render.lines(result.text.replace(/\n$/, ''));
    return 0;
  },
};

/** Snippets name files by absolute path: they run from wherever the user's app runs. */
function absolute(file: string | undefined, ctx: CommandContext): string | undefined {
  return file === undefined ? undefined : path.resolve(ctx.cwd, file);
}

export const commands: Command[] = [secretsCommand, certManagerCommand, kubedbCommand, snippetCommand];
