import { parse } from 'yaml';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type ServerProcess } from '../helpers/cli.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import {
  CHART,
  CHART_VALUES,
  findHelm,
  getAll,
  jwtClaims,
  localConfig,
  objectsOf,
  ok,
  passwordLoginAndRefresh,
  serviceAccountKubeconfig,
  type Helm,
  type KubeObject,
} from './helpers.js';

// The Helm chart against a real kube-apiserver (no kubelet: pods never run, so no --wait and no `helm test`
// run; the test hook is only rendered). Every install gets a fresh namespace.

describe('charts/latchkey', () => {
  let cp: ControlPlane;
  let helm: Helm;
  let dir: string;
  beforeAll(async () => {
    helm = await findHelm();
    cp = await startControlPlane();
    dir = await mkdtemp(join(tmpdir(), 'latchkey-helm-test-'));
    // The chart's CRDs, as `helm install` would create them, so that server-side dry runs of the templates
    // know the custom resource kinds.
    ok(await cp.kubectl(['apply', '-f', join(CHART, 'crds')]), 'kubectl apply -f charts/latchkey/crds');
  }, 10 * 60_000);
  afterAll(async () => {
    await helm?.cleanup();
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const withCluster = (args: string[]) => [...args, '--kubeconfig', cp.kubeconfig];

  it('passes helm lint --strict, with the default values and with the seed-like values', async () => {
    for (const values of [[], ['-f', CHART_VALUES]]) {
      const r = ok(await helm.run(['lint', CHART, '--strict', ...values]), 'helm lint');
      expect(r.stdout).toContain('0 chart(s) failed');
      expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });

  it('renders templates that the API server accepts (server-side dry run)', async () => {
    const variants: [string, string[]][] = [
      ['defaults', []],
      ['seed-like values', ['-f', CHART_VALUES]],
      // The HorizontalPodAutoscaler takes over the replica count; an existing config Secret replaces ours.
      [
        'autoscaling, existing config Secret, no cluster-scoped RBAC',
        [
          '--set',
          'autoscaling.enabled=true,autoscaling.targetMemoryUtilizationPercentage=70',
          '--set',
          'configSecret.create=false,configSecret.name=my-config,rbac.createClusterScoped=false',
          '--set',
          'podDisruptionBudget.enabled=true,podDisruptionBudget.maxUnavailable=1',
        ],
      ],
    ];
    for (const [name, values] of variants) {
      const ns = await cp.newNamespace('template');
      const rendered = ok(
        await helm.run(withCluster(['template', 'r', CHART, '-n', ns, ...values])),
        `helm template (${name})`,
      ).stdout;
      const kinds = objectsOf(rendered).map((o) => o.kind);
      expect(kinds).toEqual(expect.arrayContaining(['Deployment', 'Service', 'Role', 'RoleBinding', 'Pod']));
      const applied = await cp.kubectl(['apply', '--dry-run=server', '-n', ns, '-f', '-'], {
        input: rendered,
      });
      expect({ name, stderr: applied.stderr, code: applied.code }).toEqual({ name, stderr: '', code: 0 });
      expect(applied.stdout.trim().split('\n')).toHaveLength(kinds.length);
    }
  });

  it('renders a ServiceMonitor only where the cluster serves monitoring.coreos.com/v1', async () => {
    const base = ['template', 'r', CHART, '-f', CHART_VALUES];
    const without = objectsOf(ok(await helm.run(base), 'helm template').stdout);
    expect(without.map((o) => o.kind)).not.toContain('ServiceMonitor');
    const withOperator = objectsOf(
      ok(
        await helm.run([...base, '--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor']),
        'helm template',
      ).stdout,
    );
    const monitor = withOperator.find((o) => o.kind === 'ServiceMonitor');
    expect(monitor?.spec).toMatchObject({ endpoints: [{ port: 'telemetry', path: '/metrics' }] });
  });

  describe('helm install with the seed-like values (NodePort 32000, 2 replicas, ingress, ServiceMonitor on)', () => {
    let ns: string;
    let installOutput: string;
    let objects: KubeObject[];
    beforeAll(async () => {
      ns = await cp.newNamespace('install');
      // The TLS Secret the seed creates before deploying (its content is not read here: pods never run).
      ok(
        await cp.kubectl(['-n', ns, 'create', 'secret', 'generic', 'dex.example.com.tls']),
        'kubectl create secret',
      );
      installOutput = ok(
        await helm.run(withCluster(['install', 'lk', CHART, '-n', ns, '-f', CHART_VALUES])),
        'helm install',
      ).stdout;
      const manifest = ok(
        await helm.run(withCluster(['get', 'manifest', 'lk', '-n', ns])),
        'helm get manifest',
      ).stdout;
      objects = await getAll(cp, manifest);
    }, 120_000);

    it('creates every object of the release, and no ServiceMonitor while its CRD is absent', async () => {
      const kinds = objectsOf(
        ok(await helm.run(withCluster(['get', 'manifest', 'lk', '-n', ns])), 'helm get manifest').stdout,
      ).map((o) => o.kind);
      expect(objects.map((o) => o.kind).sort()).toEqual([...kinds].sort());
      expect(kinds.sort()).toEqual(
        [
          'ClusterRole',
          'ClusterRoleBinding',
          'Deployment',
          'Ingress',
          'NetworkPolicy',
          'PodDisruptionBudget',
          'Role',
          'RoleBinding',
          'Secret',
          'Service',
          'ServiceAccount',
        ].sort(),
      );
      // The `helm test` hook exists in the release (it is not run: there is no kubelet).
      const hooks = objectsOf(
        ok(await helm.run(withCluster(['get', 'hooks', 'lk', '-n', ns])), 'helm get hooks').stdout,
      );
      expect(hooks.map((o) => [o.kind, o.metadata.annotations])).toEqual([
        ['Pod', expect.objectContaining({ 'helm.sh/hook': 'test' })],
      ]);
    });

    it('exposes HTTPS on NodePort 32000 and runs 2 locked-down replicas with probes on telemetry', () => {
      const service = objects.find((o) => o.kind === 'Service')!;
      expect(service.spec).toMatchObject({
        type: 'NodePort',
        // Client addresses kept, so per-address limits on password guesses act on clients, not on a node.
        externalTrafficPolicy: 'Local',
        ports: expect.arrayContaining([
          expect.objectContaining({ name: 'https', port: 5554, targetPort: 'https', nodePort: 32000 }),
        ]),
      });
      const deployment = objects.find((o) => o.kind === 'Deployment')!;
      const spec = deployment.spec as {
        replicas: number;
        template: { metadata: { annotations: Record<string, string> }; spec: Record<string, unknown> };
      };
      expect(spec.replicas).toBe(2);
      expect(spec.template.metadata.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
      const pod = spec.template.spec as {
        securityContext: Record<string, unknown>;
        containers: Record<string, unknown>[];
        volumes: Record<string, unknown>[];
      };
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.containers[0]).toMatchObject({
        args: [
          'serve',
          '--web-http-addr',
          '0.0.0.0:5556',
          '--web-https-addr',
          '0.0.0.0:5554',
          '--telemetry-addr',
          '0.0.0.0:5558',
          '/etc/latchkey/config.yaml',
        ],
        livenessProbe: { httpGet: { path: '/healthz/live', port: 'telemetry' } },
        readinessProbe: { httpGet: { path: '/healthz/ready', port: 'telemetry' } },
        securityContext: { readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        resources: { requests: { cpu: '100m', memory: '128Mi' } },
      });
      expect(pod.volumes).toContainEqual(
        expect.objectContaining({
          name: 'tls',
          secret: { secretName: 'dex.example.com.tls', defaultMode: 420 },
        }),
      );
      const ingress = objects.find((o) => o.kind === 'Ingress')!;
      expect(ingress.spec).toMatchObject({ rules: [{ host: 'dex.example.com' }] });
    });

    it('prints the kube-apiserver flags and the latchkey kubeconfig command for this install', () => {
      expect(installOutput).toContain('--oidc-issuer-url=https://dex.example.com:32000');
      expect(installOutput).toContain('--oidc-client-id=example-app');
      expect(installOutput).toContain('--oidc-ca-file=');
      expect(installOutput).toContain(
        'latchkey kubeconfig --issuer https://dex.example.com:32000 --client-id example-app --ca-file ca.pem',
      );
      expect(installOutput).toContain("https://<a node's address>:32000");
    });

    it('its Role suffices: the rendered config, run with the service account, logs in and refreshes', async () => {
      const secret = ok(
        await cp.kubectl(['-n', ns, 'get', 'secret', 'lk-latchkey', '-o', 'jsonpath={.data.config\\.yaml}']),
        'kubectl get secret',
      ).stdout;
      const rendered = Buffer.from(secret, 'base64').toString('utf8');
      // The ingress is on: Latchkey reads the client's address from the controller's X-Forwarded-For.
      expect((parse(rendered) as { web: { clientRemoteIP: unknown } }).web.clientRemoteIP).toEqual({
        header: 'X-Forwarded-For',
        trustedProxies: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'],
      });
      const kubeconfig = await serviceAccountKubeconfig(cp, ns, 'lk-latchkey', dir);
      const cfg = await localConfig(rendered, kubeconfig, dir);
      let server: ServerProcess | undefined;
      try {
        server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
        const { login, refresh } = await passwordLoginAndRefresh(
          cfg.issuer,
          { id: 'example-app', secret: 'ZXhhbXBsZS1hcHAtc2VjcmV0' },
          { username: 'admin@example.com', password: 'password' },
        );
        expect(jwtClaims(login.id_token)).toMatchObject({
          email: 'admin@example.com',
          groups: ['team-a', 'team-a/admins'],
        });
        expect(refresh.refresh_token).toEqual(expect.any(String));
        expect(refresh.refresh_token).not.toBe(login.refresh_token);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n--- server output ---\n${server?.output() ?? ''}`, {
          cause: e,
        });
      } finally {
        await server?.stop();
      }
      // The state went to the release's namespace, where the Role applies.
      const stored = ok(
        await cp.kubectl(['-n', ns, 'get', 'refreshtokens.latchkey.dev,keysets.latchkey.dev', '-o', 'name']),
        'kubectl get',
      ).stdout;
      expect(stored).toMatch(/refreshtoken\.latchkey\.dev\//);
      expect(stored).toMatch(/keyset\.latchkey\.dev\//);
    }, 120_000);
  });

  it('installs with the default values next to another release (no clashing cluster-scoped names)', async () => {
    const ns = await cp.newNamespace('defaults');
    const out = ok(await helm.run(withCluster(['install', 'lk', CHART, '-n', ns])), 'helm install').stdout;
    // An empty config cannot start: the notes say so rather than leaving users to find it in pod logs.
    expect(out).toContain('WARNING: config.issuer is not set');
    const manifest = ok(
      await helm.run(withCluster(['get', 'manifest', 'lk', '-n', ns])),
      'helm get manifest',
    ).stdout;
    const objects = await getAll(cp, manifest);
    expect(objects.find((o) => o.kind === 'Service')?.spec).toMatchObject({ type: 'ClusterIP' });
    expect(objects.find((o) => o.kind === 'ClusterRole')?.metadata.name).toBe(`lk-latchkey-${ns}-crds`);
  }, 120_000);
});
