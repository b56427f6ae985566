import type { ServerResponse } from 'node:http';
import * as oidc from 'openid-client';
import { httpClientFactory } from '../../src/connectors/http.js';
import { encodeSubject } from '../../src/tokens/subject.js';
import { TestBrowser, type Page } from '../helpers/browser.js';
import { browserLogin } from '../helpers/flows.js';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';
import {
  loginThroughUpstream,
  serveAgain,
  startUpstreamOidc,
  upstreamEndpointPath,
  upstreamLogin,
  type UpstreamOidc,
  LATCHKEY_AT_UPSTREAM,
} from '../helpers/upstream-oidc.js';
import { waitFor } from '../helpers/wait.js';

// Whole logins through `type: oidc`: openid-client as the application, Latchkey in-process, node-oidc-provider
// as the upstream, a browser following every redirect and filling in the upstream's login and consent pages.
// What the application gets, what the upstream is asked, refreshes that go through the upstream, and each
// upstream failure contained to a page naming the connector.

const REDIRECT = 'http://127.0.0.1:5555/callback';
const JANE = {
  sub: 'jane-sub',
  name: 'Jane Doe',
  preferred_username: 'janed',
  email: 'jane@example.com',
  email_verified: true,
  groups: ['admins', 'dev'],
};

const config = (issuer: string) => `
oauth2:
  skipApprovalScreen: true
staticClients:
- id: app
  name: App
  secret: app-secret
  redirectURIs: ['${REDIRECT}']
connectors:
- type: oidc
  id: corp
  name: Corp SSO
  config:
    issuer: ${issuer}
    clientID: latchkey
    clientSecret: latchkey-secret
    scopes: [profile, email, groups]
    insecureEnableGroups: true
- type: mockPassword
  id: pw
  name: Password
  config: { username: kilgore, password: trout }
`;

const text = (page: Page) => page.$('body').text().replace(/\s+/g, ' ');

async function relyingParty(server: InProcessServer): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(server.issuer), 'app', 'app-secret', undefined, {
    execute: [oidc.allowInsecureRequests],
  });
}

describe('type: oidc, end to end through oidc-provider', () => {
  let upstream: UpstreamOidc;
  let server: InProcessServer;
  let rp: oidc.Configuration;
  const stopping = new AbortController();

  beforeAll(async () => {
    upstream = await startUpstreamOidc({ clients: [LATCHKEY_AT_UPSTREAM], accounts: [JANE] });
    server = await startInProcess(config(upstream.issuer), {
      // Short upstream deadline: the hanging-upstream test waits it out.
      connectorHttp: httpClientFactory({ signal: stopping.signal, timeoutMs: 1500 }),
    });
    rp = await relyingParty(server);
  });
  afterEach(() => {
    upstream.intercept = undefined;
  });
  afterAll(async () => {
    await server?.close();
    stopping.abort();
    await upstream?.stop();
  });

  const login = (scope: string, who = JANE.sub, browser = new TestBrowser()) =>
    loginThroughUpstream(browser, rp, upstream, {
      redirectURI: REDIRECT,
      scope,
      connector: 'corp',
      login: who,
    });

  const redeem = (l: Awaited<ReturnType<typeof login>>) =>
    oidc.authorizationCodeGrant(rp, l.callback, {
      pkceCodeVerifier: l.verifier,
      expectedNonce: l.nonce,
      expectedState: l.state,
      idTokenExpected: true,
    });

  it('logs in: the ID token carries the upstream identity; refreshes go through the upstream until the user is deleted there', async () => {
    upstream.accounts.set('erin-sub', {
      sub: 'erin-sub',
      name: 'Erin',
      preferred_username: 'erin',
      email: 'erin@example.com',
      email_verified: true,
      groups: ['ops'],
    });
    const tokens = await redeem(await login('openid profile email groups offline_access', 'erin-sub'));
    expect(tokens.claims()).toMatchObject({
      iss: server.issuer,
      aud: 'app',
      sub: encodeSubject('erin-sub', 'corp'),
      name: 'Erin',
      preferred_username: 'erin',
      email: 'erin@example.com',
      email_verified: true,
      groups: ['ops'],
    });
    expect(tokens.refresh_token).toBeDefined();

    const tokenPath = await upstreamEndpointPath(upstream, 'token_endpoint');
    let upstreamTokenCalls = 0;
    upstream.intercept = (req) => {
      if (req.method === 'POST' && req.url?.startsWith(tokenPath)) upstreamTokenCalls++;
      return false;
    };
    upstream.accounts.set('erin-sub', { ...upstream.accounts.get('erin-sub')!, groups: ['ops', 'oncall'] });
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(upstreamTokenCalls).toBe(1);
    expect(refreshed.claims()).toMatchObject({
      sub: encodeSubject('erin-sub', 'corp'),
      groups: ['ops', 'oncall'],
    });

    upstream.accounts.delete('erin-sub');
    await expect(oidc.refreshTokenGrant(rp, refreshed.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    expect(upstreamTokenCalls).toBe(2);
  });

  it('asks the upstream for offline_access only when the application asked for it, always with PKCE and a nonce', async () => {
    const online = await login('openid email profile groups');
    expect(Object.fromEntries(online.upstreamRequest.searchParams)).toMatchObject({
      client_id: 'latchkey',
      scope: 'openid profile email groups',
      code_challenge_method: 'S256',
      code_challenge: expect.any(String),
      nonce: expect.any(String),
      redirect_uri: `${server.issuer}/callback`,
    });
    expect(online.upstreamRequest.searchParams.has('prompt')).toBe(false);
    expect((await redeem(online)).refresh_token).toBeUndefined();

    const offline = await login('openid email profile groups offline_access');
    expect(offline.upstreamRequest.searchParams.get('scope')).toBe(
      'openid profile email groups offline_access',
    );
    expect(offline.upstreamRequest.searchParams.get('prompt')).toBe('consent');
    expect((await redeem(offline)).refresh_token).toBeDefined();
  });

  it('refuses an upstream callback whose state was altered, or that arrives in another browser', async () => {
    const browser = new TestBrowser();
    const callback = `${server.issuer}/callback`;
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: REDIRECT,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      connector_id: 'corp',
    });
    const page = await upstreamLogin(
      browser,
      await browser.open(url.href, { stopAt: callback }),
      JANE.sub,
      callback,
    );
    const back = new URL(page.url);
    expect(back.searchParams.get('code')).toBeTruthy();

    const altered = new URL(back);
    const state = altered.searchParams.get('state')!;
    altered.searchParams.set('state', `${state.slice(0, -2)}${state.endsWith('AA') ? 'BB' : 'AA'}`);
    const tampered = await browser.open(altered.href, { stopAt: REDIRECT });
    expect(tampered.status).toBe(400);
    expect(text(tampered)).toContain('This login link has expired or was opened in another browser.');

    const elsewhere = await new TestBrowser().open(back.href, { stopAt: REDIRECT });
    expect(elsewhere.status).toBe(400);

    // The genuine callback in the browser that started the login still completes it.
    const done = await browser.open(back.href, { stopAt: REDIRECT });
    expect(done.url.startsWith(`${REDIRECT}?code=`)).toBe(true);
  });

  describe('upstream failures end in a page naming the connector', () => {
    /** Starts a login and stops on the upstream's login page. */
    async function atUpstreamLogin(): Promise<{ browser: TestBrowser; page: Page }> {
      const browser = new TestBrowser();
      const url = oidc.buildAuthorizationUrl(rp, {
        redirect_uri: REDIRECT,
        scope: 'openid email profile',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
        connector_id: 'corp',
      });
      const page = await browser.open(url.href, { stopAt: REDIRECT });
      expect(page.url.startsWith(upstream.issuer)).toBe(true);
      return { browser, page };
    }

    it('the user cancels at the upstream (error=access_denied)', async () => {
      const { browser, page } = await atUpstreamLogin();
      const cancel = page.$('a:contains("Cancel")').attr('href')!;
      const result = await browser.open(new URL(cancel, page.url).href, { stopAt: REDIRECT });
      expect(result.url.startsWith(`${server.issuer}/callback?error=access_denied`)).toBe(true);
      expect(result.status).toBe(502);
      expect(text(result)).toContain('Login through Corp SSO failed. The sign-in was declined.');
    });

    it('the upstream token endpoint answers 500', async () => {
      const tokenPath = await upstreamEndpointPath(upstream, 'token_endpoint');
      const { browser, page } = await atUpstreamLogin();
      upstream.intercept = (req, res) => {
        if (req.method !== 'POST' || !req.url?.startsWith(tokenPath)) return false;
        res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
        return true;
      };
      const result = await upstreamLogin(browser, page, JANE.sub, REDIRECT);
      expect(result.status).toBe(502);
      expect(text(result)).toContain(
        'Login through Corp SSO failed. The identity provider answered unexpectedly; please try again later.',
      );
      expect(server.logs()).toContainEqual(
        expect.objectContaining({
          connector: 'corp',
          msg: 'connector login failed',
          err: expect.stringContaining('HTTP'),
        }),
      );
    });

    it('the upstream token endpoint hangs: the deadline answers', async () => {
      const tokenPath = await upstreamEndpointPath(upstream, 'token_endpoint');
      const { browser, page } = await atUpstreamLogin();
      const hung: ServerResponse[] = [];
      upstream.intercept = (req, res) => {
        if (req.method !== 'POST' || !req.url?.startsWith(tokenPath)) return false;
        hung.push(res); // never answered
        return true;
      };
      try {
        const result = await upstreamLogin(browser, page, JANE.sub, REDIRECT);
        expect(hung).toHaveLength(1);
        expect(result.status).toBe(502);
        expect(text(result)).toContain(
          'Login through Corp SSO failed. The identity provider cannot be reached at the moment; please try again later.',
        );
      } finally {
        for (const res of hung) res.destroy();
      }
    });
  });
});

describe('type: oidc, issuer down when Latchkey starts', () => {
  let upstream: UpstreamOidc;
  let server: InProcessServer;
  let rp: oidc.Configuration;

  beforeAll(async () => {
    upstream = await startUpstreamOidc({ clients: [LATCHKEY_AT_UPSTREAM], accounts: [JANE] });
    await upstream.stop();
    server = await startInProcess(config(upstream.issuer));
    rp = await relyingParty(server);
  });
  afterAll(async () => {
    await server?.close();
    await upstream?.stop();
  });

  it('starts, logs the failing discovery, serves other connectors, and logs in through the issuer once it is up', async () => {
    await waitFor(
      () =>
        server
          .logs()
          .some(
            (l) =>
              l.level === 'WARN' &&
              l.connector === 'corp' &&
              l.msg === `connector corp: discovery of ${upstream.issuer} failed`,
          ),
      { what: 'the failed discovery to be logged' },
    );

    // The oidc login: a page naming the connector.
    const browser = new TestBrowser();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: REDIRECT,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      connector_id: 'corp',
    });
    const page = await browser.open(url.href, { stopAt: REDIRECT });
    expect(page.status).toBe(502);
    expect(text(page)).toContain(
      'Login through Corp SSO failed. The identity provider cannot be reached at the moment; please try again later.',
    );

    // The password connector is unaffected.
    const pw = await browserLogin(rp, {
      redirectURI: REDIRECT,
      scope: 'openid email',
      connector: 'pw',
      username: 'kilgore',
      password: 'trout',
      extraParams: { connector_id: 'pw' },
    });
    const pwTokens = await oidc.authorizationCodeGrant(rp, pw.callback, {
      pkceCodeVerifier: pw.verifier,
      expectedNonce: pw.nonce,
      expectedState: pw.state,
    });
    expect(pwTokens.claims()!.email).toBe('kilgore@kilgore.trout');

    // The issuer comes up: logins through it work, without a restart.
    await serveAgain(upstream);
    const tokens = await waitFor(
      async () => {
        const l = await loginThroughUpstream(new TestBrowser(), rp, upstream, {
          redirectURI: REDIRECT,
          scope: 'openid email profile',
          connector: 'corp',
          login: JANE.sub,
        });
        return oidc.authorizationCodeGrant(rp, l.callback, {
          pkceCodeVerifier: l.verifier,
          expectedNonce: l.nonce,
          expectedState: l.state,
        });
      },
      { what: 'a login through the recovered issuer' },
    );
    expect(tokens.claims()).toMatchObject({ sub: encodeSubject(JANE.sub, 'corp'), email: JANE.email });
  });
});
