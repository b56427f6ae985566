import express from 'express';
import type { HealthStatus } from '../observability/storage-health.js';
import type { Metrics } from '../observability/metrics.js';
import { LIVE_BODY } from './health-routes.js';

/**
 * The telemetry listener (Dex's port 5558): Prometheus metrics and the probes the Helm chart uses.
 * `/livez` and `/readyz` are the names Kubernetes' own components serve; `/healthz/live`, `/healthz/ready`
 * and `/healthz` stay for configurations written against earlier releases. Readiness is the last result of
 * the background storage check (a read, never a write), so a probe is answered at once even while the API
 * server hangs.
 */
export function telemetryApp(
  metrics: { registry: Pick<Metrics['registry'], 'contentType' | 'metrics'> },
  readiness: { status(): Promise<HealthStatus> },
): express.Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get(['/livez', '/healthz/live'], (_req, res) => {
    res.type('text/plain').send(LIVE_BODY);
  });
  app.get(['/readyz', '/healthz/ready', '/healthz'], async (_req, res) => {
    const status = await readiness.status();
    res.status(status.ready ? 200 : 503).json({
      ready: status.ready,
      checked_at: status.checkedAt,
      ...(status.error ? { error: status.error } : {}),
    });
  });
  return app;
}
