import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { REPO_ROOT, runCli, startServer, type ServerProcess } from '../helpers/cli.js';
import { writeTestConfig } from '../helpers/config.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import {
  ALICE,
  KUBECTL,
  buildDexInstallation,
  currentToken,
  installDexCrds,
  loadIntoKubernetes,
  wireOf,
  type DexInstallation,
} from '../helpers/dex-fixtures.js';
import { dexSubject } from '../fixtures/dex/formats.js';
import { LATCHKEY_EXTRA } from './checks.js';
import { crdFiles, objectsOfFile, objectsOfFiles } from '../deploy/helpers.js';

// A large installation: 10 000 Dex refresh tokens (5 000 users, each logged in with two clients) imported
// into Kubernetes storage by the real CLI with its defaults, as a service account — so the requests go
// through API Priority and Fairness like Latchkey's own (workload-low), not the exempt path of cluster
// admins — against an API server with its default limits. Proven: every token arrives and still refreshes,
// and no limit was hit (no 429, no APF rejection, no retried request). The time is measured and printed,
// never asserted.

const BULK_USERS = 5_000;
/** Latchkey's CRDs and Role exactly as shipped in manifests/, so the test follows them as they change. */
const shippedCrdNames = async (): Promise<string[]> =>
  (await objectsOfFiles(await crdFiles())).map((o) => o.metadata.name);
const shippedRoleRules = async (): Promise<object[]> =>
  (await objectsOfFile('manifests/10-rbac.yaml')).find((o) => o.kind === 'Role')!.rules as object[];

let cp: ControlPlane;
let tmp: string;
let inst: DexInstallation;
let dexNs: string;
let lkNs: string;
let saKubeconfig: string;
let server: ServerProcess | undefined;

async function kubectl(...args: string[]): Promise<string> {
  const r = await cp.kubectl(args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function apply(objects: object[]): Promise<void> {
  const r = await cp.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  });
  if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
}

/** A Role and its binding to the service account `latchkey` of Latchkey's namespace. */
const roleFor = (namespace: string, name: string, rules: object[]): object[] => [
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace }, rules },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name, namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name: 'latchkey', namespace: lkNs }],
  },
];

/** Sum of a metric's samples whose labels contain every `label="value"` given. */
async function metric(name: string, ...labels: string[]): Promise<number> {
  const text = await kubectl('get', '--raw', '/metrics');
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels.every((l) => line.includes(l))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

beforeAll(async () => {
  cp = await startControlPlane();
  tmp = await mkdtemp(join(tmpdir(), 'latchkey-import-bulk-'));
  await installDexCrds(cp);
  dexNs = await cp.newNamespace('dex');
  lkNs = await cp.newNamespace('latchkey');
  inst = await buildDexInstallation({ bulkUsers: BULK_USERS });
  const loadStart = Date.now();
  await loadIntoKubernetes(cp, dexNs, inst);
  console.log(
    `fixture: ${inst.refreshTokens.length} Dex refresh tokens and ${inst.offlineSessions.length} offline ` +
      `sessions written in ${((Date.now() - loadStart) / 1000).toFixed(1)} s`,
  );

  // Latchkey's CRDs installed by an operator; the service account gets Latchkey's documented Role in its
  // namespace and read access to Dex's objects in Dex's.
  await kubectl('apply', '-f', join(REPO_ROOT, 'manifests/crds'));
  await kubectl(
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...(await shippedCrdNames()).map((c) => `crd/${c}`),
  );
  await kubectl('create', 'serviceaccount', 'latchkey', '-n', lkNs);
  await apply([
    ...roleFor(lkNs, 'latchkey', await shippedRoleRules()),
    ...roleFor(dexNs, 'dex-reader', [
      { apiGroups: ['dex.coreos.com'], resources: ['*'], verbs: ['get', 'list'] },
    ]),
  ]);
  const token = (await kubectl('create', 'token', 'latchkey', '-n', lkNs, '--duration=1h')).trim();
  saKubeconfig = join(tmp, 'latchkey-sa.kubeconfig');
  await writeFile(
    saKubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters:\n- name: test\n  cluster:\n    server: ${cp.apiURL}\n    certificate-authority: ${cp.caFile}`,
      `users:\n- name: latchkey\n  user:\n    token: ${token}`,
      `contexts:\n- name: test\n  context:\n    cluster: test\n    user: latchkey\n    namespace: ${lkNs}`,
      'current-context: test',
      '',
    ].join('\n'),
  );
}, 20 * 60_000);
afterAll(async () => {
  await server?.stop();
  await cp?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

it(
  "imports 10 000 refresh tokens into Kubernetes storage within the API server's default limits",
  async () => {
    const cfg = await writeTestConfig({
      storage: `storage:\n  type: kubernetes\n  config:\n    kubeConfigFile: ${saKubeconfig}\n    namespace: ${lkNs}\n    crdHandling: check`,
      extra: LATCHKEY_EXTRA,
    });
    const serviceAccounts = 'flow_schema="service-accounts"';
    const before = {
      rejected: await metric('apiserver_flowcontrol_rejected_requests_total'),
      tooMany: await metric('apiserver_request_total', 'code="429"'),
      dispatched: await metric('apiserver_flowcontrol_dispatched_requests_total', serviceAccounts),
    };

    const started = Date.now();
    const r = await runCli([
      'import',
      'dex',
      '--config',
      cfg.file,
      '--from',
      'kubernetes',
      '--kubeconfig',
      saKubeconfig,
      '--namespace',
      dexNs,
      '--apply',
      '--output',
      'json',
    ]);
    const wallMs = Date.now() - started;
    expect(r.stderr).not.toContain('latchkey import dex:');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      elapsedMs: number;
      retries: number;
      failures: unknown[];
      kinds: { refreshTokens: { read: number; created: number; skipped: number } };
    };
    const imported = 2 * BULK_USERS + 3;
    expect(report.failures).toEqual([]);
    expect(report.kinds.refreshTokens).toMatchObject({
      read: 2 * BULK_USERS + 6,
      created: imported,
      skipped: 3,
    });
    // One progress line per page of 500.
    expect(r.stderr.split('\n').filter((l) => l.startsWith('refresh tokens: ')).length).toBe(
      Math.ceil((2 * BULK_USERS + 6) / 500),
    );

    const after = {
      rejected: await metric('apiserver_flowcontrol_rejected_requests_total'),
      tooMany: await metric('apiserver_request_total', 'code="429"'),
      dispatched: await metric('apiserver_flowcontrol_dispatched_requests_total', serviceAccounts),
    };
    expect(report.retries).toBe(0);
    expect(after.rejected - before.rejected).toBe(0);
    expect(after.tooMany - before.tooMany).toBe(0);
    // The import's requests went through priority and fairness as a service account's do.
    expect(after.dispatched - before.dispatched).toBeGreaterThanOrEqual(imported);

    const stored = (await kubectl('get', 'refreshtokens.latchkey.dev', '-n', lkNs, '-o', 'name'))
      .split('\n')
      .filter((l) => l !== '').length;
    expect(stored).toBe(imported);

    console.log(
      `import of ${imported} refresh tokens (of ${report.kinds.refreshTokens.read} read) into Kubernetes storage: ` +
        `${(wallMs / 1000).toFixed(1)} s wall clock for the CLI, ${(report.elapsedMs / 1000).toFixed(1)} s of ` +
        `importing (${Math.round(imported / (report.elapsedMs / 1000))} tokens/s), default --parallel 8, ` +
        `0 throttled requests`,
    );

    // The last bulk user's kubectl token and Alice's still refresh, with their Dex subjects.
    server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
    const rp = await oidc.discovery(new URL(cfg.issuer), KUBECTL.id, KUBECTL.secret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    const last = `bulk-${BULK_USERS - 1}`;
    const bulk = await oidc.refreshTokenGrant(rp, wireOf(currentToken(inst, last, 'mock', KUBECTL.id)));
    expect(bulk.claims()!.sub).toBe(dexSubject(last, 'mock'));
    const alice = await oidc.refreshTokenGrant(
      rp,
      wireOf(currentToken(inst, ALICE.userID, 'local', KUBECTL.id)),
    );
    expect(alice.claims()!.sub).toBe(ALICE.sub);
  },
  20 * 60_000,
);
