// Kubernetes back-end benchmark (DESIGN.md "Budgets": every API call goes over a kept-alive connection), on
// the test control plane (scripts/control-plane.sh: kube-apiserver + etcd on loopback), in one run:
//   1. one API GET through the back end (KubeApi, built dist/) side by side with a raw kept-alive HTTPS GET
//      of the same object with undici (HTTP/1.1 and HTTP/2; the faster is the baseline), target ≤ 1.5×;
//   2. the refresh_token grant with rotation on (the default) on CRD storage through a running `latchkey
//      serve`: one refresh alone (latency) and eight users refreshing at once (refreshes/s), with the API
//      calls per refresh as the API server counts them (apiserver_request_total, latchkey.dev group).
// Run with `BENCH_ONLY=kubernetes npm run bench` (or `node test/bench/kubernetes.mjs` after a build).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Agent, request } from 'undici';
import { adminTls, apiRequestCounts, perOperation, startControlPlane } from './control-plane.mjs';
import { freePort, stopChild, waitForDiscovery } from './processes.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const USERS = 8;
/** bcrypt of "password" (cost 10), as in run.mjs. */
const PASSWORD_HASH = '$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW';
const AUTH = `Basic ${Buffer.from('bench:bench-secret').toString('base64')}`;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (x) => `${x.toFixed(2)} ms`;

/** Mean milliseconds per call of `task`, run `n` times one after the other. */
async function meanMs(task, n) {
  const start = performance.now();
  for (let i = 0; i < n; i++) await task();
  return (performance.now() - start) / n;
}

/**
 * Part 1. The back end's GET and raw GETs of the same object, in alternating rounds so that whatever else the
 * machine does weighs on all of them alike; medians of the rounds.
 */
async function singleGet(cp, kc, KubeApi) {
  const ns = 'default';
  await cp.kubectl('apply', '-n', ns, '-f', join(ROOT, 'examples/k8s/password.yaml'));
  const api = new KubeApi(kc, ns, undefined, 10_000);
  const ref = { group: 'latchkey.dev', version: 'v1', plural: 'passwords' };
  const tls = adminTls(kc);
  const url = `${kc.getCurrentCluster().server}/apis/latchkey.dev/v1/namespaces/${ns}/passwords/admin`;
  const rawGet = (dispatcher) => async () => {
    const res = await request(url, { dispatcher, headers: { accept: 'application/json' } });
    const body = await res.body.json();
    if (res.statusCode !== 200 || body.metadata?.name !== 'admin')
      throw new Error(`raw GET: ${res.statusCode}`);
  };
  const h1 = new Agent({ connect: tls, allowH2: false });
  const h2 = new Agent({ connect: tls, allowH2: true });
  const methods = {
    backend: async () => {
      if ((await api.get(ref, 'admin')).metadata.name !== 'admin') throw new Error('back-end GET');
    },
    rawH1: rawGet(h1),
    rawH2: rawGet(h2),
  };
  const rounds = Number(process.env.BENCH_K8S_ROUNDS ?? 7);
  const perRound = Number(process.env.BENCH_K8S_GETS ?? 200);
  for (const task of Object.values(methods)) await meanMs(task, 30); // warm: connections, JIT
  const results = { backend: [], rawH1: [], rawH2: [], ratio: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? ['rawH2', 'rawH1', 'backend'] : ['backend', 'rawH1', 'rawH2'];
    const round = {};
    for (const m of order) round[m] = await meanMs(methods[m], perRound);
    for (const m of order) results[m].push(round[m]);
    results.ratio.push(round.backend / Math.min(round.rawH1, round.rawH2));
  }
  api.close?.();
  await Promise.all([h1.close(), h2.close()]);
  const backend = median(results.backend);
  console.log(
    `single GET (${rounds} rounds × ${perRound}, medians): back end ${ms(backend)}, raw kept-alive HTTPS ` +
      `${ms(median(results.rawH1))} (HTTP/1.1) / ${ms(median(results.rawH2))} (HTTP/2)`,
  );
  console.log(
    `back end ÷ raw kept-alive GET (the faster): ${median(results.ratio).toFixed(2)}× (target ≤ 1.5×)`,
  );
}

async function startLatchkey(cp) {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-bench-k8s-'));
  const ns = `bench-${process.pid}`;
  await cp.kubectl('create', 'namespace', ns);
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/dex`;
  const users = Array.from(
    { length: USERS },
    (_, i) =>
      `- email: user${i}@example.com\n  hash: "${PASSWORD_HASH}"\n  username: user${i}\n  userID: user-${i}`,
  );
  await writeFile(
    join(dir, 'config.yaml'),
    `issuer: ${issuer}
storage:
  type: kubernetes
  config:
    kubeConfigFile: ${cp.kubeconfig}
    namespace: ${ns}
    crdHandling: ensure
web:
  http: 127.0.0.1:${port}
  # One process: this script's figures (RSS, latency) are of one PID.
  workers: 1
logger:
  level: warn
  format: json
oauth2:
  passwordConnector: local
enablePasswordDB: true
staticPasswords:
${users.join('\n')}
staticClients:
- id: bench
  secret: bench-secret
  name: Bench
  redirectURIs: [http://127.0.0.1/cb]
`,
  );
  const child = spawn(process.execPath, [join(ROOT, 'bin/latchkey.js'), 'serve', join(dir, 'config.yaml')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForDiscovery(child, issuer);
  return {
    issuer,
    stop: async () => {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Part 2. Each user holds one refresh token and, rotation being on, refreshes with the one the last response
 * returned; a refresh counts as failed unless it is a 200 with a new refresh token and a JWT ID token.
 */
async function refreshes(cp, kc, seconds) {
  const server = await startLatchkey(cp);
  const dispatcher = new Agent({ connections: USERS });
  const token = async (body) => {
    const res = await request(`${server.issuer}/token`, {
      method: 'POST',
      dispatcher,
      headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    return { status: res.statusCode, json: await res.body.json() };
  };
  const metrics = new Agent({ connect: adminTls(kc) });
  try {
    const tokens = [];
    for (let i = 0; i < USERS; i++) {
      const { json } = await token(
        `grant_type=password&username=user${i}%40example.com&password=password&scope=openid%20offline_access`,
      );
      if (!json.refresh_token) throw new Error(`no refresh token for user${i}: ${JSON.stringify(json)}`);
      tokens.push(json.refresh_token);
    }
    let failures = 0;
    const refresh = async (user) => {
      const { status, json } = await token(
        `grant_type=refresh_token&refresh_token=${encodeURIComponent(tokens[user])}`,
      );
      if (status !== 200 || !json.refresh_token || json.id_token?.split('.').length !== 3) {
        failures++;
        return;
      }
      tokens[user] = json.refresh_token;
    };
    /** Refreshes by `users` users at once for `seconds`: count, latencies. */
    const measure = async (users) => {
      const latencies = [];
      const deadline = performance.now() + seconds * 1000;
      const worker = async (user) => {
        while (performance.now() < deadline) {
          const t = performance.now();
          await refresh(user);
          latencies.push(performance.now() - t);
        }
      };
      const start = performance.now();
      await Promise.all(Array.from({ length: users }, (_, u) => worker(u)));
      return { latencies, elapsed: (performance.now() - start) / 1000 };
    };
    for (let i = 0; i < 20; i++) await refresh(0); // warm: connections, JIT, caches

    const before1 = await apiRequestCounts(cp, metrics);
    const alone = await measure(1);
    const calls1 = perOperation(before1, await apiRequestCounts(cp, metrics), alone.latencies.length);
    const before8 = await apiRequestCounts(cp, metrics);
    const crowd = await measure(USERS);
    const calls8 = perOperation(before8, await apiRequestCounts(cp, metrics), crowd.latencies.length);
    const mean = alone.latencies.reduce((a, b) => a + b, 0) / alone.latencies.length;
    console.log(
      `refresh, rotation on, CRD storage, one user alone: ${ms(mean)} mean, ${ms(median(alone.latencies))} ` +
        `median (${alone.latencies.length} refreshes); API calls per refresh: ${calls1.writes.toFixed(2)} writes, ` +
        `${calls1.reads.toFixed(2)} reads ${JSON.stringify(calls1.detail)}`,
    );
    console.log(
      `refresh, rotation on, CRD storage, ${USERS} users at once: ${(crowd.latencies.length / crowd.elapsed).toFixed(0)} ` +
        `refreshes/s, ${ms(median(crowd.latencies))} median; API calls per refresh: ${calls8.writes.toFixed(2)} ` +
        `writes, ${calls8.reads.toFixed(2)} reads; ${failures} failed`,
    );
  } finally {
    await Promise.all([dispatcher.close(), metrics.close()]);
    await server.stop();
  }
}

export async function kubernetesBench({ seconds = Number(process.env.BENCH_SECONDS ?? 5) } = {}) {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const { KubeApi } = await import(pathToFileURL(join(ROOT, 'dist/storage/kubernetes/api.js')).href);
  console.log(
    `kubernetes back-end benchmark: test control plane on loopback, ${seconds}s per refresh measurement`,
  );
  const cp = await startControlPlane();
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    await singleGet(cp, kc, KubeApi);
    await refreshes(cp, kc, seconds);
  } finally {
    await cp.down();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await kubernetesBench();
