import { Router, type Request, type Response } from 'express';
import { GRANT_ID_CLAIM } from '../tokens/mint.js';
import type { ServerContext } from './context.js';
import { noStore, sendOAuthError } from './token/index.js';

/** Claims that describe the token, not the user: left out of the UserInfo response. */
const TOKEN_BOOKKEEPING = new Set([
  'iss',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'azp',
  'nonce',
  'at_hash',
  'c_hash',
  'auth_time',
  GRANT_ID_CLAIM,
]);

/**
 * UserInfo (OpenID Connect Core §5.3): the bearer access token's user claims — exactly those its scopes
 * allowed when it was minted. Only an access token (an ID token is refused) whose login is still alive: not
 * revoked, its code not replayed, its refresh family not revoked. Errors per RFC 6750 §3.
 */
export function userinfoRoutes(ctx: ServerContext): Router {
  const router = Router();
  const handler = async (req: Request, res: Response) => {
    const m = /^bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="latchkey"');
      return noStore(res)
        .status(401)
        .json({ error: 'invalid_request', error_description: 'Bearer access token required.' });
    }
    let access;
    try {
      access = await ctx.verifier.verifyAccessToken(m[1]!);
    } catch (e) {
      // Storage could not say whether the login was revoked: 503 (or 500), never a guess.
      return sendOAuthError(res, e);
    }
    if (!access) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="latchkey", error="invalid_token"');
      return noStore(res)
        .status(401)
        .json({ error: 'invalid_token', error_description: 'The access token is invalid or expired.' });
    }
    const claims: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(access.payload)) if (!TOKEN_BOOKKEEPING.has(k)) claims[k] = v;
    noStore(res).json(claims);
  };
  router.get('/userinfo', handler);
  router.post('/userinfo', handler);
  return router;
}
