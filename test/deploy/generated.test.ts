import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../helpers/cli.js';
import {
  CHART,
  findHelm,
  key,
  objectsOf,
  objectsOfFile,
  ok,
  run,
  type Helm,
  type KubeObject,
} from './helpers.js';

// The deployment files that must agree with each other, checked without a cluster: generated copies against
// their sources, the Role against the CRDs, the chart against manifests/, and the versions everywhere.

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const topLevelManifests = async (): Promise<string[]> =>
  (await readdir(join(REPO_ROOT, 'manifests')))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => `manifests/${f}`);
const crdFiles = async (): Promise<string[]> =>
  (await readdir(join(REPO_ROOT, 'manifests/crds')))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => `manifests/crds/${f}`);

async function objectsOfFiles(files: string[]): Promise<KubeObject[]> {
  return (await Promise.all(files.map(objectsOfFile))).flat();
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
    expect(rules).toContainEqual({
      apiGroups: [''],
      resources: ['secrets'],
      verbs: ['get', 'list', 'watch'],
    });
    expect(rules).toContainEqual({
      apiGroups: ['coordination.k8s.io'],
      resources: ['leases'],
      verbs: ['get', 'create', 'update'],
    });
  });

  it('the chart grants exactly the rules of manifests/ (namespaced and for CRDs)', async () => {
    const rendered = objectsOf(
      ok(await helm.run(['template', 'r', CHART, '-n', 'ns']), 'helm template').stdout,
    );
    const manifests = await objectsOfFile('manifests/10-rbac.yaml');
    for (const kind of ['Role', 'ClusterRole']) {
      const fromChart = rendered.find((o) => o.kind === kind);
      const fromManifests = manifests.find((o) => o.kind === kind);
      expect(fromChart?.rules).toEqual(fromManifests?.rules);
    }
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
