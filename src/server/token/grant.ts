import type { Request } from 'express';
import type { Client } from '../../storage/storage.js';
import type { MintedTokens } from '../../tokens/mint.js';
import type { ServerContext } from '../context.js';
import type { TokenSubject } from '../../tokens/claims.js';
import { canRefresh } from '../../connectors/connector.js';

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

/**
 * A refresh token for a new login, when `offline_access` was granted and the connector can refresh the
 * identity later (Dex's rule); otherwise none.
 */
export async function refreshTokenFor(
  ctx: ServerContext,
  subject: TokenSubject & { authTime?: Date },
  connectorData: Uint8Array | undefined,
  id?: string,
): Promise<string | undefined> {
  if (!subject.scopes.includes('offline_access')) return undefined;
  const opened = await ctx.connectors.get(subject.connectorID);
  if (!opened || !canRefresh(opened.connector)) return undefined;
  return ctx.refreshTokens.create({
    ...subject,
    nonce: subject.nonce ?? '',
    ...(id ? { id } : {}),
    ...(connectorData ? { connectorData } : {}),
  });
}
