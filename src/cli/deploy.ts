/**
 * Deployment artifacts: `dbtls k8s secrets|cert-manager|kubedb`, plus `dbtls snippet` (./snippet.ts).
 * Each command parses, calls src/deploy, and hands the text to the renderer; manifests go to stdout or
 * to --out (0600: they may hold keys and passwords).
 */

import * as path from 'node:path';
import { CA_PASSPHRASE_ENV, openCa, resolveCaDir } from '../ca/store.js';
import { CERT_MANAGER_KEYS, certManagerManifests } from '../deploy/cert-manager.js';
import { k8sSecrets } from '../deploy/k8s.js';
import {
  checkIssuer,
  type IssuerKind,
  issuersIn,
  type KubedbFlavor,
  type KubedbOp,
  kubedbDatabase,
  kubedbOpsRequest,
} from '../deploy/kubedb.js';
import { parseYamlStream, toYaml, yamlStream } from '../deploy/yaml.js';
import { causeText, DbtlsError } from '../errors.js';
import { buildBundle } from '../keystore/bundle.js';
import {
  parseMutualTls,
  parseSslMode,
  requiredMaterial,
  SSL_MODES_WITHOUT_FALLBACK,
} from '../tls/ssl-mode.js';
import { readUserFile, writeFileAtomic } from '../util/files.js';
import { flag, int, noPositionals, type OptionSpec, parse, readSecret, required, str, strs } from './args.js';
import { certificatesFrom, emit, KEYSTORE_PASSWORD_ENV, oneOf, optionalPassword } from './artifact-args.js';
import { CA_OPTIONS } from './ca-common.js';
import type { Command, OptionDef } from './command.js';
import { COMMON, KEY_FILE, like, pick } from './options.js';
import { checkOutputFile, isStdout, refuseJsonOnStdout } from './out.js';

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

const NAMESPACE: OptionDef = {
  type: 'string',
  value: 'NS',
  description: 'the Kubernetes namespace of the objects (default: none written, kubectl decides)',
};
const MANIFEST_OUT = like('out', {
  description: 'the manifest file to write (0600: it may hold keys); - for stdout',
  default: 'stdout',
});

const SECRETS_OPTIONS: OptionSpec = {
  // The values k8sSecrets accepts: preferred would fall back to plaintext.
  'ssl-mode': like('ssl-mode', { choices: SSL_MODES_WITHOUT_FALLBACK }),
  ...pick('mutual-tls'),
  ca: like('ca', { description: 'the CA certificate (PEM) the app verifies the server with' }),
  cert: like('cert', { description: 'the client certificate (PEM), for mutual TLS' }),
  key: KEY_FILE,
  keystore: {
    type: 'string',
    value: 'FILE',
    description: 'a client keystore (PKCS#12/JKS) for Java apps, for mutual TLS',
  },
  'keystore-password-file': {
    type: 'string',
    description: 'a file holding the keystore password, put in its own Secret',
    env: [KEYSTORE_PASSWORD_ENV],
  },
  'key-password-file': {
    type: 'string',
    description: 'a file holding a separate key password of --keystore',
  },
  'allow-empty-password': COMMON['allow-empty-password'],
  namespace: NAMESPACE,
  names: { type: 'string', value: 'PREFIX', description: 'the prefix of the object names', default: 'db' },
  out: MANIFEST_OUT,
  'values-out': {
    type: 'string',
    value: 'FILE',
    description: 'also write the Helm values (sslMode, mutualTls) here',
  },
  json: COMMON.json,
};

const secretsCommand: Command = {
  name: ['k8s', 'secrets'],
  usage: SECRETS_USAGE,
  summary: 'the ConfigMaps, Secrets and Helm values for an app connecting with an ssl-mode',
  options: SECRETS_OPTIONS,
  examples: [
    'dbtls k8s secrets --ssl-mode verify-full --ca db1/ca.pem --namespace shop --out db-tls.yaml',
    'dbtls k8s secrets --ssl-mode verify-full --mutual-tls enable --ca ca.pem --cert app_user/cert.pem --key app_user/key.pem --out db-tls.yaml',
  ],
  async run(argv, ctx) {
    const p = noPositionals(parse(argv, SECRETS_OPTIONS, SECRETS_USAGE, ctx), SECRETS_USAGE);
    const out = str(p, 'out');
    const valuesOut = str(p, 'values-out');
    refuseJsonOnStdout(out, flag(p, 'json'), SECRETS_USAGE);
    refuseJsonOnStdout(valuesOut, flag(p, 'json'), SECRETS_USAGE);
    if (isStdout(valuesOut) && (out === undefined || isStdout(out))) {
      throw new DbtlsError('USAGE', 'could not write the manifest and the values both to stdout', {
        hint: `write the manifest with --out FILE, or leave --values-out out to get the values as a comment; usage: ${SECRETS_USAGE}`,
      });
    }
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
      ...(str(p, 'key') === undefined ? {} : { clientKeyFile: str(p, 'key') }),
      keystore: optionalFile(str(p, 'keystore'), 'keystore'),
      ...(str(p, 'keystore') === undefined ? {} : { keystoreFile: str(p, 'keystore') }),
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
    if (result.keystoreBuilt)
      ctx.render.warn('built the JKS keystore from --cert, --key and the CA file (alias "client")');
    // Helm values files conventionally single-quote: `caConfigmap: 'null'`.
    const valuesYaml = toYaml(result.values, { quote: 'single' });
    const valuesFile =
      valuesOut === undefined || isStdout(valuesOut) ? undefined : path.resolve(ctx.cwd, valuesOut);
    if (valuesFile !== undefined) {
      const outFile = out === undefined || isStdout(out) ? undefined : path.resolve(ctx.cwd, out);
      if (outFile === valuesFile) {
        throw new DbtlsError(
          'OUTPUT_CONFLICT',
          `could not write ${valuesFile}: --out and --values-out name the same file`,
          {
            hint: 'give the Helm values a file of their own',
          },
        );
      }
      // Both checked before either is written: a refused second file leaves no first one behind.
      checkOutputFile(valuesFile, 'yaml');
      if (outFile !== undefined) checkOutputFile(outFile, 'yaml');
      writeFileAtomic(valuesFile, valuesYaml);
    }
    if (isStdout(valuesOut)) ctx.render.lines(valuesYaml.replace(/\n$/, ''));
    const summary = {
      objects: result.objects,
      values: result.values,
      keystoreBuilt: result.keystoreBuilt,
      ...(valuesFile === undefined ? {} : { valuesFile }),
    };
    if (result.objects.length === 0) {
      // `kubectl apply -f` refuses a file without objects ("no objects passed to apply"): none is written.
      const file = out === undefined || isStdout(out) ? '' : `: ${out} was not written`;
      ctx.render.warn(
        `ssl-mode ${mode} needs no ConfigMap or Secret${file}; the Helm values are all the app needs`,
      );
      if (flag(p, 'json')) ctx.render.json(summary);
      else if (valuesOut === undefined) ctx.render.lines(valuesYaml.replace(/\n$/, ''));
      return 0;
    }
    const stream =
      yamlStream(result.objects) +
      (valuesOut === undefined
        ? `${commented(`values for the chart (ssl-mode ${mode}):\n${valuesYaml}`)}\n`
        : '');
    const what = `${result.objects.length} objects`;
    return emit(stream, out, ctx, what, flag(p, 'json') ? summary : undefined);
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

const CM_OPTIONS: OptionSpec = {
  namespace: { ...NAMESPACE, description: 'the namespace of the Issuer, Certificates and Secrets' },
  'server-dns': {
    type: 'string',
    value: 'NAME',
    multiple: true,
    description: 'a DNS name of the database Service (the first is the CN)',
  },
  'server-ip': like('ip', { description: 'an IP address of the database Service' }),
  'client-cn': {
    type: 'string',
    value: 'USER',
    multiple: true,
    description: 'a database user to issue a client Certificate (with keystores) for',
  },
  'client-org': { type: 'string', value: 'ORG', description: 'the O of the client certificate subjects' },
  'ca-secret': {
    type: 'string',
    value: 'NAME',
    description: 'the name of the CA Secret',
    default: 'dbtls-ca',
  },
  'cluster-issuer': { type: 'boolean', description: 'make a ClusterIssuer instead of a namespaced Issuer' },
  'issuer-name': {
    type: 'string',
    value: 'NAME',
    description: 'the name of the Issuer',
    default: 'dbtls-ca-issuer',
  },
  key: like('key', {
    description: 'the key algorithm cert-manager generates',
    choices: CERT_MANAGER_KEYS,
  }),
  days: like('days', { description: 'the validity of the Certificates in days' }),
  'keystore-password-file': {
    type: 'string',
    description: 'a file holding the password of the JKS/PKCS#12 keystores cert-manager writes',
    env: [KEYSTORE_PASSWORD_ENV],
  },
  'trust-bundle': {
    type: 'string',
    value: 'FILE',
    multiple: true,
    description: 'a CA certificate for the trust bundle during a CA rollover (give the old and the new)',
  },
  ...CA_OPTIONS,
  out: MANIFEST_OUT,
  json: COMMON.json,
};

const certManagerCommand: Command = {
  name: ['k8s', 'cert-manager'],
  usage: CM_USAGE,
  summary: 'cert-manager CA Secret, Issuer and Certificates (with keystores) from the dbtls CA',
  options: CM_OPTIONS,
  examples: [
    'dbtls k8s cert-manager --namespace shop --server-dns mysql.shop.svc --client-cn app_user --out cert-manager.yaml',
    'dbtls k8s cert-manager --namespace shop --server-dns mysql.shop.svc --cluster-issuer --out cm.yaml',
  ],
  async run(argv, ctx) {
    const p = parse(argv, CM_OPTIONS, CM_USAGE, ctx);
    refuseJsonOnStdout(str(p, 'out'), flag(p, 'json'), CM_USAGE);
    const namespace = required(p, 'namespace', CM_USAGE);
    // `--trust-bundle OLD NEW` (the files after the flag) or `--trust-bundle OLD --trust-bundle NEW`.
    const bundleFiles = strs(p, 'trust-bundle');
    if (p.positionals.length > 0 && bundleFiles.length === 0) {
      throw new DbtlsError('USAGE', `could not run the command: unexpected ${p.positionals.join(' ')}`, {
        hint: `usage: ${CM_USAGE}`,
      });
    }
    // Through the bundle rules: CAs only, none expired, no broken link, duplicates removed.
    const trustFiles = [...bundleFiles, ...p.positionals];
    const trust =
      trustFiles.length > 0 ? buildBundle(certificatesFrom(trustFiles, 'trust bundle CA')) : undefined;
    if (trust?.certs.length === 1) {
      // A rollover bundle of one CA would let the clients trust only one side of the change.
      throw new DbtlsError(
        'USAGE',
        'could not make the trust bundle: it holds one CA certificate, and a rollover needs the old and the new',
        {
          hint: 'give both: --trust-bundle OLD_CA.pem NEW_CA.pem (during a CA rollover they are root.pem and next/root.pem in the CA directory)',
        },
      );
    }
    const caDir = resolveCaDir(str(p, 'ca-dir'), ctx.env, ctx.cwd);
    const passphrase = await readSecret(
      { file: str(p, 'passphrase-file'), envName: CA_PASSPHRASE_ENV, what: 'CA passphrase', prompt: true },
      ctx.env,
    );
    const ca = issuingCa(caDir, passphrase);
    const keyName = str(p, 'key');
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
      key: keyName === undefined ? undefined : oneOf(keyName, CERT_MANAGER_KEYS, '--key', CM_USAGE),
      days: int(p, 'days', CM_USAGE),
      keystorePassword: optionalPassword(p, ctx, {
        fileOption: 'keystore-password-file',
        usage: CM_USAGE,
        forWriting: true,
      }),
      trustBundle: trust ? [trust.pem] : undefined,
    });
    for (const w of result.warnings) ctx.render.warn(w);
    if (result.keystorePasswordGenerated) {
      ctx.render.warn('generated a random keystore password into the Secret dbtls-keystore-password');
    }
    const notes = result.clients.map(
      (c) =>
        `# ${c.user}: ALTER USER '${c.user}'@'%' REQUIRE SUBJECT '${c.requireSubject}';  (Secret ${c.secretName})`,
    );
    const text = `${yamlStream(result.objects)}${notes.length > 0 ? `${notes.join('\n')}\n` : ''}`;
    const summary = flag(p, 'json') ? { objects: result.objects, clients: result.clients } : undefined;
    return emit(text, str(p, 'out'), ctx, `${result.objects.length} objects`, summary);
  },
};

const KUBEDB_USAGE =
  'dbtls k8s kubedb --name DB --issuer NAME|--cert-manager FILE [--namespace NS] [--flavor mysql|mariadb] [--version V] [--cluster-issuer] [--require-ssl] [--storage SIZE] [--server-dns NAME]... [--ops rotate|change-issuer|remove [--new-issuer NAME]] [--out F] [--json]';
const FLAVORS: readonly KubedbFlavor[] = ['mysql', 'mariadb'];

/** A YAML stream read back; MANIFEST_INVALID when it is not one. */
function parseManifest(text: string, file: string): unknown[] {
  try {
    return parseYamlStream(text);
  } catch (err) {
    throw new DbtlsError('MANIFEST_INVALID', `could not read ${file}: ${causeText(err).split('\n')[0]}`, {
      hint: 'give the file `dbtls k8s cert-manager --out FILE` wrote',
    });
  }
}
const OPS: readonly KubedbOp[] = ['rotate', 'change-issuer', 'remove'];

const KUBEDB_OPTIONS: OptionSpec = {
  name: { type: 'string', value: 'DB', description: 'the name of the KubeDB database object' },
  namespace: { ...NAMESPACE, description: 'the Kubernetes namespace', default: 'default' },
  issuer: {
    type: 'string',
    value: 'NAME',
    description: 'the cert-manager Issuer that signs its certificates (see dbtls k8s cert-manager)',
  },
  flavor: { type: 'string', description: 'the database kind', choices: FLAVORS, default: 'mysql' },
  version: { type: 'string', value: 'V', description: 'the KubeDB catalog version of the database' },
  'cluster-issuer': { type: 'boolean', description: '--issuer names a ClusterIssuer' },
  'require-ssl': { type: 'boolean', description: 'set spec.requireSSL: the server refuses plaintext logins' },
  storage: { type: 'string', value: 'SIZE', description: 'the volume size', default: '1Gi' },
  'server-dns': {
    type: 'string',
    value: 'NAME',
    multiple: true,
    description: 'an extra DNS name for the server certificate',
  },
  ops: {
    type: 'string',
    value: 'OP',
    description: 'write a ReconfigureTLS MySQLOpsRequest instead of the database (restarts the pods)',
    choices: OPS,
  },
  'new-issuer': { type: 'string', value: 'NAME', description: 'with --ops change-issuer: the new Issuer' },
  'cert-manager': {
    type: 'string',
    value: 'FILE',
    description:
      'the manifest `dbtls k8s cert-manager` wrote: the issuer is checked against it (name, kind, namespace), or taken from it',
  },
  out: MANIFEST_OUT,
  json: COMMON.json,
};

const kubedbCommand: Command = {
  name: ['k8s', 'kubedb'],
  usage: KUBEDB_USAGE,
  summary: 'a KubeDB MySQL/MariaDB with TLS from a cert-manager issuer, or a ReconfigureTLS ops request',
  options: KUBEDB_OPTIONS,
  examples: [
    'dbtls k8s kubedb --name shop-db --issuer dbtls-ca-issuer --namespace shop --require-ssl --out kubedb.yaml',
    'dbtls k8s kubedb --name shop-db --issuer dbtls-ca-issuer --ops rotate --out rotate.yaml',
  ],
  async run(argv, ctx) {
    const p = noPositionals(parse(argv, KUBEDB_OPTIONS, KUBEDB_USAGE, ctx), KUBEDB_USAGE);
    refuseJsonOnStdout(str(p, 'out'), flag(p, 'json'), KUBEDB_USAGE);
    const common = {
      name: required(p, 'name', KUBEDB_USAGE),
      namespace: str(p, 'namespace'),
      flavor:
        str(p, 'flavor') === undefined
          ? undefined
          : oneOf(str(p, 'flavor')!, FLAVORS, '--flavor', KUBEDB_USAGE),
    };
    let kind: IssuerKind = flag(p, 'cluster-issuer') ? 'ClusterIssuer' : 'Issuer';
    const opText = str(p, 'ops');
    const cmFile = str(p, 'cert-manager');
    const issuerOption = opText === 'change-issuer' ? 'new-issuer' : 'issuer';
    let issuerName = str(p, issuerOption);
    if (cmFile !== undefined && (opText === undefined || opText === 'change-issuer')) {
      const issuer = checkIssuer(
        issuersIn(parseManifest(readUserFile(cmFile, 'cert-manager manifest').toString('utf8'), cmFile)),
        {
          ...(issuerName === undefined ? {} : { name: issuerName }),
          ...(flag(p, 'cluster-issuer') ? { kind } : {}),
          namespace: common.namespace ?? 'default',
        },
        cmFile,
      );
      issuerName = issuer.name;
      kind = issuer.kind;
    }
    let object: ReturnType<typeof kubedbDatabase>;
    if (opText !== undefined) {
      const op = oneOf(opText, OPS, '--ops', KUBEDB_USAGE);
      object = kubedbOpsRequest({ ...common, op, newIssuer: issuerName, newIssuerKind: kind });
      ctx.render.warn(`KubeDB restarts the database pods to apply the ${op} request`);
    } else {
      object = kubedbDatabase({
        ...common,
        version: str(p, 'version'),
        issuer: issuerName ?? required(p, 'issuer', KUBEDB_USAGE),
        issuerKind: kind,
        requireSsl: flag(p, 'require-ssl'),
        storage: str(p, 'storage'),
        serverDns: strs(p, 'server-dns'),
      });
      if (!flag(p, 'require-ssl')) {
        ctx.render.warn('without --require-ssl the database still accepts plaintext connections');
      }
    }
    const summary = flag(p, 'json') ? { objects: [object] } : undefined;
    return emit(yamlStream([object]), str(p, 'out'), ctx, `${object.kind} ${object.metadata.name}`, summary);
  },
};

export const commands: Command[] = [secretsCommand, certManagerCommand, kubedbCommand];
