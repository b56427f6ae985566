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
import { claimsOf, type LoginOutcome, type SessionApproval } from '../oauth/login.js';
import type { Identity } from '../connectors/connector.js';
import { reauthenticationReason, sessionSharedWith } from '../oauth/session-rules.js';
import { encodeSubject } from '../tokens/subject.js';
import { currentSession } from './session-cookie.js';
import { endSession } from './logout.js';
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
    await beginLogin(ctx, req, res, pending, await hintedSubject(ctx, params ?? {}));
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
    const remember = rememberMe(ctx, body);
    await finishLogin(
      ctx,
      req,
      res,
      { pending, connectorID, identity: check.identity, browser, remember, amr: ['pwd'] },
      303,
    );
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
    ctx.audit.login(req.log, {
      connector: pending.connectorID,
      client: pending.clientID,
      user: identity.userID,
      result: 'success',
      via: 'callback',
    });
    const remember = ctx.config.sessions?.rememberMeCheckedByDefault ?? false;
    await finishLogin(
      ctx,
      req,
      res,
      // The upstream authenticated the user by means it does not tell us.
      { pending, connectorID: pending.connectorID, identity, browser, remember, amr: [] },
      302,
    );
  });

  return router;
}

function callbackURL(ctx: ServerContext): string {
  return issuerURL(ctx.config.issuer, '/callback');
}

/** What a value sealed for a browser is for: a pending request, or an approval asked within a session. */
type SealPurpose = 'seal' | 'session-approval';

/** Seals `value` for one purpose, bound to this browser: it unseals nowhere else and for nothing else. */
function sealForBrowser(ctx: ServerContext, browser: string, purpose: SealPurpose, value: object) {
  return ctx.sealer.seal(value, browserTag(browser, purpose));
}

/** Undefined for anything that is not a live value this browser's `purpose` sealed. */
async function unsealForBrowser<T>(
  ctx: ServerContext,
  browser: string | undefined,
  purpose: SealPurpose,
  sealed: unknown,
): Promise<T | undefined> {
  if (!browser || typeof sealed !== 'string' || sealed.length > 16_384) return undefined;
  try {
    return await ctx.sealer.unseal<T>(sealed, browserTag(browser, purpose));
  } catch (e) {
    if (isUnsealError(e)) return undefined;
    throw e;
  }
}

/** Seals a validated request, bound to this browser, for the login links and the upstream `state`. */
export function sealPending(
  ctx: ServerContext,
  browser: string,
  pending: PendingAuthRequest,
): Promise<string> {
  return sealForBrowser(ctx, browser, 'seal', pending);
}

/** Undefined for anything that is not a live sealed request of this browser. */
export function unsealPending<T>(
  ctx: ServerContext,
  browser: string | undefined,
  sealed: unknown,
): Promise<T | undefined> {
  return unsealForBrowser<T>(ctx, browser, 'seal', sealed);
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
  hintSubject?: string,
): Promise<void> {
  const browser = ensureBrowserValue(ctx, req, res);
  const client = await findClient(ctx.storage, pending.clientID);
  const grant = grantOf(ctx, pending);
  const usable = (c: ConnectorEntity) =>
    client !== undefined && clientMayUseConnector(client, c.id) && connectorAllowsGrant(c, grant);
  const connectors: ConnectorEntity[] = (await ctx.connectors.list()).filter(usable);
  if (
    client &&
    (await servedFromSession(ctx, req, res, { pending, client, connectors, hintSubject, browser }))
  ) {
    return;
  }
  // OIDC Core §3.1.2.1: no session to serve the login silently, so the client must show a login.
  if (pending.prompt.includes('none')) {
    return sendAuthorizationError(
      ctx,
      res,
      new AuthorizationRedirectError(
        new OAuthError('login_required', 'The user must log in.'),
        pending.redirectURI,
        pending.state,
      ),
    );
  }
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
    // Sessions only: whether the session cookie outlives the browser.
    RememberMeOffered: ctx.config.sessions !== undefined,
    RememberMe: ctx.config.sessions?.rememberMeCheckedByDefault ?? false,
  });
}

/** Sends the browser on after a successful login: approval page, client redirect or the OOB page. */
export async function sendOutcome(
  ctx: ServerContext,
  res: Response,
  outcome: LoginOutcome,
  status: 302 | 303,
  browser?: string,
) {
  switch (outcome.kind) {
    case 'approval':
      return res.redirect(
        status,
        `${issuerRoute(ctx, '/approval')}?${new URLSearchParams({ req: outcome.authRequestID, hmac: outcome.tag })}`,
      );
    case 'session-approval': {
      if (!browser) throw new TypeError('a session approval needs the browser it is bound to');
      const sealed = await sealSessionApproval(ctx, browser, outcome.approval);
      return res.redirect(status, `${issuerRoute(ctx, '/approval')}?${new URLSearchParams({ req: sealed })}`);
    }
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
export function sendAuthorizationError(ctx: ServerContext, res: Response, e: unknown): Promise<void> | void {
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

/**
 * The user an `id_token_hint` names, as a `sub`: undefined when none was sent; "" when it is not an ID token
 * this issuer can verify (not ours, or signed with a key since dropped). "" matches no session, so such a
 * hint forces the connector step (`login_required` with prompt=none) rather than an error: a relying party
 * holding an old ID token still gets its user logged in.
 */
async function hintedSubject(
  ctx: ServerContext,
  params: Record<string, unknown>,
): Promise<string | undefined> {
  const raw = params.id_token_hint;
  if (raw === undefined || raw === '') return undefined;
  const hint = typeof raw === 'string' ? await ctx.verifier.verifyIdTokenHint(raw) : undefined;
  return hint?.sub ?? '';
}

/**
 * Single sign-on: when the browser's session may serve this login (session-rules.ts says when), the
 * connector step is skipped and the login completes from the session. True when the response was sent.
 */
async function servedFromSession(
  ctx: ServerContext,
  req: Request,
  res: Response,
  q: {
    pending: PendingAuthRequest;
    client: Client;
    connectors: ConnectorEntity[];
    hintSubject: string | undefined;
    browser: string;
  },
): Promise<boolean> {
  const { pending, client } = q;
  const current = await currentSession(ctx, req);
  if (!current || !ctx.sessions) return false;
  const { session, cookie } = current;
  const origins = (await Promise.all(cookie.origins.map((id) => findClient(ctx.storage, id)))).filter(
    (c): c is Client => c !== undefined,
  );
  const reason = reauthenticationReason({
    prompt: pending.prompt,
    ...(pending.maxAge !== undefined ? { maxAge: pending.maxAge } : {}),
    ...(q.hintSubject !== undefined ? { hintSubject: q.hintSubject } : {}),
    sessionSubject: encodeSubject(session.claims.userID, session.connectorID),
    connectorUsable:
      q.connectors.some((c) => c.id === session.connectorID) &&
      (!pending.connectorID || pending.connectorID === session.connectorID),
    shared: sessionSharedWith(origins, client.id, ctx.sessions.policy.ssoSharedWithDefault),
    authTime: session.authTime,
    now: ctx.clock.now(),
  });
  if (reason) {
    req.log.debug({ client: client.id, reason }, 'session not used for this login');
    return false;
  }
  let outcome: LoginOutcome;
  try {
    outcome = await ctx.logins.completeInSession(pending, session, client);
  } catch (e) {
    if (!(e instanceof OAuthError)) throw e;
    await sendAuthorizationError(
      ctx,
      res,
      new AuthorizationRedirectError(e, pending.redirectURI, pending.state),
    );
    return true;
  }
  ctx.audit.login(req.log, {
    connector: session.connectorID,
    client: client.id,
    user: session.claims.userID,
    result: 'success',
    via: 'session',
  });
  await sendOutcome(ctx, res, outcome, 302, q.browser);
  return true;
}

/**
 * A connector authenticated the user: without sessions the login completes as it always did; with them the
 * browser's session is signed in (renewed for the same user, replaced for another) and the cookie set
 * before the login completes from it.
 */
async function finishLogin(
  ctx: ServerContext,
  req: Request,
  res: Response,
  login: {
    pending: PendingAuthRequest;
    connectorID: string;
    identity: Identity;
    browser: string;
    remember: boolean;
    /** RFC 8176 method references of this authentication. */
    amr: string[];
  },
  status: 302 | 303,
): Promise<void> {
  const { pending, connectorID, identity, browser } = login;
  if (!ctx.sessions || !ctx.sessionCookies) {
    const outcome = await ctx.logins.complete(pending, connectorID, identity, browser);
    return sendOutcome(ctx, res, outcome, status);
  }
  const current = await currentSession(ctx, req);
  const client = await findClient(ctx.storage, pending.clientID);
  if (!client) return renderErrorPage(ctx, res, 400, 'The application no longer exists.');
  const { session, replaced } = await ctx.sessions.signIn(current?.session, {
    claims: claimsOf(identity),
    connectorID,
    ...(identity.connectorData ? { connectorData: identity.connectorData } : {}),
    amr: login.amr,
    ipAddress: ctx.clientAddress(req).ip,
    ...(typeof req.headers['user-agent'] === 'string' ? { userAgent: req.headers['user-agent'] } : {}),
  });
  const origins =
    current?.session.id === session.id
      ? [...current.cookie.origins.filter((o) => o !== client.id), client.id]
      : [client.id];
  await ctx.sessionCookies.write(res, session, origins, login.remember);
  if (replaced) await endSession(ctx, req, replaced.id, 'replaced');
  const outcome = await ctx.logins.completeInSession(pending, session, client);
  await sendOutcome(ctx, res, outcome, status, browser);
}

/** The password form's "remember me" (a template without the box keeps the configured default). */
function rememberMe(ctx: ServerContext, body: Record<string, unknown>): boolean {
  const byDefault = ctx.config.sessions?.rememberMeCheckedByDefault ?? false;
  if (body.remember_me_offered !== '1') return byDefault;
  return body.remember_me === 'on' || body.remember_me === 'true';
}

/** Seals a session approval for its link, bound to this browser (it proves nothing elsewhere). */
export function sealSessionApproval(
  ctx: ServerContext,
  browser: string,
  approval: SessionApproval,
): Promise<string> {
  return sealForBrowser(ctx, browser, 'session-approval', approval);
}

/** Undefined for anything that is not a session approval sealed for this browser. */
export function unsealSessionApproval(
  ctx: ServerContext,
  browser: string | undefined,
  sealed: unknown,
): Promise<SessionApproval | undefined> {
  return unsealForBrowser<SessionApproval>(ctx, browser, 'session-approval', sealed);
}
