import { StorageError } from '../storage/errors.js';

// How the importer paces its writes: a fixed number in flight (so an API server's inflight limits and
// priority-and-fairness seats are never all taken by one job), optionally a rate, and patient retries of
// what storage reports as temporarily unavailable (429, 5xx, timeouts) instead of failing the import.

export interface PaceOptions {
  /** Items processed at once. */
  parallel: number;
  /** Items started per second at most (token bucket with `burst`); absent = no rate limit. */
  qps?: number;
  burst?: number;
}

export class Pacer {
  private readonly parallel: number;
  private readonly bucket: TokenBucket | undefined;
  /** Storage calls repeated after an Unavailable answer. */
  retries = 0;

  constructor(opts: PaceOptions) {
    this.parallel = Math.max(1, Math.floor(opts.parallel));
    this.bucket =
      opts.qps !== undefined && opts.qps > 0
        ? new TokenBucket(opts.qps, Math.max(1, Math.floor(opts.burst ?? opts.qps)))
        : undefined;
  }

  /** Runs `fn` on every item, at most `parallel` at a time, in no particular order. */
  async each<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const item = items[next++]!;
        await this.bucket?.take();
        await fn(item);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.parallel, items.length) }, worker));
  }

  /** `call`, repeated with growing pauses while storage is temporarily unavailable. */
  async retrying<R>(call: () => Promise<R>): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (e) {
        if (!(e instanceof StorageError && e.code === 'Unavailable') || attempt >= MAX_RETRIES) throw e;
        this.retries++;
        await pause(Math.min(5_000, 100 * 2 ** attempt));
      }
    }
  }
}

const MAX_RETRIES = 8;

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class TokenBucket {
  private tokens: number;
  private last = Date.now();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Waits for a token; callers are served in order. */
  take(): Promise<void> {
    const turn = this.queue.then(async () => {
      for (;;) {
        const now = Date.now();
        this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
        this.last = now;
        if (this.tokens >= 1) {
          this.tokens -= 1;
          return;
        }
        await pause(Math.ceil(((1 - this.tokens) / this.rate) * 1000));
      }
    });
    this.queue = turn;
    return turn;
  }
}
