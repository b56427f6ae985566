import { OAuthError } from '../../oauth/errors.js';
import { CodeNotFoundError } from '../../oauth/codes.js';
import { verifyCodeVerifier } from '../../oauth/pkce.js';
import { refreshIDForCode } from '../../oauth/refresh.js';
import { authorizationOf } from '../../tokens/authorization.js';
import type { GrantHandler } from './grant.js';

/**
 * authorization_code (RFC 6749 §4.1.3 + PKCE): the code is consumed before anything is minted. A code seen
 * again revokes the refresh token its first redemption issued (RFC 6749 §4.1.2, RFC 9700 §4.5).
 */
export const authorizationCodeGrant: GrantHandler = async (ctx, req, client, params) => {
  const { code, redirect_uri: redirectURI, code_verifier: verifier } = params;
  if (!code) throw new OAuthError('invalid_request', 'Missing code.');
  if (!redirectURI) throw new OAuthError('invalid_request', 'Missing redirect_uri.');

  let grant;
  try {
    grant = await ctx.codes.redeem(code);
  } catch (e) {
    if (
      e instanceof CodeNotFoundError &&
      (await ctx.refreshTokens.revokeIssued(refreshIDForCode(e.codeDigest)))
    ) {
      req.log.warn(
        { client: client.id },
        'authorization code replayed: revoked the refresh token it had issued',
      );
    }
    throw e;
  }
  if (grant.clientID !== client.id)
    throw new OAuthError('invalid_grant', 'The code was issued to another client.');
  if (grant.redirectURI !== redirectURI)
    throw new OAuthError('invalid_grant', 'redirect_uri did not match the authorization request.');
  verifyCodeVerifier(grant.pkce, verifier);

  return ctx.issuance.issue(authorizationOf(grant), {
    code,
    refresh: { kind: 'new', id: refreshIDForCode(grant.id) },
  });
};
