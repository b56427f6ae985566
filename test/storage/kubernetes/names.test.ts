import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestTally } from '../../../src/storage/kubernetes/api.js';
import { loadCluster } from '../../../src/storage/kubernetes/cluster.js';
import { KubernetesStorage } from '../../../src/storage/kubernetes/kubernetes.js';
import {
  base32,
  hashName,
  isValidObjectName,
  labelValue,
  objectName,
  offlineSessionsName,
} from '../../../src/storage/kubernetes/names.js';
import { isNewer } from '../../../src/storage/kubernetes/watch-cache.js';
import { rejection } from '../conformance/context.js';

// Names, labels and start-up errors that need no cluster.

describe('object names', () => {
  it('are the ID itself when Kubernetes accepts it as a name', () => {
    for (const id of ['example-app', 'a', 'refresh.token-1', 'x'.repeat(253)])
      expect(objectName(id)).toBe(id);
  });

  it('are a fixed-length hash for any other ID, never a refusal', () => {
    for (const id of [
      'x'.repeat(254),
      'c'.repeat(300),
      'My/App',
      'UPPER',
      'a_b',
      'jane@example.com',
      '-a',
      '',
    ]) {
      expect(isValidObjectName(id)).toBe(false);
      expect(objectName(id)).toMatch(/^h[a-z2-7]{52}$/);
      expect(isValidObjectName(objectName(id))).toBe(true);
    }
    expect(objectName('My/App')).toBe(objectName('My/App'));
    expect(objectName('My/App')).not.toBe(objectName('my/app'));
  });

  it('keep the two parts of an offline-sessions key apart', () => {
    expect(offlineSessionsName('user-a', 'ldap2')).not.toBe(offlineSessionsName('user-al', 'dap2'));
    expect(offlineSessionsName('a', 'b')).toBe(offlineSessionsName('a', 'b'));
  });

  it('use RFC 4648 base32, lower case, no padding', () => {
    const b = (s: string): string => base32(Buffer.from(s));
    expect(['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar'].map(b)).toEqual([
      '',
      'my',
      'mzxq',
      'mzxw6',
      'mzxw6yq',
      'mzxw6ytb',
      'mzxw6ytboi',
    ]);
    expect(hashName('x')).toHaveLength(53);
  });
});

describe('label values', () => {
  it('are the value when valid, else its hash (≤ 63 characters either way)', () => {
    expect(labelValue('example-app')).toBe('example-app');
    expect(labelValue('Example_App.1')).toBe('Example_App.1');
    for (const v of ['x'.repeat(64), 'a/b', 'a b', '-a', 'a-']) {
      expect(labelValue(v)).toBe(hashName(v));
      expect(labelValue(v).length).toBeLessThanOrEqual(63);
    }
  });
});

describe('resource versions', () => {
  it('compare as numbers when they are numbers', () => {
    expect(isNewer('10', '9')).toBe(true);
    expect(isNewer('9', '10')).toBe(false);
    expect(isNewer('10', '10')).toBe(false);
    expect(isNewer('1', undefined)).toBe(true);
    expect(isNewer(undefined, '1')).toBe(false);
  });
});

describe('RequestTally', () => {
  it('counts by verb and resource', () => {
    const t = new RequestTally();
    t.counter('get', 'authcodes');
    t.counter('delete', 'authcodes');
    t.counter('get', 'refreshtokens');
    t.counter('list', 'keysets');
    t.counter('watch', 'keysets');
    expect(t.count('get')).toBe(2);
    expect(t.count('get', 'authcodes')).toBe(1);
    expect(t.writes()).toBe(1);
    expect(t.reads()).toBe(3);
    expect(t.snapshot()).toEqual({
      'delete authcodes': 1,
      'get authcodes': 1,
      'get refreshtokens': 1,
      'list keysets': 1,
      'watch keysets': 1,
    });
    t.reset();
    expect(t.snapshot()).toEqual({});
  });
});

describe('start-up errors without a cluster', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-k8s-names-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('name a kubeconfig file that cannot be read', async () => {
    const err = (await rejection(
      KubernetesStorage.open({
        type: 'kubernetes',
        inCluster: false,
        kubeConfigFile: join(dir, 'missing'),
        crdHandling: 'check',
      }),
    )) as Error;
    expect(err.message).toMatch(/^kubernetes storage: cannot read the kubeconfig file .*missing/);
  });

  it('say when in-cluster configuration is used outside a pod', async () => {
    const err = (await rejection(
      KubernetesStorage.open({ type: 'kubernetes', inCluster: true, crdHandling: 'check' }, { env: {} }),
    )) as Error;
    expect(err.message).toMatch(/inCluster is true, but this process does not run in a Kubernetes pod/);
  });

  it('say when there is no service-account token to run with', async () => {
    const err = (await rejection(
      KubernetesStorage.open(
        { type: 'kubernetes', inCluster: true, crdHandling: 'check' },
        { env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1' }, inClusterRoot: dir },
      ),
    )) as Error;
    expect(err.message).toMatch(
      /no service-account token at .*\/var\/run\/secrets\/kubernetes\.io\/serviceaccount\/token/,
    );
  });

  it('resolve the namespace: configured, else the pod’s or the kubeconfig context’s, else "default"', async () => {
    const kubeconfig = async (name: string, ns?: string): Promise<string> => {
      const file = join(dir, name);
      await writeFile(
        file,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1',
          'users:\n- name: u\n  user:\n    token: x',
          `contexts:\n- name: c\n  context:\n    cluster: c\n    user: u${ns ? `\n    namespace: ${ns}` : ''}`,
          'current-context: c',
          '',
        ].join('\n'),
      );
      return file;
    };
    const file = (f: string) =>
      ({ type: 'kubernetes', inCluster: false, kubeConfigFile: f, crdHandling: 'check' }) as const;
    expect(loadCluster(file(await kubeconfig('a', 'from-context'))).namespace).toBe('from-context');
    expect(loadCluster({ ...file(await kubeconfig('b', 'from-context')), namespace: 'set' }).namespace).toBe(
      'set',
    );
    expect(loadCluster(file(await kubeconfig('c'))).namespace).toBe('default');

    const root = join(dir, 'pod');
    const sa = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, 'token'), 'token');
    await writeFile(join(sa, 'namespace'), 'from-file\n');
    const env = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const pod = { type: 'kubernetes', inCluster: true, crdHandling: 'check' } as const;
    const inPod = loadCluster(pod, { env, inClusterRoot: root });
    expect([inPod.namespace, inPod.server]).toEqual(['from-file', 'https://10.0.0.1:443']);
    expect(
      loadCluster(pod, { env: { ...env, KUBERNETES_POD_NAMESPACE: 'from-env' }, inClusterRoot: root })
        .namespace,
    ).toBe('from-env');
    expect(loadCluster({ ...pod, namespace: 'set' }, { env, inClusterRoot: root }).namespace).toBe('set');
  });
});
