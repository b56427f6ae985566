import { Router } from 'express';
import type { HealthChecker, HealthStatus } from '../observability/health.js';

/**
 * Readiness as load balancers should see it: the storage check, unless the process is shutting down. On
 * SIGTERM readiness turns false at once (before anything stops), so Services and ingresses take the replica
 * out of rotation while it still answers whatever reaches it — the readiness half of a pod's graceful stop.
 */
export class Readiness {
  private drainingSince: Date | undefined;

  constructor(private readonly health: HealthChecker) {}

  /** From now on, answer "not ready" (for good: a draining process never comes back). */
  drain(now: Date = new Date()): void {
    this.drainingSince ??= now;
  }

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  async status(): Promise<HealthStatus> {
    if (this.drainingSince) {
      return { ready: false, checkedAt: this.drainingSince.toISOString(), error: 'shutting down' };
    }
    return this.health.status();
  }
}

/** `/healthz` on the web listener, as Dex serves it for load balancers. */
export function webHealthRoutes(readiness: Pick<Readiness, 'status'>): Router {
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    const status = await readiness.status();
    res
      .status(status.ready ? 200 : 503)
      .type('text/plain')
      .send(status.ready ? 'Health check passed' : 'Health check failed');
  });
  return router;
}
