import { OAuthError } from '../../oauth/errors.js';
import { splitScopes, validateScopes } from '../../oauth/scopes.js';
import { claimsOf } from '../../oauth/login.js';
import { canRefresh, ConnectorError } from '../../connectors/connector.js';
import { findClient } from '../context.js';
import { scopesOf } from '../authorize.js';
import { tokenResponse, type GrantHandler } from './grant.js';

/**
 * password (RFC 6749 §4.3) through `oauth2.passwordConnector`, for CLIs like kubelogin
 * --grant-type=password. Guesses are throttled per account and client IP, as on the login form.
 */
export const passwordGrant: GrantHandler = async (ctx, req, client, params) => {
  const { username, password } = params;
  if (!username || password === undefined || password === '') {
    throw new OAuthError('invalid_request', 'Missing username or password.');
  }
  const scopes = splitScopes(params.scope);
  await validateScopes(scopes, client.id, (id) => findClient(ctx.storage, id));
  const connectorID = ctx.config.oauth2.passwordConnector!;
  const opened = await ctx.connectors.get(connectorID);
  if (!opened || opened.connector.kind !== 'password') {
    throw new OAuthError('server_error', 'The password connector is not available.');
  }
  const ip = ctx.clientIP(req);
  const finish = ctx.throttle.begin(connectorID, username, ip);
  if (!finish) {
    ctx.audit.login(req.log, {
      connector: connectorID,
      client: client.id,
      result: 'throttled',
      via: 'password_grant',
      ip,
    });
    throw new OAuthError('invalid_grant', 'Too many failed attempts. Try again later.', 429);
  }
  let identity;
  try {
    identity = await opened.connector.login(scopesOf({ scopes }), username, password);
  } catch (e) {
    finish(true); // the directory failed, not the user: no strike
    ctx.audit.login(req.log, {
      connector: connectorID,
      client: client.id,
      result: 'error',
      via: 'password_grant',
      ip,
    });
    if (e instanceof ConnectorError) throw new OAuthError('temporarily_unavailable', e.userMessage);
    throw e;
  }
  finish(identity !== undefined);
  if (!identity) {
    ctx.audit.login(req.log, {
      connector: connectorID,
      client: client.id,
      result: 'failure',
      via: 'password_grant',
      ip,
    });
    throw new OAuthError('invalid_grant', 'Invalid username or password.');
  }
  ctx.audit.login(req.log, {
    connector: connectorID,
    client: client.id,
    user: identity.userID,
    result: 'success',
    via: 'password_grant',
    ip,
  });

  const subject = {
    clientID: client.id,
    scopes,
    nonce: params.nonce ?? '',
    claims: claimsOf(identity),
    connectorID,
    authTime: ctx.clock.now(),
  };
  const minted = await ctx.minter.mint(subject);
  const refreshToken =
    scopes.includes('offline_access') && canRefresh(opened.connector)
      ? await ctx.refreshTokens.create({
          ...subject,
          ...(identity.connectorData ? { connectorData: identity.connectorData } : {}),
        })
      : undefined;
  ctx.audit.tokensIssued(req.log, {
    grant: 'password',
    client: client.id,
    connector: connectorID,
    user: identity.userID,
  });
  return tokenResponse(minted, refreshToken);
};
