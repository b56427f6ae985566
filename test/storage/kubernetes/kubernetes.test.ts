import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesStorageConfig } from '../../../src/config/types.js';
import { NotFoundError, UnavailableError } from '../../../src/storage/errors.js';
import {
  KubernetesStorage,
  RequestTally,
  type KubernetesStorageOptions,
} from '../../../src/storage/kubernetes/kubernetes.js';
import { hashName } from '../../../src/storage/kubernetes/names.js';
import { REPO_ROOT } from '../../helpers/cli.js';
import { startControlPlane, type ControlPlane } from '../../helpers/control-plane.js';
import { freePort } from '../../helpers/net.js';
import { waitFor } from '../../helpers/wait.js';
import { rejection } from '../conformance/context.js';
import * as f from '../fixtures.js';
import { testStorageConfig } from './test-storage.js';

// What the conformance suite cannot see: CRDs and kubectl, objects managed by operators, names, labels,
// several replicas on one namespace, start-up failures, request counts and an API-server outage. One control
// plane for the file; the tests run in order (the first ones need a cluster without the CRDs, the last one
// stops the API server).

const ALL_CRDS = [
  'authcodes',
  'authrequests',
  'authsessions',
  'connectors',
  'devicerequests',
  'devicetokens',
  'keysets',
  'oauth2clients',
  'offlinesessions',
  'passwords',
  'refreshtokens',
  'revocations',
].map((p) => `${p}.latchkey.dev`);

let cp: ControlPlane;
let tmp: string;
const opened: KubernetesStorage[] = [];

beforeAll(async () => {
  cp = await startControlPlane();
  tmp = await mkdtemp(join(tmpdir(), 'latchkey-k8s-test-'));
}, 10 * 60_000);
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await cp?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const config = (namespace: string, more: Partial<KubernetesStorageConfig> = {}): KubernetesStorageConfig =>
  testStorageConfig(cp.kubeconfig, namespace, more);

async function open(
  namespace: string,
  more: Partial<KubernetesStorageConfig> = {},
  opts: KubernetesStorageOptions = {},
): Promise<KubernetesStorage> {
  const s = await KubernetesStorage.open(config(namespace, more), opts);
  opened.push(s);
  return s;
}

async function kubectl(...args: string[]): Promise<string> {
  const r = await cp.kubectl(args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

let files = 0;
async function tokenKubeconfig(token: string): Promise<string> {
  const file = join(tmp, `token-${++files}.kubeconfig`);
  await writeFile(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: test\n  cluster:\n    server: ${cp.apiURL}\n    certificate-authority: ${cp.caFile}`,
      'users:',
      `- name: sa\n  user:\n    token: ${token}`,
      'contexts:',
      '- name: test\n  context:\n    cluster: test\n    user: sa',
      'current-context: test',
      '',
    ].join('\n'),
  );
  return file;
}

async function serviceAccountToken(namespace: string, name: string): Promise<string> {
  await kubectl('create', 'serviceaccount', name, '-n', namespace);
  return (await kubectl('create', 'token', name, '-n', namespace, '--duration=1h')).trim();
}

const BACKEND_RULES = [
  {
    apiGroups: ['latchkey.dev'],
    resources: ALL_CRDS.map((c) => c.split('.')[0]!),
    verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'],
  },
  {
    apiGroups: ['latchkey.dev'],
    resources: ['connectors/status', 'oauth2clients/status', 'passwords/status'],
    verbs: ['update'],
  },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

async function grant(namespace: string, account: string, rules: object[]): Promise<void> {
  const role = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: account, namespace },
    rules,
  };
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: account, namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: account },
    subjects: [{ kind: 'ServiceAccount', name: account, namespace }],
  };
  const r = await cp.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [role, binding] }),
  });
  if (r.code !== 0) throw new Error(`granting ${account}: ${r.stderr}`);
}

describe('start-up', () => {
  it('with crdHandling: check on a cluster without the CRDs, fails naming every missing one', async () => {
    const ns = await cp.newNamespace('check');
    const err = (await rejection(open(ns, { crdHandling: 'check' }))) as Error;
    expect(err.message).toMatch(/custom resource definitions missing in the cluster/);
    for (const crd of ALL_CRDS) expect(err.message).toContain(crd);
    expect(err.message).toMatch(/crdHandling: ensure/);
  });

  it('with crdHandling: ensure, creates the CRDs from manifests/crds, established and structural', async () => {
    const ns = await cp.newNamespace('ensure');
    await open(ns);
    const crds = JSON.parse(await kubectl('get', 'crd', '-o', 'json')) as {
      items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[];
    };
    const ours = crds.items.filter((c) => c.metadata.name.endsWith('.latchkey.dev'));
    expect(ours.map((c) => c.metadata.name).sort()).toEqual(ALL_CRDS);
    for (const c of ours) {
      expect(c.status.conditions).toContainEqual(
        expect.objectContaining({ type: 'Established', status: 'True' }),
      );
      expect(c.status.conditions.map((x) => x.type)).not.toContain('NonStructuralSchema');
    }
    // Now a check passes.
    await open(await cp.newNamespace('check'), { crdHandling: 'check' });
  });

  it('says so when the namespace does not exist', async () => {
    const s = await open('no-such-namespace');
    const err = await rejection(s.createAuthCode(f.authCode('c')));
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/namespace "no-such-namespace" not found/);
  });

  it('names the verb and resource when the identity has no RBAC at all', async () => {
    const ns = await cp.newNamespace('norbac');
    const kubeConfigFile = await tokenKubeconfig(await serviceAccountToken(ns, 'nobody'));
    const err = (await rejection(open(ns, { kubeConfigFile }))) as Error;
    expect(err.message).toMatch(
      new RegExp(`cannot list [a-z0-9]+\\.latchkey\\.dev in namespace "${ns}": forbidden`),
    );
    expect(err.message).toContain(`system:serviceaccount:${ns}:nobody`);
  });

  it('names every missing permission when RBAC grants only some', async () => {
    const ns = await cp.newNamespace('somerbac');
    const kubeConfigFile = await tokenKubeconfig(await serviceAccountToken(ns, 'reader'));
    await grant(ns, 'reader', [
      { apiGroups: ['latchkey.dev'], resources: ['*'], verbs: ['get', 'list', 'watch'] },
    ]);
    const err = (await waitFor(
      () =>
        open(ns, { kubeConfigFile }).then(
          () => undefined,
          (e: Error) => (/missing permissions/.test(e.message) ? e : undefined),
        ),
      { what: 'the Role to take effect' },
    )) as Error;
    expect(err.message).toContain(`missing permissions in namespace "${ns}"`);
    expect(err.message).toContain('authcodes.latchkey.dev: create, update, delete;');
    expect(err.message).toContain('oauth2clients.latchkey.dev: create, update, delete;');
    expect(err.message).toContain('leases.coordination.k8s.io: get, create, update.');
    expect(err.message).not.toMatch(/latchkey\.dev: [^;]*\b(get|list|watch)\b/);
  });

  it('works with exactly the documented Role, garbage collection included', async () => {
    const ns = await cp.newNamespace('rbac');
    const kubeConfigFile = await tokenKubeconfig(await serviceAccountToken(ns, 'latchkey'));
    await grant(ns, 'latchkey', BACKEND_RULES);
    const s = await waitFor(
      () =>
        KubernetesStorage.open(config(ns, { kubeConfigFile, crdHandling: 'check' })).catch(() => undefined),
      { what: 'the Role to take effect' },
    );
    opened.push(s);
    await s.createAuthCode(f.authCode('code'));
    expect((await s.consumeAuthCode('code')).id).toBe('code');
    await s.createClient(f.client('app'));
    await s.updateClient('app', (c) => ({ ...c, name: 'renamed' }));
    expect((await s.getClient('app')).name).toBe('renamed');
    await s.createAuthRequest(f.authRequest('old', new Date('2020-01-01T00:00:00Z')));
    expect((await s.garbageCollect(new Date())).authRequests).toBe(1);
  });

  it('runs in a pod: API address from the environment, token, CA and namespace from the service-account files', async () => {
    const ns = await cp.newNamespace('incluster');
    const token = await serviceAccountToken(ns, 'pod');
    await grant(ns, 'pod', BACKEND_RULES);
    const root = join(tmp, 'pod-root');
    const sa = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, 'token'), token);
    await writeFile(join(sa, 'namespace'), ns);
    await writeFile(join(sa, 'ca.crt'), await readFile(cp.caFile));
    const url = new URL(cp.apiURL);
    const env = { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port };
    const s = await waitFor(
      () =>
        KubernetesStorage.open(
          { type: 'kubernetes', inCluster: true, crdHandling: 'check' },
          { env, inClusterRoot: root },
        ).catch(() => undefined),
      { what: 'the Role to take effect' },
    );
    opened.push(s);
    expect(s.namespace).toBe(ns);
    await s.createRefreshToken(f.refreshToken('from-a-pod'));
    expect(await kubectl('get', 'refreshtokens', '-n', ns, '-o', 'name')).toContain('from-a-pod');

    const err = (await rejection(
      KubernetesStorage.open({ type: 'kubernetes', inCluster: true, crdHandling: 'check' }, { env: {} }),
    )) as Error;
    expect(err.message).toMatch(/does not run in a Kubernetes pod/);
  });
});

describe('with kubectl', () => {
  it('shows readable columns for clients and refresh tokens', async () => {
    const ns = await cp.newNamespace('columns');
    const s = await open(ns);
    await s.createClient({ ...f.client('example-app'), name: 'Example App', public: true });
    await s.createRefreshToken(f.refreshToken('rt-1', new Date('2030-01-02T03:04:05.678Z')));
    const out = await kubectl('get', 'oauth2clients,refreshtokens', '-n', ns);
    const lines = out.split('\n');
    // Ready and Reason stay empty: this storage writes no status (no statusJudges).
    const clientHeader = lines.findIndex((l) => /^NAME\s+NAME\s+PUBLIC\s+READY\s+REASON\s+AGE$/.test(l));
    expect(clientHeader).toBeGreaterThanOrEqual(0);
    expect(lines[clientHeader + 1]).toMatch(
      /^oauth2client\.latchkey\.dev\/example-app\s+Example App\s+true\s+\S+$/,
    );
    const rtHeader = lines.findIndex((l) => /^NAME\s+CLIENT\s+USER\s+EXPIRY\s+LAST USED\s+AGE$/.test(l));
    expect(rtHeader).toBeGreaterThanOrEqual(0);
    expect(lines[rtHeader + 1]).toMatch(
      /^refreshtoken\.latchkey\.dev\/rt-1\s+app\s+jane\s+2030-01-02T03:04:05\.678Z\s+\S+\s+\S+$/,
    );
    // Short names work too.
    expect(await kubectl('get', 'lkclient,lkrt', '-n', ns, '-o', 'name')).toContain('example-app');
  });

  it('puts a user’s tokens one label selector away', async () => {
    const ns = await cp.newNamespace('labels');
    const s = await open(ns);
    await s.createRefreshToken({ ...f.refreshToken('alice-1'), claims: f.claims('alice') });
    await s.createRefreshToken({ ...f.refreshToken('alice-2'), claims: f.claims('alice') });
    await s.createRefreshToken({ ...f.refreshToken('bob-1'), claims: f.claims('bob') });
    const names = await kubectl(
      'get',
      'refreshtokens',
      '-n',
      ns,
      '-l',
      `latchkey.dev/user=${hashName('alice')}`,
      '-o',
      'name',
    );
    expect(names.trim().split('\n').sort()).toEqual([
      'refreshtoken.latchkey.dev/alice-1',
      'refreshtoken.latchkey.dev/alice-2',
    ]);
    const byClient = await kubectl('get', 'lkrt', '-n', ns, '-l', 'latchkey.dev/client=app', '-o', 'name');
    expect(byClient.trim().split('\n')).toHaveLength(3);
  });

  it('picks up a client applied with kubectl, its secret from a Secret, and a changed Secret, without a restart', async () => {
    const ns = await cp.newNamespace('apply');
    const s = await open(ns);
    await kubectl('apply', '-n', ns, '-f', join(REPO_ROOT, 'examples/k8s/oauth2client.yaml'));
    const client = await waitFor(() => s.getClient('example-app').catch(() => undefined), {
      what: 'the applied client',
    });
    expect(client).toEqual({
      id: 'example-app',
      secret: 'ZXhhbXBsZS1hcHAtc2VjcmV0',
      redirectURIs: ['http://127.0.0.1:5555/callback'],
      trustedPeers: [],
      public: false,
      name: 'Example App',
      logoURL: '',
    });
    await kubectl(
      'patch',
      'secret',
      'example-app-client',
      '-n',
      ns,
      '-p',
      JSON.stringify({ stringData: { 'client-secret': 'rotated' } }),
    );
    await waitFor(async () => (await s.getClient('example-app')).secret === 'rotated', {
      what: 'the rotated secret',
    });
    // An update through the storage keeps the reference (and refuses to move the secret out of the Secret).
    await s.updateClient('example-app', (c) => ({ ...c, name: 'Renamed' }));
    const spec = JSON.parse(await kubectl('get', 'oauth2client', 'example-app', '-n', ns, '-o', 'json')) as {
      spec: Record<string, unknown>;
    };
    expect(spec.spec.secretRef).toEqual({ name: 'example-app-client', key: 'client-secret' });
    expect(spec.spec.secret).toBeUndefined();
    await expect(s.updateClient('example-app', (c) => ({ ...c, secret: 'x' }))).rejects.toThrow(
      /comes from key "client-secret" of Secret "example-app-client"/,
    );
    // A missing Secret is an error, never an empty secret.
    await kubectl('delete', 'secret', 'example-app-client', '-n', ns);
    await waitFor(
      () =>
        s.getClient('example-app').then(
          () => false,
          (e: unknown) => e instanceof UnavailableError && /does not exist/.test(e.message),
        ),
      { what: 'the deleted Secret to be noticed' },
    );
  });

  it('picks up a password applied with kubectl under any object name, and its later edits', async () => {
    const ns = await cp.newNamespace('password');
    const s = await open(ns);
    await kubectl('apply', '-n', ns, '-f', join(REPO_ROOT, 'examples/k8s/password.yaml'));
    const p = await waitFor(() => s.getPassword('Admin@Example.com').catch(() => undefined), {
      what: 'the applied password',
    });
    expect(p).toEqual({
      email: 'admin@example.com',
      hash: '$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW',
      username: 'admin',
      userID: '08a8684b-db88-4b73-90a9-3cd1661f5466',
      groups: ['team-a', 'team-a/admins'],
    });
    await kubectl(
      'patch',
      'password',
      'admin',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"spec":{"username":"root"}}',
    );
    await waitFor(async () => (await s.getPassword('admin@example.com')).username === 'root', {
      what: 'the edited password',
    });
    // Updates and deletes go to the object as named by the operator.
    await s.updatePassword('admin@example.com', (x) => ({ ...x, groups: ['ops'] }));
    expect(await kubectl('get', 'password', 'admin', '-n', ns, '-o', 'jsonpath={.spec.groups}')).toBe(
      '["ops"]',
    );
    await s.deletePassword('admin@example.com');
    expect((await cp.kubectl(['get', 'password', 'admin', '-n', ns])).code).not.toBe(0);
  });

  it('rejects what the schema forbids: a client with both secret and secretRef', async () => {
    const ns = await cp.newNamespace('schema');
    const bad = {
      apiVersion: 'latchkey.dev/v1',
      kind: 'OAuth2Client',
      metadata: { name: 'bad', namespace: ns },
      spec: { id: 'bad', secret: 'x', secretRef: { name: 's', key: 'k' } },
    };
    const r = await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(bad) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('set either secret or secretRef, not both');
  });
});

describe('names', () => {
  it('stores IDs that are no valid object name under a fixed-length hash, and finds them again', async () => {
    const ns = await cp.newNamespace('names');
    const s = await open(ns);
    const long = `client-${'x'.repeat(293)}`;
    const odd = 'My/App:Client';
    for (const id of [long, odd]) {
      await s.createClient(f.client(id));
      expect(await s.getClient(id)).toEqual(f.client(id));
      await s.updateClient(id, (c) => ({ ...c, name: 'updated' }));
      expect((await s.getClient(id)).name).toBe('updated');
    }
    const codeID = 'Zx_9-AbC/long'.repeat(30);
    await s.createAuthCode(f.authCode(codeID));
    await s.createRefreshToken(f.refreshToken(codeID));
    expect((await s.getRefreshToken(codeID)).id).toBe(codeID);
    expect((await s.consumeAuthCode(codeID)).id).toBe(codeID);

    const objects = JSON.parse(await kubectl('get', 'oauth2clients', '-n', ns, '-o', 'json')) as {
      items: { metadata: { name: string; labels: Record<string, string> }; spec: { id: string } }[];
    };
    expect(objects.items.map((o) => o.metadata.name).sort()).toEqual([hashName(long), hashName(odd)].sort());
    for (const o of objects.items) expect(o.metadata.name).toMatch(/^h[a-z2-7]{52}$/);
    expect(objects.items.map((o) => o.spec.id).sort()).toEqual([long, odd].sort());

    // Labels stay valid however long the client ID is.
    await s.createRefreshToken({ ...f.refreshToken('rt'), clientID: long });
    expect(
      await kubectl('get', 'lkrt', 'rt', '-n', ns, '-o', 'jsonpath={.metadata.labels.latchkey\\.dev/client}'),
    ).toBe(hashName(long));
  });

  it('never returns an object whose spec holds another ID than its name says', async () => {
    const ns = await cp.newNamespace('collision');
    const s = await open(ns);
    const forged = {
      apiVersion: 'latchkey.dev/v1',
      kind: 'AuthCode',
      metadata: { name: 'victim', namespace: ns },
      spec: { ...JSON.parse(JSON.stringify(f.authCode('other'))), id: 'other', connectorData: 'AQI=' },
    };
    const r = await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(forged) });
    expect(r.code).toBe(0);
    await expect(s.getAuthCode('victim')).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.consumeAuthCode('victim')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('several replicas on one namespace', () => {
  it('see each other’s writes through the watch, and their own at once', async () => {
    const ns = await cp.newNamespace('replicas');
    const a = await open(ns);
    const b = await open(ns);
    await a.createClient(f.client('shared'));
    expect(await a.getClient('shared')).toEqual(f.client('shared'));
    await waitFor(() => b.getClient('shared').catch(() => undefined), { what: 'b to see the client' });
    await b.updateClient('shared', (c) => ({ ...c, name: 'by b' }));
    await waitFor(async () => (await a.getClient('shared')).name === 'by b', { what: 'a to see b’s update' });
    await a.deleteClient('shared');
    await expect(a.getClient('shared')).rejects.toBeInstanceOf(NotFoundError);
    await waitFor(
      () =>
        b.getClient('shared').then(
          () => false,
          (e: unknown) => e instanceof NotFoundError,
        ),
      {
        what: 'b to see the deletion',
      },
    );
    // A key set created by one replica while the other tries too: one wins, both then read it.
    const results = await Promise.allSettled([
      a.createKeySet(f.keySet('signing')),
      b.createKeySet(f.keySet('signing')),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await a.getKeySet('signing')).toEqual(f.keySet('signing'));
    expect(await b.getKeySet('signing')).toEqual(f.keySet('signing'));
  });

  it('hand one code to exactly one of them', async () => {
    const ns = await cp.newNamespace('consume');
    const a = await open(ns);
    const b = await open(ns);
    for (const id of f.ids('code', 5)) {
      await a.createAuthCode(f.authCode(id));
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).consumeAuthCode(id)),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const o of outcomes) {
        if (o.status === 'rejected')
          expect(['NotFound', 'Conflict']).toContain((o.reason as { code: string }).code);
      }
    }
  });

  it('collect garbage one at a time: the Lease holder collects, the other gets zero counts', async () => {
    const ns = await cp.newNamespace('gclease');
    const a = await open(ns, {}, { gcLeaseDurationSeconds: 2, identity: 'replica-a' });
    const b = await open(ns, {}, { identity: 'replica-b' });
    const expired = new Date('2026-01-01T00:00:00Z');
    await a.createAuthRequest(f.authRequest('first', expired));
    expect((await a.garbageCollect(new Date())).authRequests).toBe(1);
    await a.createAuthRequest(f.authRequest('second', expired));
    expect((await b.garbageCollect(new Date())).authRequests).toBe(0);
    expect((await a.getAuthRequest('second')).id).toBe('second');
    const lease = JSON.parse(await kubectl('get', 'lease', 'latchkey-gc', '-n', ns, '-o', 'json')) as {
      spec: { holderIdentity: string };
    };
    expect(lease.spec.holderIdentity).toBe('replica-a');
    // Once a's lease has run out, b takes over.
    await waitFor(async () => (await b.garbageCollect(new Date())).authRequests === 1, {
      what: 'b to take the expired lease',
    });
  });

  it('collect a backlog of 1200 expired refresh tokens with the default page size', async () => {
    const ns = await cp.newNamespace('gcbacklog');
    const s = await open(ns);
    const expiry = new Date('2026-01-01T00:00:00-05:00');
    const ids = f.ids('old', 1200);
    for (let i = 0; i < ids.length; i += 100) {
      await Promise.all(ids.slice(i, i + 100).map((id) => s.createRefreshToken(f.refreshToken(id, expiry))));
    }
    await s.createRefreshToken(f.refreshToken('keep'));
    const tally = new RequestTally();
    const counted = await open(ns, {}, { requestCounter: tally.counter });
    tally.reset();
    expect((await counted.garbageCollect(new Date('2026-01-02T00:00:00Z'))).refreshTokens).toBe(1200);
    expect(tally.count('list', 'refreshtokens')).toBe(3);
    expect(tally.count('delete', 'refreshtokens')).toBe(1200);
    expect((await s.listRefreshTokens()).items.map((r) => r.id)).toEqual(['keep']);
  }, 120_000);
});

describe('request counts', () => {
  it('serve clients, keys, connectors and passwords from memory, and everything else with one request per step', async () => {
    const ns = await cp.newNamespace('counts');
    const tally = new RequestTally();
    const s = await open(ns, {}, { requestCounter: tally.counter });
    await s.createClient(f.client('app'));
    await s.createKeySet(f.keySet('signing'));
    await s.createConnector(f.connector('ldap'));
    await s.createPassword(f.password('a@example.com'));
    await s.createRevocation({ id: 'revoked-grant', expiry: new Date(Date.now() + 60_000) });
    tally.reset();

    for (let i = 0; i < 3; i++) {
      // Asked on every /userinfo and introspection call (issue 13 §8): never a request.
      expect((await s.getRevocation('revoked-grant')).id).toBe('revoked-grant');
      await expect(s.getRevocation('live-grant')).rejects.toBeInstanceOf(NotFoundError);
      await s.getClient('app');
      await s.getKeySet('signing');
      await s.getConnector('ldap');
      await s.getPassword('a@example.com');
      await s.listClients();
      await expect(s.getClient('unknown-bot-client')).rejects.toBeInstanceOf(NotFoundError);
    }
    expect(tally.snapshot()).toEqual({});

    await s.createAuthRequest(f.authRequest('ar'));
    await s.getAuthRequest('ar');
    await s.createAuthCode(f.authCode('code'));
    await s.deleteAuthRequest('ar');
    await s.consumeAuthCode('code');
    await s.createRefreshToken(f.refreshToken('rt'));
    await s.updateRefreshToken('rt', (r) => ({ ...r, nonce: 'n' }));
    await s.updateClient('app', (c) => ({ ...c, name: 'x' }));
    await s.ping();
    expect(tally.snapshot()).toEqual({
      'create authcodes': 1,
      'create authrequests': 1,
      'create refreshtokens': 1,
      'delete authcodes': 1,
      'delete authrequests': 1,
      'get authcodes': 1,
      'get authrequests': 1,
      // none for refreshtokens: the update reads the token this storage created from its token cache
      'list keysets': 1,
      'update oauth2clients': 1,
      'update refreshtokens': 1,
    });
  });
});

describe('start-up against an unreachable API', () => {
  it('says where it tried and why it failed', async () => {
    const file = join(tmp, 'unreachable.kubeconfig');
    const port = await freePort();
    await writeFile(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:${port}\n    certificate-authority: ${cp.caFile}`,
        'users:\n- name: u\n  user:\n    token: x',
        'contexts:\n- name: c\n  context:\n    cluster: c\n    user: u',
        'current-context: c',
        '',
      ].join('\n'),
    );
    const err = (await rejection(open('default', { kubeConfigFile: file }))) as Error;
    expect(err.message).toBe(
      `kubernetes storage: cannot reach the Kubernetes API at https://127.0.0.1:${port}: ECONNREFUSED`,
    );
  });
});

// Last: it stops and restarts the API server.
describe('an API-server outage', () => {
  it('answers Unavailable meanwhile, keeps serving cached reads, and recovers by itself', async () => {
    const ns = await cp.newNamespace('outage');
    const s = await open(ns, {}, { requestTimeoutMs: 3000 });
    await s.createClient(f.client('app'));
    await s.createRefreshToken(f.refreshToken('rt'));

    await cp.stopApiserver();
    try {
      await expect(s.ping()).rejects.toBeInstanceOf(UnavailableError);
      await expect(s.getRefreshToken('rt')).rejects.toBeInstanceOf(UnavailableError);
      await expect(s.createAuthCode(f.authCode('c'))).rejects.toBeInstanceOf(UnavailableError);
      expect(await s.getClient('app')).toEqual(f.client('app'));
    } finally {
      await cp.startApiserver();
    }
    await waitFor(() => s.ping().then(() => true), { timeoutMs: 60_000, what: 'ping to recover' });
    expect((await s.getRefreshToken('rt')).id).toBe('rt');
    // The watch resumed: a change made elsewhere shows up.
    await kubectl('apply', '-n', ns, '-f', join(REPO_ROOT, 'examples/k8s/password.yaml'));
    await waitFor(() => s.getPassword('admin@example.com').catch(() => undefined), {
      timeoutMs: 60_000,
      what: 'the watch to resume',
    });
    expect((await s.listClients()).items).toEqual([f.client('app')]);
  }, 180_000);
});
