#!/usr/bin/env node
// Token endpoint benchmark (DESIGN.md "Budgets"): refresh_token grant, SQLite storage, rotation off, an RS256
// ID token and an RS256 JWT access token per response. Reports ratios measured in this run, never absolute
// targets: responses/s × signatures per response against this machine's RS256 signatures/s (target ≥ 60 %),
// and Latchkey's responses/s against node-oidc-provider's (npm `oidc-provider`, see oidc-provider-server.mjs)
// on the same scenario, measured the same way right after, each server alone (target ≥ 1.2×).
// Then the memory and start-up benchmark (memory.mjs), the Kubernetes back end (kubernetes.mjs) and the bench
// table (table.mjs). Run with `npm run bench` (builds first). Never part of `npm test`.
import { generateKeyPairSync, sign } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { memoryBench } from './memory.mjs';
import { kubernetesBench } from './kubernetes.mjs';
import { dexBench, tableBench } from './table.mjs';
import {
  cpuSecondsOf,
  freePort,
  isJWT,
  startOidcProvider,
  stopChild,
  waitForDiscovery,
} from './processes.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
// BENCH_WORKERS=N runs Latchkey with web.workers: N (issue 16 item 1); default 1, one process.
const WORKERS = process.env.BENCH_WORKERS ?? '1';

// BENCH_ONLY=memory runs only the memory and start-up benchmark (memory.mjs).
if (process.env.BENCH_ONLY === 'memory') {
  await memoryBench();
  process.exit(0);
}
// BENCH_ONLY=table runs only the bench table (table.mjs: every grant × back end × workers, with the peer).
if (process.env.BENCH_ONLY === 'table') {
  await tableBench();
  process.exit(0);
}
// BENCH_ONLY=dex runs only Latchkey's Kubernetes refresh against the stand-in for Dex's (table.mjs dexBench).
if (process.env.BENCH_ONLY === 'dex') {
  await dexBench();
  process.exit(0);
}
// BENCH_ONLY=kubernetes runs only the Kubernetes back-end benchmark (kubernetes.mjs).
if (process.env.BENCH_ONLY === 'kubernetes') {
  await kubernetesBench({ seconds: SECONDS });
  process.exit(0);
}

/** Runs `task` with `concurrency` workers for `seconds`; returns completions per second. */
async function throughput(task, seconds, concurrency) {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      await task();
      done++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done / ((performance.now() - start) / 1000);
}

/** The machine's RS256 rate: node:crypto's asynchronous sign on the thread pool, the fastest Node offers. */
async function signaturesPerSecond() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const input = Buffer.from('eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2JlbmNoIn0', 'ascii');
  return throughput(
    () =>
      new Promise((resolve, reject) =>
        sign('sha256', input, privateKey, (e, s) => (e ? reject(e) : resolve(s))),
      ),
    SECONDS,
    CONCURRENCY,
  );
}

async function startLatchkey() {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-bench-'));
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/dex`;
  const config = `issuer: ${issuer}
storage:
  type: sqlite3
  config:
    file: ${join(dir, 'bench.db')}
web:
  http: 127.0.0.1:${port}
  workers: ${WORKERS}
logger:
  level: warn
  format: json
expiry:
  refreshTokens:
    disableRotation: true
oauth2:
  passwordConnector: local
enablePasswordDB: true
staticPasswords:
- email: bench@example.com
  hash: "$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW"
  username: bench
  userID: bench-user
staticClients:
- id: bench
  secret: bench-secret
  name: Bench
  redirectURIs: [http://127.0.0.1/cb]
`;
  await writeFile(join(dir, 'config.yaml'), config);
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : []),
      join(ROOT, 'bin/latchkey.js'),
      'serve',
      join(dir, 'config.yaml'),
    ],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await waitForDiscovery(child, issuer, { timeoutMs: 30_000 });
  return { issuer, pid: child.pid, stop: () => stopChild(child) };
}

const AUTH = `Basic ${Buffer.from('bench:bench-secret').toString('base64')}`;

/** Latchkey's first refresh token, from the password grant. */
async function latchkeyRefreshToken(issuer) {
  const first = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=password&username=bench@example.com&password=password&scope=openid%20offline_access',
  });
  const { refresh_token: refreshToken } = await first.json();
  if (!refreshToken) throw new Error('no refresh token');
  return refreshToken;
}

/**
 * refresh_token-grant responses/s against `issuer`'s /token with the same client, concurrency and duration
 * for every server; a response counts as failed unless it is a 200 with a JWT ID token and a JWT access token.
 * Also the CPU time per response of the server (process `pid` and its workers) and of this load generator:
 * on a machine where both share the cores, their sum bounds what any server could answer.
 */
async function refreshThroughput(issuer, refreshToken, pid) {
  const tokenURL = `${issuer}/token`;
  const dispatcher = new Agent({ connections: CONCURRENCY, pipelining: 1 });
  const body = `grant_type=refresh_token&refresh_token=${encodeURIComponent(refreshToken)}`;
  let failures = 0;
  let responses = 0;
  const serverCpu0 = await cpuSecondsOf(pid);
  const ownCpu0 = process.cpuUsage();
  const rps = await throughput(
    async () => {
      const res = await request(tokenURL, {
        method: 'POST',
        dispatcher,
        headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      const json = await res.body.json();
      if (res.statusCode !== 200 || !isJWT(json.id_token) || !isJWT(json.access_token)) failures++;
      responses++;
    },
    SECONDS,
    CONCURRENCY,
  );
  const serverMs = ((await cpuSecondsOf(pid)) - serverCpu0) * 1000;
  const own = process.cpuUsage(ownCpu0);
  await dispatcher.close();
  return {
    rps,
    failures,
    serverCpuMs: serverMs / responses,
    loadCpuMs: (own.user + own.system) / 1000 / responses,
  };
}

/** CPU per response and the ceiling it implies on this machine's cores, as one line. */
function cpuLine(name, r) {
  const ceiling = (cores * 1000) / (r.serverCpuMs + r.loadCpuMs);
  return (
    `  ${name}: ${r.serverCpuMs.toFixed(2)} ms CPU per response in the server, ${r.loadCpuMs.toFixed(2)} ms in ` +
    `this load generator; ${cores} cores shared by both allow at most ${ceiling.toFixed(0)} responses/s ` +
    `(measured ${((r.rps / ceiling) * 100).toFixed(0)} % of that)`
  );
}

const { version: oidcProviderVersion } = JSON.parse(
  await readFile(join(ROOT, 'node_modules/oidc-provider/package.json'), 'utf8'),
);
const cores = availableParallelism();
console.log(
  `token endpoint benchmark: ${SECONDS}s per measurement, ${CONCURRENCY} concurrent requests, ${cores} cores`,
);
const sigs = await signaturesPerSecond();
console.log(`baseline: ${sigs.toFixed(0)} RS256 signatures/s (node:crypto on the thread pool, this process)`);
const server = await startLatchkey();
let latchkey;
try {
  latchkey = await refreshThroughput(server.issuer, await latchkeyRefreshToken(server.issuer), server.pid);
  const ratio = (latchkey.rps * 2) / sigs;
  console.log(
    `latchkey refresh_token grant (web.workers: ${WORKERS}): ${latchkey.rps.toFixed(0)} responses/s ` +
      `(${latchkey.failures} failed), 2 signatures each`,
  );
  console.log(
    `signature efficiency: ${(ratio * 100).toFixed(0)} % of the machine's RS256 signatures/s (target ≥ 60 %)`,
  );
  console.log(cpuLine('Latchkey', latchkey));
} finally {
  await server.stop();
}
const reference = await startOidcProvider();
try {
  const peer = await refreshThroughput(reference.issuer, reference.refreshToken, reference.pid);
  const { rps, failures } = peer;
  console.log(
    `node-oidc-provider refresh_token grant: ${rps.toFixed(0)} responses/s (${failures} failed), 2 signatures each ` +
      `(oidc-provider ${oidcProviderVersion}, in-memory storage: Latchkey's SQLite makes the comparison conservative)`,
  );
  console.log(cpuLine('node-oidc-provider', peer));
  console.log(
    `  one signature costs ${((cores * 1000) / sigs).toFixed(2)} ms CPU here (${cores} cores ÷ the baseline rate)`,
  );
  console.log(`Latchkey ÷ node-oidc-provider: ${(latchkey.rps / rps).toFixed(2)}× (target ≥ 1.2×)`);
} finally {
  await reference.stop();
}

// BENCH_ONLY=token stops here: the token endpoint against the peer, nothing else.
if (process.env.BENCH_ONLY !== 'token') {
  await memoryBench();
  await kubernetesBench({ seconds: SECONDS });
  await tableBench();
}
