import type { Request } from 'express';
import type { ConnectorScopes, Identity, PasswordConnector } from '../connectors/connector.js';
import type { ServerContext } from './context.js';

/** Longest login name and password accepted, on the form and at the password grant alike. */
export const MAX_USERNAME_LENGTH = 512;
export const MAX_PASSWORD_LENGTH = 1024;

export type PasswordCheck =
  | { result: 'success'; identity: Identity }
  | { result: 'failure' }
  | { result: 'throttled'; retryAfterSeconds: number }
  | { result: 'error'; error: unknown };

/**
 * One password attempt, the same for the login form and the password grant: throttle (reserved before the
 * check, so parallel guesses cannot slip past; per address only when the address is the client's own), the
 * connector's verdict, and the audit line and metric. A connector that fails (directory down) costs the
 * user no strike and clears nothing.
 */
export async function checkPassword(
  ctx: ServerContext,
  req: Request,
  a: {
    connectorID: string;
    connector: PasswordConnector;
    scopes: ConnectorScopes;
    username: string;
    password: string;
    client: string;
    via: 'form' | 'password_grant';
  },
): Promise<PasswordCheck> {
  const address = ctx.clientAddress(req);
  const audit = (result: 'success' | 'failure' | 'throttled' | 'error', user?: string) =>
    ctx.audit.login(req.log, {
      connector: a.connectorID,
      client: a.client,
      result,
      via: a.via,
      ip: address.ip,
      ...(user ? { user } : {}),
    });
  const attempt = await ctx.limits.passwords.begin(
    a.connectorID,
    a.username,
    address.distinct ? address.ip : undefined,
  );
  if (attempt.throttled) {
    audit('throttled');
    return { result: 'throttled', retryAfterSeconds: attempt.retryAfterSeconds };
  }
  let identity: Identity | undefined;
  try {
    identity = await a.connector.login(a.scopes, a.username, a.password);
  } catch (error) {
    // The directory failed, not the user: no strike, and nothing cleared either.
    await ctx.limits.passwords.finish(attempt.ticket, 'error');
    audit('error');
    return { result: 'error', error };
  }
  await ctx.limits.passwords.finish(attempt.ticket, identity ? 'success' : 'failure');
  if (!identity) {
    audit('failure');
    return { result: 'failure' };
  }
  audit('success', identity.userID);
  return { result: 'success', identity };
}
