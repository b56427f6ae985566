import { Router, type Request, type Response } from 'express';
import type { Client, Connector as ConnectorEntity } from '../storage/storage.js';
import type { Connector } from '../connectors/connector.js';
import { ConnectorError } from '../connectors/connector.js';
import type { OpenedConnector } from '../connectors/registry.js';
import { clientMayUseConnector, connectorAllowsGrant } from '../oauth/connector-policy.js';
import { connectorScopes } from '../oauth/scopes.js';
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
import { checkPassword, MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH } from './password-check.js';

/**
 * The pending request once the user picked a callback connector: what travels to the upstream as `state`,
 * with the connector's own per-login value (its PKCE verifier and nonce).
 */
type PendingWithConnector = PendingAuthRequest & { connectorID: string; connectorState?: string };

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
    const opened = await connectorForLogin(ctx, req, res, pending, req.params.connector);
    if (!opened) return;
    const { connector, entity } = opened;
    if (connector.kind === 'password') {
      const url = `${issuerRoute(ctx, `/auth/${encodeURIComponent(entity.id)}/login`)}?${new URLSearchParams({ req: String(req.query.req) })}`;
      return res.redirect(302, url);
    }
    try {
      const login = await connector.beginLogin(
        connectorScopes(pending.scopes),
        callbackURL(ctx),
        pending.loginHint,
      );
      const withConnector: PendingWithConnector = {
        ...pending,
        connectorID: entity.id,
        ...(login.connectorState !== undefined ? { connectorState: login.connectorState } : {}),
      };
      res.redirect(302, login.url(await seal(browser, withConnector)));
    } catch (e) {
      await connectorFailed(ctx, req, res, entity, e);
    }
  });

  router.get('/auth/:connector/login', async (req, res) => {
    const browser = browserValue(req);
    const pending = await unseal<PendingAuthRequest>(browser, req.query.req);
    if (!pending || !browser) return renderErrorPage(ctx, res, 400, STALE_LINK);
    const opened = await connectorForLogin(ctx, req, res, pending, req.params.connector);
    if (!opened) return;
    if (opened.connector.kind !== 'password') return renderErrorPage(ctx, res, 404, 'Unknown login method.');
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
    const opened = await connectorForLogin(ctx, req, res, pending, connectorID);
    if (!opened) return;
    if (opened.connector.kind !== 'password') return renderErrorPage(ctx, res, 404, 'Unknown login method.');
    const { login, password } = body;
    if (
      typeof login !== 'string' ||
      typeof password !== 'string' ||
      login.length > MAX_USERNAME_LENGTH ||
      password.length > MAX_PASSWORD_LENGTH
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
      scopes: connectorScopes(pending.scopes),
      username: login,
      password,
      client: pending.clientID,
      via: 'form',
    });
    if (check.result === 'throttled') {
      res.setHeader('Retry-After', String(check.retryAfterSeconds));
      return renderPasswordPage(ctx, res, 429, { ...page, throttled: true });
    }
    if (check.result === 'failure') return renderPasswordPage(ctx, res, 401, { ...page, invalid: true });
    if (check.result === 'error') return connectorFailed(ctx, req, res, opened.entity, check.error);
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
    const opened = await connectorForLogin(ctx, req, res, pending, pending.connectorID);
    if (!opened) return;
    if (opened.connector.kind !== 'callback') return renderErrorPage(ctx, res, 404, 'Unknown login method.');
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(req.query)) if (typeof v === 'string') params.set(k, v);
    const failed = (e: unknown) => {
      ctx.audit.login(req.log, {
        connector: pending.connectorID,
        client: pending.clientID,
        result: 'failure',
        via: 'callback',
      });
      return connectorFailed(ctx, req, res, opened.entity, e);
    };
    // RFC 6749 §4.1.2.1: the upstream refused (the user declined, or the upstream's policy said no).
    const upstreamError = params.get('error');
    if (upstreamError !== null) {
      const description = params.get('error_description');
      return failed(
        new ConnectorError(
          `upstream returned error=${upstreamError}${description ? ` (${description})` : ''}`,
          upstreamError === 'access_denied'
            ? 'The sign-in was declined.'
            : `The sign-in failed (${upstreamError.slice(0, 64)}).`,
        ),
      );
    }
    let identity;
    try {
      identity = await opened.connector.handleCallback(
        connectorScopes(pending.scopes),
        callbackURL(ctx),
        params,
        pending.connectorState,
      );
    } catch (e) {
      return failed(e);
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
  const client = await findClient(ctx.storage, pending.clientID);
  const grant = grantOf(ctx, pending);
  const usable = (c: ConnectorEntity) =>
    client !== undefined && clientMayUseConnector(client, c.id) && connectorAllowsGrant(c, grant);
  const connectors: ConnectorEntity[] = (await ctx.connectors.list()).filter(usable);
  if (connectors.length === 0) {
    return renderErrorPage(ctx, res, 403, 'No login method is available to this application.');
  }
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

/** The grant a browser login serves: the device flow's, when it ends at the device callback. */
function grantOf(ctx: ServerContext, pending: Pick<PendingAuthRequest, 'redirectURI'>) {
  return pending.redirectURI === issuerRoute(ctx, '/device/callback')
    ? ('urn:ietf:params:oauth:grant-type:device_code' as const)
    : ('authorization_code' as const);
}

/**
 * The connector a login step names, when this login may use it: it exists and opens, the client may use it
 * and it serves this grant. Otherwise renders the error page and returns undefined. Checked at every step,
 * not only at the chooser, since every step's URL can be edited.
 */
async function connectorForLogin(
  ctx: ServerContext,
  req: Request,
  res: Response,
  pending: PendingAuthRequest,
  connectorID: string,
): Promise<OpenedConnector | undefined> {
  let opened: OpenedConnector | undefined;
  try {
    opened = await ctx.connectors.get(connectorID);
  } catch (e) {
    req.log.error({ connector: connectorID, err: e }, 'connector cannot be opened');
    await renderErrorPage(ctx, res, 503, `The login method "${connectorID}" is not available at the moment.`);
    return undefined;
  }
  if (!opened) {
    await renderErrorPage(ctx, res, 404, 'Unknown login method.');
    return undefined;
  }
  const client: Client | undefined = await findClient(ctx.storage, pending.clientID);
  if (
    !client ||
    !clientMayUseConnector(client, opened.entity.id) ||
    !connectorAllowsGrant(opened.entity, grantOf(ctx, pending))
  ) {
    await renderErrorPage(
      ctx,
      res,
      403,
      `This application may not use the login method "${opened.entity.name}".`,
    );
    return undefined;
  }
  return opened;
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

/** An upstream or directory failure: a page naming the login method, never a stack trace. */
async function connectorFailed(
  ctx: ServerContext,
  req: Request,
  res: Response,
  entity: ConnectorEntity,
  e: unknown,
) {
  if (e instanceof ConnectorError) {
    req.log.warn({ connector: entity.id, err: e.message }, 'connector login failed');
    return renderErrorPage(ctx, res, 502, `Login through ${entity.name} failed. ${e.userMessage}`);
  }
  // Anything else from a connector (a timeout, a refused connection, a malformed answer) is still that
  // connector's failure: contained to this login, logged in full, never a stack trace for the user.
  req.log.error({ connector: entity.id, err: e }, 'connector failed unexpectedly');
  return renderErrorPage(
    ctx,
    res,
    502,
    `Login through ${entity.name} failed: the provider could not be reached or answered unexpectedly.`,
  );
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
