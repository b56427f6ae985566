import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';

// The V8 heap of `latchkey serve`, sized from the memory the process may use. Node.js 24 does read the
// cgroup limit, but sizes the old generation at half of it with a floor of 256 MiB: under the chart's 384Mi
// limit that lets the heap alone reach 259 MiB, leaving too little for everything outside it (the code,
// SQLite's page cache, TLS, socket buffers, thread stacks), and a busy pod is OOM-killed. So the rule here:
//
//   old space  = 1/2 of the limit
//   semi-space = 1/32 of the limit, at most 16 MiB (the young generation is 3 semi-spaces: ≤ 3/32)
//
// which leaves at least 40 % of the limit to native memory. The limit is LATCHKEY_MEMORY_LIMIT (the chart
// and the manifests set it from resources.limits.memory through the downward API), else the cgroup's.
// V8 fixes these sizes when the process starts: bin/latchkey.js applies them by re-executing itself.

/** The environment variable that carries the container's memory limit (bytes, or with Ki/Mi/Gi). */
export const MEMORY_LIMIT_ENV = 'LATCHKEY_MEMORY_LIMIT';

const MiB = 2 ** 20;
const OLD_SPACE_SHARE = 1 / 2;
const SEMI_SPACE_SHARE = 1 / 32;
const MAX_SEMI_SPACE_MIB = 16;

/** Flags that size the heap: when any is given, the operator decided and the rule stays out of the way. */
const HEAP_FLAGS = [
  '--max-old-space-size',
  '--max-old-space-size-percentage',
  '--max-semi-space-size',
  '--max-heap-size',
];

/** Whether an argument is one of HEAP_FLAGS, spelt with dashes or (as V8 also takes them) underscores. */
export const isHeapFlag = (arg: string): boolean => {
  const name = arg.replace(/_/g, '-').split('=')[0];
  return HEAP_FLAGS.includes(name!);
};

export class MemoryLimitError extends Error {
  constructor(value: string) {
    super(
      `${MEMORY_LIMIT_ENV}: expected a number of bytes (e.g. 402653184 or 384Mi), got ${JSON.stringify(value)}`,
    );
    this.name = 'MemoryLimitError';
  }
}

export interface HeapSizes {
  oldSpaceMiB: number;
  semiSpaceMiB: number;
}

/** The rule above, for a limit in bytes. */
export function heapSizesFor(limitBytes: number): HeapSizes {
  const limitMiB = limitBytes / MiB;
  return {
    oldSpaceMiB: Math.max(1, Math.floor(limitMiB * OLD_SPACE_SHARE)),
    semiSpaceMiB: Math.max(1, Math.min(MAX_SEMI_SPACE_MIB, Math.floor(limitMiB * SEMI_SPACE_SHARE))),
  };
}

const UNITS: Record<string, number> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 };

/** LATCHKEY_MEMORY_LIMIT's value in bytes: what the downward API gives (bytes), or a quantity in Ki/Mi/Gi. */
export function parseMemoryLimit(value: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(value.trim());
  const bytes = m ? Number(m[1]) * UNITS[m[2] ?? '']! : NaN;
  if (!(bytes > 0)) throw new MemoryLimitError(value);
  return bytes;
}

export interface ProcessMemoryFacts {
  env: NodeJS.ProcessEnv;
  /** process.constrainedMemory(): the cgroup's limit, or 0 or a huge number without one. */
  constrainedMemory: number;
  totalMemory: number;
  /** The flags the process runs with: process.execArgv and NODE_OPTIONS. */
  execArgv: string[];
  /** v8.getHeapStatistics().heap_size_limit of the running process. */
  heapSizeLimit: number;
}

/** The memory limit that applies, in bytes, or undefined when nothing limits the process. */
export function memoryLimit(facts: ProcessMemoryFacts): number | undefined {
  const configured = facts.env[MEMORY_LIMIT_ENV];
  if (configured !== undefined && configured !== '') return parseMemoryLimit(configured);
  const cgroup = facts.constrainedMemory;
  return cgroup > 0 && cgroup < facts.totalMemory ? cgroup : undefined;
}

/** Whether the operator sized the heap in NODE_OPTIONS (then the rule stays out of the way). */
export const heapSetInNodeOptions = (env: NodeJS.ProcessEnv): boolean =>
  (env.NODE_OPTIONS ?? '').split(/\s+/).some(isHeapFlag);

/** The rule's V8 flags for a process that may use `limitBytes`. */
export function heapFlagsFor(limitBytes: number): string[] {
  const { oldSpaceMiB, semiSpaceMiB } = heapSizesFor(limitBytes);
  return [`--max-old-space-size=${oldSpaceMiB}`, `--max-semi-space-size=${semiSpaceMiB}`];
}

/**
 * The V8 flags the process must be restarted with, or none: when nothing limits its memory, when the
 * operator passed heap flags of their own, or when its heap is already within the rule's sizes.
 */
export function heapFlagsToApply(facts: ProcessMemoryFacts): string[] {
  if (facts.execArgv.some(isHeapFlag) || heapSetInNodeOptions(facts.env)) return [];
  const limit = memoryLimit(facts);
  if (limit === undefined) return [];
  const { oldSpaceMiB, semiSpaceMiB } = heapSizesFor(limit);
  // V8's heap limit is the old space plus the young generation (3 semi-spaces).
  if (facts.heapSizeLimit <= (oldSpaceMiB + 3 * semiSpaceMiB) * MiB) return [];
  return heapFlagsFor(limit);
}

/** The facts of this process. */
export function currentProcessMemory(): ProcessMemoryFacts {
  return {
    env: process.env,
    constrainedMemory: process.constrainedMemory(),
    totalMemory: totalmem(),
    execArgv: process.execArgv,
    heapSizeLimit: getHeapStatistics().heap_size_limit,
  };
}
