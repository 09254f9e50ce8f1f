/** `dbtls k8s proxy-sidecar UPSTREAM --secret NAME --image IMAGE`: the native-sidecar spec for dbtls proxy. */
import { PROXY_SIDECAR_DEFAULTS, proxySidecar } from '../deploy/proxy-sidecar.js';
import { toYaml } from '../deploy/yaml.js';
import { DbtlsError } from '../errors.js';
import { parseTarget } from '../tls/settings.js';
import { DEFAULT_SSL_MODE, parseSslMode, TLS_REQUIRED_MODES } from '../tls/ssl-mode.js';
import { flag, int, optional, parse, required, str } from './args.js';
import { emit } from './artifact-args.js';
import type { Command, OptionTable } from './command.js';
import { refuseJsonOnStdout } from './out.js';

const USAGE =
  'dbtls k8s proxy-sidecar UPSTREAM --secret NAME --image IMAGE [--ssl-mode M] [--servername N] [--listen-port N] [--http-port N] [--max-connections N] [--out F] [--json]';

const OPTIONS: OptionTable = {
  secret: {
    type: 'string',
    value: 'NAME',
    description: 'the Secret with tls.crt, tls.key and ca.crt (a cert-manager Certificate writes one)',
  },
  image: { type: 'string', value: 'IMAGE', description: 'the container image that has dbtls' },
  'ssl-mode': {
    type: 'string',
    value: 'MODE',
    default: DEFAULT_SSL_MODE,
    choices: TLS_REQUIRED_MODES,
    description: 'how the proxy verifies the database',
  },
  servername: { type: 'string', value: 'NAME', description: 'the name the server certificate must carry' },
  'listen-port': {
    type: 'string',
    value: 'PORT',
    default: String(PROXY_SIDECAR_DEFAULTS.listenPort),
    description: 'the loopback port the application connects to',
  },
  'http-port': {
    type: 'string',
    value: 'PORT',
    default: String(PROXY_SIDECAR_DEFAULTS.httpPort),
    description: 'the port of /liveness, /readiness and /metrics (probed by the kubelet)',
  },
  'max-connections': { type: 'string', value: 'N', description: 'the proxy --max-connections' },
  out: {
    type: 'string',
    value: 'FILE',
    description: 'write the YAML to FILE instead of stdout (- for stdout)',
  },
  json: { type: 'boolean', description: 'print the spec as JSON' },
};

export const proxySidecarCommand: Command = {
  name: ['k8s', 'proxy-sidecar'],
  usage: USAGE,
  summary: 'the native sidecar (init container, restartPolicy Always) that runs dbtls proxy next to an app',
  options: OPTIONS,
  examples: [
    'dbtls k8s proxy-sidecar db1.example.com:3306 --secret app-db-tls --image registry.example.com/dbtls:0.1.0',
    'dbtls k8s proxy-sidecar 10.0.0.5:3306 --servername db1.example.com --secret app-db-tls --image dbtls:0.1.0 --out sidecar.yaml',
  ],
  async run(argv, ctx) {
    const p = parse(argv, OPTIONS, USAGE, ctx);
    refuseJsonOnStdout(str(p, 'out'), flag(p, 'json'), USAGE);
    const [upstream, ...extra] = p.positionals;
    if (!upstream || extra.length > 0) {
      throw new DbtlsError('USAGE', 'could not run k8s proxy-sidecar: give exactly one UPSTREAM', {
        hint: `usage: ${USAGE}`,
      });
    }
    const modeText = str(p, 'ssl-mode');
    const servername = str(p, 'servername');
    // The UPSTREAM `dbtls proxy` would refuse (a port past 65535, a broken DSN) is refused here, before a
    // manifest is written: by the proxy's own parser, with this command's flags and no environment (the
    // proxy runs in the pod, not here).
    parseTarget(upstream, { ...optional('mode', modeText), ...optional('servername', servername) }, {});
    const listenPort = int(p, 'listen-port', USAGE);
    const httpPort = int(p, 'http-port', USAGE);
    const maxConnections = int(p, 'max-connections', USAGE);
    const spec = proxySidecar({
      upstream,
      secret: required(p, 'secret', USAGE),
      image: required(p, 'image', USAGE),
      ...(modeText !== undefined ? { mode: parseSslMode(modeText) } : {}),
      ...(servername !== undefined ? { servername } : {}),
      ...(listenPort !== undefined ? { listenPort } : {}),
      ...(httpPort !== undefined ? { httpPort } : {}),
      ...(maxConnections !== undefined ? { maxConnections } : {}),
    });
    const header = [
      '# dbtls proxy as a native sidecar (Kubernetes 1.29+): merge into spec.template.spec of the Deployment.',
      `# The application connects to 127.0.0.1:${listenPort ?? PROXY_SIDECAR_DEFAULTS.listenPort} in plaintext, with no TLS settings.`,
      '# Give the pod spec.securityContext.fsGroup so that the proxy (non-root) can read the key (mode 0440).',
    ].join('\n');
    const json = flag(p, 'json') ? { ...spec } : undefined;
    return emit(`${header}\n${toYaml(spec)}`, str(p, 'out'), ctx, 'the proxy sidecar spec', json);
  },
};

export const commands: Command[] = [proxySidecarCommand];
