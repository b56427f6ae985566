import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientMetadata } from 'oidc-provider';
import { ConnectorConfigError } from '../../../src/connectors/config-keys.js';
import { ConnectorError, RefreshDeniedError } from '../../../src/connectors/connector.js';
import { httpClientFactory } from '../../../src/connectors/http.js';
import { goNumber, type OAuthConnector } from '../../../src/connectors/oauth/oauth.js';
import { openConnector } from '../../../src/connectors/registry.js';
import { decodeUpstreamTokens } from '../../../src/connectors/upstream/connector-data.js';
import { MemoryStorage } from '../../../src/storage/memory/memory.js';
import { ManualClock } from '../../../src/util/clock.js';
import { TestBrowser } from '../../helpers/browser.js';
import {
  startUpstreamOidc,
  upstreamEndpointPath,
  upstreamLogin,
  type UpstreamOidc,
} from '../../helpers/upstream-oidc.js';
import { offline, RecordingLogger, scopes } from '../helpers.js';

// `type: oauth` against oidc-provider used as a plain OAuth 2.0 server: its authorization, token and
// userinfo endpoints, nothing of its discovery or ID tokens. Config errors, Dex's claim keys and defaults,
// PKCE, the client-authentication fallback, and refresh (userinfo again, or the refresh token on a 401).

const CALLBACK = 'http://127.0.0.1:5557/dex/callback';
const client = (id: string, auth: 'client_secret_basic'): ClientMetadata => ({
  client_id: id,
  client_secret: `${id}-secret`,
  application_type: 'native',
  redirect_uris: ['http://127.0.0.1/dex/callback'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: auth,
});
const JANE = {
  sub: 'jane-sub',
  name: 'Jane Doe',
  preferred_username: 'janed',
  email: 'jane@example.com',
  email_verified: true,
  // A group as an object with a name, as some servers (Keycloak) send them.
  groups: ['admins', { name: 'dev' }] as unknown as string[],
};

const open = (config: Record<string, unknown>, signal = new AbortController().signal) => {
  const logger = new RecordingLogger();
  const connector = openConnector(
    { id: 'oa', type: 'oauth', name: 'OAuth', config },
    {
      storage: new MemoryStorage(),
      logger,
      signal,
      clock: new ManualClock(new Date()),
      http: httpClientFactory({ signal }),
    },
  ) as OAuthConnector;
  return { connector, logger };
};

describe('type: oauth configuration', () => {
  const urls = {
    authorizationURL: 'https://idp.example.com/authorize',
    tokenURL: 'https://idp.example.com/token',
    userInfoURL: 'https://idp.example.com/user',
  };
  const problem = (config: Record<string, unknown>) => {
    try {
      open(config);
    } catch (e) {
      expect(e).toBeInstanceOf(ConnectorConfigError);
      return (e as Error).message;
    }
    throw new Error('expected a config error');
  };

  it.each([
    [{ ...urls }, 'connectors[oa].config.clientID: required'],
    [{ ...urls, clientID: 'c', tokenURL: undefined }, 'connectors[oa].config.tokenURL: required'],
    [
      { ...urls, clientID: 'c', userInfoURL: 'user' },
      'connectors[oa].config.userInfoURL: "user" is not an absolute URL',
    ],
    [
      { ...urls, clientID: 'c', scopes: { a: 1 } },
      'connectors[oa].config.scopes: expected a string or a list of strings, got a mapping',
    ],
    [
      { ...urls, clientID: 'c', insecureSkipVerify: 'no' },
      'connectors[oa].config.insecureSkipVerify: expected true or false, got string',
    ],
    [
      { ...urls, clientID: 'c', emailKey: 'mail', claimMapping: { emailKey: 'upn' } },
      'connectors[oa].config.emailKey: conflicts with connectors[oa].config.claimMapping.emailKey ("upn"); set one of them',
    ],
  ])('refuses %j', (config, expected) => {
    expect(problem(config)).toBe(expected);
  });

  it('names an unreadable rootCAs file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-oauth-'));
    try {
      expect(problem({ ...urls, clientID: 'c', rootCAs: [join(dir, 'nope.pem')] })).toMatch(
        /^connectors\[oa\]\.config\.rootCAs\[0\]: cannot read /,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('warns about unread claimMapping keys and insecureSkipVerify', () => {
    const { logger } = open({
      ...urls,
      clientID: 'c',
      insecureSkipVerify: true,
      claimMapping: { userIdKey: 'x' },
    });
    expect(logger.at('warn').map((r) => r.msg)).toEqual([
      'connectors[oa].config.claimMapping.userIdKey: unknown key, ignored',
      "connectors[oa].config.insecureSkipVerify: the server's TLS certificate is not checked (never do this in production)",
    ]);
  });

  it("prints numeric user IDs as Dex does (Go's %v of a float64)", () => {
    expect([0, 42, 999999, 1000000, 1234567, 12345678901, 1.5, -2500000, 0.00001].map(goNumber)).toEqual([
      '0',
      '42',
      '999999',
      '1e+06',
      '1.234567e+06',
      '1.2345678901e+10',
      '1.5',
      '-2.5e+06',
      '1e-05',
    ]);
  });
});

describe('type: oauth against oidc-provider as a plain OAuth 2.0 server', () => {
  let upstream: UpstreamOidc;
  let endpoints: { authorizationURL: string; tokenURL: string; userInfoURL: string };
  const stops: AbortController[] = [];
  const openLive = (config: Record<string, unknown>) => {
    const stop = new AbortController();
    stops.push(stop);
    return open({ ...endpoints, ...config }, stop.signal);
  };
  const mapped = {
    clientID: 'latchkey',
    clientSecret: 'latchkey-secret',
    scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
    userIDKey: 'sub',
    claimMapping: { userNameKey: 'preferred_username', preferredUsernameKey: 'name' },
  };

  beforeAll(async () => {
    upstream = await startUpstreamOidc({
      clients: [client('latchkey', 'client_secret_basic')],
      accounts: [JANE],
    });
    const at = async (e: Parameters<typeof upstreamEndpointPath>[1]) =>
      `${upstream.issuer}${await upstreamEndpointPath(upstream, e)}`;
    endpoints = {
      authorizationURL: await at('authorization_endpoint'),
      tokenURL: await at('token_endpoint'),
      userInfoURL: await at('userinfo_endpoint'),
    };
  });
  afterEach(() => {
    upstream.intercept = undefined;
    for (const s of stops.splice(0)) s.abort();
  });
  afterAll(() => upstream?.stop());

  async function login(connector: OAuthConnector, s = scopes, who = JANE.sub) {
    const begun = await connector.beginLogin(s, CALLBACK);
    const url = new URL(begun.url('st'));
    const browser = new TestBrowser();
    const page = await upstreamLogin(
      browser,
      await browser.open(url.href, { stopAt: CALLBACK }),
      who,
      CALLBACK,
    );
    expect(page.url.startsWith(CALLBACK)).toBe(true);
    const params = new URL(page.url).searchParams;
    return { url, identity: await connector.handleCallback(s, CALLBACK, params, begun.connectorState) };
  }

  it('logs in with S256 PKCE, mapping the userinfo fields named by the claim keys', async () => {
    const { connector } = openLive(mapped);
    const { url, identity } = await login(connector);
    expect(`${url.origin}${url.pathname}`).toBe(endpoints.authorizationURL);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: 'latchkey',
      response_type: 'code',
      redirect_uri: CALLBACK,
      scope: 'openid profile email groups',
      code_challenge: expect.any(String),
      code_challenge_method: 'S256',
      state: 'st',
    });
    expect(identity).toEqual({
      userID: 'jane-sub',
      username: 'janed',
      preferredUsername: 'Jane Doe',
      email: 'jane@example.com',
      emailVerified: true,
      groups: ['admins', 'dev'],
    });
    // Groups only when the downstream asked for them.
    expect((await login(connector, { offlineAccess: false, groups: false })).identity.groups).toEqual([]);
  });

  it("uses Dex's default keys: no `id` field in the user info fails the login", async () => {
    const { connector } = openLive({
      clientID: 'latchkey',
      clientSecret: 'latchkey-secret',
      scopes: ['openid'],
    });
    await expect(login(connector)).rejects.toMatchObject({
      name: 'ConnectorError',
      message: 'userInfoURL answered without a string or number "id"',
    });
  });

  it('falls back to client_secret_post when the server refuses Basic authentication, and remembers it', async () => {
    // oidc-provider takes either; this one is made to refuse Basic, as some servers do.
    const tokenPath = new URL(endpoints.tokenURL).pathname;
    const auths: string[] = [];
    upstream.intercept = (req, res) => {
      if (req.method !== 'POST' || req.url !== tokenPath) return false;
      if (req.headers.authorization === undefined) {
        auths.push('body');
        return false;
      }
      auths.push('basic');
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_client', error_description: 'use client_secret_post' }));
      return true;
    };
    const { connector } = openLive(mapped);
    expect((await login(connector)).identity.userID).toBe('jane-sub');
    expect((await login(connector)).identity.userID).toBe('jane-sub');
    expect(auths).toEqual(['basic', 'body', 'body']);
  });

  it('asks for offline_access (with prompt=consent) only for offline logins, when configured', async () => {
    const { connector } = openLive(mapped);
    const online = new URL((await connector.beginLogin(scopes, CALLBACK)).url('s'));
    expect(online.searchParams.get('scope')).toBe('openid profile email groups');
    expect(online.searchParams.has('prompt')).toBe(false);
    const off = new URL((await connector.beginLogin(offline, CALLBACK)).url('s'));
    expect(off.searchParams.get('scope')).toBe('openid profile email groups offline_access');
    expect(off.searchParams.get('prompt')).toBe('consent');
  });

  it('fails the login with a page message when the token endpoint is down', async () => {
    const { connector } = openLive(mapped);
    const tokenPath = new URL(endpoints.tokenURL).pathname;
    const begun = await connector.beginLogin(scopes, CALLBACK);
    const browser = new TestBrowser();
    const page = await upstreamLogin(
      browser,
      await browser.open(begun.url('s'), { stopAt: CALLBACK }),
      JANE.sub,
      CALLBACK,
    );
    upstream.intercept = (req, res) => {
      if (req.method !== 'POST' || req.url !== tokenPath) return false;
      res.writeHead(502).end('bad gateway');
      return true;
    };
    const failed = connector.handleCallback(
      scopes,
      CALLBACK,
      new URL(page.url).searchParams,
      begun.connectorState,
    );
    await expect(failed).rejects.toBeInstanceOf(ConnectorError);
    await expect(failed).rejects.toMatchObject({
      userMessage: 'The identity provider answered unexpectedly; please try again later.',
    });
  });

  it('refreshes by reading the user again, then with the refresh token once the access token is refused, until the user is gone', async () => {
    upstream.accounts.set('frank-sub', {
      sub: 'frank-sub',
      preferred_username: 'frank',
      name: 'Frank',
      groups: ['a'],
    });
    const { connector } = openLive(mapped);
    const tokenPath = new URL(endpoints.tokenURL).pathname;
    let tokenCalls = 0;
    upstream.intercept = (req) => {
      if (req.method === 'POST' && req.url === tokenPath) tokenCalls++;
      return false;
    };
    const { identity } = await login(connector, offline, 'frank-sub');
    const stored = decodeUpstreamTokens(identity.connectorData)!;
    expect(stored).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
    expect(tokenCalls).toBe(1);

    // The access token still works: the user is read again, nothing refreshed.
    upstream.accounts.set('frank-sub', { ...upstream.accounts.get('frank-sub')!, groups: ['a', 'b'] });
    const again = await connector.refresh(offline, identity);
    expect(again.groups).toEqual(['a', 'b']);
    expect(tokenCalls).toBe(1);

    // Once the server stops accepting it (its expiry, played here by the userinfo endpoint refusing that
    // token: oidc-provider's own expiry adds a 15 s clock tolerance, and revoking it would end the whole
    // grant), the refresh token gets a new one, and both are written back.
    const userInfoPath = new URL(endpoints.userInfoURL).pathname;
    upstream.intercept = (req, res) => {
      if (req.method === 'POST' && req.url === tokenPath) tokenCalls++;
      if (req.url !== userInfoPath || req.headers.authorization !== `Bearer ${stored.accessToken}`)
        return false;
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token", error_description="expired"' });
      res.end();
      return true;
    };
    const refreshed = await connector.refresh(offline, again);
    expect(refreshed).toMatchObject({ userID: 'frank-sub', username: 'frank', groups: ['a', 'b'] });
    expect(tokenCalls).toBe(2);
    const rotated = decodeUpstreamTokens(refreshed.connectorData)!;
    expect(rotated.accessToken).not.toBe(stored.accessToken);
    expect(rotated.refreshToken).not.toBe(stored.refreshToken);

    // Deleted upstream: userinfo refuses, and so does the refresh token.
    upstream.accounts.delete('frank-sub');
    await expect(connector.refresh(offline, refreshed)).rejects.toMatchObject({
      name: 'RefreshDeniedError',
      message: expect.stringContaining('invalid_grant'),
    });
  });

  it('denies a refresh of a login that kept nothing, or whose user changed', async () => {
    const { connector } = openLive(mapped);
    const { identity } = await login(connector);
    await expect(connector.refresh(offline, identity)).rejects.toBeInstanceOf(RefreshDeniedError);
    const { identity: kept } = await login(connector, offline);
    await expect(connector.refresh(offline, { ...kept, userID: 'someone-else' })).rejects.toBeInstanceOf(
      RefreshDeniedError,
    );
  });
});
