import { OAuthError } from '../../oauth/errors.js';
import { refreshTokenFor, tokenResponse, type GrantHandler } from './grant.js';

/**
 * urn:ietf:params:oauth:grant-type:device_code (RFC 8628 §3.4): the polling device. Tokens are minted when
 * the device redeems a completed login, once.
 */
export const deviceCodeGrant: GrantHandler = async (ctx, req, client, params) => {
  if (!params.device_code) throw new OAuthError('invalid_request', 'Missing device_code.');
  const grant = await ctx.device.poll(params.device_code, client.id, params.code_verifier);
  const connectorData = grant.connectorData
    ? new Uint8Array(Buffer.from(grant.connectorData, 'base64'))
    : undefined;
  const subject = {
    clientID: client.id,
    scopes: grant.scopes,
    nonce: '',
    claims: grant.claims,
    connectorID: grant.connectorID,
    ...(grant.authTime ? { authTime: new Date(grant.authTime) } : {}),
  };
  const minted = await ctx.minter.mint(subject);
  const refreshToken = await refreshTokenFor(ctx, subject, connectorData);
  ctx.audit.tokensIssued(req.log, {
    grant: 'device_code',
    client: client.id,
    connector: grant.connectorID,
    user: grant.claims.userID,
  });
  return tokenResponse(minted, refreshToken);
};
