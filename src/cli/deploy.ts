/**
 * Deployment artifacts: `dbtls k8s secrets|cert-manager|kubedb`, plus `dbtls snippet` (./snippet.ts).
 * Each command parses, calls src/deploy, and hands the text to the renderer; manifests go to stdout or
 * to --out (0600: they may hold keys and passwords).
 */

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
import { toYaml, yamlStream } from '../deploy/yaml.js';
import { DbtlsError } from '../errors.js';
import { buildBundle } from '../keystore/bundle.js';
import { parseMutualTls, parseSslMode, requiredMaterial } from '../tls/ssl-mode.js';
import { readUserFile, writeFileAtomic } from '../util/files.js';
import { flag, int, parse, readSecret, required, str, strs } from './args.js';
import { certificatesFrom, emit, oneOf, optionalPassword, options } from './artifact-args.js';
import type { Command } from './command.js';

function optionalFile(file: string | undefined, what: string): Buffer | undefined {
  return file === undefined ? undefined : readUserFile(file, what);
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
  'dbtls k8s secrets --ssl-mode M [--mutual-tls enable|disable] [--ca F] [--cert F --key F] [--keystore F] [--keystore-password-file F] [--key-password-file F] [--allow-empty-password] [--namespace NS] [--names PREFIX] [--out F] [--values-out F] [--json]';
const SECRETS_FILES = ['ca', 'cert', 'key', 'keystore', 'keystore-password-file', 'key-password-file'];

const secretsCommand: Command = {
  name: ['k8s', 'secrets'],
  usage: SECRETS_USAGE,
  summary: 'the ConfigMaps, Secrets and Helm values for an app connecting with an ssl-mode',
  async run(argv, ctx) {
    const p = parse(
      argv,
      options(
        ['ssl-mode', 'mutual-tls', 'namespace', 'names', 'out', 'values-out', ...SECRETS_FILES],
        [],
        ['json', 'allow-empty-password'],
      ),
      SECRETS_USAGE,
    );
    const mode = parseSslMode(required(p, 'ssl-mode', SECRETS_USAGE));
    const mutualTls = parseMutualTls(str(p, 'mutual-tls') ?? 'disable');
    // DBTLS_KEYSTORE_PASSWORD only counts when the mode needs a keystore (else it is just set in the shell).
    const needsStore = requiredMaterial(mode, mutualTls).includes('keystorePasswords');
    const source = { usage: SECRETS_USAGE, forWriting: true } as const;
    const result = k8sSecrets({
      mode,
      mutualTls,
      namespace: str(p, 'namespace'),
      namePrefix: str(p, 'names'),
      ca: optionalFile(str(p, 'ca'), 'CA certificate'),
      clientCert: optionalFile(str(p, 'cert'), 'client certificate'),
      clientKey: optionalFile(str(p, 'key'), 'client key'),
      keystore: optionalFile(str(p, 'keystore'), 'keystore'),
      keystorePassword: optionalPassword(p, ctx, {
        ...source,
        fileOption: 'keystore-password-file',
        fromEnv: needsStore,
      }),
      keyPassword: optionalPassword(p, ctx, {
        ...source,
        fileOption: 'key-password-file',
        fromEnv: false,
        what: 'key password',
      }),
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
    // Helm values files conventionally single-quote: `caConfigmap: 'null'`.
    const valuesYaml = toYaml(result.values, { quote: 'single' });
    const valuesOut = str(p, 'values-out');
    if (valuesOut !== undefined) writeFileAtomic(path.resolve(ctx.cwd, valuesOut), valuesYaml);
    const stream =
      yamlStream(result.objects) +
      (valuesOut === undefined
        ? `${commented(`values for the chart (ssl-mode ${mode}):\n${valuesYaml}`)}\n`
        : '');
    if (result.keystoreBuilt)
      ctx.render.warn('built the JKS keystore from --cert, --key and the CA file (alias "client")');
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

const CM_KEYS: readonly CertManagerKey[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-4096'];
const CM_USAGE =
  'dbtls k8s cert-manager --namespace NS --server-dns NAME... [--server-ip ADDR]... [--client-cn USER]... [--client-org ORG] [--ca-secret NAME] [--cluster-issuer] [--issuer-name NAME] [--key ec-p256|ec-p384|rsa-2048|rsa-4096] [--days N] [--keystore-password-file F] [--trust-bundle OLD_CA NEW_CA] [--ca-dir D] [--passphrase-file F] [--out F] [--json]';

const certManagerCommand: Command = {
  name: ['k8s', 'cert-manager'],
  usage: CM_USAGE,
  summary: 'cert-manager CA Secret, Issuer and Certificates (with keystores) from the dbtls CA',
  async run(argv, ctx) {
    const p = parse(
      argv,
      options(
        [
          'namespace',
          'client-org',
          'ca-secret',
          'issuer-name',
          'key',
          'days',
          'keystore-password-file',
          'ca-dir',
          'passphrase-file',
          'out',
        ],
        ['server-dns', 'server-ip', 'client-cn', 'trust-bundle'],
        ['cluster-issuer', 'json'],
      ),
      CM_USAGE,
    );
    const namespace = required(p, 'namespace', CM_USAGE);
    const caDir = resolveCaDir(str(p, 'ca-dir'), ctx.env, ctx.cwd);
    const passphrase = await readSecret(
      { file: str(p, 'passphrase-file'), envName: CA_PASSPHRASE_ENV, what: 'CA passphrase', prompt: true },
      ctx.env,
    );
    const ca = issuingCa(caDir, passphrase);
    const keyName = str(p, 'key');
    // `--trust-bundle OLD NEW` (the files after the flag) or `--trust-bundle OLD --trust-bundle NEW`.
    const bundleFiles = strs(p, 'trust-bundle');
    if (p.positionals.length > 0 && bundleFiles.length === 0) {
      throw new DbtlsError('USAGE', `could not run the command: unexpected ${p.positionals.join(' ')}`, {
        hint: `usage: ${CM_USAGE}`,
      });
    }
    // Through the bundle rules: CAs only, none expired, no broken link, duplicates removed.
    const trust = certificatesFrom([...bundleFiles, ...p.positionals], 'trust bundle CA');
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
      key: keyName === undefined ? undefined : oneOf(keyName, CM_KEYS, '--key', CM_USAGE),
      days: int(p, 'days', CM_USAGE),
      keystorePassword: optionalPassword(p, ctx, {
        fileOption: 'keystore-password-file',
        usage: CM_USAGE,
        forWriting: true,
      }),
      trustBundle: trust.length > 0 ? [buildBundle(trust).pem] : undefined,
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
const FLAVORS: readonly KubedbFlavor[] = ['mysql', 'mariadb'];
const OPS: readonly KubedbOp[] = ['rotate', 'change-issuer', 'remove'];

const kubedbCommand: Command = {
  name: ['k8s', 'kubedb'],
  usage: KUBEDB_USAGE,
  summary: 'a KubeDB MySQL/MariaDB with TLS from a cert-manager issuer, or a ReconfigureTLS ops request',
  async run(argv, ctx) {
    const p = parse(
      argv,
      options(
        ['name', 'namespace', 'flavor', 'version', 'issuer', 'storage', 'ops', 'new-issuer', 'out'],
        ['server-dns'],
        ['cluster-issuer', 'require-ssl', 'json'],
      ),
      KUBEDB_USAGE,
    );
    const common = {
      name: required(p, 'name', KUBEDB_USAGE),
      namespace: str(p, 'namespace'),
      flavor:
        str(p, 'flavor') === undefined
          ? undefined
          : oneOf(str(p, 'flavor')!, FLAVORS, '--flavor', KUBEDB_USAGE),
    };
    const kind: IssuerKind = flag(p, 'cluster-issuer') ? 'ClusterIssuer' : 'Issuer';
    const opText = str(p, 'ops');
    let object: ReturnType<typeof kubedbDatabase>;
    if (opText !== undefined) {
      const op = oneOf(opText, OPS, '--ops', KUBEDB_USAGE);
      object = kubedbOpsRequest({ ...common, op, newIssuer: str(p, 'new-issuer'), newIssuerKind: kind });
      ctx.render.warn(`KubeDB restarts the database pods to apply the ${op} request`);
    } else {
      object = kubedbDatabase({
        ...common,
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

export const commands: Command[] = [secretsCommand, certManagerCommand, kubedbCommand];
