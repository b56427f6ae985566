import { exchangeToken } from '../../oauth/token-exchange.js';
import { findClient } from '../context.js';
import type { GrantHandler } from './grant.js';

/** urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693): the rules are in oauth/token-exchange.ts. */
export const tokenExchangeGrant: GrantHandler = async (ctx, _req, client, params) => {
  const { authorization, issuedTokenType } = await exchangeToken(
    { connectors: ctx.connectors, lookupClient: (id) => findClient(ctx.storage, id) },
    client,
    params,
  );
  return ctx.issuance.issueSingle(authorization, issuedTokenType);
};
