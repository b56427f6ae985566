import express from 'express';
import type { HealthChecker } from '../observability/health.js';
import type { Metrics } from '../observability/metrics.js';

/**
 * The telemetry listener (Dex's port 5558): Prometheus metrics and the probes the Helm chart uses.
 * Readiness is a cached, read-only storage check — it never writes.
 */
export function telemetryApp(metrics: Metrics, health: Pick<HealthChecker, 'status'>): express.Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get('/healthz/live', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  const ready: express.RequestHandler = async (_req, res) => {
    const status = await health.status();
    res.status(status.ready ? 200 : 503).json({
      ready: status.ready,
      checked_at: status.checkedAt,
      ...(status.error ? { error: status.error } : {}),
    });
  };
  app.get('/healthz/ready', ready);
  app.get('/healthz', ready);
  return app;
}
