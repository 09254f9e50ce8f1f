/** The dbtls library: named exports of every module a program may use. Nothing runs on import. */

export * from './ca/batch.js';
export * from './ca/init.js';
export * from './ca/issue.js';
export * from './ca/leaf-files.js';
export * from './ca/renew.js';
export * from './ca/revoke.js';
export * from './ca/store.js';
export * from './client/connect.js';
export * from './client/session.js';
export * from './deploy/cert-manager.js';
export * from './deploy/cloud.js';
export * from './deploy/k8s.js';
export * from './deploy/kubedb.js';
export { type ProxySidecarInput, proxySidecar } from './deploy/proxy-sidecar.js';
export * from './deploy/proxysql.js';
export * from './deploy/snippets.js';
export * from './deploy/yaml.js';
export * from './errors.js';
export * from './inspect/ciphers.js';
export { evaluateFindings, type InspectFacts, MIN_RSA_BITS, parseSeverity } from './inspect/findings.js';
export * from './inspect/fleet.js';
export * from './inspect/inspect.js';
export * from './inspect/report.js';
export * from './inspect/scan.js';
export * from './keystore/bundle.js';
export * from './keystore/jks.js';
export * from './keystore/material.js';
export * from './keystore/pkcs12.js';
export * from './keystore/pkcs12-reader.js';
export * from './keystore/read.js';
export * from './keystore/truststore.js';
export * from './pki/certificate.js';
export * from './pki/crl.js';
export * from './pki/csr.js';
export * from './pki/keys.js';
export * from './pki/names.js';
export * from './pki/pem.js';
export * from './pki/profiles.js';
export * from './pki/san.js';
export * from './protocol/capabilities.js';
export * from './protocol/err-packet.js';
export * from './protocol/handshake.js';
export * from './protocol/packet.js';
export * from './protocol/ssl-request.js';
export { type ListenAddress, parseListen } from './proxy/listen.js';
export {
  type ConnectionTestResult,
  connectionTest,
  type ProxyLogEntry,
  type ProxyOptions,
  type RunningProxy,
  startProxy,
} from './proxy/proxy.js';
export * from './server/accounts/require.js';
export * from './server/accounts/users.js';
export * from './server/admin/session.js';
export * from './server/admin/sql.js';
export * from './server/admin/target.js';
export * from './server/flavor.js';
export * from './server/rotation/plan.js';
export * from './server/rotation/rollover.js';
export * from './server/rotation/rollover-stages.js';
export * from './server/rotation/rotate.js';
export * from './server/secure/secure.js';
export * from './server/secure/undo.js';
export * from './server/tls/config.js';
export * from './server/tls/enable.js';
export * from './server/tls/install.js';
export * from './server/tls/material.js';
export * from './server/tls/reload.js';
export * from './server/tls/status.js';
export * from './tls/options.js';
export * from './tls/settings.js';
export * from './tls/ssl-mode.js';
