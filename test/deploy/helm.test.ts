import { parse, stringify } from 'yaml';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, startServer, type ServerProcess } from '../helpers/cli.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { waitFor } from '../helpers/wait.js';
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
    // The seed-like values turn the ServiceMonitor on: this cluster serves its kind, as the Prometheus
    // Operator's would.
    ok(
      await cp.kubectl(['apply', '-f', join(REPO_ROOT, 'test/deploy/fixtures/servicemonitor-crd.yaml')]),
      'kubectl apply -f servicemonitor-crd.yaml',
    );
    ok(
      await cp.kubectl([
        'wait',
        '--for=condition=Established',
        '--timeout=60s',
        'crd/servicemonitors.monitoring.coreos.com',
      ]),
      'kubectl wait for the ServiceMonitor CRD',
    );
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
          'autoscaling.enabled=true,autoscaling.minReplicas=2,autoscaling.targetMemoryUtilizationPercentage=70',
          '--set',
          'configSecret.create=false,configSecret.name=my-config,rbac.createClusterScoped=false',
          '--set',
          'podDisruptionBudget.enabled=true,podDisruptionBudget.maxUnavailable=1',
        ],
      ],
      // Latchkey creating missing CRDs (a ClusterRole), watching every Secret, Secrets narrowed by name.
      [
        'crdHandling ensure, watchSecrets',
        [
          '--set-json',
          'config={"storage":{"type":"kubernetes","config":{"inCluster":true,"crdHandling":"ensure"}}}',
          '--set',
          'rbac.watchSecrets=true',
        ],
      ],
      ['secretNames', ['--set', 'rbac.secretNames={client-a,client-b}']],
      // The kubelet-side preStop delay (the sleep action: the image has no shell) and the default budget.
      ['3 replicas, preStop sleep', ['--set', 'replicaCount=3,shutdown.preStopSleepSeconds=5']],
      // A Dex user's values file as `helm show values dex/dex` prints it, with the configuration filled in.
      [
        "Dex's chart values",
        [
          '-f',
          join(REPO_ROOT, 'test/deploy/fixtures/dex-chart-values.yaml'),
          '--set-json',
          'config={"issuer":"https://login.example.com/dex","enablePasswordDB":true}',
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

  it('renders the ServiceMonitor when enabled, under helm template too (no cluster API versions known)', async () => {
    const rendered = objectsOf(
      ok(await helm.run(['template', 'r', CHART, '-f', CHART_VALUES]), 'helm template').stdout,
    );
    const monitor = rendered.find((o) => o.kind === 'ServiceMonitor');
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

    it('creates every object of the release, the ServiceMonitor and the PodDisruptionBudget included', async () => {
      const kinds = objectsOf(
        ok(await helm.run(withCluster(['get', 'manifest', 'lk', '-n', ns])), 'helm get manifest').stdout,
      ).map((o) => o.kind);
      expect(objects.map((o) => o.kind).sort()).toEqual([...kinds].sort());
      // Nothing cluster-wide: Helm installed the CRDs, Latchkey only checks them (crdHandling: check).
      // Two Services: the user-facing one and telemetry's.
      expect(kinds.sort()).toEqual(
        [
          'Deployment',
          'Ingress',
          'NetworkPolicy',
          'PodDisruptionBudget',
          'Role',
          'RoleBinding',
          'Secret',
          'Service',
          'Service',
          'ServiceAccount',
          'ServiceMonitor',
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

    it('exposes HTTPS on NodePort 32000, telemetry only in the cluster, and runs 2 locked-down replicas with probes on telemetry', () => {
      const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'lk-latchkey')!;
      expect(service.spec).toMatchObject({
        type: 'NodePort',
        // Client addresses kept, so per-address limits on password guesses act on clients, not on a node.
        externalTrafficPolicy: 'Local',
        ports: expect.arrayContaining([
          expect.objectContaining({ name: 'https', port: 5554, targetPort: 'https', nodePort: 32000 }),
        ]),
      });
      const ports = (service.spec as { ports: { name: string }[] }).ports.map((p) => p.name).sort();
      expect(ports).toEqual(['http', 'https']);
      const telemetry = objects.find(
        (o) => o.kind === 'Service' && o.metadata.name === 'lk-latchkey-telemetry',
      )!;
      expect(telemetry.spec).toMatchObject({
        type: 'ClusterIP',
        ports: [expect.objectContaining({ name: 'telemetry', port: 5558, targetPort: 'telemetry' })],
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
        livenessProbe: { httpGet: { path: '/livez', port: 'telemetry' } },
        readinessProbe: { httpGet: { path: '/readyz', port: 'telemetry' } },
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

        // A client added with kubectl, its secret in a Secret that Latchkey reads by name (the Role grants
        // get on Secrets, not list or watch).
        const client = { id: 'from-secret', secret: 'a-secret-kept-in-a-secret' };
        ok(
          await cp.kubectl(['apply', '-n', ns, '-f', '-'], {
            input: [
              {
                apiVersion: 'v1',
                kind: 'Secret',
                metadata: { name: 'from-secret-client' },
                stringData: { 'client-secret': client.secret },
              },
              {
                apiVersion: 'latchkey.dev/v1',
                kind: 'OAuth2Client',
                metadata: { name: 'from-secret' },
                spec: {
                  id: client.id,
                  name: 'From a Secret',
                  secretRef: { name: 'from-secret-client', key: 'client-secret' },
                  redirectURIs: ['http://127.0.0.1:5555/callback'],
                },
              },
            ]
              .map((o) => stringify(o))
              .join('---\n'),
          }),
          'kubectl apply client',
        );
        const viaSecret = await waitFor(
          () =>
            passwordLoginAndRefresh(cfg.issuer, client, {
              username: 'admin@example.com',
              password: 'password',
            }).catch(() => undefined),
          { what: 'a login with the client whose secret is in a Secret' },
        );
        expect(jwtClaims(viaSecret.login.id_token)).toMatchObject({ aud: client.id });
      } catch (e) {
        throw new Error(`${(e as Error).message}\n--- server output ---\n${server?.output() ?? ''}`, {
          cause: e,
        });
      } finally {
        await server?.stop();
      }
      // The identity may neither enumerate Secrets nor touch CRDs.
      const list = await cp.kubectl(['get', 'secrets', '-n', ns], { kubeconfig });
      expect(list.code).not.toBe(0);
      expect(list.stderr).toMatch(/forbidden/i);
      const canCreateCrds = await cp.kubectl([
        'auth',
        'can-i',
        'create',
        'customresourcedefinitions',
        `--as=system:serviceaccount:${ns}:lk-latchkey`,
      ]);
      expect(canCreateCrds.stdout.trim()).toBe('no');
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
    expect(
      objects.find((o) => o.metadata.name === 'lk-latchkey' && o.kind === 'Service')?.spec,
    ).toMatchObject({
      type: 'ClusterIP',
    });
    expect(objects.filter((o) => o.kind.startsWith('Cluster'))).toEqual([]);
    // Latchkey creating the CRDs itself (crdHandling: ensure): a ClusterRole named after the namespace, so
    // that releases of the same name in other namespaces do not clash.
    const ensureNs = await cp.newNamespace('ensure');
    ok(
      await helm.run(
        withCluster([
          'install',
          'lk',
          CHART,
          '-n',
          ensureNs,
          '--set-json',
          'config={"storage":{"type":"kubernetes","config":{"inCluster":true,"crdHandling":"ensure"}}}',
        ]),
      ),
      'helm install (ensure)',
    );
    const ensureObjects = await getAll(
      cp,
      ok(await helm.run(withCluster(['get', 'manifest', 'lk', '-n', ensureNs])), 'helm get manifest').stdout,
    );
    expect(ensureObjects.find((o) => o.kind === 'ClusterRole')?.metadata.name).toBe(
      `lk-latchkey-${ensureNs}-crds`,
    );
  }, 120_000);
});
