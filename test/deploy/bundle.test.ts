import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { getAll, objectsOf, ok, run } from './helpers.js';

// The seed's "Deploying dex on Kubernetes", step by step, with the single-file bundle: TLS assets from
// gencert.sh, `kubectl create -f` of the bundle, the TLS and github-client Secrets. Pods never run here
// (no kubelet); what the API server holds is checked instead.

const BUNDLE = join(REPO_ROOT, 'manifests/bundle/latchkey.yaml');

describe('manifests/bundle/latchkey.yaml, deployed as the seed does', () => {
  let cp: ControlPlane;
  let dir: string;
  beforeAll(async () => {
    cp = await startControlPlane();
    dir = await mkdtemp(join(tmpdir(), 'latchkey-bundle-test-'));
  }, 10 * 60_000);
  afterAll(async () => {
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('kubectl create -f creates every object, the CRDs get established, and the Secrets fit the Deployment', async () => {
    const ssl = join(dir, 'ssl');
    ok(await run('bash', [join(REPO_ROOT, 'scripts/gencert.sh'), '--out', ssl]), 'gencert.sh');
    const created = ok(await cp.kubectl(['create', '-f', BUNDLE]), 'kubectl create -f bundle');
    const text = await readFile(BUNDLE, 'utf8');
    expect(created.stdout.trim().split('\n')).toHaveLength(objectsOf(text).length);
    ok(
      await cp.kubectl([
        '-n',
        'latchkey',
        'create',
        'secret',
        'tls',
        'dex.example.com.tls',
        `--cert=${join(ssl, 'cert.pem')}`,
        `--key=${join(ssl, 'key.pem')}`,
      ]),
      'kubectl create secret tls',
    );
    ok(
      await cp.kubectl([
        '-n',
        'latchkey',
        'create',
        'secret',
        'generic',
        'github-client',
        '--from-literal=client-id=an-id',
        '--from-literal=client-secret=a-secret',
      ]),
      'kubectl create secret generic',
    );

    const objects = await getAll(cp, text);
    expect(objects).toHaveLength(objectsOf(text).length);
    ok(
      await cp.kubectl([
        'wait',
        '--for=condition=Established',
        'crd',
        '-l',
        'app.kubernetes.io/name=latchkey',
        '--timeout=60s',
      ]),
      'kubectl wait crd',
    );

    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'latchkey')!;
    expect(service.spec).toMatchObject({
      type: 'NodePort',
      ports: [{ nodePort: 32000, targetPort: 'https' }],
    });
    // Metrics and health on a cluster-internal Service of their own.
    const telemetry = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'latchkey-telemetry')!;
    expect(telemetry.spec).toMatchObject({
      type: 'ClusterIP',
      ports: [{ port: 5558, targetPort: 'telemetry' }],
    });

    // The Deployment as the API server stored it (defaults filled in), against the deployment rules.
    const deployment = objects.find((o) => o.kind === 'Deployment')!;
    const pod = (deployment.spec as { template: { spec: Record<string, unknown> } }).template.spec as {
      serviceAccountName: string;
      securityContext: Record<string, unknown>;
      containers: Record<string, unknown>[];
      volumes: { name: string; secret?: { secretName: string } }[];
    };
    expect(pod.serviceAccountName).toBe('latchkey');
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.containers[0]).toMatchObject({
      args: [
        'serve',
        '--web-https-addr',
        '0.0.0.0:5554',
        '--telemetry-addr',
        '0.0.0.0:5558',
        '/etc/latchkey/config.yaml',
      ],
      livenessProbe: { httpGet: { path: '/livez', port: 'telemetry' } },
      readinessProbe: { httpGet: { path: '/readyz', port: 'telemetry' } },
      securityContext: {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      },
      resources: { requests: expect.any(Object), limits: expect.any(Object) },
    });
    // The volume names the Secret the seed creates, and the config points at its keys.
    expect(pod.volumes.find((v) => v.name === 'tls')?.secret?.secretName).toBe('dex.example.com.tls');
    const tls = ok(
      await cp.kubectl(['-n', 'latchkey', 'get', 'secret', 'dex.example.com.tls', '-o', 'json']),
      'kubectl get secret',
    );
    expect(Object.keys((JSON.parse(tls.stdout) as { data: object }).data).sort()).toEqual([
      'tls.crt',
      'tls.key',
    ]);
    // The configuration is a Secret (it holds a client secret and password hashes), the one the pod mounts.
    expect(objects.map((o) => o.kind)).not.toContain('ConfigMap');
    expect(pod.volumes.find((v) => v.name === 'config')?.secret?.secretName).toBe('latchkey-config');
    const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === 'latchkey-config')!;
    const config = Buffer.from((secret.data as Record<string, string>)['config.yaml']!, 'base64').toString(
      'utf8',
    );
    expect(config).toContain('tlsCert: /etc/latchkey/tls/tls.crt');
    expect(config).toContain('tlsKey: /etc/latchkey/tls/tls.key');
  });
});
