// The bench table (issue 16): every grant and the public GETs against every back end, with one worker and
// with one per core, next to node-oidc-provider on the rows it serves, and on Kubernetes the API requests by
// verb per operation next to DESIGN.md's budgets. Each cell is a short run (BENCH_TABLE_SECONDS, default
// min(BENCH_SECONDS, 2) seconds) with BENCH_CONCURRENCY clients; each server runs alone. Prints one Markdown
// table with the date and the machine, and writes it to test-results/bench-table.md.
// Below the Kubernetes API-request table, one line sets Latchkey's Kubernetes refresh against a stand-in
// replaying Dex's per-refresh API requests on the same control plane (dex-pattern.mjs).
// Run with `npm run bench` (after the other measurements), `BENCH_ONLY=table npm run bench`, or
// `node test/bench/table.mjs` after `npm run build`; `BENCH_ONLY=dex npm run bench` runs only that line's
// three measurements (dexBench).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { adminTls, apiRequestCounts, perOperation, startControlPlane } from './control-plane.mjs';
import { dexRefreshPattern } from './dex-pattern.mjs';
import { freePort, isJWT, startOidcProvider, stopChild, waitForDiscovery } from './processes.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SECONDS = Number(
  process.env.BENCH_TABLE_SECONDS ?? Math.min(Number(process.env.BENCH_SECONDS ?? 5), 2),
);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
/** Operations per API-request count on Kubernetes. */
const COUNT_RUNS = Number(process.env.BENCH_COUNT_RUNS ?? 20);
/** bcrypt of "password" (cost 10), as in run.mjs. */
const PASSWORD_HASH = '$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW';
const REDIRECT = 'http://127.0.0.1/cb';
const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const BENCH = basic('bench', 'bench-secret');
const MACHINE = basic('machine', 'machine-secret');
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const FORM = 'application/x-www-form-urlencoded';

/**
 * CONCURRENCY loops of `task` for SECONDS: completions/s and failures (the task returned false or threw).
 * The task gets its loop's index.
 */
async function throughput(task) {
  const deadline = performance.now() + SECONDS * 1000;
  let done = 0;
  let failures = 0;
  const loop = async (i) => {
    while (performance.now() < deadline) {
      try {
        if ((await task(i)) === false) failures++;
      } catch {
        failures++;
      }
      done++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => loop(i)));
  return { rps: done / ((performance.now() - start) / 1000), failures };
}

// ---------------------------------------------------------------------------------------------------------
// Latchkey

function latchkeyConfig({ issuer, port, workers, storage, rotation }) {
  return `issuer: ${issuer}
storage:
${storage}
web:
  http: 127.0.0.1:${port}
  workers: ${workers}
logger:
  level: warn
  format: json
expiry:
  refreshTokens:
    disableRotation: ${!rotation}
# One account from one address at full speed: password attempts in flight each hold a throttle slot.
throttling:
  passwordFailuresPerAccount: 100000
  passwordFailuresPerIP: 100000
oauth2:
  passwordConnector: local
  skipApprovalScreen: true
enablePasswordDB: true
connectors:
- type: mockCallback
  id: mock
  name: Mock
staticPasswords:
- email: bench@example.com
  hash: "${PASSWORD_HASH}"
  username: bench
  userID: bench-user
staticClients:
- id: bench
  secret: bench-secret
  name: Bench
  redirectURIs: [${REDIRECT}]
- id: machine
  secret: machine-secret
  name: Machine
  grantTypes: [client_credentials]
`;
}

async function startLatchkey({ workers, storage, rotation = false }) {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-bench-table-'));
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/dex`;
  await writeFile(
    join(dir, 'config.yaml'),
    latchkeyConfig({ issuer, port, workers, storage: storage(dir), rotation }),
  );
  const child = spawn(process.execPath, [join(ROOT, 'bin/latchkey.js'), 'serve', join(dir, 'config.yaml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Its stderr, minus two expected start-up warnings: mockCallback (the token-exchange row's connector) and
  // the per-address limits being off for requests from loopback.
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (!line.includes('mockCallback logs anyone in') && !line.includes('per-address limits'))
      console.error(line);
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

/** A cookie jar of one browser: name → value, from Set-Cookie headers. */
class Jar {
  cookies = new Map();
  take(headers) {
    const set = headers['set-cookie'];
    for (const c of Array.isArray(set) ? set : set ? [set] : []) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

const decodeHTML = (s) =>
  s.replaceAll('&amp;', '&').replaceAll('&#x2F;', '/').replaceAll('&#47;', '/').replaceAll('&quot;', '"');

/**
 * One browser journey through Latchkey's pages with a fresh cookie jar: GET /auth → (redirects) → password
 * form → POST → (redirects) → the client's redirect with a code; the code redeemed at /token. Redirects are
 * followed by hand (undici does not keep cookies). With `submit: false`, stops at the password form: the
 * anonymous `/auth` visit. Returns false unless the journey ends as it should.
 */
async function browserJourney(issuer, dispatcher, { submit = true } = {}) {
  const origin = new URL(issuer).origin;
  const jar = new Jar();
  const state = Math.random().toString(36).slice(2);
  let url =
    `${issuer}/auth?client_id=bench&redirect_uri=${encodeURIComponent(REDIRECT)}&response_type=code` +
    `&scope=openid%20offline_access&state=${state}&connector_id=local`;
  let method = 'GET';
  let body;
  for (let hop = 0; hop < 10; hop++) {
    const res = await request(url, {
      method,
      dispatcher,
      headers: {
        cookie: jar.header(),
        accept: 'text/html',
        ...(body ? { 'content-type': FORM } : {}),
      },
      body,
    });
    jar.take(res.headers);
    const text = await res.body.text();
    if (res.statusCode >= 300 && res.statusCode < 400) {
      const location = new URL(res.headers.location, url).toString();
      if (location.startsWith(REDIRECT)) {
        const code = new URL(location).searchParams.get('code');
        if (!code || new URL(location).searchParams.get('state') !== state) return false;
        const token = await request(`${issuer}/token`, {
          method: 'POST',
          dispatcher,
          headers: { authorization: BENCH, 'content-type': FORM },
          body: `grant_type=authorization_code&code=${encodeURIComponent(code)}&redirect_uri=${encodeURIComponent(REDIRECT)}`,
        });
        const json = await token.body.json();
        return token.statusCode === 200 && isJWT(json.id_token) && typeof json.refresh_token === 'string';
      }
      url = location;
      method = 'GET';
      body = undefined;
      continue;
    }
    if (res.statusCode !== 200 || !text.includes('name="password"')) return false;
    if (!submit) return true;
    if (method === 'POST') return false; // the form again: the password was refused
    const action = /<form[^>]*action="([^"]+)"/.exec(text)?.[1];
    if (!action) return false;
    const form = new URLSearchParams({ login: 'bench@example.com', password: 'password' });
    for (const m of text.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g))
      form.set(m[1], decodeHTML(m[2]));
    url = new URL(decodeHTML(action), origin).toString();
    method = 'POST';
    body = form.toString();
  }
  return false;
}

/** A POST to a server's /token (Latchkey's or the peer's): status and JSON body. */
async function postToken(issuer, dispatcher, auth, form) {
  const res = await request(`${issuer}/token`, {
    method: 'POST',
    dispatcher,
    headers: { authorization: auth, 'content-type': FORM },
    body: form,
  });
  return { status: res.statusCode, json: await res.body.json() };
}

/** A refresh token for the bench user, from the password grant. */
async function firstRefreshToken(issuer, dispatcher) {
  const { json } = await postToken(
    issuer,
    dispatcher,
    BENCH,
    'grant_type=password&username=bench%40example.com&password=password&scope=openid%20offline_access',
  );
  if (!json.refresh_token) throw new Error(`no refresh token: ${JSON.stringify(json)}`);
  return json.refresh_token;
}

/** The scenarios, as tasks against a running Latchkey; each task returns false on a wrong answer. */
async function latchkeyTasks(issuer, dispatcher) {
  const post = (auth, form) => postToken(issuer, dispatcher, auth, form);
  const refreshBody = `grant_type=refresh_token&refresh_token=${encodeURIComponent(await firstRefreshToken(issuer, dispatcher))}`;
  const get = (path) => async () => {
    const res = await request(`${issuer}${path}`, { dispatcher });
    await res.body.arrayBuffer();
    return res.statusCode === 200;
  };
  return {
    refresh_token: async () => {
      const { status, json } = await post(BENCH, refreshBody);
      return status === 200 && isJWT(json.id_token) && isJWT(json.access_token);
    },
    password: async () => {
      const { status, json } = await post(
        BENCH,
        'grant_type=password&username=bench%40example.com&password=password&scope=openid',
      );
      return status === 200 && isJWT(json.id_token);
    },
    client_credentials: async () => {
      const { status, json } = await post(MACHINE, 'grant_type=client_credentials&scope=openid');
      return status === 200 && isJWT(json.access_token);
    },
    token_exchange: async () => {
      const { status, json } = await post(
        BENCH,
        `grant_type=${encodeURIComponent(EXCHANGE)}&connector_id=mock&subject_token=bench` +
          `&subject_token_type=${encodeURIComponent('urn:ietf:params:oauth:token-type:access_token')}&scope=openid`,
      );
      return status === 200 && isJWT(json.access_token);
    },
    authorization_code: () => browserJourney(issuer, dispatcher),
    discovery: get('/.well-known/openid-configuration'),
    jwks: get('/keys'),
  };
}

/** Every scenario against one Latchkey: responses/s and failures by scenario. */
async function measureLatchkey(server) {
  const dispatcher = new Agent({ connections: CONCURRENCY, pipelining: 1 });
  try {
    const tasks = await latchkeyTasks(server.issuer, dispatcher);
    const out = {};
    for (const [name, task] of Object.entries(tasks)) {
      for (let i = 0; i < 3; i++) await task(); // warm: connections, JIT
      out[name] = await throughput(task);
    }
    return out;
  } finally {
    await dispatcher.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// node-oidc-provider (oidc-provider-server.mjs): refresh_token, client_credentials, discovery, JWKS.

async function measurePeer() {
  const peer = await startOidcProvider();
  const { issuer, refreshToken } = peer;
  const dispatcher = new Agent({ connections: CONCURRENCY, pipelining: 1 });
  try {
    const post = (auth, form) => postToken(issuer, dispatcher, auth, form);
    const get = (path) => async () => {
      const res = await request(`${issuer}${path}`, { dispatcher });
      await res.body.arrayBuffer();
      return res.statusCode === 200;
    };
    const tasks = {
      refresh_token: async () => {
        const { status, json } = await post(
          BENCH,
          `grant_type=refresh_token&refresh_token=${encodeURIComponent(refreshToken)}`,
        );
        return status === 200 && isJWT(json.id_token) && isJWT(json.access_token);
      },
      client_credentials: async () => {
        const { status, json } = await post(MACHINE, 'grant_type=client_credentials&scope=openid');
        return status === 200 && isJWT(json.access_token);
      },
      discovery: get('/.well-known/openid-configuration'),
      jwks: get('/jwks'),
    };
    const out = {};
    for (const [name, task] of Object.entries(tasks)) {
      for (let i = 0; i < 3; i++) await task();
      out[name] = await throughput(task);
    }
    return out;
  } finally {
    await dispatcher.close();
    await peer.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Kubernetes: API requests by verb per operation, against a running Latchkey on the control plane.

async function kubernetesCounts(cp, kc, issuer) {
  const dispatcher = new Agent({ connections: 4 });
  const metrics = new Agent({ connect: adminTls(kc) });
  try {
    const tasks = await latchkeyTasks(issuer, dispatcher);
    // Rotation is on here (the default): each refresh presents the token the last one returned.
    const first = await request(`${issuer}/token`, {
      method: 'POST',
      dispatcher,
      headers: { authorization: BENCH, 'content-type': FORM },
      body: 'grant_type=password&username=bench%40example.com&password=password&scope=openid%20offline_access',
    });
    let refreshToken = (await first.body.json()).refresh_token;
    const refresh = async () => {
      const res = await request(`${issuer}/token`, {
        method: 'POST',
        dispatcher,
        headers: { authorization: BENCH, 'content-type': FORM },
        body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(refreshToken)}`,
      });
      const json = await res.body.json();
      if (res.statusCode !== 200 || !json.refresh_token || json.refresh_token === refreshToken) return false;
      refreshToken = json.refresh_token;
      return true;
    };
    const operations = {
      'anonymous /auth': () => browserJourney(issuer, dispatcher, { submit: false }),
      'full login': tasks.authorization_code,
      'refresh (rotation on)': refresh,
      'token exchange': tasks.token_exchange,
    };
    const out = {};
    for (const [name, task] of Object.entries(operations)) {
      await task(); // warm: the caches it fills once
      const before = await apiRequestCounts(cp, metrics);
      let failures = 0;
      for (let i = 0; i < COUNT_RUNS; i++) if (!(await task())) failures++;
      out[name] = { ...perOperation(before, await apiRequestCounts(cp, metrics), COUNT_RUNS), failures };
    }
    return out;
  } finally {
    await Promise.all([dispatcher.close(), metrics.close()]);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Kubernetes: Latchkey's refresh against the stand-in for Dex's (dex-pattern.mjs) on the same control plane.

/** A namespace of its own on the control plane, as Latchkey's storage section. */
async function kubernetesStorage(cp, name) {
  const ns = `bench-table-${process.pid}-${name}`;
  await cp.kubectl('create', 'namespace', ns);
  return () =>
    `  type: kubernetes\n  config:\n    kubeConfigFile: ${cp.kubeconfig}\n    namespace: ${ns}\n    crdHandling: ensure`;
}

/**
 * Latchkey's refresh_token grant, one worker, on `storage`: with rotation off every client presents the same
 * token (the table's row); with rotation on — Dex's default, and what the stand-in replays — each client
 * holds its own token and presents the one its last response returned.
 */
async function latchkeyRefresh(storage, rotation) {
  const server = await startLatchkey({ workers: 1, storage, rotation });
  const dispatcher = new Agent({ connections: CONCURRENCY, pipelining: 1 });
  try {
    let task;
    if (!rotation) task = (await latchkeyTasks(server.issuer, dispatcher)).refresh_token;
    else {
      const tokens = [];
      for (let i = 0; i < CONCURRENCY; i++) tokens.push(await firstRefreshToken(server.issuer, dispatcher));
      task = async (i) => {
        const { status, json } = await postToken(
          server.issuer,
          dispatcher,
          BENCH,
          `grant_type=refresh_token&refresh_token=${encodeURIComponent(tokens[i])}`,
        );
        if (status !== 200 || !isJWT(json.id_token) || !isJWT(json.access_token) || !json.refresh_token)
          return false;
        tokens[i] = json.refresh_token;
        return true;
      };
    }
    for (let i = 0; i < CONCURRENCY; i++) await task(i); // warm: connections, JIT
    return await throughput(task);
  } finally {
    await dispatcher.close();
    await server.stop();
  }
}

/**
 * The Dex stand-in on the control plane `cp` before and after `latchkey()` (Latchkey's measurements, as
 * `{ rotationOff?, rotationOn }`), its figure the mean of the two runs so that a change in what else the
 * machine runs weighs on both sides alike; returns the line for the table.
 */
async function dexComparison(cp, kc, latchkey, { detail = false } = {}) {
  const standIn = (run) =>
    dexRefreshPattern({
      cp,
      kc,
      namespace: `bench-table-${process.pid}-dex-${run}`,
      concurrency: CONCURRENCY,
      seconds: SECONDS,
    });
  const runs = [await standIn(1)];
  const { rotationOff, rotationOn } = await latchkey();
  runs.push(await standIn(2));
  const mean = (f) => (f(runs[0]) + f(runs[1])) / 2;
  const dex = {
    rps: mean((r) => r.rps),
    failures: runs[0].failures + runs[1].failures,
    reads: mean((r) => r.readsPerRefresh),
    writes: mean((r) => r.writesPerRefresh),
    serverReads: mean((r) => r.apiServer.reads),
    serverWrites: mean((r) => r.apiServer.writes),
  };
  if (detail)
    for (const [i, r] of runs.entries())
      console.log(
        `stand-in run ${i + 1}: ${r.refreshes} refreshes in ${SECONDS} s, ${r.msPerRead.toFixed(1)} ms per ` +
          `read, ${r.msPerWrite.toFixed(1)} ms per write, its process at ${r.cpuPercent.toFixed(0)} % of a ` +
          `core; per refresh by the API server ${JSON.stringify(r.apiServer.detail)}`,
      );
  const vs = (r, what) =>
    `${r.rps.toFixed(0)}/s ${what}${r.failures ? ` (${r.failures} failed)` : ''} = ${(r.rps / dex.rps).toFixed(2)}×`;
  return (
    `Refresh on the same control plane, Dex's request pattern (stand-in, test/bench/dex-pattern.mjs: ` +
    `${dex.reads.toFixed(2)} reads + ${dex.writes.toFixed(2)} writes per refresh as it counts them, ` +
    `${dex.serverReads.toFixed(2)} + ${dex.serverWrites.toFixed(2)} as the API server counts them, two RS256 ` +
    `signatures; an upper bound for Dex): ${dex.rps.toFixed(0)} refreshes/s (${runs[0].rps.toFixed(0)} before ` +
    `and ${runs[1].rps.toFixed(0)} after Latchkey's${dex.failures ? `; ${dex.failures} failed` : ''}); ` +
    `Latchkey Kubernetes 1 worker ${rotationOff ? `${vs(rotationOff, 'rotation off')}, ` : ''}` +
    `${vs(rotationOn, 'rotation on')} (target ≥ 3×); ${SECONDS} s each, ${CONCURRENCY} concurrent clients.`
  );
}

/** `BENCH_ONLY=dex`: Latchkey's Kubernetes refresh, rotation off and on, between two runs of the Dex stand-in. */
export async function dexBench() {
  const { KubeConfig } = await import('@kubernetes/client-node');
  console.log(
    `Dex stand-in against Latchkey on Kubernetes: ${SECONDS}s each, ${CONCURRENCY} concurrent clients, ` +
      `test control plane on loopback`,
  );
  const cp = await startControlPlane();
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    const line = await dexComparison(
      cp,
      kc,
      async () => ({
        rotationOff: await latchkeyRefresh(await kubernetesStorage(cp, 'rotation-off'), false),
        rotationOn: await latchkeyRefresh(await kubernetesStorage(cp, 'rotation-on'), true),
      }),
      { detail: true },
    );
    console.log(`\n${line}\n`);
  } finally {
    await cp.down();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The table

const ROWS = [
  ['refresh_token', 'refresh_token grant (rotation off), responses/s'],
  ['password', 'password grant (bcrypt cost 10), responses/s'],
  ['client_credentials', 'client_credentials grant, responses/s'],
  ['token_exchange', 'token exchange (mockCallback connector), responses/s'],
  ['authorization_code', 'authorization_code, whole browser journey, logins/s'],
  ['discovery', 'discovery GET, responses/s'],
  ['jwks', 'JWKS GET, responses/s'],
];

const BUDGETS = {
  'anonymous /auth': '0 writes',
  'full login': '≤ 5 writes, ≤ 2 reads',
  'refresh (rotation on)': '≤ 2 writes',
  'token exchange': '—',
};

const cell = (r) => (r ? `${r.rps.toFixed(0)}${r.failures ? ` (${r.failures} failed)` : ''}` : '—');

async function machine() {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown CPU';
  return `${availableParallelism()} cores, ${model}, Node ${process.version}`;
}

export async function tableBench() {
  const cores = availableParallelism();
  const started = performance.now();
  const { version: peerVersion } = JSON.parse(
    await readFile(join(ROOT, 'node_modules/oidc-provider/package.json'), 'utf8'),
  );
  console.log(
    `bench table: ${SECONDS}s per cell, ${CONCURRENCY} concurrent clients, back ends memory, SQLite and ` +
      `Kubernetes × web.workers 1 and ${cores}`,
  );
  // The peer is measured before the Latchkey columns and after them, and its cells are the mean of the two,
  // so that a change in what else the machine runs weighs on both sides alike.
  const peerBefore = await measurePeer();
  console.log('  measured node-oidc-provider (first of two)');
  const columns = [];
  const backEnds = [
    ['memory', () => '  type: memory'],
    ['SQLite', (dir) => `  type: sqlite3\n  config:\n    file: ${join(dir, 'bench.db')}`],
  ];
  const measureColumn = async (label, workers, storage) => {
    const server = await startLatchkey({ workers, storage });
    try {
      const results = await measureLatchkey(server);
      columns.push({ label: `${label}, ${workers} worker${workers === 1 ? '' : 's'}`, results });
    } finally {
      await server.stop();
    }
    console.log(`  measured ${columns.at(-1).label}`);
  };
  for (const [label, storage] of backEnds)
    for (const workers of [1, cores]) await measureColumn(label, workers, storage);

  let counts;
  let dexLine;
  let k8sError;
  try {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const cp = await startControlPlane();
    try {
      const kc = new KubeConfig();
      kc.loadFromFile(cp.kubeconfig);
      const storage = (name) => kubernetesStorage(cp, name);
      for (const workers of [1, cores]) await measureColumn('Kubernetes', workers, await storage(workers));
      const server = await startLatchkey({ workers: 1, storage: await storage('counts'), rotation: true });
      try {
        counts = await kubernetesCounts(cp, kc, server.issuer);
      } finally {
        await server.stop();
      }
      console.log('  counted the Kubernetes API requests');
      try {
        dexLine = await dexComparison(cp, kc, async () => ({
          rotationOff: columns.find((c) => c.label === 'Kubernetes, 1 worker')?.results.refresh_token,
          rotationOn: await latchkeyRefresh(await storage('rotation-on'), true),
        }));
        console.log("  measured the stand-in for Dex's refresh");
      } catch (e) {
        dexLine = `Dex stand-in left out: ${e instanceof Error ? e.message : String(e)}`;
        console.error(dexLine);
      }
    } finally {
      await cp.down();
    }
  } catch (e) {
    k8sError = e instanceof Error ? e.message : String(e);
    console.error(`Kubernetes columns left out: ${k8sError}`);
  }

  const peerAfter = await measurePeer();
  console.log('  measured node-oidc-provider (second of two)');
  const peer = Object.fromEntries(
    Object.entries(peerBefore).map(([k, a]) => {
      const b = peerAfter[k];
      return [k, { rps: (a.rps + b.rps) / 2, failures: a.failures + b.failures }];
    }),
  );

  const sqlite1 = columns.find((c) => c.label === 'SQLite, 1 worker');
  const ratio = (a, b) => (a && b ? `${(a.rps / b.rps).toFixed(2)}×` : '—');
  const lines = [];
  lines.push(
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${await machine()}; ` +
      `${SECONDS} s per cell, ${CONCURRENCY} concurrent clients on the same machine, each server alone; ` +
      `node-oidc-provider ${peerVersion} (in-memory storage), the mean of a run before and one after Latchkey's.`,
  );
  lines.push('');
  lines.push(
    `| Scenario | ${columns.map((c) => c.label).join(' | ')} | node-oidc-provider | Latchkey SQLite 1 worker ÷ peer | best Latchkey ÷ peer |`,
  );
  lines.push(`|---|${columns.map(() => '--:').join('|')}|--:|--:|--:|`);
  for (const [key, title] of ROWS) {
    const best = columns
      .map((c) => c.results[key])
      .filter(Boolean)
      .reduce((a, b) => (b.rps > (a?.rps ?? 0) ? b : a), undefined);
    lines.push(
      `| ${title} | ${columns.map((c) => cell(c.results[key])).join(' | ')} | ${cell(peer[key])} | ` +
        `${ratio(sqlite1?.results[key], peer[key])} | ${ratio(best, peer[key])} |`,
    );
  }
  lines.push('');
  lines.push(
    'Every response is checked (a 200 with the JWTs the grant issues; "failed" counts the others). ' +
      'client_credentials: Latchkey answers scope openid with an RS256 access and ID token, the peer with an ' +
      'RS256 JWT access token only (one signature fewer). The peer has no password grant and no token ' +
      'exchange; its browser login goes through its own interaction pages, not measured here.',
  );
  if (counts) {
    lines.push('');
    lines.push(
      `Kubernetes API requests per operation (the API server's apiserver_request_total for latchkey.dev, ` +
        `${COUNT_RUNS} operations each one after the other, one worker, refresh-token rotation on, after one ` +
        `warm-up; watches left out; "full login" is the journey above including the code's redemption):`,
    );
    lines.push('');
    lines.push('| Operation | requests by verb | writes | reads | budget (DESIGN.md) |');
    lines.push('|---|---|--:|--:|---|');
    for (const [name, c] of Object.entries(counts)) {
      const verbs = Object.entries(c.byVerb)
        .map(([v, n]) => `${v} ${n.toFixed(2)}`)
        .join(', ');
      lines.push(
        `| ${name}${c.failures ? ` (${c.failures} failed)` : ''} | ${verbs || 'none'} | ${c.writes.toFixed(2)} | ` +
          `${c.reads.toFixed(2)} | ${BUDGETS[name]} |`,
      );
    }
    if (dexLine) lines.push('', dexLine);
  } else if (k8sError) {
    lines.push('', `Kubernetes left out: ${k8sError}`);
  }
  const table = lines.join('\n');
  console.log(`\n${table}\n`);
  await mkdir(join(ROOT, 'test-results'), { recursive: true });
  await writeFile(join(ROOT, 'test-results/bench-table.md'), `${table}\n`);
  console.log(
    `bench table written to test-results/bench-table.md (${((performance.now() - started) / 1000).toFixed(0)} s)`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await tableBench();
