import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SignJWT, type JWK, type JWTPayload } from 'jose';
import Provider, { type ClientMetadata } from 'oidc-provider';
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
