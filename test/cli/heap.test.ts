import { MemoryLimitError, heapFlagsToApply, heapSizesFor, parseMemoryLimit } from '../../src/cli/heap.js';

const MiB = 2 ** 20;
const facts = (over: Partial<Parameters<typeof heapFlagsToApply>[0]> = {}) => ({
  env: {},
  constrainedMemory: 0,
  totalMemory: 24 * 1024 * MiB,
  execArgv: [],
  heapSizeLimit: 4288 * MiB,
  ...over,
});

describe('the heap rule', () => {
  it('gives the old space 1/2 of the limit and each semi-space 1/32, at most 16 MiB', () => {
    expect(heapSizesFor(384 * MiB)).toEqual({ oldSpaceMiB: 192, semiSpaceMiB: 12 });
    expect(heapSizesFor(128 * MiB)).toEqual({ oldSpaceMiB: 64, semiSpaceMiB: 4 });
    expect(heapSizesFor(2048 * MiB)).toEqual({ oldSpaceMiB: 1024, semiSpaceMiB: 16 });
  });

  it('reads LATCHKEY_MEMORY_LIMIT as bytes (the downward API) or Ki/Mi/Gi, and refuses anything else', () => {
    expect(parseMemoryLimit('402653184')).toBe(384 * MiB);
    expect(parseMemoryLimit('384Mi')).toBe(384 * MiB);
    expect(parseMemoryLimit('1Gi')).toBe(1024 * MiB);
    for (const bad of ['', '0', '384MB', '-1', 'lots'])
      expect(() => parseMemoryLimit(bad)).toThrow(MemoryLimitError);
  });

  it('asks for the flags when the env or the cgroup sets a limit the heap exceeds', () => {
    const flags = ['--max-old-space-size=192', '--max-semi-space-size=12'];
    expect(heapFlagsToApply(facts({ env: { LATCHKEY_MEMORY_LIMIT: '402653184' } }))).toEqual(flags);
    expect(heapFlagsToApply(facts({ constrainedMemory: 384 * MiB, heapSizeLimit: 259 * MiB }))).toEqual(
      flags,
    );
  });

  it('stays out of the way without a limit, with heap flags of the operator, or when the heap already fits', () => {
    expect(heapFlagsToApply(facts())).toEqual([]);
    // cgroup v1 without a limit reports a huge number.
    expect(heapFlagsToApply(facts({ constrainedMemory: 2 ** 63 }))).toEqual([]);
    const limited = { env: { LATCHKEY_MEMORY_LIMIT: '384Mi' } };
    expect(heapFlagsToApply(facts({ ...limited, execArgv: ['--max-old-space-size=100'] }))).toEqual([]);
    expect(heapFlagsToApply(facts({ ...limited, execArgv: ['--max_semi_space_size=2'] }))).toEqual([]);
    expect(
      heapFlagsToApply(
        facts({ env: { ...limited.env, NODE_OPTIONS: '--max-old-space-size-percentage=40' } }),
      ),
    ).toEqual([]);
    expect(heapFlagsToApply(facts({ ...limited, heapSizeLimit: 200 * MiB }))).toEqual([]);
  });
});
