#!/usr/bin/env node
// Scale benchmark (issue 16 item 5), never part of `npm test`:
//   sqlite     — 100 000 refresh tokens (a share expired) and 10 000 clients written through the built
//                storage module, then `latchkey serve` on the file: start-up time (spawn → discovery
//                answers), peak RSS (VmHWM) after start and after a refresh run, refresh latency p50/p99
//                (sequential), all against the same figures on the empty database; then, server stopped,
//                listing every refresh token in pages and one garbageCollect pass through the storage module.
//   kubernetes — the same on the test control plane (scripts/control-plane.sh, under the lock the other
//                benches take) with 10 000 refresh tokens and 1 000 clients, bulk-created with bounded
//                concurrency; start-up includes the initial lists and watches.
//   soak       — `latchkey serve` on SQLite under a steady mixed load (refresh, password grant, discovery) for
//                SOAK_MINUTES (default 10): RSS after a 1-minute warm-up vs at the end (flat = within 10 %),
//                open file descriptors (/proc/<pid>/fd) and the server's nodejs_active_handles/resources.
// Run with `npm run bench:scale` or `node test/bench/scale.mjs` after a build; SCALE_ONLY=sqlite|kubernetes|soak
// runs one part. Prints Markdown tables and writes them to test-results/scale.md.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Agent, request } from 'undici';
import { startControlPlane } from './control-plane.mjs';
import { freePort, rssOf, waitForDiscovery } from './processes.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/latchkey.js');
const ONLY = process.env.SCALE_ONLY;
const SOAK_MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const WARM_UP_MS = Math.min(60_000, (SOAK_MINUTES * 60_000) / 3);
const REFRESHES = Number(process.env.SCALE_REFRESHES ?? 500);
/** Users with a password (one refresh-token chain each for the latency run). */
const USERS = 20;
/** Share of the generated refresh tokens that are already expired (garbage collection's work). */
const EXPIRED_SHARE = 0.2;
const MB = 2 ** 20;
/** bcrypt (cost 10) of "password". */
const PASSWORD_HASH = '$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW';
const AUTH = `Basic ${Buffer.from('bench:bench-secret').toString('base64')}`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const median = (xs) => percentile(xs, 50);
const mb = (bytes) => `${(bytes / MB).toFixed(0)} MB`;
const msText = (x) => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(x < 10 ? 2 : 0)} ms`);
const timed = async (task) => {
  const start = performance.now();
  const result = await task();
  return { result, ms: performance.now() - start };
};

const fdCount = async (pid) => (await readdir(`/proc/${pid}/fd`)).length;

/** The server's own gauges from its telemetry listener (prom-client's default Node.js metrics). */
async function nodeGauges(metricsURL) {
  const text = await (await fetch(metricsURL)).text();
  const value = (name) => {
    const m = new RegExp(`^${name} (\\S+)`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  return {
    handles: value('nodejs_active_handles_total'),
    resources: value('nodejs_active_resources_total'),
    requests: value('nodejs_active_requests_total'),
    heapUsed: value('nodejs_heap_size_used_bytes'),
  };
}

/** `latchkey serve` with the given storage stanza; resolves once discovery answers (the start-up time). */
async function startServe(storageYaml, label) {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-bench-scale-'));
  const port = await freePort();
  const telemetryPort = await freePort();
  const issuer = `http://127.0.0.1:${port}/dex`;
  const config = join(dir, 'config.yaml');
  await writeFile(
    config,
    `issuer: ${issuer}
${storageYaml}
web:
  http: 127.0.0.1:${port}
  # One process: this script's figures (RSS, latency) are of one PID.
  workers: 1
telemetry:
  http: 127.0.0.1:${telemetryPort}
logger:
  level: warn
  format: json
oauth2:
  passwordConnector: local
enablePasswordDB: true
staticPasswords:
${Array.from(
  { length: USERS },
  (_, i) => `- email: bench${i}@example.com
  hash: "${PASSWORD_HASH}"
  username: bench${i}
  userID: bench-user-${i}`,
).join('\n')}
staticClients:
- id: bench
  secret: bench-secret
  name: Bench
  redirectURIs: [http://127.0.0.1/cb]
`,
  );
  const spawned = performance.now();
  const child = spawn(process.execPath, [BIN, 'serve', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // Polled every 20 ms: the start-up time is measured by it.
  await waitForDiscovery(child, issuer, {
    what: `latchkey serve (${label})`,
    timeoutMs: 180_000,
    pollMs: 20,
  });
  const startMs = performance.now() - spawned;
  return {
    issuer,
    pid: child.pid,
    startMs,
    metrics: `http://127.0.0.1:${telemetryPort}/metrics`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function tokenRequest(dispatcher, issuer, body) {
  const res = await request(`${issuer}/token`, {
    method: 'POST',
    dispatcher,
    headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const json = await res.body.json();
  return res.statusCode === 200 ? json : undefined;
}
const passwordGrant = (user) =>
  `grant_type=password&username=bench${user}%40example.com&password=password&scope=openid%20offline_access`;
const refreshGrant = (token) => `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`;

/**
 * USERS password grants (one refresh-token chain each), then REFRESHES sequential refreshes going round the
 * chains (rotation on: each uses the token the last response of its chain returned).
 */
async function refreshLatency(server) {
  const dispatcher = new Agent({ connections: 1 });
  try {
    const chains = [];
    for (let u = 0; u < USERS; u++) {
      const tokens = await tokenRequest(dispatcher, server.issuer, passwordGrant(u));
      if (!tokens?.refresh_token) throw new Error(`password grant for bench${u} failed`);
      chains.push(tokens.refresh_token);
    }
    for (let i = 0; i < 20; i++) {
      const t = await tokenRequest(dispatcher, server.issuer, refreshGrant(chains[i % USERS])); // warm
      if (t?.refresh_token) chains[i % USERS] = t.refresh_token;
    }
    const latencies = [];
    let failures = 0;
    for (let i = 0; i < REFRESHES; i++) {
      const c = i % USERS;
      const start = performance.now();
      const t = await tokenRequest(dispatcher, server.issuer, refreshGrant(chains[c]));
      latencies.push(performance.now() - start);
      if (!t?.refresh_token || t.id_token?.split('.').length !== 3) failures++;
      else chains[c] = t.refresh_token;
    }
    return { p50: median(latencies), p99: percentile(latencies, 99), failures };
  } finally {
    await dispatcher.close();
  }
}

/** One server run: start-up, RSS after start, refresh latency, peak RSS after it. */
async function measureServe(storageYaml, label) {
  const server = await startServe(storageYaml, label);
  try {
    const afterStart = await rssOf(server.pid);
    const latency = await refreshLatency(server);
    const afterLoad = await rssOf(server.pid);
    return { startMs: server.startMs, afterStart, afterLoad, latency };
  } finally {
    await server.stop();
  }
}

const digest = () => randomBytes(32).toString('base64url');

/** A refresh token as src/oauth/refresh.ts stores one (digests only); `expired` ones have their expiry passed. */
function makeRefreshToken(i, now, expired, clientID) {
  const created = new Date(now - (expired ? 40 : 1) * 86_400_000);
  return {
    id: `scale-${i.toString(36).padStart(6, '0')}-${randomBytes(6).toString('hex')}`,
    token: digest(),
    obsoleteToken: '',
    createdAt: created,
    lastUsed: created,
    clientID,
    scopes: ['openid', 'offline_access', 'email'],
    nonce: '',
    claims: {
      userID: `user-${i}`,
      username: `user${i}`,
      preferredUsername: `user${i}`,
      email: `user${i}@example.com`,
      emailVerified: true,
      groups: ['staff'],
    },
    connectorID: 'local',
    expiry: new Date(now + (expired ? -86_400_000 : 30 * 86_400_000)),
    familyID: randomBytes(12).toString('hex'),
    rotationKey: digest(),
    authTime: created,
  };
}

function makeClient(i, withSecret) {
  return {
    id: `scale-client-${i}`,
    secret: withSecret ? `secret-${i}-${randomBytes(8).toString('hex')}` : '',
    redirectURIs: [`https://app${i}.example.com/callback`],
    trustedPeers: [],
    public: !withSecret,
    name: `Scale client ${i}`,
    logoURL: '',
  };
}

/** Runs `task(i)` for i in [0, n) with at most `concurrency` at once. */
async function bounded(n, concurrency, task) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

/** Every refresh token, page by page (the back end's default page size), and one GC pass. */
async function listAndCollect(storage) {
  const list = await timed(async () => {
    let n = 0;
    let pages = 0;
    let cont;
    do {
      const page = await storage.listRefreshTokens(cont === undefined ? {} : { continue: cont });
      n += page.items.length;
      pages++;
      cont = page.continue;
    } while (cont !== undefined);
    return { n, pages };
  });
  const gc = await timed(() => storage.garbageCollect(new Date()));
  return { list, gc };
}

function sizeRows(empty, full, sizeLabel) {
  const row = (what, e, f) => `| ${what} | ${e} | ${f} |`;
  return [
    `| | empty | ${sizeLabel} |`,
    '|---|---|---|',
    row('start-up (spawn → discovery answers)', msText(empty.startMs), msText(full.startMs)),
    row('RSS after start (VmRSS)', mb(empty.afterStart.rss), mb(full.afterStart.rss)),
    row(
      'peak RSS (VmHWM) after start / after the refreshes',
      `${mb(empty.afterStart.hwm)} / ${mb(empty.afterLoad.hwm)}`,
      `${mb(full.afterStart.hwm)} / ${mb(full.afterLoad.hwm)}`,
    ),
    row(
      `refresh latency p50 / p99 (${REFRESHES} sequential)`,
      `${msText(empty.latency.p50)} / ${msText(empty.latency.p99)}` +
        (empty.latency.failures ? ` (${empty.latency.failures} failed)` : ''),
      `${msText(full.latency.p50)} / ${msText(full.latency.p99)}` +
        (full.latency.failures ? ` (${full.latency.failures} failed)` : ''),
    ),
  ];
}

function collectRows(lc, populateMs, populated) {
  return [
    `| storage module, ${populated} | time |`,
    '|---|---|',
    `| populate | ${msText(populateMs)} |`,
    `| list all refresh tokens (${lc.list.result.n} in ${lc.list.result.pages} pages) | ${msText(lc.list.ms)} |`,
    `| one garbageCollect pass (deleted ${lc.gc.result.refreshTokens} refresh tokens) | ${msText(lc.gc.ms)} |`,
  ];
}

async function sqliteScale() {
  const TOKENS = Number(process.env.SCALE_SQLITE_TOKENS ?? 100_000);
  const CLIENTS = Number(process.env.SCALE_SQLITE_CLIENTS ?? 10_000);
  const { SqliteStorage } = await import(pathToFileURL(join(ROOT, 'dist/storage/sqlite/sqlite.js')).href);
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-bench-scale-db-'));
  const file = join(dir, 'scale.db');
  const storageYaml = `storage:\n  type: sqlite3\n  config:\n    file: ${file}`;
  try {
    SqliteStorage.open(file).close();
    const empty = await measureServe(storageYaml, 'sqlite, empty');
    console.log(`sqlite empty: start ${msText(empty.startMs)}, p50 ${msText(empty.latency.p50)}`);

    const storage = SqliteStorage.open(file);
    const now = Date.now();
    const populate = await timed(async () => {
      // One transaction per 5 000 rows (the module's own statements, batched for speed).
      const db = storage.db;
      for (let start = 0; start < CLIENTS + TOKENS; start += 5000) {
        db.exec('BEGIN');
        for (let i = start; i < Math.min(start + 5000, CLIENTS + TOKENS); i++) {
          if (i < CLIENTS) await storage.createClient(makeClient(i, true));
          else {
            const t = i - CLIENTS;
            await storage.createRefreshToken(
              makeRefreshToken(t, now, t % 5 === 0, `scale-client-${t % CLIENTS}`),
            );
          }
        }
        db.exec('COMMIT');
      }
    });
    await storage.close();
    console.log(`sqlite: ${TOKENS} refresh tokens and ${CLIENTS} clients written in ${msText(populate.ms)}`);

    const full = await measureServe(storageYaml, 'sqlite, populated');
    console.log(`sqlite populated: start ${msText(full.startMs)}, p50 ${msText(full.latency.p50)}`);

    const again = SqliteStorage.open(file);
    const lc = await listAndCollect(again);
    await again.close();
    const populated = `${TOKENS.toLocaleString('en')} refresh tokens (${EXPIRED_SHARE * 100} % expired), ${CLIENTS.toLocaleString('en')} clients`;
    return [
      `### SQLite: ${populated}`,
      '',
      ...sizeRows(empty, full, populated),
      '',
      ...collectRows(lc, populate.ms, populated),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function kubernetesScale() {
  const TOKENS = Number(process.env.SCALE_K8S_TOKENS ?? 10_000);
  const CLIENTS = Number(process.env.SCALE_K8S_CLIENTS ?? 1_000);
  const CONCURRENCY = Number(process.env.SCALE_K8S_CONCURRENCY ?? 32);
  const { openStorage } = await import(pathToFileURL(join(ROOT, 'dist/storage/open.js')).href);
  const upStart = performance.now();
  const cp = await startControlPlane();
  try {
    console.log(`kubernetes: control plane up in ${msText(performance.now() - upStart)} (incl. lock wait)`);
    const ns = `scale-${process.pid}`;
    await cp.kubectl('create', 'namespace', ns);
    const cfg = {
      type: 'kubernetes',
      inCluster: false,
      kubeConfigFile: cp.kubeconfig,
      namespace: ns,
      crdHandling: 'check',
    };
    const storageYaml = `storage:\n  type: kubernetes\n  config:\n    kubeConfigFile: ${cp.kubeconfig}\n    namespace: ${ns}\n    crdHandling: check`;
    const empty = await measureServe(storageYaml, 'kubernetes, empty');
    console.log(`kubernetes empty: start ${msText(empty.startMs)}, p50 ${msText(empty.latency.p50)}`);

    const storage = await openStorage(cfg);
    const now = Date.now();
    const populate = await timed(() =>
      bounded(CLIENTS + TOKENS, CONCURRENCY, async (i) => {
        if (i < CLIENTS) return storage.createClient(makeClient(i, false));
        const t = i - CLIENTS;
        return storage.createRefreshToken(
          makeRefreshToken(t, now, t % 5 === 0, `scale-client-${t % CLIENTS}`),
        );
      }),
    );
    await storage.close();
    console.log(
      `kubernetes: ${TOKENS} refresh tokens and ${CLIENTS} clients created in ${msText(populate.ms)} ` +
        `(${CONCURRENCY} at once)`,
    );

    const full = await measureServe(storageYaml, 'kubernetes, populated');
    console.log(`kubernetes populated: start ${msText(full.startMs)}, p50 ${msText(full.latency.p50)}`);
    // A second start on the same objects: the first one also judged (wrote the Ready status of) every
    // client the storage module had created without a status.
    const second = await startServe(storageYaml, 'kubernetes, populated, second start');
    const secondStart = { ms: second.startMs, ...(await rssOf(second.pid)) };
    await second.stop();

    // The stopped server held the GC Lease (one replica at a time collects); it has gone, so free it.
    await cp.kubectl('delete', 'lease', 'latchkey-gc', '-n', ns, '--ignore-not-found');
    const again = await openStorage(cfg);
    const lc = await listAndCollect(again);
    await again.close();
    const populated = `${TOKENS.toLocaleString('en')} refresh tokens (${EXPIRED_SHARE * 100} % expired), ${CLIENTS.toLocaleString('en')} clients`;
    return [
      `### Kubernetes (test control plane on loopback): ${populated}`,
      '',
      ...sizeRows(empty, full, populated),
      `| start-up, second start on the same objects | | ${msText(secondStart.ms)} (${mb(secondStart.hwm)} VmHWM) |`,
      '',
      ...collectRows(lc, populate.ms, populated),
      '',
      `Population: bounded concurrency ${CONCURRENCY} through the storage module (admin kubeconfig). ` +
        'Start-up includes the initial lists and watches of the cached kinds. List and GC run with the server ' +
        'stopped, after freeing the GC Lease the stopped server held.',
    ];
  } finally {
    await cp.down();
  }
}

/**
 * SOAK_MINUTES of a steady mixed load on one SQLite server: 1 client on password grants, 4 rotating their own
 * refresh token, 1 fetching discovery and JWKS; samples every 5 s.
 */
async function soak() {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-bench-soak-db-'));
  const server = await startServe(
    `storage:\n  type: sqlite3\n  config:\n    file: ${join(dir, 'soak.db')}`,
    'soak',
  );
  const dispatcher = new Agent({ connections: 8 });
  const totalMs = SOAK_MINUTES * 60_000;
  const start = performance.now();
  const deadline = start + totalMs;
  const counts = { password: 0, refresh: 0, discovery: 0, failures: 0 };
  const samples = [];
  try {
    const passwordClient = async () => {
      let u = 0;
      while (performance.now() < deadline) {
        const t = await tokenRequest(dispatcher, server.issuer, passwordGrant(USERS - 1 - (u++ % 4)));
        if (t?.id_token) counts.password++;
        else counts.failures++;
      }
    };
    const refreshClient = async (user) => {
      let token;
      while (performance.now() < deadline) {
        const t = await tokenRequest(
          dispatcher,
          server.issuer,
          token === undefined ? passwordGrant(user) : refreshGrant(token),
        );
        if (!t?.refresh_token) {
          counts.failures++;
          token = undefined;
          continue;
        }
        if (token !== undefined) counts.refresh++;
        token = t.refresh_token;
      }
    };
    const discoveryClient = async () => {
      while (performance.now() < deadline) {
        for (const path of ['/.well-known/openid-configuration', '/keys']) {
          const res = await request(`${server.issuer}${path}`, { dispatcher });
          await res.body.text();
          if (res.statusCode === 200) counts.discovery++;
          else counts.failures++;
        }
        await sleep(20);
      }
    };
    const sample = async () => {
      samples.push({
        t: performance.now() - start,
        ...(await rssOf(server.pid)),
        fds: await fdCount(server.pid),
        ...(await nodeGauges(server.metrics)),
      });
    };
    const sampler = setInterval(() => void sample().catch(() => {}), 5000);
    await sample();
    await Promise.all([
      passwordClient(),
      ...Array.from({ length: 4 }, (_, i) => refreshClient(i)),
      discoveryClient(),
    ]);
    clearInterval(sampler);
    await sleep(1000);
    await sample();
  } finally {
    await dispatcher.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - start) / 1000;
  const warm = samples.filter((s) => s.t <= WARM_UP_MS).at(-1);
  const last = samples.at(-1);
  // Medians over the last 30 s of warm-up and the last 30 s of the run, so one GC cycle does not decide.
  const windowMedian = (from, to, key) =>
    median(samples.filter((s) => s.t > from && s.t <= to).map((s) => s[key]));
  const inWindow = (from, to, key) => samples.filter((s) => s.t > from && s.t <= to).map((s) => s[key]);
  const windowMin = (from, to, key) => Math.min(...inWindow(from, to, key));
  const windowMax = (from, to, key) => Math.max(...inWindow(from, to, key));
  const warmRss = windowMedian(WARM_UP_MS - 30_000, WARM_UP_MS, 'rss');
  const endRss = windowMedian(totalMs - 30_000, totalMs + 5_000, 'rss');
  const pct = (a, b) => `${((b / a - 1) * 100).toFixed(1)} %`;
  const row = (what, a, b, change) => `| ${what} | ${a} | ${b} | ${change} |`;
  const peakRss = Math.max(...samples.map((s) => s.rss));
  return [
    `### Soak: SQLite, ${(seconds / 60).toFixed(1)} min of mixed load (warm-up ${WARM_UP_MS / 1000} s)`,
    '',
    `Load: 1 client on password grants, 4 rotating refresh tokens, 1 on discovery + JWKS (20 ms pause); ` +
      `${counts.refresh} refreshes, ${counts.password} password grants, ${counts.discovery} discovery/JWKS ` +
      `requests, ${counts.failures} failed; ${samples.length} samples every 5 s.`,
    '',
    '| | after warm-up | end | change |',
    '|---|---|---|---|',
    row(
      'RSS, median of the last 30 s',
      mb(warmRss),
      mb(endRss),
      `${pct(warmRss, endRss)} (flat: within ±10 %)`,
    ),
    row('RSS, one sample', mb(warm.rss), mb(last.rss), pct(warm.rss, last.rss)),
    row('peak RSS (VmHWM)', mb(warm.hwm), mb(last.hwm), `max sampled RSS ${mb(peakRss)}`),
    row('open fds (/proc/pid/fd)', warm.fds, last.fds, `${last.fds - warm.fds}`),
    row('nodejs_active_handles_total', warm.handles, last.handles, `${last.handles - warm.handles}`),
    row(
      'nodejs_active_resources_total',
      warm.resources,
      last.resources,
      `${last.resources - warm.resources}`,
    ),
    row(
      'V8 heap used, min–max of the last 30 s (a sawtooth: one sample says little)',
      `${mb(windowMin(WARM_UP_MS - 30_000, WARM_UP_MS, 'heapUsed'))}–${mb(windowMax(WARM_UP_MS - 30_000, WARM_UP_MS, 'heapUsed'))}`,
      `${mb(windowMin(totalMs - 30_000, totalMs + 5_000, 'heapUsed'))}–${mb(windowMax(totalMs - 30_000, totalMs + 5_000, 'heapUsed'))}`,
      `max over the run ${mb(Math.max(...samples.map((s) => s.heapUsed ?? 0)))}`,
    ),
    '',
    `End = 1 s after the load stopped (the bench's kept-alive connections, up to 8, still open); ` +
      `max fds during the run ${Math.max(...samples.map((s) => s.fds))}, max active handles ` +
      `${Math.max(...samples.map((s) => s.handles ?? 0))}.`,
  ];
}

const parts = { sqlite: sqliteScale, kubernetes: kubernetesScale, soak };
const selected = ONLY ? ONLY.split(',') : Object.keys(parts);
const started = new Date();
const out = [
  `## Scale benchmark (${started.toISOString()})`,
  '',
  `Node ${process.version}, ${cpus().length} cores, load average at start ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; shared machine, figures are noisy.`,
  '',
];
for (const name of selected) {
  if (!parts[name]) throw new Error(`SCALE_ONLY: unknown part ${name} (sqlite, kubernetes, soak)`);
  const t = performance.now();
  try {
    out.push(...(await parts[name]()));
  } catch (e) {
    out.push(`### ${name}: FAILED`, '', '```', String(e?.stack ?? e), '```');
  }
  out.push('', `(${name}: ${msText(performance.now() - t)})`, '');
  console.log(`${name} done in ${msText(performance.now() - t)}`);
}
const report = out.join('\n');
console.log(`\n${report}`);
await mkdir(join(ROOT, 'test-results'), { recursive: true });
const target = join(ROOT, 'test-results', ONLY ? `scale-${selected.join('-')}.md` : 'scale.md');
await writeFile(target, `${report}\n`);
console.log(`written to ${target}`);
