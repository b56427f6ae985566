import { clientCredentialsAuthorization } from '../../oauth/client-credentials.js';
import { splitScopes } from '../../oauth/scopes.js';
import { findClient } from '../context.js';
import type { GrantHandler } from './grant.js';

/** client_credentials (RFC 6749 §4.4): the rules are in oauth/client-credentials.ts. */
export const clientCredentialsGrant: GrantHandler = async (ctx, _req, client, params) => {
  const authorization = await clientCredentialsAuthorization(
    client,
    splitScopes(params.scope),
    params.nonce ?? '',
    (id) => findClient(ctx.storage, id),
  );
  return ctx.issuance.issue(authorization, { refresh: { kind: 'none' } });
};
