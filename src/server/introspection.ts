import { Router } from 'express';
import { OAuthError } from '../oauth/errors.js';
import { mayIntrospect } from '../oauth/introspection.js';
import type { Client } from '../storage/storage.js';
import { encodeSubject } from '../tokens/subject.js';
import type { ServerContext } from './context.js';
import { formBody, singleParams } from './form.js';
import { authenticateClient } from './token/client-auth.js';
import { noStore, sendOAuthError } from './token/index.js';

const INACTIVE = { active: false } as const;

/**
 * Token introspection (RFC 7662), client-authenticated (Dex's is open to anyone). Access tokens are checked
 * as signed JWTs of this issuer that carry a grant ID (an ID token is no access token) whose login is still
 * alive; refresh tokens against storage. Either is active only to its own client or a client that trusts it.
 */
export function introspectionRoutes(ctx: ServerContext): Router {
  const router = Router();
  router.post('/token/introspect', formBody, async (req, res) => {
    try {
      const params = singleParams(req);
      const client = await authenticateClient(ctx, req, params);
      if (!params.token) throw new OAuthError('invalid_request', 'Missing token.');
      noStore(res).json(await introspect(ctx, client, params.token));
    } catch (e) {
      sendOAuthError(res, e);
    }
  });
  return router;
}

async function introspect(
  ctx: ServerContext,
  asker: Client,
  token: string,
): Promise<Record<string, unknown>> {
  const access = await ctx.verifier.verifyAccessToken(token);
  if (access) {
    if (!mayIntrospect(asker, access.clientID)) return INACTIVE;
    const jwt = access.payload;
    return {
      active: true,
      client_id: access.clientID,
      sub: jwt.sub,
      exp: jwt.exp,
      iat: jwt.iat,
      nbf: jwt.iat,
      aud: jwt.aud,
      iss: jwt.iss,
      jti: jwt.jti,
      token_type: 'Bearer',
      token_use: 'access_token',
      ...(typeof jwt.preferred_username === 'string' ? { username: jwt.preferred_username } : {}),
      ext: pick(jwt, [
        'azp',
        'email',
        'email_verified',
        'groups',
        'name',
        'preferred_username',
        'federated_claims',
      ]),
    };
  }
  const refresh = await ctx.refreshTokens.lookupActive(token);
  if (!refresh || !mayIntrospect(asker, refresh.clientID)) return INACTIVE;
  const expiry = ctx.refreshTokens.expiryOf(refresh);
  return {
    active: true,
    client_id: refresh.clientID,
    sub: encodeSubject(refresh.claims.userID, refresh.connectorID),
    iat: Math.floor(refresh.createdAt.getTime() / 1000),
    ...(expiry ? { exp: Math.floor(expiry.getTime() / 1000) } : {}),
    iss: ctx.config.issuer,
    scope: refresh.scopes.join(' '),
    username: refresh.claims.preferredUsername,
    token_type: 'Bearer',
    token_use: 'refresh_token',
  };
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
