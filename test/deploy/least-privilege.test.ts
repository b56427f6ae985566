import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { KubernetesStorageConfig } from '../../src/config/types.js';
import { UnavailableError } from '../../src/storage/errors.js';
import {
  KubernetesStorage,
  KubernetesStorageStartupError,
  RequestTally,
} from '../../src/storage/kubernetes/kubernetes.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { waitFor } from '../helpers/wait.js';
import { CHART, findHelm, ok, serviceAccountKubeconfig, type Helm, type KubeObject } from './helpers.js';

// The least-privilege RBAC of the chart (and of manifests/, whose rules a test keeps equal to the chart's
// defaults), on a real kube-apiserver: the ServiceAccount bound to exactly the rendered Role — and nothing
// cluster-wide — opens the Kubernetes storage with the CRDs installed beforehand, as Helm does, and reads the
// Secret a client references by name; listing Secrets is refused. The opt-in watch of every Secret and the
// narrowing to named Secrets are checked the same way.

const SECRET = 'app-client-secret';

describe('the chart RBAC, least privilege, on a real API server', () => {
  let cp: ControlPlane;
  let helm: Helm;
  let dir: string;
  const opened: KubernetesStorage[] = [];
  beforeAll(async () => {
    helm = await findHelm();
    cp = await startControlPlane();
    dir = await mkdtemp(join(tmpdir(), 'latchkey-least-privilege-'));
    // Helm creates the chart's CRDs before anything else.
    ok(await cp.kubectl(['apply', '-f', join(CHART, 'crds')]), 'kubectl apply -f charts/latchkey/crds');
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
  }, 10 * 60_000);
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await helm?.cleanup();
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A namespace holding the chart's ServiceAccount and RBAC only (rendered with `values`), and its token. */
  async function install(
    values: string[] = [],
  ): Promise<{ ns: string; kubeconfig: string; rbac: KubeObject[] }> {
    const ns = await cp.newNamespace('rbac');
    const rendered = ok(
      await helm.run([
        'template',
        'lk',
        CHART,
        '-n',
        ns,
        '--show-only',
        'templates/serviceaccount.yaml',
        '--show-only',
        'templates/rbac.yaml',
        ...values,
      ]),
      'helm template',
    ).stdout;
    ok(await cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: rendered }), 'kubectl apply rbac');
    const rbac = JSON.parse(
      ok(await cp.kubectl(['get', '-n', ns, 'role,rolebinding', '-o', 'json']), 'kubectl get role').stdout,
    ) as { items: KubeObject[] };
    return { ns, kubeconfig: await serviceAccountKubeconfig(cp, ns, 'lk-latchkey', dir), rbac: rbac.items };
  }

  const storageConfig = (
    ns: string,
    kubeConfigFile: string,
    more: Partial<KubernetesStorageConfig> = {},
  ): KubernetesStorageConfig => ({
    type: 'kubernetes',
    inCluster: false,
    kubeConfigFile,
    namespace: ns,
    // ensure, the server's default: with the CRDs present it must not need any CRD permission.
    crdHandling: 'ensure',
    ...more,
  });

  async function open(
    ns: string,
    kubeconfig: string,
    tally: RequestTally,
    more: Partial<KubernetesStorageConfig> = {},
  ): Promise<KubernetesStorage> {
    const s = await KubernetesStorage.open(storageConfig(ns, kubeconfig, more), {
      requestCounter: tally.counter,
      secretFreshMs: 1_000,
    });
    opened.push(s);
    return s;
  }

  /** A client whose secret is key `client-secret` of Secret `secretName`, applied by an operator. */
  async function applyClient(ns: string, id: string, secretName: string, value: string): Promise<void> {
    const objects = [
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: secretName },
        stringData: { 'client-secret': value },
      },
      {
        apiVersion: 'latchkey.dev/v1',
        kind: 'OAuth2Client',
        metadata: { name: id },
        spec: {
          id,
          name: id,
          secretRef: { name: secretName, key: 'client-secret' },
          redirectURIs: ['http://127.0.0.1:5555/callback'],
        },
      },
    ];
    ok(
      await cp.kubectl(['apply', '-n', ns, '-f', '-'], {
        input: objects.map((o) => stringify(o)).join('---\n'),
      }),
      'kubectl apply client',
    );
  }

  const asServiceAccount = (ns: string, args: string[]) =>
    cp.kubectl(['auth', 'can-i', ...args, '-n', ns, `--as=system:serviceaccount:${ns}:lk-latchkey`]);

  it('default values: the secret is read by name (get), Secrets cannot be listed or watched, no CRD permission', async () => {
    const { ns, kubeconfig, rbac } = await install();
    const role = rbac.find((o) => o.kind === 'Role')!;
    expect(role.rules).toContainEqual({ apiGroups: [''], resources: ['secrets'], verbs: ['get'] });

    const tally = new RequestTally();
    const s = await open(ns, kubeconfig, tally);
    await applyClient(ns, 'app', SECRET, 'first-secret');
    const client = await waitFor(() => s.getClient('app').catch(() => undefined), {
      what: 'the applied client',
    });
    expect(client.secret).toBe('first-secret');
    expect(tally.count('list', 'secrets')).toBe(0);
    expect(tally.count('watch', 'secrets')).toBe(0);

    // Read once for a burst of authentications, not once each.
    const gets = tally.count('get', 'secrets');
    const burst = await Promise.all(Array.from({ length: 20 }, () => s.getClient('app')));
    expect(burst.every((c) => c.secret === 'first-secret')).toBe(true);
    expect(tally.count('get', 'secrets') - gets).toBeLessThanOrEqual(1);

    // A rotated secret is seen once the short freshness (1 s here) has passed.
    ok(
      await cp.kubectl([
        'patch',
        'secret',
        SECRET,
        '-n',
        ns,
        '-p',
        JSON.stringify({ stringData: { 'client-secret': 'rotated' } }),
      ]),
      'kubectl patch secret',
    );
    await waitFor(async () => (await s.getClient('app')).secret === 'rotated', {
      what: 'the rotated secret',
    });

    // The identity itself: list and watch of Secrets refused by the API server, and no CRD permission at all.
    const sa = { kubeconfig };
    const list = await cp.kubectl(['get', 'secrets', '-n', ns], sa);
    expect(list.code).not.toBe(0);
    expect(list.stderr).toMatch(/Forbidden|forbidden/);
    const byName = await cp.kubectl(['get', 'secret', SECRET, '-n', ns, '-o', 'name'], sa);
    expect(byName.stdout.trim()).toBe(`secret/${SECRET}`);
    for (const verb of ['list', 'watch'])
      expect((await asServiceAccount(ns, [verb, 'secrets'])).stdout.trim()).toBe('no');
    for (const verb of ['create', 'get', 'list'])
      expect((await asServiceAccount(ns, [verb, 'customresourcedefinitions'])).stdout.trim()).toBe('no');
  }, 120_000);

  it('default values: opting in to watchSecrets without the chart value fails at start, naming the missing verbs', async () => {
    const { ns, kubeconfig } = await install();
    const err = await open(ns, kubeconfig, new RequestTally(), { watchSecrets: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KubernetesStorageStartupError);
    expect((err as Error).message).toContain('secrets: list, watch');
  }, 60_000);

  it('rbac.secretNames: only the named Secrets can be read; a client naming another gets a clear error', async () => {
    const { ns, kubeconfig } = await install(['--set', `rbac.secretNames={${SECRET}}`]);
    const s = await open(ns, kubeconfig, new RequestTally());
    await applyClient(ns, 'app', SECRET, 'named');
    await applyClient(ns, 'other', 'not-granted', 'hidden');
    expect((await waitFor(() => s.getClient('app').catch(() => undefined), { what: 'app' })).secret).toBe(
      'named',
    );
    const err = await waitFor(
      () =>
        s.getClient('other').then(
          () => undefined,
          (e: unknown) => (e instanceof UnavailableError && /forbidden/.test(e.message) ? e : undefined),
        ),
      { what: 'the refused Secret' },
    );
    expect(err.message).toContain('cannot get secrets in namespace');
    expect(err.message).toContain('"not-granted"');
  }, 60_000);

  it('rbac.watchSecrets: the chart grants list and watch, and the storage watches instead of reading by name', async () => {
    const { ns, kubeconfig, rbac } = await install(['--set', 'rbac.watchSecrets=true']);
    const role = rbac.find((o) => o.kind === 'Role')!;
    expect(role.rules).toContainEqual({
      apiGroups: [''],
      resources: ['secrets'],
      verbs: ['get', 'list', 'watch'],
    });
    const tally = new RequestTally();
    const s = await open(ns, kubeconfig, tally, { watchSecrets: true });
    await applyClient(ns, 'app', SECRET, 'watched');
    expect((await waitFor(() => s.getClient('app').catch(() => undefined), { what: 'app' })).secret).toBe(
      'watched',
    );
    expect(tally.count('watch', 'secrets')).toBeGreaterThanOrEqual(1);
    expect(tally.count('get', 'secrets')).toBe(0);
  }, 60_000);
});
