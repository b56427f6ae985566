import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesStorageConfig } from '../../../src/config/types.js';
import {
  KubernetesStorage,
  RequestTally,
  type KubernetesStorageOptions,
} from '../../../src/storage/kubernetes/kubernetes.js';
import {
  SCHEMA_REVISION,
  SCHEMA_REVISION_ANNOTATION,
  StaleCrdError,
} from '../../../src/storage/kubernetes/startup.js';
import { statusJudges } from '../../../src/connectors/status-judges.js';
import { REPO_ROOT } from '../../helpers/cli.js';
import { startControlPlane, type ControlPlane } from '../../helpers/control-plane.js';
import { waitFor } from '../../helpers/wait.js';
import { rejection } from '../conformance/context.js';
import { testStorageConfig } from './test-storage.js';

// Custom resources that talk back (issue 17 item 6), on a real kube-apiserver: what `kubectl get` shows for
// objects applied with kubectl, what the schema refuses at admission, that status is written once per change
// and by one replica, and that a CRD older than the code stops the start with instructions.

const HASH = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W';

let cp: ControlPlane;
let tmp: string;
const opened: KubernetesStorage[] = [];

beforeAll(async () => {
  cp = await startControlPlane();
  tmp = await mkdtemp(join(tmpdir(), 'latchkey-status-test-'));
}, 10 * 60_000);
afterAll(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await cp?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const config = (namespace: string, more: Partial<KubernetesStorageConfig> = {}): KubernetesStorageConfig =>
  testStorageConfig(cp.kubeconfig, namespace, more);

async function open(
  namespace: string,
  opts: KubernetesStorageOptions = {},
  more: Partial<KubernetesStorageConfig> = {},
): Promise<KubernetesStorage> {
  const s = await KubernetesStorage.open(config(namespace, more), { statusJudges, ...opts });
  opened.push(s);
  return s;
}

async function kubectl(...args: string[]): Promise<string> {
  const r = await cp.kubectl(args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function apply(namespace: string, kind: string, name: string, spec: object): Promise<void> {
  const r = await cp.kubectl(['apply', '-n', namespace, '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'latchkey.dev/v1', kind, metadata: { name }, spec }),
  });
  if (r.code !== 0) throw new Error(`kubectl apply ${kind} ${name}: ${r.stderr}`);
}

/** `kubectl apply` that must fail; returns what kubectl said. */
async function refused(namespace: string, kind: string, name: string, spec: object): Promise<string> {
  const r = await cp.kubectl(['apply', '-n', namespace, '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'latchkey.dev/v1', kind, metadata: { name }, spec }),
  });
  expect(r.code).not.toBe(0);
  return r.stderr;
}

/** The Ready and Reason columns of plain `kubectl get <plural> <name>`, read by their headers. */
async function readyColumns(namespace: string, plural: string, name: string): Promise<[string, string]> {
  const [header, row] = (await kubectl('get', plural, name, '-n', namespace)).trimEnd().split('\n');
  const cell = (title: string): string => {
    const start = header!.indexOf(title);
    const next = header!.slice(start + title.length).search(/\S/);
    const end = next < 0 ? undefined : start + title.length + next;
    return row!.slice(start, end).trim();
  };
  return [cell('READY'), cell('REASON')];
}

const shows = (namespace: string, plural: string, name: string, ready: string, reason: string) =>
  waitFor(
    async () => {
      const [r, why] = await readyColumns(namespace, plural, name);
      return r === ready && why === reason;
    },
    { what: `kubectl get ${plural} ${name} to show Ready ${ready} (${reason})` },
  );

interface Status {
  observedGeneration?: number;
  conditions?: {
    type: string;
    status: string;
    reason: string;
    message: string;
    observedGeneration: number;
  }[];
}
async function objectOf(namespace: string, plural: string, name: string) {
  return JSON.parse(await kubectl('get', plural, name, '-n', namespace, '-o', 'json')) as {
    metadata: { generation: number };
    status?: Status;
  };
}

const statusWrites = (t: RequestTally): number =>
  Object.entries(t.snapshot())
    .filter(([k]) => k.startsWith('update ') && k.endsWith('/status'))
    .reduce((n, [, v]) => n + v, 0);

describe('status conditions of objects applied with kubectl', () => {
  let ns: string;
  let storage: KubernetesStorage;

  beforeAll(async () => {
    ns = await cp.newNamespace('status');
    // A Secret read by name is kept this long, absent ones too.
    storage = await open(ns, { secretFreshMs: 200 });
  }, 120_000);

  it('shows a client with a bad redirect URI as Ready False, InvalidRedirectURI, in kubectl get; fixed, True', async () => {
    // An absolute URL to the schema (isURL), but one the server cannot parse: no host.
    await apply(ns, 'OAuth2Client', 'bad-app', {
      id: 'bad-app',
      name: 'Bad app',
      secret: 's3cret',
      redirectURIs: ['https://app.example.com/callback', 'http://:5555/callback'],
    });
    await shows(ns, 'oauth2clients', 'bad-app', 'False', 'InvalidRedirectURI');
    const bad = await objectOf(ns, 'oauth2clients', 'bad-app');
    expect(bad.status?.observedGeneration).toBe(bad.metadata.generation);
    expect(bad.status?.conditions).toEqual([
      expect.objectContaining({
        type: 'Ready',
        status: 'False',
        reason: 'InvalidRedirectURI',
        message: expect.stringContaining('spec.redirectURIs[1]') as string,
        observedGeneration: bad.metadata.generation,
      }),
    ]);

    await apply(ns, 'OAuth2Client', 'bad-app', {
      id: 'bad-app',
      name: 'Bad app',
      secret: 's3cret',
      redirectURIs: ['https://app.example.com/callback', 'http://127.0.0.1:5555/callback'],
    });
    await shows(ns, 'oauth2clients', 'bad-app', 'True', 'Accepted');
    const fixed = await objectOf(ns, 'oauth2clients', 'bad-app');
    expect(fixed.metadata.generation).toBe(bad.metadata.generation + 1);
    expect(fixed.status?.observedGeneration).toBe(fixed.metadata.generation);
  });

  it('shows a client whose Secret is missing as MissingSecret, until the Secret exists', async () => {
    await apply(ns, 'OAuth2Client', 'from-secret', {
      id: 'from-secret',
      name: 'From a Secret',
      secretRef: { name: 'from-secret-creds', key: 'clientSecret' },
      redirectURIs: ['https://app.example.com/callback'],
    });
    await shows(ns, 'oauth2clients', 'from-secret', 'False', 'MissingSecret');
    await kubectl(
      'create',
      'secret',
      'generic',
      'from-secret-creds',
      '-n',
      ns,
      '--from-literal=clientSecret=s3cret',
    );
    // Nothing watches the Secret (RBAC: get by name only): a later pass of the Lease holder (each garbage
    // collection) sees it, once the absence it read is no longer fresh.
    await waitFor(
      async () => {
        await storage.garbageCollect(new Date());
        const [ready, reason] = await readyColumns(ns, 'oauth2clients', 'from-secret');
        return ready === 'True' && reason === 'Accepted';
      },
      { what: 'the client to turn Ready once its Secret exists' },
    );
  });

  it('shows a connector of an unknown type as UnknownConnectorType, and a password Latchkey can use as True', async () => {
    await apply(ns, 'Connector', 'saml', { id: 'saml', type: 'saml', name: 'SAML', config: {} });
    await shows(ns, 'connectors', 'saml', 'False', 'UnknownConnectorType');
    await apply(ns, 'Connector', 'ldap', { id: 'ldap', type: 'ldap', name: 'LDAP', config: {} });
    await shows(ns, 'connectors', 'ldap', 'True', 'Accepted');
    await apply(ns, 'Password', 'alice', {
      email: 'alice@example.com',
      hash: HASH,
      username: 'alice',
      userID: 'a1',
    });
    await shows(ns, 'passwords', 'alice', 'True', 'Accepted');
  });

  it('explains every field with kubectl explain, status included', async () => {
    expect(await kubectl('explain', 'oauth2clients.spec.secretRef.key')).toContain(
      "The key in the Secret's data that holds the client secret.",
    );
    expect(await kubectl('explain', 'passwords.status.conditions.reason')).toContain('InvalidRedirectURI');
    expect(await kubectl('explain', 'keysets')).toContain(
      `(latchkey.dev/schema-revision: ${SCHEMA_REVISION})`,
    );
  });

  it('refuses at admission redirect URIs no server could use and what is no bcrypt hash; shows a cost the local connector refuses', async () => {
    const client = (uri: string) => ({ id: 'x', name: 'X', secret: 's', redirectURIs: [uri] });
    expect(await refused(ns, 'OAuth2Client', 'fragment', client('https://app.example.com/cb#top'))).toMatch(
      /redirectURIs\[0\]/,
    );
    expect(await refused(ns, 'OAuth2Client', 'spaces', client('https://app.example.com/a b'))).toMatch(
      /redirectURIs\[0\]/,
    );
    expect(await refused(ns, 'OAuth2Client', 'host-port', client('127.0.0.1:5555/callback'))).toMatch(
      /must be an absolute URL/,
    );
    const password = (hash: string) => ({ email: 'bob@example.com', hash, username: 'bob', userID: 'b' });
    expect(await refused(ns, 'Password', 'plain', password('hunter2'))).toMatch(/spec\.hash/);
    // Cost 4: a bcrypt hash the local connector refuses at login (MIN_COST 10). Admitted — an imported Dex
    // user keeps their refresh tokens — and shown as InvalidHash.
    await apply(ns, 'Password', 'cheap', password(HASH.replace('$10$', '$04$')));
    await shows(ns, 'passwords', 'cheap', 'False', 'InvalidHash');
  });
});

describe('status writes', () => {
  it('happen once per change of a condition, on the Lease holder only, never per watch event', async () => {
    const ns = await cp.newNamespace('writes');
    const tallyA = new RequestTally();
    const tallyB = new RequestTally();
    const a = await open(ns, { requestCounter: tallyA.counter, identity: 'replica-a' });
    // a takes the Lease by collecting garbage; b cannot while a's is valid.
    await a.garbageCollect(new Date());
    const b = await open(ns, { requestCounter: tallyB.counter, identity: 'replica-b' });

    const spec = (uri: string) => ({ id: 'app', name: 'App', secret: 's', redirectURIs: [uri] });
    await apply(ns, 'OAuth2Client', 'app', spec('http://:1/cb'));
    await shows(ns, 'oauth2clients', 'app', 'False', 'InvalidRedirectURI');
    // Watch events without a new condition: labels and annotations, and the status write's own event.
    for (let i = 0; i < 5; i++)
      await kubectl('label', 'oauth2clients', 'app', '-n', ns, `round=${i}`, '--overwrite');
    // A later change on the same watch: once its status shows, the holder has judged every event above.
    await apply(ns, 'OAuth2Client', 'app', spec('http://127.0.0.1/cb'));
    await shows(ns, 'oauth2clients', 'app', 'True', 'Accepted');
    await waitFor(async () => (await b.getClient('app')).redirectURIs[0] === 'http://127.0.0.1/cb', {
      what: 'replica b to see the fix',
    });

    expect(statusWrites(tallyA)).toBe(2);
    expect(statusWrites(tallyB)).toBe(0);
  });
});

/** A kubeconfig of a new ServiceAccount of the namespace, bound to a Role with these rules. */
async function serviceAccount(namespace: string, name: string, rules: object[]): Promise<string> {
  await kubectl('create', 'serviceaccount', name, '-n', namespace);
  const token = (await kubectl('create', 'token', name, '-n', namespace, '--duration=1h')).trim();
  const r = await cp.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name, namespace },
          rules,
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name, namespace },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
          subjects: [{ kind: 'ServiceAccount', name, namespace }],
        },
      ],
    }),
  });
  if (r.code !== 0) throw new Error(`granting ${name}: ${r.stderr}`);
  const file = join(tmp, `${namespace}-${name}.kubeconfig`);
  await writeFile(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters:\n- name: test\n  cluster:\n    server: ${cp.apiURL}\n    certificate-authority: ${cp.caFile}`,
      `users:\n- name: sa\n  user:\n    token: ${token}`,
      'contexts:\n- name: test\n  context:\n    cluster: test\n    user: sa',
      'current-context: test',
      '',
    ].join('\n'),
  );
  return file;
}

describe('schema revision', () => {
  it('a CRD older than the code fails the start in both crdHandling modes, saying how to update it', async () => {
    const ns = await cp.newNamespace('revision');
    await open(ns); // the CRDs exist, of the current revision
    const crd = 'oauth2clients.latchkey.dev';
    try {
      // The revision before this code's: a CRD `helm upgrade` left behind.
      await kubectl(
        'annotate',
        'crd',
        crd,
        `${SCHEMA_REVISION_ANNOTATION}=${SCHEMA_REVISION - 1}`,
        '--overwrite',
      );
      for (const crdHandling of ['check', 'ensure'] as const) {
        const err = (await rejection(open(ns, {}, { crdHandling }))) as Error;
        expect(err).toBeInstanceOf(StaleCrdError);
        expect(err.message).toContain(`${crd} (revision ${SCHEMA_REVISION - 1})`);
        expect(err.message).toContain('kubectl apply --server-side -f manifests/crds/');
        expect(err.message).toMatch(/helm upgrade` never updates them/);
        expect(err.message).not.toContain('passwords.latchkey.dev');
      }
      // A CRD from before there were revisions: no annotation at all.
      await kubectl('annotate', 'crd', crd, `${SCHEMA_REVISION_ANNOTATION}-`);
      expect(((await rejection(open(ns, {}, { crdHandling: 'check' }))) as Error).message).toContain(
        `${crd} (revision 1)`,
      );
    } finally {
      await kubectl(
        'annotate',
        'crd',
        crd,
        `${SCHEMA_REVISION_ANNOTATION}=${SCHEMA_REVISION}`,
        '--overwrite',
      );
    }
    await open(ns, {}, { crdHandling: 'check' });
  });

  it('is read from the published OpenAPI by an identity that may not read CRDs (the chart’s)', async () => {
    const ns = await cp.newNamespace('revision-sa');
    await open(ns); // the CRDs exist, of the current revision
    // The Role of manifests/10-rbac.yaml: nothing on customresourcedefinitions.
    const kubeConfigFile = await serviceAccount(ns, 'latchkey', [
      {
        apiGroups: ['latchkey.dev'],
        resources: ['*'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'],
      },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
    ]);
    const asLatchkey = (tally?: RequestTally) =>
      KubernetesStorage.open(config(ns, { kubeConfigFile, crdHandling: 'check' }), {
        ...(tally ? { requestCounter: tally.counter } : {}),
      }).then((s) => {
        opened.push(s);
        return s;
      });
    const tally = new RequestTally();
    await waitFor(() => asLatchkey(tally).catch(() => undefined), { what: 'the Role to take effect' });
    expect(tally.count('get', 'openapi/v3')).toBeGreaterThanOrEqual(1);

    const crd = 'passwords.latchkey.dev';
    const description = '/spec/versions/0/schema/openAPIV3Schema/description';
    try {
      // As the CRD of a release before revisions were published.
      await kubectl(
        'patch',
        'crd',
        crd,
        '--type=json',
        '-p',
        JSON.stringify([{ op: 'replace', path: description, value: 'A local password.' }]),
      );
      const err = await waitFor(
        () =>
          asLatchkey().then(
            () => undefined,
            (e: unknown) => (e instanceof StaleCrdError ? e : undefined),
          ),
        { what: 'the published OpenAPI to show the older schema' },
      );
      expect(err.message).toContain(`${crd} (revision 1)`);
      expect(err.message).toContain('kubectl apply --server-side -f manifests/crds/');
    } finally {
      await kubectl(
        'apply',
        '--server-side',
        '--force-conflicts',
        '-f',
        join(REPO_ROOT, 'manifests/crds/passwords.yaml'),
      );
    }
  });
});
