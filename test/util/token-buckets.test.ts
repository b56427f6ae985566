import { TokenBuckets } from '../../src/util/token-buckets.js';
import { BoundedTable } from '../../src/util/bounded-table.js';
import { ManualClock } from '../../src/util/clock.js';

describe('TokenBuckets', () => {
  it('lets a burst through, then refuses with the seconds until the next request, and refills', () => {
    const clock = new ManualClock(new Date('2030-01-01T00:00:00Z'));
    const buckets = new TokenBuckets({ burst: 4, perSecond: 2 }, clock);
    expect([1, 2, 3, 4, 5].map(() => buckets.take('a'))).toEqual([0, 0, 0, 0, 1]);
    // Another key has its own bucket.
    expect(buckets.take('b')).toBe(0);
    clock.advance(500); // half a second at 2 per second: one request back
    expect([buckets.take('a'), buckets.take('a')]).toEqual([0, 1]);
    clock.advance(60_000); // never more than the burst
    expect([1, 2, 3, 4, 5].map(() => buckets.take('a'))).toEqual([0, 0, 0, 0, 1]);
  });

  it('says how long to wait when the refill is slower than a request a second', () => {
    const clock = new ManualClock(new Date('2030-01-01T00:00:00Z'));
    const buckets = new TokenBuckets({ burst: 1, perSecond: 0.1 }, clock);
    expect(buckets.take('a')).toBe(0);
    expect(buckets.take('a')).toBe(10);
    clock.advance(4000);
    expect(buckets.take('a')).toBe(6);
  });

  it('holds at most its bound, forgetting full buckets first and then the oldest', () => {
    const clock = new ManualClock(new Date('2030-01-01T00:00:00Z'));
    const buckets = new TokenBuckets({ burst: 2, perSecond: 1 }, clock, 3);
    for (const k of ['a', 'b', 'c', 'd', 'e']) buckets.take(k);
    expect(buckets.size).toBe(3);
    // 'a' was forgotten: it starts full again (forgetting only ever lets a request through).
    expect([buckets.take('a'), buckets.take('a'), buckets.take('a')]).toEqual([0, 0, 1]);
  });
});

describe('BoundedTable', () => {
  it('sweeps expired entries before dropping live ones when full', () => {
    const table = new BoundedTable<number>(2, (expiresAt, now) => expiresAt <= now);
    table.set('old-but-live', 100, 0);
    table.set('expired', 10, 0);
    table.set('new', 100, 50);
    expect(table.get('old-but-live', 50)).toBe(100);
    expect(table.get('expired', 50)).toBeUndefined();
    expect(table.size).toBe(2);
  });
});

describe('BoundedTable under a flood of new keys', () => {
  it('sweeps at most once a second when full; between sweeps the oldest entry goes', () => {
    let checks = 0;
    const table = new BoundedTable<number>(3, (expiresAt, now) => {
      checks++;
      return expiresAt <= now;
    });
    for (const k of ['a', 'b', 'c']) table.set(k, 1_000_000, 0);
    table.set('d', 1_000_000, 10); // full: one sweep (nothing expired), then 'a' goes
    const afterFirstSweep = checks;
    expect(afterFirstSweep).toBe(3);
    for (let i = 0; i < 100; i++) table.set(`flood-${i}`, 1_000_000, 20 + i);
    expect(checks).toBe(afterFirstSweep); // no walk over the table per insert
    expect(table.size).toBe(3);
    table.set('late', 1_000_000, 2_000); // a second later: sweeps again
    expect(checks).toBe(afterFirstSweep + 3);
    expect(table.size).toBe(3);
  });
});
