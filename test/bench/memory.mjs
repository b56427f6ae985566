#!/usr/bin/env node
// Memory and start-up benchmark (issue 19, DESIGN.md "Budgets"): what the short commands cost, what `serve`
// on SQLite holds when idle, and what it holds under a sustained load with the heap rule of the chart
// applied the way the pod gets it (the Deployment's env, worked out as the kubelet does, from
// manifests/30-deployment.yaml; the limit is the chart's default). Prints one table; never fails on a figure.
// Run alone with `BENCH_ONLY=memory npm run bench`, or `node test/bench/memory.mjs` after `npm run build`.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Agent, request } from 'undici';
import { parse } from 'yaml';
import { kubeletEnv, manifestContainer, parseQuantity } from '../helpers/pod-env.ts';
import { freePort, rssOf, waitForDiscovery } from './processes.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/latchkey.js');
const LOAD_SECONDS = Number(process.env.BENCH_MEMORY_SECONDS ?? 30);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
/** Of the concurrent clients, this many run password grants (one bcrypt compare each); the rest refresh. */
const PASSWORD_CLIENTS = 2;
const COMMAND_RUNS = 5;
const MB = 2 ** 20;

const BUDGET = {
  commandMs: 200,
  commandMB: 60,
  idleMB: 90,
  /** RSS under load, as a share of the chart's default memory limit. */
  loadShare: 0.75,
  /** Growth of the peak RSS from the middle to the last third of the load. */
  growth: 0.1,
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One run of the CLI under /usr/bin/time: wall time (ms) and peak RSS (bytes). */
function timeCommand(args, input) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn('/usr/bin/time', ['-f', 'maxrss_kB=%M', process.execPath, BIN, ...args], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - start;
      const kB = /maxrss_kB=(\d+)/.exec(stderr)?.[1];
      if (code !== 0 || kB === undefined) return reject(new Error(`latchkey ${args[0]} failed:\n${stderr}`));
      resolve({ ms, rss: Number(kB) * 1024 });
    });
    child.stdin.end(input ?? '');
  });
}

async function commandCost(args, input) {
  const runs = [];
  for (let i = 0; i < COMMAND_RUNS; i++) runs.push(await timeCommand(args, input));
  return { ms: median(runs.map((r) => r.ms)), rss: Math.max(...runs.map((r) => r.rss)) };
}

/** The chart's default memory limit and the env its Deployment gives the container for that limit. */
async function podMemory() {
  const values = parse(await readFile(join(ROOT, 'charts/latchkey/values.yaml'), 'utf8'));
  const chartLimit = values.resources.limits.memory;
  const container = await manifestContainer();
  if (container.resources.limits.memory !== chartLimit) {
    throw new Error(
      `manifests/30-deployment.yaml limits memory to ${container.resources.limits.memory}, the chart to ${chartLimit}`,
    );
  }
  return { limit: parseQuantity(chartLimit), limitText: chartLimit, env: kubeletEnv(container) };
}

async function startServe(env) {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-bench-memory-'));
  const port = await freePort();
  const telemetryPort = await freePort();
  const issuer = `http://127.0.0.1:${port}/dex`;
  await writeFile(
    join(dir, 'config.yaml'),
    `issuer: ${issuer}
storage:
  type: sqlite3
  config:
    file: ${join(dir, 'bench.db')}
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
  { length: CONCURRENCY },
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
  const child = spawn(process.execPath, [BIN, 'serve', join(dir, 'config.yaml')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitForDiscovery(child, issuer, { timeoutMs: 30_000, pollMs: 50 });
  return {
    issuer,
    pid: child.pid,
    metrics: `http://127.0.0.1:${telemetryPort}/metrics`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const AUTH = `Basic ${Buffer.from('bench:bench-secret').toString('base64')}`;
/** bcrypt (cost 10) of "password". */
const PASSWORD_HASH = '$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW';
// One account per client: the password throttle counts an account's attempts in flight as failures until
// they succeed, so clients sharing an account would throttle each other.
const passwordGrant = (client) =>
  `grant_type=password&username=bench${client}@example.com&password=password&scope=openid%20offline_access`;

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

/**
 * CONCURRENCY clients for LOAD_SECONDS: PASSWORD_CLIENTS of them run password grants, the others each keep
 * their own refresh token rotating (a SQLite write and two RS256 signatures per grant). Samples the server's
 * RSS every 250 ms and its V8 heap (from /metrics) every 2 s.
 */
async function sustainedLoad(server) {
  const dispatcher = new Agent({ connections: CONCURRENCY, pipelining: 1 });
  const deadline = performance.now() + LOAD_SECONDS * 1000;
  let grants = 0;
  let failures = 0;
  const client = async (i) => {
    const password = i < PASSWORD_CLIENTS;
    let refreshToken;
    while (performance.now() < deadline) {
      const body =
        password || refreshToken === undefined
          ? passwordGrant(i)
          : `grant_type=refresh_token&refresh_token=${encodeURIComponent(refreshToken)}`;
      const tokens = await tokenRequest(dispatcher, server.issuer, body);
      if (tokens?.id_token === undefined) {
        failures++;
        refreshToken = undefined;
        continue;
      }
      grants++;
      refreshToken = tokens.refresh_token;
    }
  };
  const samples = [];
  const heaps = [];
  const start = performance.now();
  const sampler = setInterval(async () => {
    samples.push({ t: performance.now() - start, ...(await rssOf(server.pid)) });
  }, 250);
  const heapSampler = setInterval(async () => {
    const text = await (await fetch(server.metrics)).text();
    const used = /^nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1];
    if (used !== undefined) heaps.push(Number(used));
  }, 2000);
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => client(i)));
  clearInterval(sampler);
  clearInterval(heapSampler);
  await dispatcher.close();
  const seconds = (performance.now() - start) / 1000;
  const third = (k) =>
    samples.filter((s) => s.t >= ((k - 1) * seconds * 1000) / 3 && s.t < (k * seconds * 1000) / 3);
  const peak = (xs) => Math.max(...xs.map((s) => s.rss));
  return {
    grantsPerSecond: grants / seconds,
    failures,
    peakAfterWarmUp: Math.max(peak(third(2)), peak(third(3))),
    growth: peak(third(3)) / peak(third(2)) - 1,
    hwm: (await rssOf(server.pid)).hwm,
    heapUsed: heaps.length ? { min: Math.min(...heaps), max: Math.max(...heaps) } : undefined,
  };
}

const mb = (bytes) => `${(bytes / MB).toFixed(0)} MB`;
const verdict = (ok) => (ok ? 'ok' : 'OVER BUDGET');

export async function memoryBench() {
  const pod = await podMemory();
  const heapEnv = Object.entries(pod.env).map(([k, v]) => `${k}=${v}`);
  console.log(
    `memory benchmark: chart default limit ${pod.limitText}; the Deployment's env: ${heapEnv.join(' ') || '(none)'}; ` +
      `${LOAD_SECONDS}s of load, ${CONCURRENCY} concurrent clients (${PASSWORD_CLIENTS} on the password grant)`,
  );
  const rows = [];
  for (const [name, args, input] of [
    ['latchkey version', ['version']],
    ['latchkey hash-password', ['hash-password'], 'password\n'],
  ]) {
    const cost = await commandCost(args, input);
    rows.push([
      name,
      `${cost.ms.toFixed(0)} ms, ${mb(cost.rss)} peak RSS`,
      `< ${BUDGET.commandMs} ms, < ${BUDGET.commandMB} MB`,
      verdict(cost.ms < BUDGET.commandMs && cost.rss < BUDGET.commandMB * MB),
    ]);
  }

  // Idle: the server as the pod starts it, once startup has settled.
  const idle = await startServe(pod.env);
  try {
    await new Promise((r) => setTimeout(r, 2000));
    const { rss } = await rssOf(idle.pid);
    rows.push([
      'serve, SQLite, idle',
      `${mb(rss)} RSS`,
      `< ${BUDGET.idleMB} MB`,
      verdict(rss < BUDGET.idleMB * MB),
    ]);
  } finally {
    await idle.stop();
  }

  const server = await startServe(pod.env);
  let load;
  try {
    load = await sustainedLoad(server);
  } finally {
    await server.stop();
  }
  const share = load.peakAfterWarmUp / pod.limit;
  rows.push([
    `serve under load (chart env)`,
    `${mb(load.peakAfterWarmUp)} peak RSS after warm-up = ${(share * 100).toFixed(0)} % of ${pod.limitText} ` +
      `(peak ${mb(load.hwm)} overall)`,
    `< ${BUDGET.loadShare * 100} % of the limit`,
    verdict(share < BUDGET.loadShare),
  ]);
  rows.push([
    'flat after warm-up',
    `${(load.growth * 100).toFixed(1)} % from the 2nd to the 3rd third`,
    `<= ${BUDGET.growth * 100} %`,
    verdict(load.growth <= BUDGET.growth),
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(`  ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`);
  console.log(
    `  load: ${load.grantsPerSecond.toFixed(0)} grants/s (${load.failures} failed)` +
      (load.heapUsed ? `; V8 heap used ${mb(load.heapUsed.min)}–${mb(load.heapUsed.max)}` : ''),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await memoryBench();
