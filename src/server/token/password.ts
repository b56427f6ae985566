import { OAuthError } from '../../oauth/errors.js';
import { connectorScopes, splitScopes, validateScopes } from '../../oauth/scopes.js';
import { claimsOf } from '../../oauth/login.js';
import { checkConnectorUse } from '../../oauth/connector-policy.js';
import { ConnectorError } from '../../connectors/connector.js';
import { checkPassword, MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH } from '../password-check.js';
import { findClient } from '../context.js';
import type { GrantHandler } from './grant.js';

/**
 * password (RFC 6749 §4.3) through `oauth2.passwordConnector`, for CLIs like kubelogin
 * --grant-type=password. Guesses are throttled per account and client IP, as on the login form.
 */
export const passwordGrant: GrantHandler = async (ctx, req, client, params) => {
  const { username, password } = params;
  if (!username || password === undefined || password === '') {
    throw new OAuthError('invalid_request', 'Missing username or password.');
  }
  // The login form's limits: nothing longer is a real name or password, and it would only cost memory.
  if (username.length > MAX_USERNAME_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new OAuthError('invalid_request', 'The username or password is too long.');
  }
  const scopes = splitScopes(params.scope);
  await validateScopes(scopes, client.id, (id) => findClient(ctx.storage, id));
  const connectorID = ctx.config.oauth2.passwordConnector!;
  const opened = await ctx.connectors.get(connectorID);
  if (!opened || opened.connector.kind !== 'password') {
    throw new OAuthError('server_error', 'The password connector is not available.');
  }
  checkConnectorUse(client, opened.entity, 'password');
  const check = await checkPassword(ctx, req, {
    connectorID,
    connector: opened.connector,
    scopes: connectorScopes(scopes),
    username,
    password,
    client: client.id,
    via: 'password_grant',
  });
  if (check.result === 'throttled') {
    req.res?.setHeader('Retry-After', String(check.retryAfterSeconds));
    throw new OAuthError(
      'invalid_grant',
      `Too many failed attempts. Try again in ${check.retryAfterSeconds} seconds.`,
      429,
    );
  }
  if (check.result === 'failure') throw new OAuthError('invalid_grant', 'Invalid username or password.');
  if (check.result === 'error') {
    if (check.error instanceof ConnectorError)
      throw new OAuthError('temporarily_unavailable', check.error.userMessage);
    throw check.error;
  }
  const { identity } = check;
  return ctx.issuance.issue(
    {
      clientID: client.id,
      scopes,
      claims: claimsOf(identity),
      connectorID,
      nonce: params.nonce ?? '',
      authTime: ctx.clock.now(),
      ...(identity.connectorData ? { connectorData: identity.connectorData } : {}),
    },
    { refresh: { kind: 'new' } },
  );
};
