import { Router, type Request, type Response } from 'express';
import type { Connector as ConnectorEntity } from '../storage/storage.js';
import type { Connector, ConnectorScopes } from '../connectors/connector.js';
import { ConnectorError } from '../connectors/connector.js';
import { isUnsealError } from '../keys/sealer.js';
import { validateAuthorizationRequest, type PendingAuthRequest } from '../oauth/authorize.js';
import { AuthorizationRedirectError, OAuthError, UntrustedRedirectError } from '../oauth/errors.js';
import { errorRedirect } from '../oauth/codes.js';
import { OOB_REDIRECT_URI } from '../oauth/redirect-uri.js';
import { browserTag, verifyBrowserTag } from '../oauth/browser-binding.js';
import type { LoginOutcome } from '../oauth/login.js';
import { browserValue, ensureBrowserValue, findClient, issuerRoute, type ServerContext } from './context.js';
import { renderErrorPage, renderPage } from './pages.js';
import { issuerURL } from '../config/issuer.js';
import { checkPassword } from './password-check.js';

/** The pending request once the user picked a connector (what travels to the upstream as `state`). */
type PendingWithConnector = PendingAuthRequest & { connectorID: string };

const STALE_LINK =
  'This login link has expired or was opened in another browser. Go back to the application and sign in again.';

/**
 * The authorization endpoint and the login steps behind it (reference §1: /auth, /auth/{connector},
 * /auth/{connector}/login, /callback). Nothing is written to storage until a connector has authenticated
 * the user: the validated request travels sealed, bound to this browser.
 */
export function authorizeRoutes(ctx: ServerContext): Router {
  const router = Router();
  const policy = {
    responseTypes: ctx.config.oauth2.responseTypes,
    pkce: {
      enforce: ctx.config.oauth2.pkce.enforce,
      methods: ctx.config.oauth2.pkce.codeChallengeMethodsSupported,
    },
  };
  const seal = (browser: string, pending: PendingAuthRequest) => sealPending(ctx, browser, pending);
  const unseal = <T>(browser: string | undefined, sealed: unknown) => unsealPending<T>(ctx, browser, sealed);

  const start = async (req: Request, res: Response) => {
    const params = (req.method === 'POST' ? req.body : req.query) as Record<string, unknown>;
    let pending: PendingAuthRequest;
    try {
      pending = await validateAuthorizationRequest(params ?? {}, (id) => findClient(ctx.storage, id), policy);
    } catch (e) {
      return sendAuthorizationError(ctx, res, e);
    }
    await beginLogin(ctx, req, res, pending);
  };
  router.get('/auth', start);
  router.post('/auth', start);

  router.get('/auth/:connector', async (req, res) => {
    const browser = browserValue(req);
    const pending = await unseal<PendingAuthRequest>(browser, req.query.req);
    if (!pending || !browser) return renderErrorPage(ctx, res, 400, STALE_LINK);
    const opened = await ctx.connectors.get(req.params.connector);
    if (!opened) return renderErrorPage(ctx, res, 404, 'Unknown login method.');
    const { connector } = opened;
    if (connector.kind === 'password') {
      const url = `${issuerRoute(ctx, `/auth/${encodeURIComponent(opened.entity.id)}/login`)}?${new URLSearchParams({ req: String(req.query.req) })}`;
      return res.redirect(302, url);
    }
    const state = await seal(browser, { ...pending, connectorID: opened.entity.id } as PendingWithConnector);
    try {
      const url = await connector.loginURL(scopesOf(pending), callbackURL(ctx), state, pending.loginHint);
      res.redirect(302, url);
    } catch (e) {
      await connectorFailed(ctx, req, res, opened.entity.id, e);
    }
  });

  router.get('/auth/:connector/login', async (req, res) => {
    const browser = browserValue(req);
    const pending = await unseal<PendingAuthRequest>(browser, req.query.req);
    if (!pending || !browser) return renderErrorPage(ctx, res, 400, STALE_LINK);
    const opened = await ctx.connectors.get(req.params.connector);
    if (!opened || opened.connector.kind !== 'password')
      return renderErrorPage(ctx, res, 404, 'Unknown login method.');
    await renderPasswordPage(ctx, res, 200, {
      connectorID: opened.entity.id,
      connector: opened.connector,
      sealed: String(req.query.req),
      browser,
      username: pending.loginHint ?? '',
    });
  });

  router.post('/auth/:connector/login', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const browser = browserValue(req);
    const connectorID = req.params.connector;
    if (!verifyBrowserTag(browser, `password:${connectorID}`, body.csrf_token)) {
      return renderErrorPage(ctx, res, 403, STALE_LINK);
    }
    const pending = await unseal<PendingAuthRequest>(browser, req.query.req);
    if (!pending || !browser) return renderErrorPage(ctx, res, 400, STALE_LINK);
    const opened = await ctx.connectors.get(connectorID);
    if (!opened || opened.connector.kind !== 'password')
      return renderErrorPage(ctx, res, 404, 'Unknown login method.');
    const { login, password } = body;
    if (
      typeof login !== 'string' ||
      typeof password !== 'string' ||
      login.length > 512 ||
      password.length > 1024
    ) {
      return renderErrorPage(ctx, res, 400, 'The login form was not filled in correctly.');
    }
    const page = {
      connectorID,
      connector: opened.connector,
      sealed: String(req.query.req),
      browser,
      username: login,
    };
    const check = await checkPassword(ctx, req, {
      connectorID,
      connector: opened.connector,
      scopes: scopesOf(pending),
      username: login,
      password,
      client: pending.clientID,
      via: 'form',
    });
    if (check.result === 'throttled') return renderPasswordPage(ctx, res, 429, { ...page, throttled: true });
    if (check.result === 'failure') return renderPasswordPage(ctx, res, 401, { ...page, invalid: true });
    if (check.result === 'error') return connectorFailed(ctx, req, res, connectorID, check.error);
    const { identity } = check;
    const outcome = await ctx.logins.complete(pending, connectorID, identity, browser);
    await sendOutcome(ctx, res, outcome, 303);
  });

  router.get('/callback', async (req, res) => {
    const browser = browserValue(req);
    const pending = await unseal<PendingWithConnector>(browser, req.query.state);
    if (!pending || !browser || typeof pending.connectorID !== 'string') {
      return renderErrorPage(ctx, res, 400, STALE_LINK);
    }
    const opened = await ctx.connectors.get(pending.connectorID);
    if (!opened || opened.connector.kind !== 'callback')
      return renderErrorPage(ctx, res, 404, 'Unknown login method.');
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(req.query)) if (typeof v === 'string') params.set(k, v);
    let identity;
    try {
      identity = await opened.connector.handleCallback(scopesOf(pending), callbackURL(ctx), params);
    } catch (e) {
      ctx.audit.login(req.log, {
        connector: pending.connectorID,
        client: pending.clientID,
        result: 'failure',
        via: 'callback',
      });
      return connectorFailed(ctx, req, res, pending.connectorID, e);
    }
    const outcome = await ctx.logins.complete(pending, pending.connectorID, identity, browser);
    ctx.audit.login(req.log, {
      connector: pending.connectorID,
      client: pending.clientID,
      user: identity.userID,
      result: 'success',
      via: 'callback',
    });
    await sendOutcome(ctx, res, outcome, 302);
  });

  return router;
}

export function scopesOf(p: { scopes: string[] }): ConnectorScopes {
  return { offlineAccess: p.scopes.includes('offline_access'), groups: p.scopes.includes('groups') };
}

function callbackURL(ctx: ServerContext): string {
  return issuerURL(ctx.config.issuer, '/callback');
}

/** Seals a validated request, bound to this browser, for the login links and the upstream `state`. */
export function sealPending(
  ctx: ServerContext,
  browser: string,
  pending: PendingAuthRequest,
): Promise<string> {
  return ctx.sealer.seal(pending, browserTag(browser, 'seal'));
}

/** Undefined for anything that is not a live sealed request of this browser. */
export async function unsealPending<T>(
  ctx: ServerContext,
  browser: string | undefined,
  sealed: unknown,
): Promise<T | undefined> {
  if (!browser || typeof sealed !== 'string' || sealed.length > 16_384) return undefined;
  try {
    return await ctx.sealer.unseal<T>(sealed, browserTag(browser, 'seal'));
  } catch (e) {
    if (isUnsealError(e)) return undefined;
    throw e;
  }
}

function connectorURL(ctx: ServerContext, id: string, sealed: string): string {
  return `${issuerRoute(ctx, `/auth/${encodeURIComponent(id)}`)}?${new URLSearchParams({ req: sealed })}`;
}

/**
 * Starts the login for a validated request (from /auth, or from the device flow's code entry): the
 * connector chooser, or straight to the one connector. Writes nothing to storage.
 */
export async function beginLogin(
  ctx: ServerContext,
  req: Request,
  res: Response,
  pending: PendingAuthRequest,
): Promise<void> {
  const browser = ensureBrowserValue(ctx, req, res);
  const connectors: ConnectorEntity[] = await ctx.connectors.list();
  const sealed = await sealPending(ctx, browser, pending);
  const only =
    connectors.length === 1 && !ctx.config.oauth2.alwaysShowLoginScreen ? connectors[0] : undefined;
  const chosen = pending.connectorID ? connectors.find((c) => c.id === pending.connectorID) : only;
  if (pending.connectorID && !chosen) {
    return sendAuthorizationError(
      ctx,
      res,
      new AuthorizationRedirectError(
        new OAuthError('invalid_request', `Unknown connector "${pending.connectorID}".`),
        pending.redirectURI,
        pending.state,
      ),
    );
  }
  if (chosen) return res.redirect(302, connectorURL(ctx, chosen.id, sealed));
  await renderPage(ctx, res, 200, 'login.html', {
    Connectors: connectors.map((c) => ({
      ID: c.id,
      Name: c.name,
      Type: c.type,
      URL: connectorURL(ctx, c.id, sealed),
    })),
  });
}

async function renderPasswordPage(
  ctx: ServerContext,
  res: Response,
  status: number,
  p: {
    connectorID: string;
    connector: Connector & { kind: 'password' };
    sealed: string;
    browser: string;
    username: string;
    invalid?: boolean;
    throttled?: boolean;
  },
): Promise<void> {
  await renderPage(ctx, res, status, 'password.html', {
    // The sealed request rides in the form's action URL, as Dex's state does, so ported templates work.
    PostURL: `${issuerRoute(ctx, `/auth/${encodeURIComponent(p.connectorID)}/login`)}?${new URLSearchParams({ req: p.sealed })}`,
    BackLink: '',
    Username: p.username,
    UsernamePrompt: p.connector.prompt(),
    Invalid: Boolean(p.invalid),
    Throttled: Boolean(p.throttled),
    CSRFToken: browserTag(p.browser, `password:${p.connectorID}`),
  });
}

/** Sends the browser on after a successful login: approval page, client redirect or the OOB page. */
export async function sendOutcome(
  ctx: ServerContext,
  res: Response,
  outcome: LoginOutcome,
  status: 302 | 303,
) {
  switch (outcome.kind) {
    case 'approval':
      return res.redirect(
        status,
        `${issuerRoute(ctx, '/approval')}?${new URLSearchParams({ req: outcome.authRequestID, hmac: outcome.tag })}`,
      );
    case 'redirect':
      return res.redirect(status, outcome.location);
    case 'oob':
      return renderPage(ctx, res, 200, 'oob.html', { Code: outcome.code });
  }
}

async function connectorFailed(
  ctx: ServerContext,
  req: Request,
  res: Response,
  connectorID: string,
  e: unknown,
) {
  if (e instanceof ConnectorError) {
    req.log.warn({ connector: connectorID, err: e.message }, 'connector login failed');
    return renderErrorPage(ctx, res, 502, e.userMessage);
  }
  throw e;
}

/** Untrusted redirect URI (or OOB): an HTML page. Trusted: a redirect carrying the error. */
function sendAuthorizationError(ctx: ServerContext, res: Response, e: unknown): Promise<void> | void {
  if (e instanceof UntrustedRedirectError) return renderErrorPage(ctx, res, e.status, e.message);
  if (e instanceof AuthorizationRedirectError) {
    if (e.redirectURI === OOB_REDIRECT_URI) return renderErrorPage(ctx, res, 400, e.description);
    return res.redirect(
      302,
      errorRedirect(e.redirectURI, {
        error: e.error,
        description: e.description,
        state: e.state,
        issuer: ctx.config.issuer,
      }),
    );
  }
  throw e;
}
