import type { Request, RequestHandler } from 'express';
import type { Metrics } from '../observability/metrics.js';

/** Requests no route claimed (404s, and anything answered before routing, such as a 429). */
export const UNMATCHED_HANDLER = 'unmatched';

// Dex mounts its asset folders with a path prefix rather than a route; these are their names in its mux.
const ASSET_PREFIXES = ['/static', '/theme'];

/**
 * Counts and times every request by its route *pattern*, named as Dex names it — `/token`,
 * `/auth/{connector}`, without the issuer path — so a Dex dashboard or alert keeps working after a switch,
 * and the label set stays bounded whatever paths clients send.
 */
export function httpMetrics(metrics: Metrics, issuerPath: string): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      const seconds = (performance.now() - started) / 1000;
      const labels = {
        code: String(res.statusCode),
        method: req.method,
        handler: handlerLabel(req, issuerPath),
      };
      metrics.httpRequests.inc(labels);
      metrics.requestDuration.observe(labels, seconds);
      metrics.requestLatency.observe(labels, seconds);
      const size = Number(res.getHeader('content-length'));
      if (Number.isFinite(size)) metrics.responseSize.observe(labels, size);
    });
    next();
  };
}

/** Dex's `handler` label for a finished request: the matched route in gorilla/mux syntax, issuer path removed. */
export function handlerLabel(req: Request, issuerPath: string): string {
  const route = req.route as { path?: unknown } | undefined;
  if (typeof route?.path === 'string') {
    return dexRoutePattern(withoutPrefix(`${req.baseUrl}${route.path}`, issuerPath));
  }
  const path = withoutPrefix(req.originalUrl.split('?')[0] ?? '', issuerPath);
  return ASSET_PREFIXES.find((p) => path.startsWith(`${p}/`)) ?? UNMATCHED_HANDLER;
}

/** Express's `/auth/:connector` → gorilla/mux's `/auth/{connector}`. */
export function dexRoutePattern(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

function withoutPrefix(path: string, prefix: string): string {
  if (!prefix || !path.startsWith(prefix)) return path || '/';
  return path.slice(prefix.length) || '/';
}
