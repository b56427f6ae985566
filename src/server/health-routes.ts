import { Router } from 'express';
import type { HealthChecker } from '../observability/health.js';

/** `/healthz` on the web listener, as Dex serves it for load balancers. */
export function webHealthRoutes(health: HealthChecker): Router {
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    const status = await health.status();
    res
      .status(status.ready ? 200 : 503)
      .type('text/plain')
      .send(status.ready ? 'Health check passed' : 'Health check failed');
  });
  return router;
}
