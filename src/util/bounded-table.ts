const SWEEP_INTERVAL_MS = 1000;

/**
 * A Map with a hard size, for the in-memory tables of limits and counters (DESIGN.md: every in-memory table
 * has a hard bound). When it is full, expired entries are swept first, then the oldest (first inserted) go.
 * Callers keep only entries whose loss is harmless: forgetting a counter or a bucket early only ever lets
 * one more request through; it never refuses one.
 */
export class BoundedTable<V> {
  private readonly entries = new Map<string, V>();
  /** When expired entries were last swept: a full table sweeps at most once a second, so a flood of new
   * keys costs each insert O(1) (the oldest goes), not a walk over the whole table. */
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly max: number,
    private readonly expired: (v: V, now: number) => boolean,
  ) {}

  get(key: string, now: number): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined && this.expired(v, now)) {
      this.entries.delete(key);
      return undefined;
    }
    return v;
  }

  set(key: string, value: V, now: number): void {
    if (!this.entries.has(key) && this.entries.size >= this.max) {
      if (now - this.lastSweep >= SWEEP_INTERVAL_MS) {
        this.lastSweep = now;
        for (const [k, v] of this.entries) if (this.expired(v, now)) this.entries.delete(k);
      }
      for (const k of this.entries.keys()) {
        if (this.entries.size < this.max) break;
        this.entries.delete(k);
      }
    }
    this.entries.set(key, value);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
