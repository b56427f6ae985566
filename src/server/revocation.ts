import { Router } from 'express';
import { OAuthError } from '../oauth/errors.js';
import type { ServerContext } from './context.js';
import { formBody, singleParams } from './form.js';
import { authenticateClient } from './token/client-auth.js';
import { noStore, sendOAuthError } from './token/index.js';

/**
 * Token revocation (RFC 7009). A refresh token ends the whole login it belongs to. Access tokens are
 * self-contained JWTs and cannot be recalled; like any unknown token they get 200 (RFC 7009 §2.2).
 */
export function revocationRoutes(ctx: ServerContext): Router {
  const router = Router();
  router.post('/token/revoke', formBody, async (req, res) => {
    try {
      const params = singleParams(req);
      const client = await authenticateClient(ctx, req, params);
      if (!params.token) throw new OAuthError('invalid_request', 'Missing token.');
      if (await ctx.refreshTokens.revokePresented(params.token, client.id)) {
        req.log.info({ client: client.id }, 'refresh token revoked');
      }
      noStore(res).status(200).end();
    } catch (e) {
      sendOAuthError(res, e);
    }
  });
  return router;
}
