import { OAuthError } from '../../oauth/errors.js';
import { RefreshRejected } from '../../oauth/refresh.js';
import { splitScopes } from '../../oauth/scopes.js';
import { canRefresh, ConnectorError, RefreshDeniedError, type Identity } from '../../connectors/connector.js';
import { claimsOf } from '../../oauth/login.js';
import { scopesOf } from '../authorize.js';
import { tokenResponse, type GrantHandler } from './grant.js';

/**
 * refresh_token (RFC 6749 §6): rotation, reuse window and replay detection live in oauth/refresh.ts. The
 * one request that claimed the rotation asks the connector for a fresh identity; racers inside the reuse
 * window get the same successor and the identity as stored.
 */
export const refreshTokenGrant: GrantHandler = async (ctx, req, client, params) => {
  try {
    return await refresh(ctx, req, client, params);
  } catch (e) {
    if (e instanceof RefreshRejected)
      ctx.audit.refreshRefused(req.log, { reason: e.reason, client: client.id });
    throw e;
  }
};

const refresh: GrantHandler = async (ctx, req, client, params) => {
  if (!params.refresh_token) throw new OAuthError('invalid_request', 'Missing refresh_token.');
  const used = await ctx.refreshTokens.use(params.refresh_token, client.id);
  let token = used.token;

  const scopes = params.scope !== undefined ? splitScopes(params.scope) : token.scopes;
  const widened = scopes.filter((s) => !token.scopes.includes(s));
  if (widened.length > 0) {
    throw new OAuthError(
      'invalid_scope',
      `Requested scopes were not granted originally: ${JSON.stringify(widened)}.`,
    );
  }

  if (used.refreshIdentity) {
    const opened = await ctx.connectors.get(token.connectorID);
    if (!opened) {
      await ctx.refreshTokens.revoke(token.id);
      throw new RefreshRejected('connector_gone', 'The login method of this refresh token no longer exists.');
    }
    if (canRefresh(opened.connector)) {
      const current: Identity = {
        ...token.claims,
        ...(token.connectorData ? { connectorData: token.connectorData } : {}),
      };
      let fresh: Identity;
      try {
        fresh = await opened.connector.refresh(scopesOf(token), current);
      } catch (e) {
        if (e instanceof RefreshDeniedError) {
          await ctx.refreshTokens.revoke(token.id);
          req.log.info(
            { client: client.id, connector: token.connectorID, reason: e.message },
            'refresh denied by connector',
          );
          throw new RefreshRejected('revoked_upstream', 'The user can no longer be signed in; log in again.');
        }
        if (e instanceof ConnectorError) throw new OAuthError('temporarily_unavailable', e.userMessage);
        throw e;
      }
      // The user ID is the identity: a connector may not swap it on refresh.
      token = await ctx.refreshTokens.updateIdentity(
        token,
        { ...claimsOf(fresh), userID: token.claims.userID },
        fresh.connectorData,
      );
    }
  }

  const minted = await ctx.minter.mint({
    clientID: client.id,
    scopes,
    nonce: token.nonce,
    claims: token.claims,
    connectorID: token.connectorID,
    ...(token.authTime ? { authTime: token.authTime } : {}),
  });
  ctx.audit.tokensIssued(req.log, {
    grant: 'refresh_token',
    client: client.id,
    connector: token.connectorID,
    user: token.claims.userID,
  });
  return tokenResponse(minted, used.wire);
};
