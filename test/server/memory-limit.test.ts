import { readFile, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { childPids, REPO_ROOT, startServer, type ServerProcess } from '../helpers/cli.js';
import { writeTestConfig, type TestServerConfig } from '../helpers/config.js';
import { basicAuth } from '../helpers/flows.js';
import { deploymentContainer, kubeletEnv, manifestContainer, memoryLimitOf } from '../helpers/pod-env.js';
import { findHelm, ok } from '../deploy/helpers.js';

// Issue 19: `latchkey serve` on SQLite, started with the env the chart's Deployment gives the container for
// the chart's default memory limit (rendered by helm, worked out as the kubelet does), stays under that
// limit through a bounded load. Memory, not timing: the peak RSS (VmHWM) is what the kernel's OOM killer
// would compare with the limit. Issue 16: with the default web.workers ("auto") a limit that holds a
// memory budget for each runs a primary and a worker per core (the chart's 1-CPU limit would make it one
// process in a pod; the test machine has no CPU quota), so all of them together must stay under the limit:
// the sum of their peaks, an upper bound of the pod's peak.

const CLIENTS = 8;
const GRANTS_PER_CLIENT = 400;
const PASSWORD_HASH = '$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW'; // "password"

async function statusField(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kB = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
  if (kB === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(kB) * 1024;
}

describe('latchkey serve within the chart’s memory limit', () => {
  let podEnv: Record<string, string>;
  let limit: number;
  let cfg: TestServerConfig;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    const helm = await findHelm();
    try {
      const rendered = ok(
        await helm.run(['template', 'latchkey', join(REPO_ROOT, 'charts/latchkey')]),
        'helm template',
      );
      const container = deploymentContainer(rendered.stdout);
      podEnv = kubeletEnv(container);
      limit = memoryLimitOf(container);
    } finally {
      await helm.cleanup();
    }
    cfg = await writeTestConfig({
      extra: [
        'oauth2:\n  passwordConnector: local',
        'enablePasswordDB: true',
        'staticPasswords:',
        ...Array.from(
          { length: CLIENTS },
          // One account per client: the throttle counts an account's attempts in flight until they succeed.
          (_, i) =>
            `- email: load${i}@example.com\n  hash: "${PASSWORD_HASH}"\n  username: load${i}\n  userID: load-${i}`,
        ),
      ].join('\n'),
    });
  }, 10 * 60_000);

  afterAll(async () => {
    await server?.stop();
    if (cfg) await rm(cfg.dir, { recursive: true, force: true });
  });

  it('the chart and the manifests hand the container its memory limit the same way', async () => {
    expect(podEnv.LATCHKEY_MEMORY_LIMIT).toBe(String(limit));
    const manifest = await manifestContainer();
    expect(memoryLimitOf(manifest)).toBe(limit);
    expect(kubeletEnv(manifest).LATCHKEY_MEMORY_LIMIT).toBe(String(limit));
  });

  /**
   * Serves with the pod's env and `limitBytes` as its memory limit, puts thousands of grants through it, and
   * checks the heap flags of every process and the sum of their peak RSS against the limit.
   */
  async function underLimit(limitBytes: number, expectedWorkers: number): Promise<void> {
    // NODE_OPTIONS emptied: heap flags of the test runner's own would take precedence over the rule.
    server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`, {
      env: { ...podEnv, LATCHKEY_MEMORY_LIMIT: String(limitBytes), NODE_OPTIONS: '' },
    });
    const pid = server.child.pid!;
    const cmdline = async (p: number) => (await readFile(`/proc/${p}/cmdline`, 'utf8')).split('\0');
    const limitMiB = limitBytes / 2 ** 20;
    // The process re-executed itself (same PID) with the heap sized by the rule: 1/2 and 1/32 of the limit.
    expect(await cmdline(pid)).toContain(`--max-old-space-size=${Math.floor(limitMiB / 2)}`);
    expect(await cmdline(pid)).toContain(`--max-semi-space-size=${Math.min(16, Math.floor(limitMiB / 32))}`);
    // Its workers, if any, each run the rule on their share of the limit (the workers' and the primary's).
    const workers = await childPids(pid);
    expect(workers).toHaveLength(expectedWorkers);
    const share = limitMiB / (workers.length + 1);
    for (const w of workers) {
      expect(await cmdline(w)).toContain(`--max-old-space-size=${Math.floor(share / 2)}`);
      expect(await cmdline(w)).toContain(`--max-semi-space-size=${Math.min(16, Math.floor(share / 32))}`);
    }

    const token = async (body: string) => {
      const res = await fetch(`${cfg.issuer}/token`, {
        method: 'POST',
        headers: {
          ...basicAuth('example-app', 'ZXhhbXBsZS1hcHAtc2VjcmV0'),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body,
      });
      expect(res.status).toBe(200);
      return (await res.json()) as { refresh_token: string; id_token: string };
    };
    // Each client logs in with the password grant, then keeps its refresh token rotating (a SQLite write
    // and two signatures per grant).
    const client = async (i: number) => {
      let { refresh_token: refreshToken } = await token(
        `grant_type=password&username=load${i}@example.com&password=password&scope=openid%20offline_access`,
      );
      for (let n = 0; n < GRANTS_PER_CLIENT; n++) {
        ({ refresh_token: refreshToken } = await token(
          `grant_type=refresh_token&refresh_token=${encodeURIComponent(refreshToken)}`,
        ));
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));

    expect(server.child.exitCode).toBeNull();
    expect(await childPids(pid)).toEqual(workers);
    let peak = 0;
    for (const p of [pid, ...workers]) peak += await statusField(p, 'VmHWM');
    console.log(
      `memory limit ${limitMiB} MiB: ${workers.length + 1} process(es), peak RSS summed ${(peak / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(peak).toBeLessThan(limitBytes);
    expect(await server.stop()).toBe(0);
    server = undefined;
  }

  it("sizes its heap from the chart's limit and keeps its peak RSS under it through thousands of grants", async () => {
    // 384 MiB holds fewer than 3 budgets: one process, whatever the cores.
    await underLimit(limit, 0);
  }, 120_000);

  it('under a limit that holds them, runs a primary and a worker per core (up to 2), all under the limit', async () => {
    // 512 MiB = 3.2 budgets: a primary and 2 workers on a machine of 2 cores or more.
    const workers = Math.min(2, availableParallelism());
    await underLimit(512 * 2 ** 20, workers === 1 ? 0 : workers);
  }, 120_000);
});
