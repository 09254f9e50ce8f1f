/** `dbtls k8s proxy-sidecar`: a Pod with the sidecar validates against Kubernetes' own schema. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pod } from 'kubernetes-models/v1';
import { parse as parseYaml } from 'yaml';
import { proxySidecar } from '../../../src/deploy/proxy-sidecar.js';
import { DbtlsError } from '../../../src/errors.js';
import { runCli } from '../../harness/cli.js';

describe('k8s proxy-sidecar', () => {
  it('is a native sidecar whose Pod validates (kubernetes-models), with the Secret mounted read-only', () => {
    const spec = proxySidecar({
      upstream: 'db1.example.com:3306',
      image: 'dbtls:0.1.0',
      secret: 'app-db-tls',
      maxConnections: 50,
    });
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'app' },
      spec: { containers: [{ name: 'app', image: 'app:1' }], ...spec },
    };
    new Pod(pod as never).validate();
    const c = spec.initContainers[0] as Record<string, unknown> & {
      args: string[];
      volumeMounts: { readOnly: boolean }[];
    };
    assert.equal(c.restartPolicy, 'Always');
    assert.deepEqual(c.args.slice(0, 4), ['proxy', 'db1.example.com:3306', '--listen', '127.0.0.1:3307']);
    for (const a of ['--run-connection-test', '--json-logs', '/etc/dbtls-proxy/tls.key', '50'])
      assert.ok(c.args.includes(a), a);
    assert.equal(c.volumeMounts[0]?.readOnly, true);
    assert.deepEqual(spec.volumes[0], {
      name: 'dbtls-proxy-tls',
      secret: { secretName: 'app-db-tls', defaultMode: 0o440 },
    });
  });

  it('refuses a bad Secret name, upstream or port', () => {
    const base = { upstream: 'db:3306', image: 'i', secret: 's' };
    for (const [over, code] of [
      [{ secret: 'Bad_Name' }, 'NAME_INVALID'],
      [{ upstream: '--listen' }, 'TARGET_INVALID'],
      [{ listenPort: 70000 }, 'INVALID_PORT'],
      // One network namespace: the proxy's second bind would fail and the Pod crash-loop.
      [{ listenPort: 9090 }, 'USAGE'],
      [{ listenPort: 3307, httpPort: 3307 }, 'USAGE'],
    ] as const) {
      assert.throws(
        () => proxySidecar({ ...base, ...over }),
        (e: unknown) => e instanceof DbtlsError && e.code === code,
      );
    }
  });

  it('refuses an ssl-mode the proxy would refuse to start with (SSL_MODE_INVALID), not a crash-looping Pod', async () => {
    const base = { upstream: 'db:3306', image: 'i', secret: 's' };
    for (const mode of ['disable', 'preferred'] as const) {
      assert.throws(
        () => proxySidecar({ ...base, mode }),
        (e: unknown) =>
          e instanceof DbtlsError &&
          e.code === 'SSL_MODE_INVALID' &&
          e.message === `could not make the proxy sidecar with ssl-mode ${mode}: it would relay in plaintext`,
      );
    }
    const r = await runCli([
      'k8s',
      'proxy-sidecar',
      'db:3306',
      '--secret',
      's',
      '--image',
      'i',
      '--ssl-mode',
      'REQUIRED',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /- --ssl-mode\n\s+- trust\n/);
  });

  it('the CLI prints YAML that parses back to the same spec', async () => {
    const r = await runCli([
      'k8s',
      'proxy-sidecar',
      'db1:3306',
      '--secret',
      'app-db-tls',
      '--image',
      'dbtls:1',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      parseYaml(r.stdout),
      JSON.parse(
        JSON.stringify(proxySidecar({ upstream: 'db1:3306', secret: 'app-db-tls', image: 'dbtls:1' })),
      ),
    );
    const bad = await runCli(['k8s', 'proxy-sidecar', 'db1:3306', '--image', 'dbtls:1']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--secret is required/);
    // The servername goes through the proxy's own target rules: a name no certificate can carry is refused.
    const name = await runCli([
      'k8s',
      'proxy-sidecar',
      '10.0.0.5:3306',
      '--secret',
      's',
      '--image',
      'i',
      '--servername',
      'db 1',
    ]);
    assert.equal(name.code, 2);
    assert.match(
      name.stderr,
      /^error\[SERVERNAME_INVALID\]: could not use the servername "db 1" \(from the command line\)/m,
    );
    assert.equal(name.stdout, '');
    const ports = await runCli([
      'k8s',
      'proxy-sidecar',
      'db1',
      '--secret',
      's',
      '--image',
      'i',
      '--http-port',
      '3307',
    ]);
    assert.equal(ports.code, 2);
    assert.match(
      ports.stderr,
      /^error\[USAGE\]: could not use --http-port 3307: it is the --listen-port too/m,
    );
    assert.match(
      ports.stderr,
      /^hint: give two different ports, e\.g\. --listen-port 3307 --http-port 9090$/m,
    );
  });
});
