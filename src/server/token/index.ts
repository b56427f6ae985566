import { Router, type Response } from 'express';
import type { Config, GrantType } from '../../config/types.js';
import { OAuthError } from '../../oauth/errors.js';
import { isStorageUnavailable } from '../storage-errors.js';
import type { ServerContext } from '../context.js';
import { formBody, singleParams } from '../form.js';
import { authenticateClient, BasicAuthFailedError } from './client-auth.js';
import type { GrantHandler } from './grant.js';
import { authorizationCodeGrant } from './authorization-code.js';
import { refreshTokenGrant } from './refresh-token.js';
import { passwordGrant } from './password.js';
import { deviceCodeGrant } from './device-code.js';
import { tokenExchangeGrant } from './token-exchange.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { clientMayUseGrant } from '../../oauth/connector-policy.js';
import { RefreshRejected } from '../../oauth/refresh.js';
import { ConnectorUnavailable } from '../../oauth/refresh-grant.js';

const HANDLERS: Record<GrantType, GrantHandler> = {
  authorization_code: authorizationCodeGrant,
  client_credentials: clientCredentialsGrant,
  refresh_token: refreshTokenGrant,
  password: passwordGrant,
  'urn:ietf:params:oauth:grant-type:device_code': deviceCodeGrant,
  'urn:ietf:params:oauth:grant-type:token-exchange': tokenExchangeGrant,
};

/**
 * The grants discovery advertises: those the configuration enables, plus client_credentials when a static
 * client opts into it. /token serves client_credentials in any case: a client stored as a resource may opt
 * in at any time, and clientMayUseGrant decides per client.
 */
export function servedGrantTypes(config: Pick<Config, 'oauth2' | 'staticClients'>): GrantType[] {
  const served = new Set<GrantType>(config.oauth2.grantTypes);
  if (config.staticClients.some((c) => c.grantTypes?.includes('client_credentials')))
    served.add('client_credentials');
  return [...served].sort();
}

/** POST /token (RFC 6749 §3.2): client authentication, then one handler per grant type. */
export function tokenRoutes(ctx: ServerContext): Router {
  const router = Router();
  const served = new Set<string>([...servedGrantTypes(ctx.config), 'client_credentials']);
  const enabled = ctx.config.oauth2.grantTypes;

  router.post('/token', formBody, async (req, res) => {
    let clientID: string | undefined;
    try {
      const params = singleParams(req);
      const client = await authenticateClient(ctx, req, params);
      clientID = client.id;
      const requested = params.grant_type;
      if (!requested) throw new OAuthError('invalid_request', 'Missing grant_type.');
      if (!served.has(requested))
        throw new OAuthError('unsupported_grant_type', `Unsupported grant_type "${requested}".`);
      const grantType = requested as GrantType;
      if (!clientMayUseGrant(client, grantType, enabled)) {
        throw new OAuthError(
          'unauthorized_client',
          `Client "${client.id}" may not use the ${grantType} grant.`,
        );
      }
      const { response, authorization } = await HANDLERS[grantType](ctx, req, client, params);
      ctx.audit.tokensIssued(req.log, {
        grant: grantLabel(grantType),
        client: client.id,
        connector: authorization.connectorID,
        user: authorization.claims.userID,
      });
      noStore(res).json(response);
    } catch (e) {
      if (e instanceof RefreshRejected && clientID !== undefined) {
        ctx.audit.refreshRefused(req.log, {
          reason: e.reason,
          client: clientID,
          ...(e.detail ? { detail: e.detail } : {}),
        });
      }
      // An upstream outage is the operator's to see (the client only learns "try again"); the token stays valid.
      if (e instanceof ConnectorUnavailable)
        req.log.warn(
          { connector: e.connectorID, client: clientID, err: e.detail },
          'refresh: connector unavailable',
        );
      sendOAuthError(res, e);
    }
  });
  router.all('/token', (_req, res) => {
    sendOAuthError(res, new OAuthError('invalid_request', 'The token endpoint accepts only POST.', 400));
  });
  return router;
}

/** A grant's name in logs and metric labels: the URN grants by their last segment (`device_code`). */
function grantLabel(grant: GrantType): string {
  return grant.replace(/^urn:ietf:params:oauth:grant-type:/, '');
}

export function noStore(res: Response): Response {
  return res.setHeader('Cache-Control', 'no-store').setHeader('Pragma', 'no-cache');
}

/** The one place a JSON OAuth error is written (RFC 6749 §5.2). Unexpected errors become server_error. */
export function sendOAuthError(res: Response, e: unknown): void {
  let err: OAuthError;
  if (e instanceof OAuthError) err = e;
  else if (isStorageUnavailable(e)) {
    res.req.log.error({ err: e }, 'storage unavailable');
    err = new OAuthError(
      'temporarily_unavailable',
      'The service is temporarily unavailable. Try again shortly.',
    );
    res.setHeader('Retry-After', '5');
  } else {
    res.req.log.error({ err: e }, 'token endpoint failed');
    err = new OAuthError('server_error', 'Internal server error.');
  }
  if (e instanceof BasicAuthFailedError) res.setHeader('WWW-Authenticate', 'Basic realm="latchkey"');
  noStore(res).status(err.status).json(err.toJSON());
}
