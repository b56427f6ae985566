import type { Request } from 'express';
import type { Client } from '../../storage/storage.js';
import type { Issued } from '../../oauth/issuance.js';
import type { ServerContext } from '../context.js';

export type GrantParams = Record<string, string | undefined>;

/**
 * One grant type's handler: authenticated client in, what was issued out; throws OAuthError. Every handler
 * ends in ctx.issuance (oauth/issuance.ts); the router audits and writes the response.
 */
export type GrantHandler = (
  ctx: ServerContext,
  req: Request,
  client: Client,
  params: GrantParams,
) => Promise<Issued>;
