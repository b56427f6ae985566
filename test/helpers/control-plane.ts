import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';
import { runCommand as run, type CommandResult } from './command.js';
import { waitFor } from './wait.js';

const SCRIPT = join(REPO_ROOT, 'scripts/control-plane.sh');
/** One control plane at a time across jest workers: two kube-apiservers on 2 cores starve each other. */
const LOCK_DIR = join(tmpdir(), 'latchkey-control-plane.lock');

export type { CommandResult } from './command.js';

export interface ControlPlane {
  dir: string;
  /** Admin kubeconfig (client certificate in group system:masters). */
  kubeconfig: string;
  /** Cluster-only kubeconfig for bearer-token requests. */
  noauthKubeconfig: string;
  apiURL: string;
  caFile: string;
  env: Record<string, string>;
  /** Runs the real kubectl with the admin kubeconfig. */
  kubectl(args: string[], opts?: { input?: string; kubeconfig?: string }): Promise<CommandResult>;
  /** Creates a fresh namespace (namespaces cannot be deleted without a controller-manager). */
  newNamespace(prefix?: string): Promise<string>;
  stopApiserver(): Promise<void>;
  startApiserver(): Promise<void>;
  stop(): Promise<void>;
}

async function acquireLock(): Promise<() => Promise<void>> {
  await waitFor(
    async () => {
      try {
        await mkdir(LOCK_DIR);
        await writeFile(join(LOCK_DIR, 'pid'), String(process.pid));
        return true;
      } catch {
        // Held: break it only when its holder is gone.
        const holder = Number(await readFile(join(LOCK_DIR, 'pid'), 'utf8').catch(() => ''));
        if (holder && !isAlive(holder)) await rm(LOCK_DIR, { recursive: true, force: true });
        return false;
      }
    },
    { timeoutMs: 20 * 60_000, intervalMs: 250, what: 'the control-plane lock' },
  );
  return () => rm(LOCK_DIR, { recursive: true, force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts etcd + kube-apiserver on free loopback ports (scripts/control-plane.sh), with extra kube-apiserver
 * flags for suites that need them (OIDC, an AuthenticationConfiguration). A failure to start throws with the
 * component's log: never a skip. `stop()` stops exactly the processes it started, by PID.
 */
export async function startControlPlane(opts: { extraApiserverArgs?: string[] } = {}): Promise<ControlPlane> {
  const release = await acquireLock();
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-cp-'));
  const harness = join(dir, 'harness');
  const scriptEnv = { HARNESS_DIR: harness };
  const up = await run(SCRIPT, ['up', ...(opts.extraApiserverArgs ?? [])], { env: scriptEnv });
  if (up.code !== 0) {
    await run(SCRIPT, ['down'], { env: scriptEnv });
    await release();
    throw new Error(`control plane failed to start (exit ${up.code}):\n${up.stderr}\n${up.stdout}`);
  }
  const env = Object.fromEntries(
    (await readFile(join(harness, 'env'), 'utf8'))
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  ) as Record<string, string>;
  let namespaces = 0;
  const cp: ControlPlane = {
    dir,
    kubeconfig: env.KUBECONFIG!,
    noauthKubeconfig: env.K8S_NOAUTH_KUBECONFIG!,
    apiURL: env.K8S_API_URL!,
    caFile: env.K8S_CA_FILE!,
    env,
    kubectl: (args, o = {}) =>
      run(
        'kubectl',
        ['--kubeconfig', o.kubeconfig ?? env.KUBECONFIG!, ...args],
        o.input ? { input: o.input } : {},
      ),
    newNamespace: async (prefix = 'test') => {
      const name = `${prefix}-${process.pid}-${++namespaces}`;
      const r = await cp.kubectl(['create', 'namespace', name]);
      if (r.code !== 0) throw new Error(`kubectl create namespace ${name}: ${r.stderr}`);
      return name;
    },
    stopApiserver: async () => {
      const r = await run(SCRIPT, ['stop-apiserver'], { env: scriptEnv });
      if (r.code !== 0) throw new Error(`stop-apiserver failed: ${r.stderr}`);
    },
    startApiserver: async () => {
      const r = await run(SCRIPT, ['start-apiserver'], { env: scriptEnv });
      if (r.code !== 0) throw new Error(`start-apiserver failed: ${r.stderr}`);
    },
    stop: async () => {
      await run(SCRIPT, ['down'], { env: scriptEnv });
      await rm(dir, { recursive: true, force: true });
      await release();
    },
  };
  return cp;
}
