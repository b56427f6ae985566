import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseGoDuration } from '../../src/config/duration.js';
import { REPO_ROOT } from '../helpers/cli.js';
import {
  CHART,
  crdFiles,
  findHelm,
  key,
  objectsOf,
  objectsOfFile,
  objectsOfFiles,
  ok,
  run,
  topLevelManifests,
  type Helm,
  type KubeObject,
} from './helpers.js';

// The deployment files that must agree with each other, checked without a cluster: generated copies against
// their sources, the Role against the CRDs, the chart against manifests/, and the versions everywhere.

interface Rule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}

/** Whether any rule lets its holder do `verb` on every object of `resource` (no resourceNames). */
const grantsAll = (rules: Rule[], group: string, resource: string, verb: string): boolean =>
  rules.some(
    (r) =>
      r.apiGroups.includes(group) &&
      r.resources.includes(resource) &&
      r.verbs.includes(verb) &&
      !(r.resourceNames?.length ?? 0),
  );

interface Probe {
  httpGet: { path: string; port: string };
  timeoutSeconds?: number;
  periodSeconds?: number;
  failureThreshold?: number;
}

interface PodSpec {
  terminationGracePeriodSeconds?: number;
  containers: {
    livenessProbe?: Probe;
    readinessProbe?: Probe;
    lifecycle?: { preStop?: { exec?: unknown; sleep?: { seconds: number } } };
  }[];
}

describe('deployment files', () => {
  let helm: Helm;
  beforeAll(async () => {
    helm = await findHelm();
  }, 10 * 60_000);
  afterAll(async () => {
    await helm?.cleanup();
  });

  it('the bundle and the chart CRDs are what scripts/bundle-manifests.mjs makes of manifests/', async () => {
    const r = await run(process.execPath, [join(REPO_ROOT, 'scripts/bundle-manifests.mjs'), '--check']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('the bundle holds every object of manifests/ once, the Namespace first', async () => {
    const bundle = await objectsOfFile('manifests/bundle/latchkey.yaml');
    const sources = await objectsOfFiles([...(await crdFiles()), ...(await topLevelManifests())]);
    expect(bundle.map(key).sort()).toEqual(sources.map(key).sort());
    expect(new Set(bundle.map(key)).size).toBe(bundle.length);
    // kubectl create -f works through the file in order: nothing namespaced may come before its Namespace.
    expect(bundle[0]).toMatchObject({ kind: 'Namespace', metadata: { name: 'latchkey' } });
  });

  it('the Role grants Latchkey every kind manifests/crds defines', async () => {
    const crds = await objectsOfFiles(await crdFiles());
    const plurals = crds.map((c) => (c.spec as { names: { plural: string } }).names.plural).sort();
    expect(plurals.length).toBeGreaterThan(0);
    const role = (await objectsOfFile('manifests/10-rbac.yaml')).find((o) => o.kind === 'Role')!;
    const rules = role.rules as Rule[];
    const own = rules.find((r) => r.apiGroups.includes('latchkey.dev'))!;
    expect([...own.resources].sort()).toEqual(plurals);
    expect(own.verbs).toEqual(expect.arrayContaining(['get', 'list', 'watch', 'create', 'update', 'delete']));
    // Secrets clients reference are read by name: get, never list or watch of every Secret.
    expect(rules).toContainEqual({ apiGroups: [''], resources: ['secrets'], verbs: ['get'] });
    expect(grantsAll(rules, '', 'secrets', 'list')).toBe(false);
    expect(grantsAll(rules, '', 'secrets', 'watch')).toBe(false);
    expect(rules).toContainEqual({
      apiGroups: ['coordination.k8s.io'],
      resources: ['leases'],
      verbs: ['get', 'create', 'update'],
    });
  });

  it('the ClusterRole of manifests/ (crdHandling: ensure) creates CRDs and reads only its own', async () => {
    const crds = await objectsOfFiles(await crdFiles());
    const clusterRole = (await objectsOfFile('manifests/10-rbac.yaml')).find(
      (o) => o.kind === 'ClusterRole',
    )!;
    const rules = clusterRole.rules as Rule[];
    expect(rules).toEqual([
      { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['create'] },
      {
        apiGroups: ['apiextensions.k8s.io'],
        resources: ['customresourcedefinitions'],
        resourceNames: crds.map((c) => c.metadata.name).sort(),
        verbs: ['get'],
      },
    ]);
  });

  it('the chart grants the Role of manifests/, and by default nothing cluster-wide (Helm installs the CRDs)', async () => {
    const render = async (...args: string[]) =>
      objectsOf(ok(await helm.run(['template', 'r', CHART, '-n', 'ns', ...args]), 'helm template').stdout);
    const manifests = await objectsOfFile('manifests/10-rbac.yaml');
    const defaults = await render();
    expect(defaults.find((o) => o.kind === 'Role')?.rules).toEqual(
      manifests.find((o) => o.kind === 'Role')?.rules,
    );
    expect(defaults.filter((o) => o.kind.startsWith('Cluster'))).toEqual([]);
    // The rendered configuration says why: Latchkey only checks the CRDs Helm installed.
    const secret = defaults.find((o) => o.kind === 'Secret')!;
    const config = parse(
      Buffer.from((secret.data as Record<string, string>)['config.yaml']!, 'base64').toString('utf8'),
    ) as { storage: { config: Record<string, unknown> } };
    expect(config.storage.config).toEqual({ inCluster: true, crdHandling: 'check' });

    // Choosing ensure (e.g. with --skip-crds) brings the ClusterRole of manifests/, and only then.
    const ensureConfig =
      'config={"storage":{"type":"kubernetes","config":{"inCluster":true,"crdHandling":"ensure"}}}';
    const ensure = await render('--set-json', ensureConfig);
    expect(ensure.find((o) => o.kind === 'ClusterRole')?.rules).toEqual(
      manifests.find((o) => o.kind === 'ClusterRole')?.rules,
    );
    expect(ensure.map((o) => o.kind)).toContain('ClusterRoleBinding');
    const ensureOff = await render('--set-json', ensureConfig, '--set', 'rbac.createClusterScoped=false');
    expect(ensureOff.filter((o) => o.kind.startsWith('Cluster'))).toEqual([]);

    // Opting in to the namespace-wide watch of Secrets grants list and watch and switches the storage to it.
    const watch = await render('--set', 'rbac.watchSecrets=true');
    const watchRules = watch.find((o) => o.kind === 'Role')!.rules as Rule[];
    expect(grantsAll(watchRules, '', 'secrets', 'list')).toBe(true);
    expect(grantsAll(watchRules, '', 'secrets', 'watch')).toBe(true);
    const watchSecret = watch.find((o) => o.kind === 'Secret')!;
    expect(
      parse(
        Buffer.from((watchSecret.data as Record<string, string>)['config.yaml']!, 'base64').toString('utf8'),
      ),
    ).toMatchObject({ storage: { config: { watchSecrets: true } } });

    // Narrowed to named Secrets.
    const named = await render('--set', 'rbac.secretNames={a-client-secret}');
    expect(named.find((o) => o.kind === 'Role')!.rules).toContainEqual({
      apiGroups: [''],
      resources: ['secrets'],
      resourceNames: ['a-client-secret'],
      verbs: ['get'],
    });
  });

  it('a pod drains before it stops: preStop sleep + web.drainDelay + the in-flight grace within terminationGracePeriodSeconds, in manifests/ and the chart', async () => {
    const configOf = (secret: KubeObject) =>
      parse(
        (secret.stringData as Record<string, string> | undefined)?.['config.yaml'] ??
          Buffer.from((secret.data as Record<string, string>)['config.yaml']!, 'base64').toString('utf8'),
      ) as { web?: { drainDelay?: string } };
    const podOf = (deployment: KubeObject) =>
      (deployment.spec as { template: { spec: PodSpec } }).template.spec;
    // serve's grace for requests in flight once the listeners close (src/cli/serve.ts).
    const inFlightGraceSeconds = 20;
    /** Everything between the kubelet's first step (preStop) and the process's exit, at worst. */
    const drainSecondsOf = (objects: KubeObject[]) => {
      const pod = podOf(objects.find((o) => o.kind === 'Deployment')!);
      const preStop = pod.containers[0]!.lifecycle?.preStop;
      // The image has no shell: an exec hook (`sleep 5`) would fail, and the kubelet would go straight on.
      expect(preStop?.exec).toBeUndefined();
      const drainDelay = configOf(objects.find((o) => o.kind === 'Secret')!).web?.drainDelay ?? '0s';
      return (preStop?.sleep?.seconds ?? 0) + parseGoDuration(drainDelay) / 1000 + inFlightGraceSeconds;
    };
    const graceOf = (objects: KubeObject[]) =>
      podOf(objects.find((o) => o.kind === 'Deployment')!).terminationGracePeriodSeconds ?? 30;

    const manifests = await objectsOfFiles(await topLevelManifests());
    expect(configOf(manifests.find((o) => o.kind === 'Secret')!).web?.drainDelay).toBe('10s');
    expect(drainSecondsOf(manifests)).toBe(30);
    expect(drainSecondsOf(manifests)).toBeLessThan(graceOf(manifests));

    const render = async (...args: string[]) =>
      objectsOf(ok(await helm.run(['template', 'r', CHART, '-n', 'ns', ...args]), 'helm template').stdout);
    const chart = await render();
    expect(configOf(chart.find((o) => o.kind === 'Secret')!).web?.drainDelay).toBe('10s');
    expect(drainSecondsOf(chart)).toBe(30);
    expect(drainSecondsOf(chart)).toBeLessThan(graceOf(chart));
    // The configuration's own value wins over the chart's default.
    const own = await render('--set', 'config.web.drainDelay=3s');
    expect(configOf(own.find((o) => o.kind === 'Secret')!).web?.drainDelay).toBe('3s');
    // A kubelet-side preStop delay, for proxies that ignore readiness: the sleep action, no shell needed.
    const withSleep = await render('--set', 'shutdown.preStopSleepSeconds=5');
    expect(podOf(withSleep.find((o) => o.kind === 'Deployment')!).containers[0]!.lifecycle).toEqual({
      preStop: { sleep: { seconds: 5 } },
    });
    expect(drainSecondsOf(withSleep)).toBe(35);
    expect(drainSecondsOf(withSleep)).toBeLessThan(graceOf(withSleep));
  });

  it('probes /livez and /readyz on telemetry with explicit timeouts, in manifests/ and the chart', async () => {
    const probesOf = (objects: KubeObject[]) => {
      const container = (
        objects.find((o) => o.kind === 'Deployment')!.spec as { template: { spec: PodSpec } }
      ).template.spec.containers[0]!;
      return { liveness: container.livenessProbe, readiness: container.readinessProbe };
    };
    const explicit = (path: string) =>
      expect.objectContaining({
        httpGet: { path, port: 'telemetry' },
        timeoutSeconds: expect.any(Number),
        periodSeconds: expect.any(Number),
        failureThreshold: expect.any(Number),
      });
    const wanted = { liveness: explicit('/livez'), readiness: explicit('/readyz') };

    const manifests = await objectsOfFiles(await topLevelManifests());
    expect(probesOf(manifests)).toEqual(wanted);
    const render = async (...args: string[]) =>
      objectsOf(ok(await helm.run(['template', 'r', CHART, '-n', 'ns', ...args]), 'helm template').stdout);
    const chart = await render();
    expect(probesOf(chart)).toEqual(wanted);
    // The chart and manifests/ probe alike.
    expect(probesOf(chart)).toEqual(probesOf(manifests));
    // Dex's chart's keys: a Dex values file's probe paths (still served) and timings carry over.
    const dexLike = await render(
      '--set',
      'livenessProbe.httpPath=/healthz/live,livenessProbe.timeoutSeconds=5,readinessProbe.enabled=false',
    );
    expect(probesOf(dexLike)).toEqual({
      liveness: expect.objectContaining({
        httpGet: { path: '/healthz/live', port: 'telemetry' },
        timeoutSeconds: 5,
      }),
      readiness: undefined,
    });
  });

  it('renders a PodDisruptionBudget only where it can never block kubectl drain: more than one pod', async () => {
    const pdbOf = async (...args: string[]) =>
      objectsOf(
        ok(await helm.run(['template', 'r', CHART, '-n', 'ns', ...args]), 'helm template').stdout,
      ).filter((o) => o.kind === 'PodDisruptionBudget');

    // One replica: no budget, whatever it would say (minAvailable 1 would make the node undrainable).
    expect(await pdbOf('--set', 'replicaCount=1')).toEqual([]);
    expect(await pdbOf('--set', 'replicaCount=1,podDisruptionBudget.minAvailable=1')).toEqual([]);
    expect(await pdbOf('--set', 'autoscaling.enabled=true,autoscaling.minReplicas=1,replicaCount=3')).toEqual(
      [],
    );

    // Three replicas: one pod at a time, selecting exactly the Deployment's pods.
    const three = await pdbOf('--set', 'replicaCount=3');
    expect(three).toHaveLength(1);
    expect(three[0]!.spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: expect.any(Object) },
    });
    const chart = objectsOf(
      ok(await helm.run(['template', 'r', CHART, '-n', 'ns', '--set', 'replicaCount=3']), 'helm template')
        .stdout,
    );
    const deployment = chart.find((o) => o.kind === 'Deployment')!;
    expect((three[0]!.spec as { selector: unknown }).selector).toEqual(
      (deployment.spec as { selector: unknown }).selector,
    );
    // Autoscaled with a floor above one, and an explicit minAvailable, are kept.
    expect(await pdbOf('--set', 'autoscaling.enabled=true,autoscaling.minReplicas=2')).toHaveLength(1);
    const min = await pdbOf('--set', 'replicaCount=3,podDisruptionBudget.minAvailable=2');
    expect(min[0]!.spec).toMatchObject({ minAvailable: 2 });
    expect(min[0]!.spec).not.toHaveProperty('maxUnavailable');
    // And switched off on request.
    expect(await pdbOf('--set', 'replicaCount=3,podDisruptionBudget.enabled=false')).toEqual([]);
  });

  it('renders the ServiceMonitor under helm template whenever it is enabled, without the cluster API versions', async () => {
    const kinds = async (...args: string[]) =>
      objectsOf(
        ok(await helm.run(['template', 'r', CHART, '-n', 'ns', ...args]), 'helm template').stdout,
      ).map((o) => o.kind);
    expect(await kinds()).not.toContain('ServiceMonitor');
    expect(await kinds('--set', 'serviceMonitor.enabled=true')).toContain('ServiceMonitor');
  });

  it('telemetry is on a Service of its own, in manifests/ and in the chart, and the ServiceMonitor selects only it', async () => {
    const services = (await objectsOfFile('manifests/40-service.yaml')).filter((o) => o.kind === 'Service');
    const userFacing = services.filter((o) => o.metadata.name === 'latchkey');
    const telemetry = services.filter((o) => o.metadata.name === 'latchkey-telemetry');
    expect(userFacing).toHaveLength(1);
    expect(telemetry).toHaveLength(1);
    const portsOf = (o: KubeObject) =>
      (o.spec as { ports: { targetPort: string }[] }).ports.map((p) => p.targetPort);
    expect(portsOf(userFacing[0]!)).toEqual(['https']);
    expect(portsOf(telemetry[0]!)).toEqual(['telemetry']);
    expect(telemetry[0]!.spec).toMatchObject({ type: 'ClusterIP' });

    const chart = objectsOf(
      ok(
        await helm.run([
          'template',
          'r',
          CHART,
          '-n',
          'ns',
          '-f',
          join(REPO_ROOT, 'test/deploy/fixtures/chart-values.yaml'),
        ]),
        'helm template',
      ).stdout,
    );
    const chartServices = chart.filter((o) => o.kind === 'Service');
    expect(chartServices.map((o) => o.metadata.name).sort()).toEqual(['r-latchkey', 'r-latchkey-telemetry']);
    const main = chartServices.find((o) => o.metadata.name === 'r-latchkey')!;
    const tele = chartServices.find((o) => o.metadata.name === 'r-latchkey-telemetry')!;
    expect(portsOf(main)).not.toContain('telemetry');
    expect(tele.spec).toMatchObject({ type: 'ClusterIP' });
    expect(portsOf(tele)).toEqual(['telemetry']);
    // What the Prometheus Operator does with the selector: match Service labels.
    const monitor = chart.find((o) => o.kind === 'ServiceMonitor')!;
    const selector = (monitor.spec as { selector: { matchLabels: Record<string, string> } }).selector
      .matchLabels;
    const selects = (o: KubeObject) =>
      Object.entries(selector).every(([k, v]) => (o.metadata.labels as Record<string, string>)[k] === v);
    expect(chartServices.filter(selects).map((o) => o.metadata.name)).toEqual(['r-latchkey-telemetry']);
    expect(monitor.spec).toMatchObject({ endpoints: [{ port: 'telemetry' }] });
  });

  it('names one version everywhere: package.json, the chart, the manifests image, the Dockerfile Node', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
      devDependencies: Record<string, string>;
    };
    const chart = parse(await readFile(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    expect(chart.appVersion).toBe(pkg.version);
    const deployment = (await objectsOfFile('manifests/30-deployment.yaml'))[0]!;
    const image = (deployment.spec as { template: { spec: { containers: { image: string }[] } } }).template
      .spec.containers[0]!.image;
    expect(image).toBe(`latchkey:${pkg.version}`);
    // The image runs on the Node.js the project pins for development and tests.
    const dockerfile = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    expect(/^ARG NODE_VERSION=(\S+)$/m.exec(dockerfile)?.[1]).toBe(pkg.devDependencies.node);
  });
});
