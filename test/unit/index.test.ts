/**
 * The library's public API is deliberate (issue 11 item 6): src/index.ts names each export, and this test
 * pins the names, so that adding or removing one is a decision made here, not a side effect of `export *`.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import * as api from '../../src/index.js';
import { PROJECT_ROOT } from '../harness/cli.js';

const VALUES = [
  'CA_DIR_ENV',
  'CA_PASSPHRASE_ENV',
  'DEFAULT_CA_DIR',
  'DEFAULT_CRL_DAYS',
  'DEFAULT_KEY_ALGORITHM',
  'DEFAULT_ORG',
  'DEFAULT_PORT',
  'DEFAULT_ROOT_CN',
  'DEFAULT_TLS_MIN',
  'DbtlsError',
  'ERROR_CODES',
  'EXIT_CODES',
  'JAVA_STORE_TYPE',
  'KEYSTORE_FORMATS',
  'KEY_ALGORITHMS',
  'LEAF_FILES',
  'PKCS12_PROFILES',
  'RENAMED_CODES',
  'REVOCATION_REASONS',
  'SEVERITIES',
  'SNIPPET_CLIENTS',
  'SSL_MODES',
  'SSL_MODE_NAMES',
  'SYSTEM_CA',
  'TLS_VERSIONS',
  'applyRequirement',
  'buildBundle',
  'capabilitiesOf',
  'certManagerManifests',
  'checkCombination',
  'checkCsrs',
  'connect',
  'connectionTest',
  'createCsr',
  'enableTls',
  'failsAt',
  'fileDelivery',
  'generateCrls',
  'generateKeyPair',
  'initCa',
  'inspect',
  'inspectFleet',
  'isDbtlsError',
  'issueCertificate',
  'issueClientBatch',
  'k8sSecrets',
  'keyMatches',
  'kubedbDatabase',
  'kubedbOpsRequest',
  'leafDelivery',
  'listAccounts',
  'loadKeystoreMaterial',
  'oneLineName',
  'openAdminSession',
  'openCa',
  'parseCertificate',
  'parseCertificates',
  'parseCsr',
  'parseCsrAsync',
  'parseKeyAlgorithm',
  'parseKeystoreFormat',
  'parseListen',
  'parseMutualTls',
  'parseOneLineName',
  'parseRevocationReason',
  'parseServerVersion',
  'parseSeverity',
  'parseSslMode',
  'parseTarget',
  'parseTargetList',
  'parseTlsMinVersion',
  'parseTlsVersion',
  'privateKeyPem',
  'probeServedCertificate',
  'proxySidecar',
  'proxysqlStatements',
  'rdsBundle',
  'rdsRegions',
  'readIndex',
  'readKeystore',
  'readNameList',
  'readPrivateKey',
  'reloadTls',
  'renewCertificate',
  'reportBundle',
  'requiredMaterial',
  'resolveCaDir',
  'revoke',
  'rotateServerCertificate',
  'secure',
  'selectForRenewal',
  'serverStatus',
  'signCsr',
  'signCsrs',
  'snippet',
  'startExporter',
  'startProxy',
  'summarize',
  'summarizeFleet',
  'toYaml',
  'undoSecure',
  'writeJks',
  'writeLeafFiles',
  'writePkcs12',
  'writeTruststore',
  'yamlStream',
];

const TYPES = [
  'AccountInfo',
  'AdminSession',
  'BatchOptions',
  'BatchResult',
  'Bundle',
  'BundleReport',
  'Ca',
  'CaMeta',
  'CertManagerOptions',
  'CertManagerOutput',
  'CertificateInfo',
  'ConnectOptions',
  'ConnectionTestResult',
  'CrlOptions',
  'CrlSet',
  'CsrInfo',
  'CsrInput',
  'CsrRequest',
  'DbtlsConnection',
  'DbtlsErrorOptions',
  'Delivery',
  'EnableOptions',
  'EnablePlan',
  'EnableResult',
  'ErrorCode',
  'ErrorKind',
  'Exporter',
  'ExporterOptions',
  'Finding',
  'Flavor',
  'FleetEntry',
  'FleetOptions',
  'FleetReport',
  'FleetTarget',
  'IndexEntry',
  'InitOptions',
  'InspectOptions',
  'InspectReport',
  'IssueRequest',
  'IssuedCertificate',
  'JksInput',
  'K8sSecretsInput',
  'K8sSecretsOutput',
  'KeyAlgorithm',
  'Keystore',
  'KeystoreEntry',
  'KeystoreFormat',
  'KeystoreFormatInput',
  'KeystoreMaterial',
  'KubeObject',
  'KubedbOpsOptions',
  'KubedbOptions',
  'ListenAddress',
  'MutualTls',
  'Pkcs12KeyInput',
  'Pkcs12Profile',
  'ProxyLogEntry',
  'ProxyOptions',
  'ProxySidecarInput',
  'ProxysqlOptions',
  'PublishedCrl',
  'RenewOptions',
  'RenewSelector',
  'RequireOptions',
  'RequireResult',
  'ResultRow',
  'RevocationReason',
  'RevokeRequest',
  'RotateOptions',
  'RotateResult',
  'RunningProxy',
  'SecureOptions',
  'SecureResult',
  'SecureTlsVersion',
  'ServedCertificate',
  'ServerCapabilities',
  'ServerStatus',
  'ServerVersion',
  'SessionOptions',
  'Severity',
  'SignCsrOptions',
  'SignCsrsOptions',
  'SignCsrsResult',
  'SignedCsr',
  'Snippet',
  'SnippetClient',
  'SnippetRequest',
  'SslMode',
  'Target',
  'TargetFlags',
  'TlsRequirement',
  'TlsSettings',
  'TlsVersion',
  'TruststoreInput',
  'UndoOptions',
  'WriteLeafOptions',
];

/** The names src/index.ts exports, values and types apart, read from its source. */
function declared(): { values: string[]; types: string[]; other: string[] } {
  const file = path.join(PROJECT_ROOT, 'src/index.ts');
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out = { values: [] as string[], types: [] as string[], other: [] as string[] };
  for (const statement of source.statements) {
    if (
      !ts.isExportDeclaration(statement) ||
      !statement.exportClause ||
      !ts.isNamedExports(statement.exportClause)
    ) {
      if (!ts.isImportDeclaration(statement)) out.other.push(statement.getText().slice(0, 60));
      continue;
    }
    for (const e of statement.exportClause.elements) {
      (statement.isTypeOnly || e.isTypeOnly ? out.types : out.values).push(e.name.text);
    }
  }
  return out;
}

describe('the public API (src/index.ts)', () => {
  const names = declared();

  it('exports by name only: no `export *`, nothing else in the file', () => {
    assert.deepEqual(names.other, []);
  });

  it('the values a program can use at run time are exactly these', () => {
    assert.deepEqual(Object.keys(api).sort(), [...VALUES].sort());
    assert.deepEqual([...names.values].sort(), [...VALUES].sort());
  });

  it('the types are exactly these', () => {
    assert.deepEqual([...names.types].sort(), [...TYPES].sort());
  });

  it('no internals: no sandbox, rollover stage, plan or wire function', () => {
    const internal = /sandbox|rollover|stage|^plan|encode|decode|packet/i;
    assert.deepEqual(
      [...VALUES, ...TYPES].filter((n) => internal.test(n)),
      [],
    );
  });
});
