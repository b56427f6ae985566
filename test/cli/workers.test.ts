import { heapFlagsFor } from '../../src/cli/heap.js';
import {
  autoWorkerCount,
  MAX_WORKERS,
  WORKER_MEMORY_BUDGET,
  workerCount,
  workerExecArgv,
} from '../../src/cli/workers.js';

const MiB = 2 ** 20;
const facts = (cores: number, memoryLimit?: number) => () => ({ cores, memoryLimit });

describe('the number of workers', () => {
  it('defaults to one per core when nothing limits memory', () => {
    expect(workerCount(undefined, undefined, facts(8))).toBe(8);
    expect(workerCount(undefined, 'auto', facts(2))).toBe(2);
    expect(workerCount('auto', 1, facts(4))).toBe(4);
  });

  it('takes the flag over web.workers, and web.workers over the default', () => {
    expect(workerCount('3', 5, facts(8))).toBe(3);
    expect(workerCount(undefined, 5, facts(8))).toBe(5);
    expect(workerCount(undefined, 1, facts(8))).toBe(1);
  });

  it('refuses flag garbage with a message naming the flag', () => {
    for (const bad of ['0', '257', 'many', '1.5', '', '-1', '0x2', ' 2']) {
      const r = workerCount(bad, undefined, facts(2));
      expect(typeof r).toBe('string');
      expect(r).toContain('--workers');
    }
    expect(workerCount(String(MAX_WORKERS), undefined, facts(2))).toBe(MAX_WORKERS);
  });

  it('under a memory limit, keeps a budget for every worker and the primary', () => {
    // 512 MiB = 3.2 budgets: a primary and 2 workers; the chart's 384 MiB = 2.4: one process.
    expect(autoWorkerCount({ cores: 8, memoryLimit: 512 * MiB })).toBe(2);
    expect(autoWorkerCount({ cores: 8, memoryLimit: 384 * MiB })).toBe(1);
    expect(autoWorkerCount({ cores: 8, memoryLimit: 3 * WORKER_MEMORY_BUDGET - 1 })).toBe(1);
    // Two budgets are not enough for two processes plus a primary: one process, no primary.
    expect(autoWorkerCount({ cores: 8, memoryLimit: 2 * WORKER_MEMORY_BUDGET })).toBe(1);
    expect(autoWorkerCount({ cores: 8, memoryLimit: 64 * MiB })).toBe(1);
    expect(autoWorkerCount({ cores: 4, memoryLimit: 4 * 1024 * MiB })).toBe(4);
    expect(autoWorkerCount({ cores: 8, memoryLimit: 1024 * MiB })).toBe(5);
    expect(autoWorkerCount({ cores: 0, memoryLimit: undefined })).toBe(1);
  });
});

describe('the Node.js flags of the workers', () => {
  const limit = 384 * MiB;
  const whole = heapFlagsFor(limit);

  it('gives each worker the heap rule for its share of the limit, keeping the other flags', () => {
    const argv = workerExecArgv([...whole, '--enable-source-maps'], {}, 2, limit);
    expect(argv).toEqual([...heapFlagsFor(limit / 3), '--enable-source-maps']);
    expect(argv).toContain('--max-old-space-size=64');
    expect(argv).toContain('--max-semi-space-size=4');
  });

  it("leaves the operator's own heap flags alone, in argv or NODE_OPTIONS", () => {
    const own = ['--max-old-space-size=300'];
    expect(workerExecArgv(own, {}, 2, limit)).toEqual(own);
    expect(workerExecArgv(whole, { NODE_OPTIONS: '--max_old_space_size=100' }, 2, limit)).toEqual(whole);
  });

  it('changes nothing without a limit or with a single process', () => {
    expect(workerExecArgv(['--x'], {}, 4, undefined)).toEqual(['--x']);
    expect(workerExecArgv(whole, {}, 1, limit)).toEqual(whole);
  });
});
