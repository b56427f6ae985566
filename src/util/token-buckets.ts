import { BoundedTable } from './bounded-table.js';
import type { Clock } from './clock.js';

/** A bucket's shape: how many requests it holds when full, and how many it regains per second. */
export interface BucketLimits {
  burst: number;
  perSecond: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
}

/** Buckets per table: one entry is a key of at most ~40 characters and two numbers. */
const MAX_BUCKETS = 100_000;

/**
 * Token buckets per key, in memory per replica: each key may spend `burst` requests at once and regains
 * `perSecond` of them every second. Unlike a window of failures, a bucket refills continuously, so nobody can
 * spend it once and keep its owner out for minutes. A bucket that has refilled completely holds nothing worth
 * keeping and may be forgotten; so may the oldest ones when the table is full (the key then starts full).
 */
export class TokenBuckets {
  private readonly table: BoundedTable<Bucket>;

  constructor(
    private readonly limits: BucketLimits,
    private readonly clock: Clock,
    max = MAX_BUCKETS,
  ) {
    this.table = new BoundedTable(max, (b, now) => this.level(b, now) >= limits.burst);
  }

  /**
   * Spends one request of `key`'s bucket. 0 when it may go ahead; otherwise the whole seconds until the
   * bucket holds a request again (nothing is spent then).
   */
  take(key: string): number {
    const now = this.clock.now().getTime();
    const bucket = this.table.get(key, now);
    const tokens = bucket === undefined ? this.limits.burst : this.level(bucket, now);
    // The epsilon keeps float noise (1.0000000001 s) from adding a whole second to the answer.
    if (tokens < 1) return Math.max(1, Math.ceil((1 - tokens) / this.limits.perSecond - 1e-9));
    this.table.set(key, { tokens: tokens - 1, at: now }, now);
    return 0;
  }

  /** Buckets held in memory: for tests and metrics. */
  get size(): number {
    return this.table.size;
  }

  private level(b: Bucket, now: number): number {
    return Math.min(this.limits.burst, b.tokens + ((now - b.at) / 1000) * this.limits.perSecond);
  }
}
