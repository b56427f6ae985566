import { OAuthError } from '../../oauth/errors.js';
import { redeemRefreshToken } from '../../oauth/refresh-grant.js';
import { findClient } from '../context.js';
import type { GrantHandler } from './grant.js';

/** refresh_token (RFC 6749 §6): the rules are in oauth/refresh-grant.ts. */
export const refreshTokenGrant: GrantHandler = async (ctx, _req, client, params) => {
  if (!params.refresh_token) throw new OAuthError('invalid_request', 'Missing refresh_token.');
  const { authorization, wire } = await redeemRefreshToken(
    {
      ...ctx,
      lookupClient: (id) => findClient(ctx.storage, id),
      ...(ctx.sessions ? { sessionAlive: (id: string) => ctx.sessions!.isAlive(id) } : {}),
    },
    client,
    params.refresh_token,
    params.scope,
  );
  return ctx.issuance.issue(authorization, { refresh: { kind: 'rotated', wire } });
};
