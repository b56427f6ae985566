import express from 'express';
import cookieParser from 'cookie-parser';
import type { JwtSigner } from '../keys/signer.js';
import type { Readiness } from './health-routes.js';
import { frontendAssets } from '../frontend/static.js';
import type { ServerContext } from './context.js';
import { formBody } from './form.js';
import { authorizeRoutes } from './authorize.js';
import { approvalRoutes } from './approval.js';
import { servedGrantTypes, tokenRoutes } from './token/index.js';
import { introspectionRoutes } from './introspection.js';
import { revocationRoutes } from './revocation.js';
import { userinfoRoutes } from './userinfo.js';
import { deviceRoutes } from './device.js';
import { requestRateLimit } from './rate-limit.js';
import { renderErrorPage, sendClientError } from './pages.js';
import { isStorageUnavailable } from './storage-errors.js';
import { logoutRoutes } from './logout.js';
import { Discovery } from './discovery.js';
import { requestLog } from './request-log.js';
import { httpMetrics } from './http-metrics.js';
import { securityHeaders } from './security-headers.js';
import { corsFor } from './cors.js';
import { wellKnownRoutes } from './well-known.js';
import { webHealthRoutes } from './health-routes.js';

export interface AppDeps {
  ctx: ServerContext;
  signer: JwtSigner;
  health: Pick<Readiness, 'status'>;
}

/**
 * The web listener's application: explicit wiring of every endpoint family under the issuer path.
 * Each family is its own module; this file only decides order and mounting.
 */
export function createWebApp(deps: AppDeps): express.Express {
  const { ctx } = deps;
  const { config } = ctx;
  const app = express();
  app.disable('x-powered-by');
  // node:querystring semantics: a repeated parameter becomes an array, which the protocol code rejects.
  app.set('query parser', 'simple');
  app.set('trust proxy', false);

  app.use(httpMetrics(ctx.metrics, config.issuerPath));
  app.use(requestLog(ctx.logger, ctx.clientAddress));
  app.use(securityHeaders({ https: Boolean(config.web.https), configured: config.web.headers }));

  app.use(cookieParser());
  app.use(formBody);

  const discovery = new Discovery(config, deps.signer.algorithms());
  const url = (path: string) => discovery.url(path);
  discovery.contribute({
    authorization_endpoint: url('/auth'),
    token_endpoint: url('/token'),
    userinfo_endpoint: url('/userinfo'),
    introspection_endpoint: url('/token/introspect'),
    revocation_endpoint: url('/token/revoke'),
    grant_types_supported: servedGrantTypes(config),
    code_challenge_methods_supported: config.oauth2.pkce.codeChallengeMethodsSupported,
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    authorization_response_iss_parameter_supported: true,
  });

  const deviceFlow = servedGrantTypes(config).includes('urn:ietf:params:oauth:grant-type:device_code');
  if (deviceFlow) discovery.contribute({ device_authorization_endpoint: url('/device/code') });

  const router = express.Router();
  const cors = corsFor(config.web);
  router.use(['/.well-known/openid-configuration', '/keys', '/token', '/userinfo'], cors);
  // Before any route that reads storage for a request anyone can make (rate-limit.ts says which addresses).
  router.use(['/token', '/device'], requestRateLimit(ctx));
  // The routes are disjoint; the hot path (the token endpoint) is matched first.
  router.use(tokenRoutes(ctx));
  router.use(wellKnownRoutes(discovery, deps.signer));
  router.use(webHealthRoutes(deps.health));
  router.use(frontendAssets(ctx.frontend));
  router.use(authorizeRoutes(ctx));
  router.use(approvalRoutes(ctx));
  router.use(introspectionRoutes(ctx));
  router.use(revocationRoutes(ctx));
  router.use(userinfoRoutes(ctx));
  if (deviceFlow) router.use(deviceRoutes(ctx));
  if (ctx.sessions) {
    // OIDC RP-Initiated Logout 1.0 §2.1 and Back-Channel Logout 1.0 §2.1: only when there is a session to end.
    discovery.contribute({
      end_session_endpoint: url('/logout'),
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
      prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
    });
    discovery.addClaims(['sid', 'auth_time']);
    router.use(logoutRoutes(ctx));
  }

  app.use(config.issuerPath || '/', router);

  app.use((req, res) => sendClientError(ctx, req, res, 404, 'There is no such page or endpoint.'));
  app.use(((err, req, res, _next) => {
    if (res.headersSent) return;
    // Body-parser errors (too large, too many parameters, bad encoding) are the client's fault.
    const status = (err as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      void sendClientError(ctx, req, res, status, 'The request could not be read.');
      return;
    }
    if (isStorageUnavailable(err)) {
      req.log.error({ err }, 'storage unavailable');
      void renderErrorPage(ctx, res, 503, 'The service is temporarily unavailable. Try again shortly.');
      return;
    }
    req.log.error({ err }, 'request failed');
    void renderErrorPage(ctx, res, 500, 'Internal server error.').catch(() =>
      res.status(500).type('text/plain').send('Internal server error'),
    );
  }) as express.ErrorRequestHandler);
  return app;
}
