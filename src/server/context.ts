import type { Request, Response } from 'express';
import type { Config } from '../config/types.js';
import type { Storage, Client } from '../storage/storage.js';
import { isNotFound } from '../storage/errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Audit } from '../observability/audit.js';
import type { Clock } from '../util/clock.js';
import type { IdGenerator } from '../util/ids.js';
import type { Sealer } from '../keys/sealer.js';
import type { ConnectorRegistry } from '../connectors/registry.js';
import type { Frontend } from '../frontend/frontend.js';
import type { TokenMinter } from '../tokens/mint.js';
import type { OwnTokenVerifier } from '../tokens/verify.js';
import type { AuthCodes } from '../oauth/codes.js';
import type { LoginCompletion } from '../oauth/login.js';
import type { RefreshTokens } from '../oauth/refresh.js';
import type { Limits } from '../oauth/limits.js';
import type { DeviceFlow } from '../oauth/device.js';
import type { TokenIssuer } from '../oauth/issuance.js';
import type { GrantRevocations } from '../oauth/revocations.js';
import type { BrowserSessions } from '../oauth/sessions.js';
import type { BackchannelLogout } from '../oauth/backchannel-logout.js';
import type { ClientAddress } from './client-ip.js';
import type { SessionCookies } from './session-cookie.js';
import { BROWSER_COOKIE, isBrowserValue, newBrowserValue } from '../oauth/browser-binding.js';

/** The services every endpoint family works with, built once in server.ts. */
export interface ServerContext {
  config: Config;
  storage: Storage;
  logger: Logger;
  metrics: Metrics;
  audit: Audit;
  clock: Clock;
  ids: IdGenerator;
  sealer: Sealer;
  connectors: ConnectorRegistry;
  frontend: Frontend;
  minter: TokenMinter;
  /** The one way tokens are issued (every grant ends here). */
  issuance: TokenIssuer;
  verifier: OwnTokenVerifier;
  codes: AuthCodes;
  logins: LoginCompletion;
  refreshTokens: RefreshTokens;
  /** Logins ended before their access tokens expire (checked by /userinfo and introspection). */
  revocations: GrantRevocations;
  /** Every in-memory limit of the replica (this process's, or its primary's: oauth/limits.ts). */
  limits: Limits;
  device: DeviceFlow;
  /** Where a request came from, and whether that address is the client's own (see client-ip.ts). */
  clientAddress: (req: Request) => ClientAddress;
  /** Browser sessions; all three present exactly when the configuration has a `sessions` section. */
  sessions?: BrowserSessions;
  sessionCookies?: SessionCookies;
  backchannel?: BackchannelLogout;
}

/** A client by ID, or undefined when there is none (other storage errors propagate). */
export async function findClient(storage: Storage, id: string): Promise<Client | undefined> {
  try {
    return await storage.getClient(id);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** A route under the issuer path, e.g. "/dex/auth/local" for "/auth/local". */
export function issuerRoute(ctx: Pick<ServerContext, 'config'>, path: string): string {
  return `${ctx.config.issuerPath}${path}`;
}

/** This browser's binding value (see oauth/browser-binding.ts), set on the response when it had none. */
export function ensureBrowserValue(ctx: ServerContext, req: Request, res: Response): string {
  const existing = browserValue(req);
  if (existing) return existing;
  const value = newBrowserValue();
  res.cookie(BROWSER_COOKIE, value, {
    httpOnly: true,
    // Lax: sent on the top-level GET back from an upstream identity provider, not on cross-site POSTs.
    sameSite: 'lax',
    secure: ctx.config.issuer.startsWith('https:'),
    path: ctx.config.issuerPath || '/',
  });
  return value;
}

export function browserValue(req: Request): string | undefined {
  const v = (req.cookies as Record<string, unknown> | undefined)?.[BROWSER_COOKIE];
  return isBrowserValue(v) ? v : undefined;
}
