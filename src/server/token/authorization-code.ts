import { OAuthError } from '../../oauth/errors.js';
import { CodeNotFoundError } from '../../oauth/codes.js';
import { verifyCodeVerifier } from '../../oauth/pkce.js';
import { refreshIDForCode } from '../../oauth/refresh.js';
import { refreshTokenFor, tokenResponse, type GrantHandler } from './grant.js';

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
    if (e instanceof CodeNotFoundError && (await ctx.refreshTokens.revoke(refreshIDForCode(e.codeDigest)))) {
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

  const subject = {
    clientID: client.id,
    scopes: grant.scopes,
    nonce: grant.nonce,
    claims: grant.claims,
    connectorID: grant.connectorID,
    ...(grant.authTime ? { authTime: grant.authTime } : {}),
  };
  const minted = await ctx.minter.mint(subject, { code });
  const refreshToken = await refreshTokenFor(ctx, subject, grant.connectorData, refreshIDForCode(grant.id));
  ctx.audit.tokensIssued(req.log, {
    grant: 'authorization_code',
    client: client.id,
    connector: grant.connectorID,
    user: grant.claims.userID,
  });
  return tokenResponse(minted, refreshToken);
};
