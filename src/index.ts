/**
 * The dbtls library: what a program needs to do what the CLI does, by name (issue 11 item 6). Nothing runs
 * on import. Internals (plans, the rollover's stages, the sandbox, wire encoding) are not part of it;
 * test/unit/index.test.ts pins this list, so a change to it is a deliberate one.
 */

// The CA on disk: create, open, issue, sign, renew, revoke, publish CRLs.
export { type BatchOptions, type BatchResult, issueClientBatch, readNameList } from './ca/batch.js';
export { type IndexEntry, readIndex } from './ca/cert-index.js';
export { DEFAULT_ORG, DEFAULT_ROOT_CN, type InitOptions, initCa } from './ca/init.js';
export {
  type Delivery,
  type IssueRequest,
  issueCertificate,
  type SignCsrOptions,
  signCsr,
} from './ca/issue.js';
export {
  fileDelivery,
  LEAF_FILES,
  leafDelivery,
  type WriteLeafOptions,
  writeLeafFiles,
} from './ca/leaf-files.js';
export { type RenewOptions, type RenewSelector, renewCertificate, selectForRenewal } from './ca/renew.js';
export {
  type CrlOptions,
  type CrlSet,
  DEFAULT_CRL_DAYS,
  generateCrls,
  type PublishedCrl,
  type RevokeRequest,
  revoke,
} from './ca/revoke.js';
export {
  type CsrInput,
  checkCsrs,
  type SignCsrsOptions,
  type SignCsrsResult,
  type SignedCsr,
  signCsrs,
} from './ca/sign-csrs.js';
export type { IssuedCertificate } from './ca/sign-leaf.js';
export {
  CA_DIR_ENV,
  CA_PASSPHRASE_ENV,
  type Ca,
  type CaMeta,
  DEFAULT_CA_DIR,
  openCa,
  resolveCaDir,
} from './ca/store.js';
// The client side: the ssl-mode model, targets, TLS versions, and a verified connection.
export { type ConnectOptions, connect, type DbtlsConnection, type ResultRow } from './client/connect.js';
// Deployment artifacts.
export {
  type CertManagerOptions,
  type CertManagerOutput,
  certManagerManifests,
} from './deploy/cert-manager.js';
export { rdsBundle, rdsRegions } from './deploy/cloud.js';
export { type K8sSecretsInput, type K8sSecretsOutput, k8sSecrets } from './deploy/k8s.js';
export {
  type KubedbOpsOptions,
  type KubedbOptions,
  kubedbDatabase,
  kubedbOpsRequest,
} from './deploy/kubedb.js';
export { type ProxySidecarInput, proxySidecar } from './deploy/proxy-sidecar.js';
export { type ProxysqlOptions, proxysqlStatements } from './deploy/proxysql.js';
export { SNIPPET_CLIENTS, type SnippetClient } from './deploy/snippets/model.js';
export { type Snippet, type SnippetRequest, snippet } from './deploy/snippets.js';
export { type KubeObject, toYaml, yamlStream } from './deploy/yaml.js';
// Errors: one type, one closed list of codes (docs/errors.md).
export {
  DbtlsError,
  type DbtlsErrorOptions,
  ERROR_CODES,
  type ErrorCode,
  type ErrorKind,
  EXIT_CODES,
  isDbtlsError,
  RENAMED_CODES,
} from './errors.js';
// Proof: inspect one server or a fleet, serve Prometheus.
export { type Exporter, type ExporterOptions, startExporter } from './inspect/exporter.js';
export { parseSeverity } from './inspect/findings.js';
export {
  type FleetEntry,
  type FleetOptions,
  type FleetReport,
  type FleetTarget,
  inspectFleet,
  parseTargetList,
  summarizeFleet,
} from './inspect/fleet.js';
export { type InspectOptions, inspect } from './inspect/inspect.js';
export { type Finding, failsAt, type InspectReport, SEVERITIES, type Severity } from './inspect/report.js';
// Keystores, truststores and CA bundles for Java and every other client.
export { type Bundle, type BundleReport, buildBundle, reportBundle } from './keystore/bundle.js';
export {
  JAVA_STORE_TYPE,
  KEYSTORE_FORMATS,
  type KeystoreFormat,
  type KeystoreFormatInput,
  parseKeystoreFormat,
} from './keystore/format.js';
export { type JksInput, writeJks } from './keystore/jks.js';
export { type KeystoreMaterial, loadKeystoreMaterial } from './keystore/material.js';
export { PKCS12_PROFILES, type Pkcs12KeyInput, type Pkcs12Profile, writePkcs12 } from './keystore/pkcs12.js';
export { type Keystore, type KeystoreEntry, readKeystore, summarize } from './keystore/read.js';
export { type TruststoreInput, writeTruststore } from './keystore/truststore.js';
// Certificates, keys, CSRs and names.
export { type CertificateInfo, parseCertificate, parseCertificates } from './pki/certificate.js';
export { keyMatches } from './pki/chain.js';
export { parseRevocationReason, REVOCATION_REASONS, type RevocationReason } from './pki/crl.js';
export { type CsrInfo, type CsrRequest, createCsr, parseCsr, parseCsrAsync } from './pki/csr.js';
export {
  DEFAULT_KEY_ALGORITHM,
  generateKeyPair,
  KEY_ALGORITHMS,
  type KeyAlgorithm,
  parseKeyAlgorithm,
  privateKeyPem,
  readPrivateKey,
} from './pki/keys.js';
export { oneLineName, parseOneLineName } from './pki/names.js';
// The sidecar proxy.
export { type ListenAddress, parseListen } from './proxy/listen.js';
export {
  type ConnectionTestResult,
  connectionTest,
  type ProxyLogEntry,
  type ProxyOptions,
  type RunningProxy,
  startProxy,
} from './proxy/proxy.js';
export { applyRequirement, type RequireOptions, type RequireResult } from './server/accounts/require.js';
// Server operations: status, enable, reload, accounts, rotation, secure (and its undo).
export { type AccountInfo, listAccounts, type TlsRequirement } from './server/accounts/users.js';
export { type AdminSession, openAdminSession, type SessionOptions } from './server/admin/session.js';
export {
  capabilitiesOf,
  type Flavor,
  parseServerVersion,
  type ServerCapabilities,
  type ServerVersion,
} from './server/flavor.js';
export type { RotateOptions } from './server/rotation/plan.js';
export { type RotateResult, rotateServerCertificate } from './server/rotation/rotate.js';
export { type SecureOptions, type SecureResult, secure } from './server/secure/secure.js';
export { type UndoOptions, undoSecure } from './server/secure/undo.js';
export { type EnableOptions, type EnablePlan, type EnableResult, enableTls } from './server/tls/enable.js';
export { probeServedCertificate, reloadTls, type ServedCertificate } from './server/tls/reload.js';
export { type ServerStatus, serverStatus } from './server/tls/status.js';
export { DEFAULT_PORT } from './tls/dsn.js';
export { SYSTEM_CA } from './tls/options.js';
export {
  parseTarget,
  type Target,
  type TargetFlags,
  type TlsSettings,
} from './tls/settings.js';
export {
  checkCombination,
  type MutualTls,
  parseMutualTls,
  parseSslMode,
  requiredMaterial,
  SSL_MODE_NAMES,
  SSL_MODES,
  type SslMode,
} from './tls/ssl-mode.js';
export {
  DEFAULT_TLS_MIN,
  parseTlsMinVersion,
  parseTlsVersion,
  type SecureTlsVersion,
  TLS_VERSIONS,
  type TlsVersion,
} from './tls/versions.js';
