import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SignJWT, type JWK, type JWTPayload } from 'jose';
import Provider, { type ClientMetadata } from 'oidc-provider';
import * as oidc from 'openid-client';
import { freePort } from './net.js';
import type { Page, TestBrowser } from './browser.js';

// A real upstream OpenID provider for the connector tests: node-oidc-provider (npm `oidc-provider`, the
// certified implementation) on a loopback port, with its development login and consent pages, so a test
// logs in through it as a browser would. Accounts live in a map the test edits: deleting one is the upstream
// revoking that user (its refresh tokens stop working). The provider's signing key is exposed so tests can
// also sign subject tokens of their own shape (GitHub Actions' claims, expired, tampered) that the
// provider's JWKS vouches for.

export interface UpstreamAccount {
  sub: string;
  name?: string;
  preferred_username?: string;
  email?: string;
  email_verified?: boolean;
  groups?: string[];
  /** Any further claims (e.g. a custom user-ID key). */
  [claim: string]: unknown;
}

export interface UpstreamOidc {
  issuer: string;
  provider: Provider;
  /** Edit freely: a missing account is a revoked user. */
  accounts: Map<string, UpstreamAccount>;
  /** The provider's RS256 key (private JWK, `kid` set), which its JWKS publishes. */
  signingKey: JWK & { kid: string };
  /**
   * A request hook run before the provider: return true after answering `res` yourself (a 500, a hang) to
   * simulate an upstream fault; undefined = no fault.
   */
  intercept: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  /** Signs a JWT with the provider's key (or `key`/`alg`), with `iss` = this issuer unless given. */
  sign(claims: JWTPayload, opts?: { alg?: string; key?: JWK | Uint8Array; kid?: string }): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Latchkey's registration at the upstream, as the tests use it: a native client, so any loopback port of
 * Latchkey's callback (`http://127.0.0.1:<port>/dex/callback`) is accepted.
 */
export const LATCHKEY_AT_UPSTREAM: ClientMetadata = {
  client_id: 'latchkey',
  client_secret: 'latchkey-secret',
  application_type: 'native',
  redirect_uris: ['http://127.0.0.1/dex/callback'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
};

const CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'preferred_username'],
  groups: ['groups'],
};

/** Starts oidc-provider on 127.0.0.1; stop() closes it (the test's own process: nothing to kill). */
export async function startUpstreamOidc(opts: {
  clients: ClientMetadata[];
  accounts?: UpstreamAccount[];
  /** Token lifetimes in seconds (defaults: an hour; refresh tokens a day). */
  ttl?: { AccessToken?: number; IdToken?: number; RefreshToken?: number };
}): Promise<UpstreamOidc> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const signingKey = {
    ...(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as JWK),
    kid: `upstream-${randomBytes(4).toString('hex')}`,
    alg: 'RS256',
    use: 'sig',
  } as JWK & { kid: string };
  const accounts = new Map((opts.accounts ?? []).map((a) => [a.sub, a]));

  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey] },
    clients: opts.clients,
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount: (_ctx, sub) => {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: () => ({ ...account }) };
    },
    claims: CLAIMS,
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    // Scope-derived claims in the ID token too (as most providers do), not only at userinfo.
    conformIdTokenClaims: false,
    rotateRefreshToken: true,
    ttl: {
      AccessToken: opts.ttl?.AccessToken ?? 3600,
      IdToken: opts.ttl?.IdToken ?? 3600,
      RefreshToken: opts.ttl?.RefreshToken ?? 86400,
      Grant: 86400,
      Session: 86400,
      Interaction: 600,
      AuthorizationCode: 60,
    },
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
    },
  });
  // The dev interactions print a warning at start; keep the test output for failures.
  provider.on('server_error', (_ctx, err) => console.error('upstream oidc-provider server_error:', err));

  const handler = provider.callback();
  const upstream: UpstreamOidc = {
    issuer,
    provider,
    accounts,
    signingKey,
    intercept: undefined,
    sign: (claims, o = {}) =>
      new SignJWT({ iss: issuer, ...claims })
        .setProtectedHeader({
          alg: o.alg ?? 'RS256',
          ...(o.kid !== undefined || o.key === undefined ? { kid: o.kid ?? signingKey.kid } : {}),
        })
        .sign(o.key ?? signingKey),
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    if (upstream.intercept?.(req, res)) return;
    void handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  // Idle keep-alive sockets would hold stop() open.
  server.keepAliveTimeout = 1000;
  const close = upstream.stop;
  upstream.stop = async () => {
    server.closeAllConnections();
    await close();
  };
  return upstream;
}

/**
 * Completes the upstream's development login (any password) and consent pages in `browser`, from a page
 * that is one of them, until a redirect leaves for `stopAt`.
 */
export async function upstreamLogin(
  browser: TestBrowser,
  page: Page,
  login: string,
  stopAt: string,
): Promise<Page> {
  for (let step = 0; step < 4 && page.status !== 0; step++) {
    const prompt = page.$('input[name=prompt]').attr('value');
    if (prompt === 'login') {
      page = await browser.submit(page, { login, password: 'any' }, { stopAt });
    } else if (prompt === 'consent') {
      page = await browser.submit(page, {}, { stopAt });
    } else {
      break;
    }
  }
  return page;
}

/**
 * Serves a stopped upstream again on the same address, with the same provider, accounts, keys and
 * `intercept`: an issuer that was down and comes back. Replaces `upstream.stop` with one for the new server.
 */
export async function serveAgain(upstream: UpstreamOidc): Promise<void> {
  const port = Number(new URL(upstream.issuer).port);
  const handler = upstream.provider.callback();
  const server: Server = createServer((req, res) => {
    if (upstream.intercept?.(req, res)) return;
    void handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  server.keepAliveTimeout = 1000;
  upstream.stop = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

/** The path part of one of the upstream's endpoints, as its discovery document names it. */
export async function upstreamEndpointPath(
  upstream: UpstreamOidc,
  /** A discovery field naming an endpoint: token_endpoint, jwks_uri, revocation_endpoint, … */
  endpoint: string,
): Promise<string> {
  const res = await fetch(`${upstream.issuer}/.well-known/openid-configuration`);
  const doc = (await res.json()) as Record<string, string | undefined>;
  const url = doc[endpoint];
  if (url === undefined) throw new Error(`the upstream's discovery document has no ${endpoint}`);
  return new URL(url).pathname;
}

export interface UpstreamLoginResult {
  /** The client's redirect URI with Latchkey's answer (code, state, iss). */
  callback: URL;
  verifier: string;
  nonce: string;
  state: string;
  /** The authorization request Latchkey sent the browser to at the upstream. */
  upstreamRequest: URL;
}

/**
 * A whole browser login at Latchkey through a callback connector backed by `upstream`: `rp`'s authorization
 * request (PKCE, nonce, state, `connector_id`), the upstream's login and consent pages as `login`, back
 * through Latchkey's callback to `redirectURI` (the approval screen must be skipped). Throws with the page
 * it stopped on when the browser does not reach the client.
 */
export async function loginThroughUpstream(
  browser: TestBrowser,
  rp: oidc.Configuration,
  upstream: UpstreamOidc,
  opts: { redirectURI: string; scope: string; connector: string; login: string },
): Promise<UpstreamLoginResult> {
  const verifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(rp, {
    redirect_uri: opts.redirectURI,
    scope: opts.scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state,
    connector_id: opts.connector,
  });
  const start = browser.history.length;
  let page = await browser.open(url.href, { stopAt: opts.redirectURI });
  page = await upstreamLogin(browser, page, opts.login, opts.redirectURI);
  if (!page.url.startsWith(opts.redirectURI)) {
    throw new Error(
      `login did not reach the client: ${page.url} (HTTP ${page.status})\n${page.$('body').text().trim().slice(0, 500)}`,
    );
  }
  const upstreamRequest = browser.history
    .slice(start)
    .map((u) => new URL(u))
    .find((u) => u.origin === new URL(upstream.issuer).origin && u.searchParams.has('client_id'));
  if (upstreamRequest === undefined) throw new Error('the browser never went to the upstream');
  return { callback: new URL(page.url), verifier, nonce, state, upstreamRequest };
}
