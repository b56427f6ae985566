import { Router } from 'express';
import type { HealthStatus } from '../observability/storage-health.js';

/** Where the last storage check is read from (StorageHealthMonitor): at once, never waiting on storage. */
export interface StorageHealth {
  status(): HealthStatus;
}

/**
 * Readiness as load balancers should see it: the last background storage check, unless the process is
 * shutting down. On SIGTERM readiness turns false at once (before anything stops), so Services and ingresses
 * take the replica out of rotation while it still answers whatever reaches it — the readiness half of a
 * pod's graceful stop.
 */
export class Readiness {
  private drainingSince: Date | undefined;

  constructor(private readonly health: StorageHealth) {}

  /** From now on, answer "not ready" (for good: a draining process never comes back). */
  drain(now: Date = new Date()): void {
    this.drainingSince ??= now;
  }

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  /** A promise only for the routes' sake: it is settled at once, whatever storage is doing. */
  status(): Promise<HealthStatus> {
    if (this.drainingSince) {
      return Promise.resolve({
        ready: false,
        checkedAt: this.drainingSince.toISOString(),
        error: 'shutting down',
      });
    }
    return Promise.resolve(this.health.status());
  }
}

/**
 * The whole liveness answer: that the process serves requests at all, and nothing else — not storage, not
 * the drain. A liveness failure restarts the container, which would not bring an API server back, and a
 * restart during the drain would cut the requests it lets finish.
 */
export const LIVE_BODY = 'ok';

/**
 * `/healthz` on the web listener, as Dex serves it for load balancers, with Kubernetes' own names beside
 * it: `/readyz` (the same answer) and `/livez`.
 */
export function webHealthRoutes(readiness: Pick<Readiness, 'status'>): Router {
  const router = Router();
  router.get(['/healthz', '/readyz'], async (_req, res) => {
    const status = await readiness.status();
    res
      .status(status.ready ? 200 : 503)
      .type('text/plain')
      .send(status.ready ? 'Health check passed' : 'Health check failed');
  });
  router.get('/livez', (_req, res) => {
    res.type('text/plain').send(LIVE_BODY);
  });
  return router;
}
