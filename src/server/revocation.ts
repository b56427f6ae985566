import { Router } from 'express';
import { OAuthError } from '../oauth/errors.js';
import type { ServerContext } from './context.js';
import { formBody, singleParams } from './form.js';
import { authenticateClient } from './token/client-auth.js';
import { noStore, sendOAuthError } from './token/index.js';

/**
 * Token revocation (RFC 7009). A refresh token or an access token ends the whole login it belongs to: the
 * refresh-token family is deleted and the grant recorded as revoked, so its access tokens — self-contained
 * JWTs that others verify offline — are refused at /userinfo and introspection until they expire (RFC 7009
 * §2.1 lets revoking either token revoke the other). Only the client a token was issued to may revoke it;
 * anything else, like any unknown token, gets 200 (RFC 7009 §2.2).
 */
export function revocationRoutes(ctx: ServerContext): Router {
  const router = Router();
  router.post('/token/revoke', formBody, async (req, res) => {
    try {
      const params = singleParams(req);
      const client = await authenticateClient(ctx, req, params);
      if (!params.token) throw new OAuthError('invalid_request', 'Missing token.');
      const access = await ctx.verifier.verifyAccessToken(params.token);
      if (access) {
        if (access.clientID === client.id) {
          await ctx.refreshTokens.revoke(access.grantID);
          req.log.info({ client: client.id }, 'access token revoked: its login ended');
        }
      } else if (await ctx.refreshTokens.revokePresented(params.token, client.id)) {
        req.log.info({ client: client.id }, 'refresh token revoked');
      }
      noStore(res).status(200).end();
    } catch (e) {
      sendOAuthError(res, e);
    }
  });
  return router;
}
