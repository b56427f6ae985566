// The test control plane for the benchmarks (scripts/control-plane.sh: kube-apiserver + etcd on loopback),
// shared by kubernetes.mjs and table.mjs: the lock the tests take, start and stop, kubectl, the API server's
// own request count for Latchkey's resources, and the admin TLS material for raw requests.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/control-plane.sh');
/** The lock test/helpers/control-plane.ts takes: never two kube-apiservers on 2 cores at once. */
const LOCK_DIR = join(tmpdir(), 'latchkey-control-plane.lock');

const run = (cmd, args, env = {}) =>
  new Promise((resolve) =>
    execFile(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );

const isAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function acquireLock() {
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    try {
      await mkdir(LOCK_DIR);
      await writeFile(join(LOCK_DIR, 'pid'), String(process.pid));
      return () => rm(LOCK_DIR, { recursive: true, force: true });
    } catch {
      const holder = Number(await readFile(join(LOCK_DIR, 'pid'), 'utf8').catch(() => ''));
      if (holder && !isAlive(holder)) await rm(LOCK_DIR, { recursive: true, force: true });
    }
    if (Date.now() > deadline) throw new Error('timed out waiting for the control-plane lock');
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Takes the lock and starts a control plane with Latchkey's CRDs established; `down()` stops it, removes its
 * files and releases the lock.
 */
export async function startControlPlane() {
  const release = await acquireLock();
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-bench-cp-'));
  const env = { HARNESS_DIR: join(dir, 'harness') };
  const down = async () => {
    await run(SCRIPT, ['down'], env);
    await rm(dir, { recursive: true, force: true });
    await release();
  };
  const up = await run(SCRIPT, ['up'], env);
  if (up.code !== 0) {
    await down();
    throw new Error(`control plane failed to start:\n${up.stderr}`);
  }
  const vars = Object.fromEntries(
    (await readFile(join(dir, 'harness/env'), 'utf8'))
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const kubectl = async (...args) => {
    const r = await run('kubectl', ['--kubeconfig', vars.KUBECONFIG, ...args]);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  try {
    await kubectl('apply', '-f', join(ROOT, 'manifests/crds'));
    await kubectl('wait', '--for=condition=Established', 'crd', '--all', '--timeout=120s');
  } catch (e) {
    await down();
    throw e;
  }
  return { kubeconfig: vars.KUBECONFIG, apiURL: vars.K8S_API_URL, kubectl, down };
}

/** The admin kubeconfig's CA and client certificate, for the raw requests. */
export function adminTls(kc) {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  return {
    ca: Buffer.from(cluster.caData, 'base64'),
    cert: Buffer.from(user.certData, 'base64'),
    key: Buffer.from(user.keyData, 'base64'),
  };
}

/**
 * The API server's own count of requests to the resources of API group `group` (`verb resource` → count);
 * by default Latchkey's.
 */
export async function apiRequestCounts(cp, dispatcher, group = 'latchkey.dev') {
  const res = await request(`${cp.apiURL}/metrics`, { dispatcher });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET /metrics: ${res.statusCode}`);
  const counts = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{') || !line.includes(`group="${group}"`)) continue;
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1];
    const resource = /resource="([a-z0-9]+)"/.exec(line)?.[1];
    const key = `${verb} ${resource}`;
    counts[key] = (counts[key] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return counts;
}

/**
 * Requests per operation between two counts: writes, reads, by verb (summed over resources) and the detail
 * by verb and resource; watches left out.
 */
export function perOperation(before, after, operations) {
  const detail = {};
  const byVerb = {};
  let writes = 0;
  let reads = 0;
  for (const [key, n] of Object.entries(after)) {
    const d = n - (before[key] ?? 0);
    const [verb] = key.split(' ');
    if (!d || verb === 'WATCH') continue;
    detail[key] = (d / operations).toFixed(2);
    byVerb[verb] = (byVerb[verb] ?? 0) + d / operations;
    if (verb === 'GET' || verb === 'LIST') reads += d;
    else writes += d;
  }
  return { writes: writes / operations, reads: reads / operations, byVerb, detail };
}
