import { createServer, type Server } from 'node:http';
import express, { type Request, type Response } from 'express';
import * as oidc from 'openid-client';
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
}

/** A login started here and not finished yet, looked up by its `state`. */
interface PendingLogin {
  nonce: string;
  codeVerifier: string;
  startedAt: number;
}

const STATE_COOKIE = 'example_app_state';
const PENDING_TTL_MS = 10 * 60_000;
/** Bounds the table of unfinished logins (anyone can press Login as often as they like). */
const MAX_PENDING = 1000;

/**
 * Dex's example app, on openid-client: a start page, the redirect to the issuer (state, nonce and PKCE),
 * the callback that checks all three and shows the tokens, and a Refresh button that redeems the refresh
 * token (posted back to the callback, as Dex's app does).
 */
export function exampleApp(opts: WebAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const callbackPath = new URL(opts.redirectURI).pathname;
  const pending = new Map<string, PendingLogin>();
  const metadata = opts.config.serverMetadata();
  const csp = [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self'",
    // The Login form's 303 leads to the issuer: form-action covers redirects after a submission.
    `form-action 'self' ${new URL(metadata.authorization_endpoint ?? opts.issuer).origin}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');

  app.use((_req, res, next) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });
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

  app.get('/', (_req, res) => {
    const offered = (metadata.scopes_supported ?? []).filter((s) => s !== 'openid');
    for (const s of opts.scopes) if (s !== 'openid' && !offered.includes(s)) offered.push(s);
    send(
      res,
      200,
      startPage({
        issuer: opts.issuer,
        clientID: opts.clientID,
        scopes: offered.map((name) => ({ name, checked: opts.scopes.includes(name) })),
        crossClients: opts.crossClients,
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
    send(res, 200, showTokens(tokens, callbackPath));
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
    send(res, 200, showTokens(tokens, callbackPath));
  });

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
  return app;
}

function showTokens(tokens: oidc.TokenEndpointResponse, refreshAction: string): string {
  const idToken = tokens.id_token!;
  return tokenPage({
    idToken,
    accessToken: tokens.access_token,
    ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}),
    claims: decodeClaims(idToken),
    refreshAction,
  });
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
