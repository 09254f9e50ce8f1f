/**
 * `dbtls k8s proxy-sidecar`: the Pod spec fragment that runs `dbtls proxy` next to an application, as a
 * Kubernetes native sidecar (an init container with `restartPolicy: Always`, KEP-753, 1.29+ by default):
 * it starts before the application and stops after it, so the application never sees a missing proxy.
 * The TLS files come from a Secret with cert-manager's keys (tls.crt, tls.key, ca.crt) mounted read-only;
 * the proxy re-reads them when the kubelet swaps the projected files, so a renewed certificate needs no
 * restart. Health for the kubelet (which probes the pod IP) is served on --http; the database listener
 * stays on loopback.
 */
import { DbtlsError } from '../errors.js';
import { checkProxyMode, DEFAULT_SSL_MODE, type SslMode } from '../tls/ssl-mode.js';
import { checkName } from './kube-objects.js';

export const PROXY_SIDECAR_DEFAULTS = Object.freeze({
  containerName: 'dbtls-proxy',
  listenPort: 3307,
  httpPort: 9090,
  mountPath: '/etc/dbtls-proxy',
  /** Long enough for an application's pool to drain after its own SIGTERM. */
  sigtermDelay: '30s',
});

export interface ProxySidecarInput {
  /** host[:port] of the database. */
  readonly upstream: string;
  readonly image: string;
  /** A Secret with tls.crt, tls.key and ca.crt (what a cert-manager Certificate writes). */
  readonly secret: string;
  readonly mode?: SslMode;
  readonly servername?: string;
  readonly listenPort?: number;
  readonly httpPort?: number;
  readonly maxConnections?: number;
}

/** Fields of spec.template.spec: merge them into a Deployment (kubectl patch, kustomize or Helm). */
export interface ProxySidecarSpec {
  readonly initContainers: readonly Record<string, unknown>[];
  readonly volumes: readonly Record<string, unknown>[];
}

function checkPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new DbtlsError('INVALID_PORT', `could not use ${what} ${port}: a port is 1-65535`, {
      hint: `pass ${what} with a number between 1 and 65535`,
    });
  }
  return port;
}

export function proxySidecar(input: ProxySidecarInput): ProxySidecarSpec {
  const d = PROXY_SIDECAR_DEFAULTS;
  const mode = input.mode ?? DEFAULT_SSL_MODE;
  checkProxyMode(mode, 'make the proxy sidecar');
  checkName(input.secret, '--secret', 'subdomain');
  if (!/^[^\s]+$/.test(input.upstream) || input.upstream.startsWith('-')) {
    throw new DbtlsError('TARGET_INVALID', `could not use the upstream ${JSON.stringify(input.upstream)}`, {
      hint: 'pass HOST[:PORT], e.g. db1.example.com:3306',
    });
  }
  if (!input.image.trim() || /\s/.test(input.image)) {
    throw new DbtlsError('USAGE', 'could not use --image: give an image reference without spaces', {
      hint: 'e.g. --image registry.example.com/dbtls:0.1.0',
    });
  }
  const listenPort = checkPort(input.listenPort ?? d.listenPort, '--listen-port');
  const httpPort = checkPort(input.httpPort ?? d.httpPort, '--http-port');
  if (httpPort === listenPort) {
    // The proxy binds both in one network namespace: the second bind fails and the pod never starts.
    throw new DbtlsError(
      'USAGE',
      `could not use --http-port ${httpPort}: it is the --listen-port too, and the pod shares one network namespace`,
      {
        hint: `give two different ports, e.g. --listen-port ${listenPort} --http-port ${listenPort === d.httpPort ? d.httpPort + 1 : d.httpPort}`,
      },
    );
  }
  const volume = `${d.containerName}-tls`;
  const args = [
    'proxy',
    input.upstream,
    '--listen',
    `127.0.0.1:${listenPort}`,
    '--ssl-mode',
    mode,
    '--ca',
    `${d.mountPath}/ca.crt`,
    '--cert',
    `${d.mountPath}/tls.crt`,
    '--key',
    `${d.mountPath}/tls.key`,
    ...(input.servername ? ['--servername', input.servername] : []),
    // The kubelet probes the pod IP: health listens on all addresses, the database only on loopback.
    '--http',
    `0.0.0.0:${httpPort}`,
    // Verified before the application starts, and ready at once (readiness needs one verified handshake).
    '--run-connection-test',
    '--max-sigterm-delay',
    d.sigtermDelay,
    ...(input.maxConnections !== undefined ? ['--max-connections', String(input.maxConnections)] : []),
    '--json-logs',
  ];
  const probe = (path: string) => ({ httpGet: { path, port: httpPort } });
  return {
    initContainers: [
      {
        name: d.containerName,
        image: input.image,
        restartPolicy: 'Always',
        args,
        ports: [{ name: 'proxy-metrics', containerPort: httpPort, protocol: 'TCP' }],
        startupProbe: { ...probe('/readiness'), periodSeconds: 1, failureThreshold: 30 },
        livenessProbe: probe('/liveness'),
        readinessProbe: probe('/readiness'),
        resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '128Mi' } },
        securityContext: {
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        },
        volumeMounts: [{ name: volume, mountPath: d.mountPath, readOnly: true }],
      },
    ],
    // 0440: the key is readable by the proxy's group only (fsGroup), never written.
    volumes: [{ name: volume, secret: { secretName: input.secret, defaultMode: 0o440 } }],
  };
}
