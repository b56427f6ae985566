import { OAuthError } from '../../oauth/errors.js';
import { splitScopes, validateScopes } from '../../oauth/scopes.js';
import { claimsOf } from '../../oauth/login.js';
import { ConnectorError } from '../../connectors/connector.js';
import { checkPassword } from '../password-check.js';
import { findClient } from '../context.js';
import { scopesOf } from '../authorize.js';
import { refreshTokenFor, tokenResponse, type GrantHandler } from './grant.js';

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
  const check = await checkPassword(ctx, req, {
    connectorID,
    connector: opened.connector,
    scopes: scopesOf({ scopes }),
    username,
    password,
    client: client.id,
    via: 'password_grant',
  });
  if (check.result === 'throttled') {
    throw new OAuthError('invalid_grant', 'Too many failed attempts. Try again later.', 429);
  }
  if (check.result === 'failure') throw new OAuthError('invalid_grant', 'Invalid username or password.');
  if (check.result === 'error') {
    if (check.error instanceof ConnectorError)
      throw new OAuthError('temporarily_unavailable', check.error.userMessage);
    throw check.error;
  }
  const { identity } = check;

  const subject = {
    clientID: client.id,
    scopes,
    nonce: params.nonce ?? '',
    claims: claimsOf(identity),
    connectorID,
    authTime: ctx.clock.now(),
  };
  const minted = await ctx.minter.mint(subject);
  const refreshToken = await refreshTokenFor(ctx, subject, identity.connectorData);
  ctx.audit.tokensIssued(req.log, {
    grant: 'password',
    client: client.id,
    connector: connectorID,
    user: identity.userID,
  });
  return tokenResponse(minted, refreshToken);
};
