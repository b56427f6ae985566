import type { RequestHandler } from 'express';
import type { Metrics } from '../observability/metrics.js';

/**
 * Counts and times every request by the route *pattern* (`/auth/:connector`, never the concrete path) so the
 * label set stays bounded whatever clients send.
 */
export function httpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const stop = metrics.requestDuration.startTimer();
    res.on('finish', () => {
      const route = req.route as { path?: string } | undefined;
      const handler = route?.path ? `${req.baseUrl}${route.path}` : 'unmatched';
      const labels = { code: String(res.statusCode), method: req.method, handler };
      metrics.httpRequests.inc(labels);
      stop(labels);
      const size = Number(res.getHeader('content-length'));
      if (Number.isFinite(size)) metrics.responseSize.observe(labels, size);
    });
    next();
  };
}
