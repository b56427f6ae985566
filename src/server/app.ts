import express from 'express';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp } from 'pino-http';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { HealthChecker } from '../observability/health.js';
import type { JwtSigner } from '../keys/signer.js';
import type { Storage } from '../storage/storage.js';
import type { Clock } from '../util/clock.js';
import { Discovery } from './discovery.js';
import { httpMetrics } from './http-metrics.js';
import { securityHeaders } from './security-headers.js';
import { corsFor } from './cors.js';
import { wellKnownRoutes } from './well-known.js';
import { webHealthRoutes } from './health-routes.js';

export interface AppDeps {
  config: Config;
  storage: Storage;
  signer: JwtSigner;
  logger: Logger;
  metrics: Metrics;
  health: HealthChecker;
  clock: Clock;
}

/**
 * The web listener's application: explicit wiring of every endpoint family under the issuer path.
 * Each family is its own module; this file only decides order and mounting.
 */
export function createWebApp(deps: AppDeps): express.Express {
  const { config } = deps;
  const app = express();
  app.disable('x-powered-by');
  // node:querystring semantics: a repeated parameter becomes an array, which the protocol code rejects.
  app.set('query parser', 'simple');
  app.set('trust proxy', false);

  app.use(httpMetrics(deps.metrics));
  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: () => randomUUID(),
      customAttributeKeys: { reqId: 'request_id' },
      // Every line logged for a request (by req.log) carries its request_id, not only the summary line.
      quietReqLogger: true,
      quietResLogger: true,
      // Query strings carry codes and state: only the method and path are logged.
      customSuccessObject: (req, res, val: object) => ({
        ...withoutResponse(val),
        ...requestSummary(req, res),
      }),
      customErrorObject: (req, res, _err, val: object) => ({
        ...withoutResponse(val),
        ...requestSummary(req, res),
      }),
      autoLogging: { ignore: (req) => (req.url ?? '').includes('/healthz') },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    }),
  );
  app.use(securityHeaders({ https: Boolean(config.web.https), configured: config.web.headers }));

  const discovery = new Discovery(config, deps.signer.algorithm());
  const router = express.Router();
  router.use(['/.well-known/openid-configuration', '/keys'], corsFor(config.web));
  router.use(wellKnownRoutes(discovery, deps.signer));
  router.use(webHealthRoutes(deps.health));

  app.use(config.issuerPath || '/', router);

  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found');
  });
  app.use(((err, req, res, _next) => {
    req.log?.error({ err }, 'request failed');
    if (res.headersSent) return;
    res.status(500).type('text/plain').send('Internal server error');
  }) as express.ErrorRequestHandler);
  return app;
}

function requestSummary(
  req: IncomingMessage,
  res: ServerResponse,
): { method?: string; path: string; status: number } {
  // Express rewrites req.url inside mounted routers; originalUrl is what the client asked for.
  const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '';
  return { method: req.method, path: url.split('?')[0] ?? '', status: res.statusCode };
}

/** Response headers carry cookies: the summary line keeps only the status. */
function withoutResponse(val: object): object {
  const { res: _res, ...rest } = val as { res?: unknown };
  return rest;
}
