import { canRefresh, ConnectorError } from '../connectors/connector.js';
import type { ConnectorRegistry, OpenedConnector } from '../connectors/registry.js';
import type { Client, RefreshToken } from '../storage/storage.js';
import { authorizationOf, type Authorization } from '../tokens/authorization.js';
import { checkConnectorUse } from './connector-policy.js';
import { OAuthError } from './errors.js';
import { claimsOf } from './login.js';
import { RefreshRejected, type IdentityUpdate, type RefreshTokens } from './refresh.js';
import { connectorScopes, splitScopes, validateScopes } from './scopes.js';

/**
 * temporarily_unavailable: the login's connector could not be asked (its upstream is down or failing). The
 * presented token stays valid; `detail` is the connector's technical reason, for the log only.
 */
export class ConnectorUnavailable extends OAuthError {
  readonly detail: string;

  constructor(
    readonly connectorID: string,
    cause: ConnectorError,
  ) {
    super('temporarily_unavailable', cause.userMessage);
    this.detail = cause.message;
  }
}

/** What a redeemed refresh token authorises, and the refresh token to hand back. */
export interface RefreshedLogin {
  authorization: Authorization;
  wire: string;
}

export interface RefreshGrantDeps {
  refreshTokens: RefreshTokens;
  connectors: ConnectorRegistry;
  lookupClient: (id: string) => Promise<Client | undefined>;
  /** Whether a browser session is still alive; absent = sessions are off (no token is bound to one). */
  sessionAlive?: (sessionID: string) => Promise<boolean>;
}

/**
 * The refresh_token grant's rules (RFC 6749 §6), without HTTP. Rotation, reuse window and replay detection
 * live in RefreshTokens; here, before anything is written: the scope may only narrow, what the login was
 * granted must still be allowed (the client may use its connector, cross-client peers still trust it), and
 * the connector is asked for a fresh identity. Only then is the token rotated, with the new identity in the
 * same write — so an upstream outage leaves the presented token valid for the client's retry.
 */
export async function redeemRefreshToken(
  deps: RefreshGrantDeps,
  client: Client,
  raw: string,
  requestedScope: string | undefined,
): Promise<RefreshedLogin> {
  const scopesFor = (token: RefreshToken): string[] =>
    requestedScope !== undefined ? splitScopes(requestedScope) : token.scopes;
  // Opened by this request's check, which always runs before its refreshIdentity.
  let opened: OpenedConnector | undefined;
  const check = async (token: RefreshToken): Promise<void> => {
    const scopes = scopesFor(token);
    const widened = scopes.filter((s) => !token.scopes.includes(s));
    if (widened.length > 0) {
      throw new OAuthError(
        'invalid_scope',
        `Requested scopes were not granted originally: ${JSON.stringify(widened)}.`,
      );
    }
    await checkTrustStillHolds(deps, client, scopes);
    await checkSessionStillAlive(deps, token);
    opened = await deps.connectors.get(token.connectorID);
    if (!opened) {
      await deps.refreshTokens.revoke(token.id);
      throw new RefreshRejected('connector_gone', 'The login method of this refresh token no longer exists.');
    }
    checkConnectorUse(client, opened.entity, 'refresh_token');
  };
  const refreshIdentity = async (token: RefreshToken): Promise<IdentityUpdate | undefined> => {
    const connector = opened?.connector;
    if (!connector || !canRefresh(connector)) return undefined;
    try {
      const fresh = await connector.refresh(connectorScopes(token.scopes), {
        ...token.claims,
        ...(token.connectorData ? { connectorData: token.connectorData } : {}),
      });
      // The user ID is the identity: a connector may not swap it on refresh.
      return {
        claims: { ...claimsOf(fresh), userID: token.claims.userID },
        ...(fresh.connectorData ? { connectorData: fresh.connectorData } : {}),
      };
    } catch (e) {
      if (e instanceof ConnectorError) throw new ConnectorUnavailable(token.connectorID, e);
      throw e;
    }
  };

  const used = await deps.refreshTokens.use(raw, client.id, { check, refreshIdentity });
  return {
    authorization: { ...authorizationOf(used.token), scopes: scopesFor(used.token) },
    wire: used.wire,
  };
}

/**
 * A session-bound token (its client's refreshTokenLifetime: session) lives only as long as the browser
 * session it came from: logout, an admin's delete or the session's expiry end it. Refused without a write;
 * garbage collection removes it with its own expiry.
 */
async function checkSessionStillAlive(deps: RefreshGrantDeps, token: RefreshToken): Promise<void> {
  if (!token.sessionBound || !token.sessionID) return;
  const alive = deps.sessionAlive ? await deps.sessionAlive(token.sessionID) : false;
  if (!alive) throw new RefreshRejected('session_ended', 'The browser session of this login has ended.');
}

/**
 * Cross-client audiences (`audience:server:client_id:<peer>`) were checked at login; a peer deleted since,
 * or one that no longer trusts the client, must not keep receiving tokens through a refresh.
 */
async function checkTrustStillHolds(deps: RefreshGrantDeps, client: Client, scopes: string[]): Promise<void> {
  try {
    await validateScopes(scopes, client.id, deps.lookupClient, { requireOpenID: false });
  } catch (e) {
    if (e instanceof OAuthError && e.error === 'invalid_scope')
      throw new OAuthError('invalid_grant', `The login's scopes are no longer allowed: ${e.description}`);
    throw e;
  }
}
