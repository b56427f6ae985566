import { availableParallelism } from 'node:os';
import { heapFlagsFor, heapSetInNodeOptions, isHeapFlag } from './heap.js';

// How many worker processes `latchkey serve` runs (web.workers, --workers), and the heap each one gets.
//
// The default is one worker per core, as Dex (Go) uses every core. "Core" is libuv's count, which honours
// the process's CPU affinity and, since libuv 1.49, its cgroup CPU quota: a pod limited to 1 CPU runs one
// worker whatever the node's size. A memory limit can lower the count further: the primary and every
// worker are each a Node.js process of about 105 MB idle and 120 MB at their peak under load (measured:
// test/server/memory-limit.test.ts, 352 MiB for 3 processes), so the limit must hold WORKER_MEMORY_BUDGET
// for each of them, and each gets an equal share of the V8 heap rule (cli/heap.ts) instead of the whole.

/** What one process of a replica is planned at: Node.js itself, the app, its V8 heap, its sockets. */
export const WORKER_MEMORY_BUDGET = 160 * 2 ** 20;
/** The most workers `web.workers` or `--workers` may ask for. */
export const MAX_WORKERS = 256;

export interface WorkerFacts {
  /** os.availableParallelism(): affinity and cgroup CPU quota applied. */
  cores: number;
  /** The memory limit of the whole replica in bytes (heap.ts memoryLimit), undefined without one. */
  memoryLimit: number | undefined;
}

/**
 * "auto": one worker per core, but no more than the memory limit holds at WORKER_MEMORY_BUDGET for each
 * worker and the primary (with 2 workers or more there is a primary too). Never fewer than 1.
 */
export function autoWorkerCount(facts: WorkerFacts): number {
  const byCores = Math.max(1, Math.floor(facts.cores));
  if (facts.memoryLimit === undefined) return byCores;
  const processes = Math.floor(facts.memoryLimit / WORKER_MEMORY_BUDGET);
  // One process (no primary) needs one budget; n ≥ 2 workers need n + 1.
  const byMemory = processes >= 3 ? processes - 1 : 1;
  return Math.min(byCores, byMemory);
}

/**
 * The number of workers: the flag, else web.workers, else "auto". A problem (the flag's garbage) as text;
 * web.workers itself was validated with the config.
 */
export function workerCount(
  flag: string | undefined,
  configured: number | 'auto' | undefined,
  facts: () => WorkerFacts,
): number | string {
  const value = flag ?? configured ?? 'auto';
  if (value === 'auto') return autoWorkerCount(facts());
  const n = typeof value === 'number' ? value : /^\d{1,3}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) {
    return `--workers must be a number from 1 to ${MAX_WORKERS} or "auto", got ${JSON.stringify(flag)}`;
  }
  return n;
}

/** The facts of this machine and process. */
export function currentWorkerFacts(memoryLimit: number | undefined): WorkerFacts {
  return { cores: availableParallelism(), memoryLimit };
}

/**
 * The Node.js flags each of `workers` workers starts with: the primary's own, except that under a memory
 * limit the heap rule is applied to each process's share of it (the limit divided among the workers and
 * the primary) instead of the whole. Heap flags the operator gave (ones the rule did not add for the whole
 * limit) are left alone: the operator decided, for every process alike.
 */
export function workerExecArgv(
  primaryExecArgv: string[],
  env: NodeJS.ProcessEnv,
  workers: number,
  memoryLimit: number | undefined,
): string[] {
  if (memoryLimit === undefined || workers < 2 || heapSetInNodeOptions(env)) return primaryExecArgv;
  const ruleForWhole = new Set(heapFlagsFor(memoryLimit));
  const own = primaryExecArgv.filter((a) => !ruleForWhole.has(a));
  if (own.some(isHeapFlag)) return primaryExecArgv;
  return [...heapFlagsFor(memoryLimit / (workers + 1)), ...own];
}
