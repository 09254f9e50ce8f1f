/**
 * Every manifest dbtls generates, validated against the schemas the API server would apply: Kubernetes'
 * own (kubernetes-models) for ConfigMap and Secret, the CRDs' OpenAPI schemas (test/fixtures/deploy/crds)
 * for cert-manager and KubeDB, closed so that a misspelt field fails instead of being pruned.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import { ConfigMap, Secret } from 'kubernetes-models/v1';
import { parse as parseYaml } from 'yaml';
import { certManagerManifests, clientSubject } from '../../../src/deploy/cert-manager.js';
import { k8sSecrets } from '../../../src/deploy/k8s.js';
import { kubedbDatabase, kubedbOpsRequest } from '../../../src/deploy/kubedb.js';
import { type KubeObject, parseYamlStream, yamlStream } from '../../../src/deploy/yaml.js';
import { PROJECT_ROOT } from '../../harness/cli.js';
import { openssl } from '../../harness/oracles.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

const CRDS = path.join(PROJECT_ROOT, 'test/fixtures/deploy/crds');
type Schema = Record<string, unknown>;
/** Parsed manifest data, read by tests that know its shape. */
// biome-ignore lint/suspicious/noExplicitAny: test code reading nested YAML whose shape the assertions check
type Json = Record<string, any>;

/** Closes object schemas (as pruning would drop unknown fields) and drops the x-kubernetes-* keywords. */
function closed(schema: Schema): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith('x-kubernetes-')) continue;
    if (k === 'properties') {
      out[k] = Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, closed(s as Schema)]));
    } else if (k === 'items' || (k === 'additionalProperties' && typeof v === 'object'))
      out[k] = closed(v as Schema);
    else out[k] = v;
  }
  if (
    schema.properties &&
    !schema['x-kubernetes-preserve-unknown-fields'] &&
    schema.additionalProperties === undefined
  ) {
    out.additionalProperties = false;
  }
  return out;
}

const ajv = new Ajv({ strict: false, allErrors: true });
const validators = new Map<string, ValidateFunction>();
function crd(file: string): ValidateFunction {
  const schema = closed(parseYaml(fs.readFileSync(path.join(CRDS, file), 'utf8')) as Schema);
  return ajv.compile(schema);
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const CLUSTER_SCOPED = new Set(['ClusterIssuer']);

function validate(obj: KubeObject): void {
  assert.match(obj.metadata.name, DNS_SUBDOMAIN, `${obj.kind} name`);
  if (!CLUSTER_SCOPED.has(obj.kind) && obj.kind !== 'ConfigMap' && obj.kind !== 'Secret') {
    assert.ok(obj.metadata.namespace, `${obj.kind} ${obj.metadata.name} has a namespace`);
  }
  if (obj.kind === 'ConfigMap') {
    new ConfigMap(obj as never).validate();
    return;
  }
  if (obj.kind === 'Secret') {
    new Secret(obj as never).validate();
    return;
  }
  const v = validators.get(obj.kind);
  assert.ok(v, `a schema for ${obj.kind}`);
  const ok = v(obj);
  assert.ok(ok, `${obj.kind} ${obj.metadata.name}: ${JSON.stringify(v.errors)}`);
}

let pki: TestPki;
let caPem: string;
let caKeyPem: string;

describe('generated manifests validate against Kubernetes and CRD schemas', () => {
  before(async () => {
    pki = await makeTestPki();
    caPem = fs.readFileSync(pki.ca, 'utf8');
    caKeyPem = fs.readFileSync(pki.caKey, 'utf8');
    const certificate = crd('cert-manager.io_certificates.v1.yaml');
    const issuer = crd('cert-manager.io_issuers.v1.yaml');
    const db = crd('kubedb.com_database.v1.yaml');
    const ops = crd('ops.kubedb.com_opsrequest.v1alpha1.yaml');
    validators.set('Certificate', certificate);
    validators.set('Issuer', issuer);
    validators.set('ClusterIssuer', issuer);
    for (const k of ['MySQL', 'MariaDB']) validators.set(k, db);
    for (const k of ['MySQLOpsRequest', 'MariaDBOpsRequest']) validators.set(k, ops);
  });

  it('the closed schemas reject a misspelt field and a wrong enum', () => {
    const good = certManagerManifests({
      namespace: 'db',
      serverDns: ['mysql.db.svc'],
      clientCns: ['app'],
      caCertPem: caPem,
      caKeyPem,
    }).objects.find((o) => o.kind === 'Certificate')!;
    validate(good);
    const spec = good.spec as Record<string, unknown>;
    assert.throws(
      () => validate({ ...good, spec: { ...spec, literalSubjct: 'CN=x' } }),
      /additionalProperties/,
    );
    assert.throws(
      () =>
        validate({
          ...good,
          spec: { ...spec, privateKey: { ...(spec.privateKey as object), rotationPolicy: 'Sometimes' } },
        }),
      /enum/,
    );
  });

  it('cert-manager: CA Secret, Issuer, server and client Certificates, keystore password, trust bundle', () => {
    for (const variant of [
      { clusterIssuer: false, key: 'ec-p256' as const },
      { clusterIssuer: true, key: 'rsa-2048' as const },
    ]) {
      const out = certManagerManifests({
        namespace: 'shop',
        serverDns: ['mysql.shop.svc', 'mysql.shop.svc.cluster.local'],
        serverIps: ['10.0.0.7'],
        clientCns: ['orders', 'billing'],
        clientOrg: 'dbtls',
        caCertPem: caPem,
        caKeyPem,
        trustBundle: [caPem, fs.readFileSync(pki.otherCa, 'utf8')],
        ...variant,
      });
      // Written as YAML and read back, as kubectl would.
      const objects = parseYamlStream(yamlStream(out.objects)) as KubeObject[];
      assert.deepEqual(
        objects.map((o) => o.kind),
        [
          'Secret',
          variant.clusterIssuer ? 'ClusterIssuer' : 'Issuer',
          'Certificate',
          'Secret',
          'Certificate',
          'Certificate',
          'ConfigMap',
        ],
      );
      for (const o of objects) validate(o);
      const server = objects[2]!.spec as Record<string, unknown>;
      assert.deepEqual(
        server.usages,
        variant.key === 'rsa-2048'
          ? ['server auth', 'digital signature', 'key encipherment']
          : ['server auth', 'digital signature'],
      );
      assert.deepEqual(server.privateKey, {
        algorithm: variant.key === 'rsa-2048' ? 'RSA' : 'ECDSA',
        size: variant.key === 'rsa-2048' ? 2048 : 256,
        encoding: 'PKCS8',
        rotationPolicy: 'Always',
      });
      assert.equal(server.revisionHistoryLimit, 2);
      assert.equal(server.duration, '2160h');
      assert.equal(server.renewBefore, '720h');
      const client = objects[4]!.spec as Json;
      assert.equal(client.literalSubject, 'CN=orders,O=dbtls');
      assert.equal(client.keystores.pkcs12.profile, 'Modern2023');
      assert.equal(client.keystores.jks.create, true);
      assert.deepEqual(client.keystores.jks.passwordSecretRef, {
        name: 'dbtls-keystore-password',
        key: 'password',
      });
      assert.equal(client.issuerRef.kind, variant.clusterIssuer ? 'ClusterIssuer' : 'Issuer');
      assert.equal(objects[0]!.metadata.namespace, variant.clusterIssuer ? 'cert-manager' : 'shop');
      assert.equal(out.clients[0]!.requireSubject, '/O=dbtls/CN=orders');
      const bundle = (objects[6] as unknown as { data: Record<string, string> }).data['ca-bundle.pem']!;
      assert.equal(bundle.match(/BEGIN CERTIFICATE/g)?.length, 2);
      // Every client Certificate: both keystores, one password Secret that exists and has the key.
      const passwordSecret = objects[3] as unknown as Json;
      assert.equal(passwordSecret.metadata.name, 'dbtls-keystore-password');
      assert.equal(typeof passwordSecret.stringData.password, 'string');
      assert.ok(passwordSecret.stringData.password.length >= 20);
      for (const c of [objects[4]!, objects[5]!]) {
        const ks = (c.spec as Json).keystores;
        for (const store of [ks.jks, ks.pkcs12]) {
          assert.equal(store.create, true);
          assert.deepEqual(store.passwordSecretRef, { name: 'dbtls-keystore-password', key: 'password' });
        }
        assert.equal(ks.pkcs12.profile, 'Modern2023');
        assert.deepEqual((c.spec as Json).usages.slice(0, 2), ['client auth', 'digital signature']);
        assert.equal((c.spec as Json).privateKey.rotationPolicy, 'Always');
        assert.equal((c.spec as Json).revisionHistoryLimit, 2);
      }
    }
  });

  it('the rollover trust bundle verifies certificates from the old and the new CA (openssl verify)', async () => {
    const out = certManagerManifests({
      namespace: 'shop',
      serverDns: ['mysql.shop.svc'],
      clientCns: [],
      caCertPem: caPem,
      caKeyPem,
      trustBundle: [caPem, fs.readFileSync(pki.otherCa, 'utf8'), caPem],
    });
    const bundle = (
      out.objects.find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> }
    ).data['ca-bundle.pem']!;
    assert.equal(bundle.match(/BEGIN CERTIFICATE/g)?.length, 2, 'duplicates removed');
    const dir = fs.mkdtempSync(path.join(PROJECT_ROOT, 'node_modules', '.dbtls-bundle-'));
    try {
      fs.writeFileSync(path.join(dir, 'bundle.pem'), bundle);
      for (const cert of [pki.client.cert, pki.otherClient.cert]) {
        const r = await openssl(['verify', '-CAfile', path.join(dir, 'bundle.pem'), cert]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('literalSubject is the RFC 4514 form of the one-line name REQUIRE SUBJECT compares (openssl as oracle)', async () => {
    for (const [user, org] of [
      ['app', undefined],
      ['orders', 'dbtls'],
      ['o,brien_x', 'Acme; "Ltd" <a>'],
      [' lead', 'trail '],
    ] as [string, string | undefined][]) {
      const { requireSubject, literalSubject } = clientSubject(user, org);
      const dir = fs.mkdtempSync(path.join(PROJECT_ROOT, 'node_modules', '.dbtls-subj-'));
      try {
        const key = path.join(dir, 'k.pem');
        const cert = path.join(dir, 'c.pem');
        const made = await openssl([
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-days',
          '1',
          '-subj',
          requireSubject,
        ]);
        assert.equal(made.code, 0, made.stderr);
        const rfc = await openssl(['x509', '-in', cert, '-noout', '-subject', '-nameopt', 'RFC2253']);
        assert.equal(rfc.stdout.replace(/\n$/, ''), `subject=${literalSubject}`);
        const compat = await openssl(['x509', '-in', cert, '-noout', '-subject', '-nameopt', 'compat']);
        assert.equal(compat.stdout.replace(/\n$/, ''), `subject=${requireSubject}`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('refuses client names that would make REQUIRE SUBJECT ambiguous', () => {
    for (const bad of ['a/b', 'a+b', '', 'x\ny']) {
      assert.throws(
        () => clientSubject(bad),
        (e: { code?: string }) => e.code === 'NAME_INVALID',
      );
    }
  });

  it('KubeDB: MySQL and MariaDB with TLS, and the three ReconfigureTLS requests', () => {
    for (const flavor of ['mysql', 'mariadb'] as const) {
      const db = kubedbDatabase({
        name: 'orders',
        namespace: 'shop',
        flavor,
        issuer: 'dbtls-ca-issuer',
        requireSsl: true,
      });
      validate(db);
      const spec = db.spec as Json;
      assert.equal(db.apiVersion, 'kubedb.com/v1');
      assert.equal(db.kind, flavor === 'mysql' ? 'MySQL' : 'MariaDB');
      assert.equal(spec.requireSSL, true);
      assert.deepEqual(spec.tls.issuerRef, {
        apiGroup: 'cert-manager.io',
        kind: 'Issuer',
        name: 'dbtls-ca-issuer',
      });
      assert.deepEqual(
        spec.tls.certificates.map((c: { alias: string }) => c.alias),
        ['server', 'client', 'metrics-exporter'],
      );
      for (const op of ['rotate', 'change-issuer', 'remove'] as const) {
        const req = kubedbOpsRequest({
          name: 'orders',
          namespace: 'shop',
          flavor,
          op,
          newIssuer: 'dbtls-ca-2',
        });
        validate(req);
        const s = req.spec as Json;
        assert.equal(s.type, 'ReconfigureTLS');
        assert.deepEqual(s.databaseRef, { name: 'orders' });
        assert.deepEqual(
          s.tls,
          op === 'rotate'
            ? { rotateCertificates: true }
            : op === 'remove'
              ? { remove: true }
              : { issuerRef: { apiGroup: 'cert-manager.io', kind: 'Issuer', name: 'dbtls-ca-2' } },
        );
      }
    }
  });

  it('k8s secrets: every mode and mutual TLS combination', () => {
    const files = {
      ca: fs.readFileSync(pki.ca),
      clientCert: fs.readFileSync(pki.client.cert),
      clientKey: fs.readFileSync(pki.client.key),
      keystorePassword: 'store-pw',
    };
    for (const [mode, mutualTls] of [
      ['disable', 'disable'],
      ['trust', 'disable'],
      ['verify-ca', 'disable'],
      ['verify-ca', 'enable'],
      ['verify-full', 'disable'],
      ['verify-full', 'enable'],
    ] as const) {
      const out = k8sSecrets({ mode, mutualTls, namespace: 'shop', ...files });
      for (const o of parseYamlStream(yamlStream(out.objects)) as KubeObject[]) validate(o);
    }
  });
});
