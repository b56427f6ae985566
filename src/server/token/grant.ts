import type { Request } from 'express';
import type { Client } from '../../storage/storage.js';
import type { MintedTokens } from '../../tokens/mint.js';
import type { ServerContext } from '../context.js';

/** A token response body (reference §2: Dex's fields; token_type lower-case "bearer"). */
export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  refresh_token?: string;
  id_token?: string;
}

export type GrantParams = Record<string, string | undefined>;

/** One grant type's handler: authenticated client in, token response out; throws OAuthError. */
export type GrantHandler = (
  ctx: ServerContext,
  req: Request,
  client: Client,
  params: GrantParams,
) => Promise<TokenResponse>;

export function tokenResponse(minted: MintedTokens, refreshToken?: string): TokenResponse {
  return {
    access_token: minted.accessToken,
    token_type: 'bearer',
    expires_in: minted.expiresIn,
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
    ...(minted.idToken ? { id_token: minted.idToken } : {}),
  };
}
