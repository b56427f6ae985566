import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
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

  it('a pod drains before it stops: web.drainDelay within terminationGracePeriodSeconds, in manifests/ and the chart', async () => {
    const configOf = (secret: KubeObject) =>
      parse(
        (secret.stringData as Record<string, string> | undefined)?.['config.yaml'] ??
          Buffer.from((secret.data as Record<string, string>)['config.yaml']!, 'base64').toString('utf8'),
      ) as { web?: { drainDelay?: string } };
    const graceOf = (deployment: KubeObject) =>
      (deployment.spec as { template: { spec: { terminationGracePeriodSeconds?: number } } }).template.spec
        .terminationGracePeriodSeconds;
    // serve's grace for requests in flight once the listeners close (src/cli/serve.ts).
    const inFlightGraceSeconds = 20;

    const manifests = await objectsOfFiles(await topLevelManifests());
    const manifestsDelay = configOf(manifests.find((o) => o.kind === 'Secret')!).web?.drainDelay;
    expect(manifestsDelay).toBe('10s');
    expect(graceOf(manifests.find((o) => o.kind === 'Deployment')!)).toBeGreaterThan(
      10 + inFlightGraceSeconds,
    );

    const render = async (...args: string[]) =>
      objectsOf(ok(await helm.run(['template', 'r', CHART, '-n', 'ns', ...args]), 'helm template').stdout);
    const chart = await render();
    expect(configOf(chart.find((o) => o.kind === 'Secret')!).web?.drainDelay).toBe('10s');
    expect(graceOf(chart.find((o) => o.kind === 'Deployment')!)).toBeGreaterThan(10 + inFlightGraceSeconds);
    // The configuration's own value wins over the chart's default.
    const own = await render('--set', 'config.web.drainDelay=3s');
    expect(configOf(own.find((o) => o.kind === 'Secret')!).web?.drainDelay).toBe('3s');
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
          '--api-versions',
          'monitoring.coreos.com/v1/ServiceMonitor',
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
