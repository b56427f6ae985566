import { createServer, type Server } from 'node:http';
import express, { type Request, type Response } from 'express';
import * as oidc from 'openid-client';
import { browserTag, isBrowserValue, newBrowserValue, verifyBrowserTag } from '../oauth/browser-binding.js';
import { InvalidLogoutToken, logoutTokenVerifier, RecentLogouts } from './backchannel.js';
import { APP_CSS, errorPage, startPage, tokenPage } from './pages.js';
import { decodeClaims, describeError, scopeParameter } from './oidc.js';

export interface WebAppOptions {
  config: oidc.Configuration;
  issuer: string;
  clientID: string;
  redirectURI: string;
  /** Scopes ticked on the start page (`--scopes`). */
  scopes: string[];
  /** Client IDs pre-filled in the cross-client field (`--cross-client`). */
  crossClients: string[];
  /** Where the one line per accepted back-channel logout goes (default: standard output). */
  log?: (line: string) => void;
}

/** A login started here and not finished yet, looked up by its `state`. */
interface PendingLogin {
  nonce: string;
  codeVerifier: string;
  startedAt: number;
}

const STATE_COOKIE = 'example_app_state';
/** The `state` of a logout this browser started, checked when the issuer sends the browser back to `/`. */
const LOGOUT_STATE_COOKIE = 'example_app_logout_state';
/**
 * A random value per browser, the key of the Log out form's CSRF token (Latchkey's own browser binding):
 * the token is an HMAC of the ID token the form posts, so a form built elsewhere cannot be posted here.
 */
const BROWSER_COOKIE = 'example_app_browser';
const PENDING_TTL_MS = 10 * 60_000;
/** Bounds the table of unfinished logins (anyone can press Login as often as they like). */
const MAX_PENDING = 1000;
export const BACKCHANNEL_LOGOUT_PATH = '/backchannel-logout';

/**
 * Dex's example app, on openid-client: a start page, the redirect to the issuer (state, nonce and PKCE),
 * the callback that checks all three and shows the tokens, and a Refresh button that redeems the refresh
 * token (posted back to the callback, as Dex's app does). With an issuer that has an end_session_endpoint
 * the token page has a Log out button (RP-Initiated Logout, back to `/` with a checked `state`), and
 * POST /backchannel-logout takes the issuer's logout tokens (Back-Channel Logout), listed on `/`.
 */
export function exampleApp(opts: WebAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const redirectURI = new URL(opts.redirectURI);
  const callbackPath = redirectURI.pathname;
  const secure = redirectURI.protocol === 'https:';
  // The root of the origin the browser reaches the app at: the redirect URI's (the same as --listen's
  // unless a TLS proxy stands in front), where this app's cookies live.
  const postLogoutRedirectURI = new URL('/', redirectURI).href;
  const pending = new Map<string, PendingLogin>();
  const metadata = opts.config.serverMetadata();
  const endSessionEndpoint = metadata.end_session_endpoint;
  const verifyLogoutToken = logoutTokenVerifier(opts.config);
  const recentLogouts = new RecentLogouts();
  const log = opts.log ?? ((line: string) => void process.stdout.write(`${line}\n`));
  // The Login and Log out forms' 303s lead to the issuer: form-action covers redirects after a submission.
  const formTargets = new Set(
    [metadata.authorization_endpoint ?? opts.issuer, ...(endSessionEndpoint ? [endSessionEndpoint] : [])].map(
      (u) => new URL(u).origin,
    ),
  );
  const csp = [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self'",
    `form-action 'self' ${[...formTargets].join(' ')}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');

  app.use((_req, res, next) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });

  // Back-Channel Logout §2.8: 200 when the logout token is accepted, 400 (an OAuth error in JSON) when not;
  // neither cached. The reason is given too, as words of its own: never anything from the token.
  const refuse = (res: Response, why: string) => {
    log(`example-app: back-channel logout refused: ${why}`);
    res
      .status(400)
      .setHeader('Cache-Control', 'no-store')
      .json({ error: 'invalid_request', error_description: why });
  };
  // Before the app-wide body parser: this route answers in JSON, a body it cannot read included.
  const parseForm = express.urlencoded({ extended: false, limit: '32kb' });
  app.post(
    BACKCHANNEL_LOGOUT_PATH,
    (req, res, next) =>
      parseForm(req, res, (err?: unknown) => (err ? refuse(res, 'unreadable body') : next())),
    async (req: Request, res) => {
      const token = (req.body as Record<string, unknown> | undefined)?.logout_token;
      if (!req.is('application/x-www-form-urlencoded') || typeof token !== 'string' || token === '') {
        return refuse(res, 'expected one logout_token, form-encoded');
      }
      let logout;
      try {
        logout = await verifyLogoutToken(token);
      } catch (e) {
        if (e instanceof InvalidLogoutToken) return refuse(res, e.message);
        // The issuer's keys were out of reach: not the token's fault, so a status the issuer retries.
        process.stderr.write(`example-app: cannot check a logout token: ${describeError(e)}\n`);
        return res
          .status(503)
          .setHeader('Cache-Control', 'no-store')
          .json({ error: 'temporarily_unavailable' });
      }
      recentLogouts.add(logout);
      // What it names, never the token.
      log(`example-app: back-channel logout: sid=${logout.sid ?? '-'} sub=${logout.sub ?? '-'}`);
      res.status(200).setHeader('Cache-Control', 'no-store').end();
    },
  );

  app.use(express.urlencoded({ extended: false, limit: '32kb' }));

  const send = (res: Response, status: number, page: string) =>
    res.status(status).setHeader('Cache-Control', 'no-store').type('html').send(page);
  const fail = (res: Response, status: number, title: string, message: string) =>
    send(res, status, errorPage(title, message));
  // The issuer answered with an OAuth error (a refused code or refresh token): the request's fault, not a
  // bad gateway. Anything else (unreachable, a malformed answer) is the issuer's.
  const statusFor = (e: unknown) => (e instanceof oidc.ResponseBodyError ? 400 : 502);

  app.get('/static/app.css', (_req, res) => {
    res.type('css').setHeader('Cache-Control', 'public, max-age=3600').send(APP_CSS);
  });

  // Browsers ask for it on every page; there is none (and no console error for its absence).
  app.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });

  app.get('/', (req, res) => {
    const offered = (metadata.scopes_supported ?? []).filter((s) => s !== 'openid');
    for (const s of opts.scopes) if (s !== 'openid' && !offered.includes(s)) offered.push(s);
    // Back from the issuer's logout: only the state this browser's logout started says so (anyone can link
    // to /?state=…, and a mismatched one is ignored, not an error).
    const state = new URL(req.originalUrl, 'http://x').searchParams.get('state') ?? '';
    const loggedOut = state !== '' && cookie(req, LOGOUT_STATE_COOKIE) === state;
    if (loggedOut) res.clearCookie(LOGOUT_STATE_COOKIE, { path: '/' });
    send(
      res,
      200,
      startPage({
        issuer: opts.issuer,
        clientID: opts.clientID,
        scopes: offered.map((name) => ({ name, checked: opts.scopes.includes(name) })),
        crossClients: opts.crossClients,
        loggedOut,
        ...(metadata.backchannel_logout_supported === true || recentLogouts.list().length > 0
          ? {
              backchannel: {
                uri: new URL(BACKCHANNEL_LOGOUT_PATH, redirectURI).href,
                received: recentLogouts.list(),
              },
            }
          : {}),
      }),
    );
  });

  app.post('/login', async (req: Request, res) => {
    const form = (req.body ?? {}) as Record<string, string | string[] | undefined>;
    const list = (v: string | string[] | undefined) =>
      (Array.isArray(v) ? v : [v ?? '']).flatMap((s) => s.split(/\s+/)).filter((s) => s !== '');
    const state = oidc.randomState();
    const login: PendingLogin = {
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
      startedAt: Date.now(),
    };
    forgetOld(pending);
    pending.set(state, login);
    const params: Record<string, string> = {
      redirect_uri: opts.redirectURI,
      scope: scopeParameter([...list(form.scope), ...list(form.extra_scopes)], list(form.cross_client)),
      state,
      nonce: login.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(login.codeVerifier),
      code_challenge_method: 'S256',
    };
    const connector = list(form.connector_id)[0];
    if (connector) params.connector_id = connector;
    res.cookie(STATE_COOKIE, state, {
      httpOnly: true,
      sameSite: 'lax',
      secure: new URL(opts.redirectURI).protocol === 'https:',
      path: callbackPath,
      maxAge: PENDING_TTL_MS,
    });
    res.redirect(303, oidc.buildAuthorizationUrl(opts.config, params).href);
  });

  app.get(callbackPath, async (req, res) => {
    const query = new URL(req.originalUrl, 'http://x').searchParams;
    const state = query.get('state') ?? '';
    // The state must be this browser's (its cookie) and a login this app started and has not finished.
    const login = state !== '' && cookie(req, STATE_COOKIE) === state ? pending.get(state) : undefined;
    if (!login || Date.now() - login.startedAt > PENDING_TTL_MS) {
      return fail(
        res,
        400,
        'Login failed',
        'The state does not match a login started in this browser (it expired, was already used, or was started elsewhere). Log in again.',
      );
    }
    pending.delete(state);
    res.clearCookie(STATE_COOKIE, { path: callbackPath });
    const error = query.get('error');
    if (error !== null) {
      const description = query.get('error_description');
      return fail(res, 400, 'Login failed', `${error}${description ? `: ${description}` : ''}`);
    }
    const current = new URL(opts.redirectURI);
    current.search = query.toString();
    let tokens;
    try {
      tokens = await oidc.authorizationCodeGrant(opts.config, current, {
        pkceCodeVerifier: login.codeVerifier,
        expectedState: state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
    } catch (e) {
      return fail(res, statusFor(e), 'Login failed', `The code could not be redeemed: ${describeError(e)}`);
    }
    send(res, 200, showTokens(req, res, tokens));
  });

  app.post(callbackPath, async (req, res) => {
    const refreshToken = (req.body as Record<string, unknown> | undefined)?.refresh_token;
    if (typeof refreshToken !== 'string' || refreshToken === '') {
      return fail(res, 400, 'Refresh failed', 'No refresh token was posted.');
    }
    let tokens;
    try {
      tokens = await oidc.refreshTokenGrant(opts.config, refreshToken);
    } catch (e) {
      return fail(res, statusFor(e), 'Refresh failed', `The refresh token was refused: ${describeError(e)}`);
    }
    if (!tokens.id_token) return fail(res, 502, 'Refresh failed', 'The issuer returned no ID token.');
    send(res, 200, showTokens(req, res, tokens));
  });

  // RP-Initiated Logout: the browser goes to the issuer with the ID token as the hint (so the issuer ends
  // that session without asking), and comes back to `/` with a state this browser holds in a cookie.
  if (endSessionEndpoint) {
    app.post('/logout', (req: Request, res) => {
      const form = (req.body ?? {}) as Record<string, unknown>;
      const idToken = form.id_token;
      if (
        typeof idToken !== 'string' ||
        idToken === '' ||
        !verifyBrowserTag(cookie(req, BROWSER_COOKIE), logoutPurpose(idToken), form.csrf_token)
      ) {
        return fail(
          res,
          400,
          'Logout failed',
          'The logout form was not posted from this app in this browser (its CSRF token does not match). Log in again.',
        );
      }
      const state = oidc.randomState();
      res.cookie(LOGOUT_STATE_COOKIE, state, {
        httpOnly: true,
        sameSite: 'lax',
        secure,
        path: '/',
        maxAge: PENDING_TTL_MS,
      });
      res.redirect(
        303,
        oidc.buildEndSessionUrl(opts.config, {
          id_token_hint: idToken,
          post_logout_redirect_uri: postLogoutRedirectURI,
          state,
        }).href,
      );
    });
  }

  app.use((_req, res) => fail(res, 404, 'Not found', 'There is no such page.'));
  // A body the parser refuses (too large, too many parameters, an unknown charset or encoding) is the
  // client's fault; nothing reaches Express's default page, which shows the stack trace.
  app.use(((err, _req, res, _next) => {
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500)
      return fail(res, status, 'Bad request', 'The request could not be read.');
    process.stderr.write(`example-app: ${describeError(err)}\n`);
    return fail(res, 500, 'Error', "Something went wrong; see the example app's output.");
  }) as express.ErrorRequestHandler);

  /** The token page; with a Log out form (and this browser's cookie for its CSRF token) when there is one. */
  function showTokens(req: Request, res: Response, tokens: oidc.TokenEndpointResponse): string {
    const idToken = tokens.id_token!;
    let logout: { action: string; csrfToken: string } | undefined;
    if (endSessionEndpoint) {
      let browser = cookie(req, BROWSER_COOKIE);
      if (!isBrowserValue(browser)) {
        browser = newBrowserValue();
        res.cookie(BROWSER_COOKIE, browser, { httpOnly: true, sameSite: 'lax', secure, path: '/' });
      }
      logout = { action: '/logout', csrfToken: browserTag(browser, logoutPurpose(idToken)) };
    }
    return tokenPage({
      idToken,
      accessToken: tokens.access_token,
      ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}),
      claims: decodeClaims(idToken),
      refreshAction: callbackPath,
      ...(logout ? { logout } : {}),
    });
  }

  return app;
}

/** The Log out form's CSRF token is for logging out with this ID token, and nothing else. */
function logoutPurpose(idToken: string): string {
  return `logout:${idToken}`;
}

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function forgetOld(pending: Map<string, PendingLogin>): void {
  const now = Date.now();
  for (const [state, login] of pending) {
    // Insertion order is age order: stop at the first live one once there is room.
    if (now - login.startedAt <= PENDING_TTL_MS && pending.size < MAX_PENDING) break;
    pending.delete(state);
  }
}

/** Starts listening; resolves once the port is open. */
export function listen(app: express.Express, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(app);
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
