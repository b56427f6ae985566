import { canRefresh, ConnectorError, RefreshDeniedError, type Identity } from '../connectors/connector.js';
import type { ConnectorRegistry } from '../connectors/registry.js';
import type { Client } from '../storage/storage.js';
import { authorizationOf, type Authorization } from '../tokens/authorization.js';
import { checkConnectorUse } from './connector-policy.js';
import { OAuthError } from './errors.js';
import { claimsOf } from './login.js';
import { RefreshRejected, type RefreshTokens } from './refresh.js';
import { connectorScopes, splitScopes } from './scopes.js';

/** What a redeemed refresh token authorises, and the refresh token to hand back. */
export interface RefreshedLogin {
  authorization: Authorization;
  wire: string;
}

/**
 * The refresh_token grant's rules (RFC 6749 §6), without HTTP: rotation, reuse window and replay detection
 * live in RefreshTokens; here the scope may only narrow, the client must still be allowed the connector,
 * and the one request that claimed the rotation asks the connector for a fresh identity (racers inside the
 * reuse window get the same successor and the identity as stored).
 */
export async function redeemRefreshToken(
  deps: { refreshTokens: RefreshTokens; connectors: ConnectorRegistry },
  client: Client,
  raw: string,
  requestedScope: string | undefined,
): Promise<RefreshedLogin> {
  const used = await deps.refreshTokens.use(raw, client.id);
  let token = used.token;

  const scopes = requestedScope !== undefined ? splitScopes(requestedScope) : token.scopes;
  const widened = scopes.filter((s) => !token.scopes.includes(s));
  if (widened.length > 0) {
    throw new OAuthError(
      'invalid_scope',
      `Requested scopes were not granted originally: ${JSON.stringify(widened)}.`,
    );
  }

  const opened = await deps.connectors.get(token.connectorID);
  if (!opened) {
    await deps.refreshTokens.revoke(token.id);
    throw new RefreshRejected('connector_gone', 'The login method of this refresh token no longer exists.');
  }
  checkConnectorUse(client, opened.entity, 'refresh_token');
  if (used.refreshIdentity && canRefresh(opened.connector)) {
    const current: Identity = {
      ...token.claims,
      ...(token.connectorData ? { connectorData: token.connectorData } : {}),
    };
    let fresh: Identity;
    try {
      fresh = await opened.connector.refresh(connectorScopes(token.scopes), current);
    } catch (e) {
      if (e instanceof RefreshDeniedError) {
        await deps.refreshTokens.revoke(token.id);
        throw new RefreshRejected(
          'revoked_upstream',
          'The user can no longer be signed in; log in again.',
          e.message,
        );
      }
      if (e instanceof ConnectorError) throw new OAuthError('temporarily_unavailable', e.userMessage);
      throw e;
    }
    // The user ID is the identity: a connector may not swap it on refresh.
    token = await deps.refreshTokens.updateIdentity(
      token,
      { ...claimsOf(fresh), userID: token.claims.userID },
      fresh.connectorData,
    );
  }
  return { authorization: { ...authorizationOf(token), scopes }, wire: used.wire };
}
