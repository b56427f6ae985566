import { access, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { REPO_ROOT } from '../helpers/cli.js';
import { runCommand as run, type CommandResult as RunResult } from '../helpers/command.js';
import type { ControlPlane } from '../helpers/control-plane.js';
import { basicAuth, postForm } from '../helpers/flows.js';
import { freePort } from '../helpers/net.js';

// Shared by the deployment suites: running helm and scripts, reading manifests, and starting Latchkey on
// this machine with the identity and the configuration a deployment gives it in the cluster.

export { run, type RunResult };

/** Fails with the command's output unless it exited 0. */
export function ok(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r;
}

export interface Helm {
  run(args: string[], opts?: { input?: string }): Promise<RunResult>;
  /** Removes helm's private folder. */
  cleanup(): Promise<void>;
}

/**
 * The helm the test peers provide (scripts/build-test-peers.sh; stamped for Kubernetes 1.34), with its
 * cache, config and data in a private folder so tests never touch the user's helm setup.
 */
export async function findHelm(): Promise<Helm> {
  const dir = ok(
    await run('bash', [join(REPO_ROOT, 'scripts/build-test-peers.sh'), '--print-dir']),
    'build-test-peers.sh --print-dir',
  ).stdout.trim();
  const bin = join(dir, 'helm');
  await access(bin).catch(() => {
    throw new Error(`helm is missing at ${bin}: run scripts/provision-test-deps.sh (npm test does)`);
  });
  const home = await mkdtemp(join(tmpdir(), 'latchkey-helm-'));
  const env = {
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
  };
  return {
    run: (args, opts = {}) => run(bin, args, { env, ...opts }),
    cleanup: () => rm(home, { recursive: true, force: true }),
  };
}

export const CHART = join(REPO_ROOT, 'charts/latchkey');
export const CHART_VALUES = join(REPO_ROOT, 'test/deploy/fixtures/chart-values.yaml');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** The objects of a multi-document YAML text (empty documents dropped). */
export function objectsOf(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => !!o && typeof o === 'object' && 'kind' in o);
}

export async function objectsOfFile(file: string): Promise<KubeObject[]> {
  return objectsOf(await readFile(join(REPO_ROOT, file), 'utf8'));
}

export async function objectsOfFiles(files: string[]): Promise<KubeObject[]> {
  return (await Promise.all(files.map(objectsOfFile))).flat();
}

/** manifests/*.yaml (not the CRDs, not the bundle), sorted. */
export const topLevelManifests = async (): Promise<string[]> =>
  (await readdir(join(REPO_ROOT, 'manifests')))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => `manifests/${f}`);

/** manifests/crds/*.yaml, sorted. */
export const crdFiles = async (): Promise<string[]> =>
  (await readdir(join(REPO_ROOT, 'manifests/crds')))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => `manifests/crds/${f}`);

export const key = (o: KubeObject): string =>
  `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/** `kubectl get` of the objects in a YAML text: each must exist (kubectl fails naming those that do not). */
export async function getAll(cp: ControlPlane, yamlText: string): Promise<KubeObject[]> {
  const r = ok(await cp.kubectl(['get', '-f', '-', '-o', 'json'], { input: yamlText }), 'kubectl get -f -');
  const out = JSON.parse(r.stdout) as { kind: string; items?: KubeObject[] };
  return out.kind === 'List' ? (out.items ?? []) : [out as unknown as KubeObject];
}

/**
 * The environment the kubelet would give the Deployment's first container: plain values, and secretKeyRef
 * entries read from the Secrets in the cluster (a missing required Secret is an error, as it is for a pod).
 */
export async function deploymentEnv(
  cp: ControlPlane,
  namespace: string,
  deployment: string,
): Promise<Record<string, string>> {
  type EnvVar = {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
  };
  const got = ok(
    await cp.kubectl(['-n', namespace, 'get', 'deployment', deployment, '-o', 'json']),
    'kubectl get deployment',
  );
  const spec = JSON.parse(got.stdout) as {
    spec: { template: { spec: { containers: { env?: EnvVar[] }[] } } };
  };
  const env: Record<string, string> = {};
  for (const v of spec.spec.template.spec.containers[0]?.env ?? []) {
    if (v.value !== undefined) env[v.name] = v.value;
    const ref = v.valueFrom?.secretKeyRef;
    if (!ref) continue;
    const secret = await cp.kubectl(['-n', namespace, 'get', 'secret', ref.name, '-o', 'json']);
    if (secret.code !== 0) {
      if (ref.optional) continue;
      throw new Error(`env ${v.name}: Secret ${ref.name} is missing, so the pod could not start`);
    }
    const data = (JSON.parse(secret.stdout) as { data?: Record<string, string> }).data ?? {};
    if (data[ref.key] === undefined)
      throw new Error(`env ${v.name}: Secret ${ref.name} has no key ${ref.key}`);
    env[v.name] = Buffer.from(data[ref.key]!, 'base64').toString('utf8');
  }
  return env;
}

/**
 * A kubeconfig holding only a token of the service account (`kubectl create token`), the API server and its
 * CA, and the namespace as the context's: what the pod's mounted service-account files amount to.
 */
export async function serviceAccountKubeconfig(
  cp: ControlPlane,
  namespace: string,
  serviceAccount: string,
  dir: string,
): Promise<string> {
  const token = ok(
    await cp.kubectl(['create', 'token', serviceAccount, '-n', namespace, '--duration=1h']),
    `kubectl create token ${serviceAccount}`,
  ).stdout.trim();
  const file = join(dir, `${namespace}-${serviceAccount}.kubeconfig`);
  await writeFile(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'cluster', cluster: { server: cp.apiURL, 'certificate-authority': cp.caFile } }],
      users: [{ name: serviceAccount, user: { token } }],
      contexts: [{ name: 'sa', context: { cluster: 'cluster', user: serviceAccount, namespace } }],
      'current-context': 'sa',
    }),
    { mode: 0o600 },
  );
  return file;
}

export interface LocalConfig {
  file: string;
  issuer: string;
  telemetryPort: number;
  /** The configuration as the cluster holds it. */
  original: Record<string, unknown>;
}

/**
 * The configuration a deployment mounts, changed only where this machine differs from the pod: the
 * service account comes from `kubeconfigFile` instead of the mounted files (inCluster), and Latchkey
 * listens on free loopback ports over HTTP (the issuer moves with it, keeping its path) instead of the
 * cluster's HTTPS. Everything else — clients, passwords, connectors, storage options — is as deployed.
 */
export async function localConfig(
  configYaml: string,
  kubeconfigFile: string,
  dir: string,
  /** Keep the issuer and serve it over HTTPS on this loopback port with these files (the pod's TLS Secret). */
  https?: { port: number; cert: string; key: string },
): Promise<LocalConfig> {
  const original = parse(configYaml) as Record<string, unknown>;
  const doc = structuredClone(original);
  const storage = doc.storage as { type: string; config: Record<string, unknown> };
  if (storage?.type !== 'kubernetes' || storage.config?.inCluster !== true) {
    throw new Error(`expected kubernetes storage with inCluster: true, got ${JSON.stringify(storage)}`);
  }
  delete storage.config.inCluster;
  storage.config.kubeConfigFile = kubeconfigFile;
  const webPort = https?.port ?? (await freePort());
  const telemetryPort = await freePort();
  const path = new URL(String(doc.issuer)).pathname.replace(/\/+$/, '');
  const issuer = https ? String(doc.issuer).replace(/\/+$/, '') : `http://127.0.0.1:${webPort}${path}`;
  // Connectors' redirect URIs are the issuer's callback: they move with it.
  const callback = `${String(doc.issuer).replace(/\/+$/, '')}/callback`;
  for (const c of (doc.connectors ?? []) as { config?: Record<string, unknown> }[]) {
    if (c.config?.redirectURI === callback) c.config.redirectURI = `${issuer}/callback`;
  }
  doc.issuer = issuer;
  doc.web = https
    ? { https: `127.0.0.1:${webPort}`, tlsCert: https.cert, tlsKey: https.key }
    : { http: `127.0.0.1:${webPort}` };
  doc.telemetry = { http: `127.0.0.1:${telemetryPort}` };
  const file = join(dir, `config-${webPort}.yaml`);
  await writeFile(file, stringify(doc));
  return { file, issuer, telemetryPort, original };
}

/** Password grant with offline_access, then the refresh_token grant; returns both token responses. */
export async function passwordLoginAndRefresh(
  issuer: string,
  client: { id: string; secret: string },
  user: { username: string; password: string },
): Promise<{ login: Record<string, unknown>; refresh: Record<string, unknown> }> {
  const auth = basicAuth(client.id, client.secret);
  const login = await postForm(
    `${issuer}/token`,
    { grant_type: 'password', ...user, scope: 'openid email groups offline_access' },
    auth,
  );
  if (login.status !== 200)
    throw new Error(`password grant: HTTP ${login.status} ${JSON.stringify(login.body)}`);
  const refresh = await postForm(
    `${issuer}/token`,
    { grant_type: 'refresh_token', refresh_token: String(login.body.refresh_token) },
    auth,
  );
  if (refresh.status !== 200)
    throw new Error(`refresh: HTTP ${refresh.status} ${JSON.stringify(refresh.body)}`);
  return { login: login.body, refresh: refresh.body };
}

/** The payload of a JWT (no verification: the tests check claims, the protocol suites check signatures). */
export function jwtClaims(jwt: unknown): Record<string, unknown> {
  const payload = String(jwt).split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}
