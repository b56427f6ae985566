import type { Request } from 'express';
import type { ConnectorScopes, Identity, PasswordConnector } from '../connectors/connector.js';
import type { ServerContext } from './context.js';

export type PasswordCheck =
  | { result: 'success'; identity: Identity }
  | { result: 'failure' }
  | { result: 'throttled' }
  | { result: 'error'; error: unknown };

/**
 * One password attempt, the same for the login form and the password grant: throttle (reserved before the
 * check, so parallel guesses cannot slip past), the connector's verdict, and the audit line and metric.
 * A connector that fails (directory down) costs the user no strike.
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
  const ip = ctx.clientIP(req);
  const audit = (result: 'success' | 'failure' | 'throttled' | 'error', user?: string) =>
    ctx.audit.login(req.log, {
      connector: a.connectorID,
      client: a.client,
      result,
      via: a.via,
      ip,
      ...(user ? { user } : {}),
    });
  const finish = ctx.throttle.begin(a.connectorID, a.username, ip);
  if (!finish) {
    audit('throttled');
    return { result: 'throttled' };
  }
  let identity: Identity | undefined;
  try {
    identity = await a.connector.login(a.scopes, a.username, a.password);
  } catch (error) {
    finish(true);
    audit('error');
    return { result: 'error', error };
  }
  finish(identity !== undefined);
  if (!identity) {
    audit('failure');
    return { result: 'failure' };
  }
  audit('success', identity.userID);
  return { result: 'success', identity };
}
