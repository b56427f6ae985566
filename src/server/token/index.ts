import { Router, type Response } from 'express';
import type { GrantType } from '../../config/types.js';
import { OAuthError } from '../../oauth/errors.js';
import { isStorageUnavailable } from '../storage-errors.js';
import type { ServerContext } from '../context.js';
import { formBody, singleParams } from '../form.js';
import { authenticateClient, BasicAuthFailedError } from './client-auth.js';
import type { GrantHandler } from './grant.js';
import { authorizationCodeGrant } from './authorization-code.js';
import { refreshTokenGrant } from './refresh-token.js';
import { passwordGrant } from './password.js';
import { deviceCodeGrant } from './device-code.js';

const HANDLERS: Partial<Record<GrantType, GrantHandler>> = {
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  password: passwordGrant,
  'urn:ietf:params:oauth:grant-type:device_code': deviceCodeGrant,
};

/** The grants this build serves, of those the configuration enables: what discovery advertises. */
export function servedGrantTypes(configured: readonly GrantType[]): GrantType[] {
  return configured.filter((g) => HANDLERS[g] !== undefined);
}

/** POST /token (RFC 6749 §3.2): client authentication, then one handler per grant type. */
export function tokenRoutes(ctx: ServerContext): Router {
  const router = Router();
  const served = new Set<string>(servedGrantTypes(ctx.config.oauth2.grantTypes));

  router.post('/token', formBody, async (req, res) => {
    try {
      const params = singleParams(req);
      const client = await authenticateClient(ctx, req, params);
      const grantType = params.grant_type;
      if (!grantType) throw new OAuthError('invalid_request', 'Missing grant_type.');
      const handler = served.has(grantType) ? HANDLERS[grantType as GrantType] : undefined;
      if (!handler) throw new OAuthError('unsupported_grant_type', `Unsupported grant_type "${grantType}".`);
      const body = await handler(ctx, req, client, params);
      noStore(res).json(body);
    } catch (e) {
      sendOAuthError(res, e);
    }
  });
  router.all('/token', (_req, res) => {
    sendOAuthError(res, new OAuthError('invalid_request', 'The token endpoint accepts only POST.', 400));
  });
  return router;
}

export function noStore(res: Response): Response {
  return res.setHeader('Cache-Control', 'no-store').setHeader('Pragma', 'no-cache');
}

/** The one place a JSON OAuth error is written (RFC 6749 §5.2). Unexpected errors become server_error. */
export function sendOAuthError(res: Response, e: unknown): void {
  let err: OAuthError;
  if (e instanceof OAuthError) err = e;
  else if (isStorageUnavailable(e)) {
    res.req.log.error({ err: e }, 'storage unavailable');
    err = new OAuthError(
      'temporarily_unavailable',
      'The service is temporarily unavailable. Try again shortly.',
    );
    res.setHeader('Retry-After', '5');
  } else {
    res.req.log.error({ err: e }, 'token endpoint failed');
    err = new OAuthError('server_error', 'Internal server error.');
  }
  if (e instanceof BasicAuthFailedError) res.setHeader('WWW-Authenticate', 'Basic realm="latchkey"');
  noStore(res).status(err.status).json(err.toJSON());
}
