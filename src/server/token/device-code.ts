import { OAuthError } from '../../oauth/errors.js';
import type { GrantHandler } from './grant.js';

/**
 * urn:ietf:params:oauth:grant-type:device_code (RFC 8628 §3.4): the polling device. Tokens are minted when
 * the device redeems a completed login, once.
 */
export const deviceCodeGrant: GrantHandler = async (ctx, _req, client, params) => {
  if (!params.device_code) throw new OAuthError('invalid_request', 'Missing device_code.');
  const authorization = await ctx.device.poll(params.device_code, client.id, params.code_verifier);
  return ctx.issuance.issue(authorization, { refresh: { kind: 'new' } });
};
