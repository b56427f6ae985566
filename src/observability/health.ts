import type { Storage } from '../storage/storage.js';
import type { Clock } from '../util/clock.js';
import { systemClock } from '../util/clock.js';

export interface HealthStatus {
  ready: boolean;
  checkedAt: string;
  error?: string;
}

/**
 * Readiness from a read-only storage check (Dex writes an object on every check; that hammered etcd,
 * dexidp/dex#1386). The result is cached for `intervalMs` so probes from many load balancers cost one read.
 */
export class HealthChecker {
  private last: { status: HealthStatus; at: number } | undefined;
  private inflight: Promise<HealthStatus> | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly intervalMs = 5_000,
    private readonly clock: Clock = systemClock,
    private readonly onResult?: (ready: boolean) => void,
  ) {}

  async status(): Promise<HealthStatus> {
    const now = this.clock.now().getTime();
    if (this.last && now - this.last.at < this.intervalMs) return this.last.status;
    this.inflight ??= this.check(now).finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async check(now: number): Promise<HealthStatus> {
    let status: HealthStatus;
    try {
      await this.storage.ping();
      status = { ready: true, checkedAt: new Date(now).toISOString() };
    } catch (e) {
      status = { ready: false, checkedAt: new Date(now).toISOString(), error: (e as Error).message };
    }
    this.last = { status, at: now };
    this.onResult?.(status.ready);
    return status;
  }
}
