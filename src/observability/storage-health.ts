import type { Storage } from '../storage/storage.js';
import type { Clock } from '../util/clock.js';
import { systemClock } from '../util/clock.js';

/** What a readiness probe answers. */
export interface HealthStatus {
  ready: boolean;
  checkedAt: string;
  error?: string;
}

/** The storage ping took longer than the check allows: an API server that hangs is as unready as a dead one. */
export class StorageCheckTimeout extends Error {
  constructor(timeoutMs: number) {
    super(`storage did not answer within ${timeoutMs} ms`);
    this.name = 'StorageCheckTimeout';
  }
}

export interface StorageHealthOptions {
  /** How often storage is pinged. */
  intervalMs?: number;
  /** How long one ping may take before the replica counts as not ready. */
  timeoutMs?: number;
  clock?: Clock;
  /** Called with every result (the `latchkey_storage_ready` gauge). */
  onResult?: (ready: boolean) => void;
}

/**
 * Readiness from a read-only storage ping run in the background, on a timer of its own: a probe reads the
 * last result and never waits on storage. A probe that waited would hang with the API server, and the
 * kubelet would count its timeout instead of a clear "not ready" (and many load balancers probing at once
 * would each cost a read). Dex writes an object on every check, which hammered etcd (dexidp/dex#1386):
 * this only reads.
 *
 * One ping at a time: while one hangs past `timeoutMs` the replica is not ready, and no second ping piles
 * up behind it. A ping that settles after its deadline is ignored; the next tick asks again.
 */
export class StorageHealthMonitor {
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private last: HealthStatus;
  private pinging = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly storage: Pick<Storage, 'ping'>,
    private readonly opts: StorageHealthOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 5_000;
    this.timeoutMs = opts.timeoutMs ?? 3_000;
    this.clock = opts.clock ?? systemClock;
    this.last = { ready: false, checkedAt: this.clock.now().toISOString(), error: 'storage not checked yet' };
  }

  /**
   * Pings once and resolves with that first result (so a replica that starts with its storage answering is
   * ready at once), then keeps pinging every `intervalMs` until stop() or `signal` aborts.
   */
  async start(signal?: AbortSignal): Promise<HealthStatus> {
    if (this.timer) return this.last;
    signal?.addEventListener('abort', () => this.stop(), { once: true });
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    // Only the probes' answers depend on it: it must not keep the process alive.
    this.timer.unref();
    await this.check();
    return this.last;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The last result, answered at once. */
  status(): HealthStatus {
    return this.last;
  }

  private async check(): Promise<void> {
    if (this.pinging) return;
    this.pinging = true;
    const startedAt = this.clock.now().toISOString();
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      deadline = setTimeout(() => reject(new StorageCheckTimeout(this.timeoutMs)), this.timeoutMs);
    });
    // A ping that throws at once is a failed check like any other.
    const ping = Promise.resolve().then(() => this.storage.ping());
    try {
      await Promise.race([ping, timedOut]);
      this.record({ ready: true, checkedAt: startedAt });
    } catch (e) {
      this.record({ ready: false, checkedAt: startedAt, error: (e as Error).message });
    } finally {
      clearTimeout(deadline);
    }
    // The slot frees only when the ping itself settles: a hung one is never joined by another.
    ping.then(
      () => (this.pinging = false),
      () => (this.pinging = false),
    );
  }

  private record(status: HealthStatus): void {
    this.last = status;
    this.opts.onResult?.(status.ready);
  }
}
