import bcrypt from 'bcrypt';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { waitFor } from '../helpers/wait.js';
import {
  closeConnections,
  hostileCases,
  judge,
  sendRaw,
  type RedirectPolicy,
  type Target,
} from '../helpers/hostile-cases.js';
import * as oidc from 'openid-client';
import { TestBrowser } from '../helpers/browser.js';
import { basicAuth, browserLogin, postForm } from '../helpers/flows.js';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';

// Browser sessions (issue 15) on the real HTTP routes, with openid-client as the relying parties and a
// cookie-keeping browser: single sign-on between clients that share, prompt / max_age / id_token_hint,
// approval remembered per session, RP-initiated logout, session-bound refresh tokens, cookies that are not
// ours. Memory storage and a manual clock; the Kubernetes budgets and kubectl delete are in
// test/k8s/sessions-on-k8s.test.ts, back-channel delivery in test/server/backchannel-logout.test.ts.

const A = 'http://127.0.0.1:5555/a/callback';
const B = 'http://127.0.0.1:5555/b/callback';
const C = 'http://127.0.0.1:5555/c/callback';
const A_LOGGED_OUT = 'http://127.0.0.1:5555/a/logged-out';

let server: InProcessServer;
/** bcrypt of "password" at the cost the local connector accepts. */
let HASH = '';
const rps: Record<string, oidc.Configuration> = {};

/** The password database with jane@example.com / password (the suites' servers all log her in). */
const jane = () =>
  `enablePasswordDB: true\nstaticPasswords:\n- email: jane@example.com\n  hash: '${HASH}'\n  username: jane\n  userID: user-jane`;

/** openid-client's view of a client of `server`. */
const relyingParty = (server: InProcessServer, id: string, secret: string) =>
  oidc.discovery(new URL(server.issuer), id, secret, undefined, { execute: [oidc.allowInsecureRequests] });

beforeAll(async () => {
  const hash = await bcrypt.hash('password', 10);
  HASH = hash;
  server = await startInProcess(`
sessions:
  absoluteLifetime: 10h
  validIfNotUsedFor: 1h
enablePasswordDB: true
staticPasswords:
- email: jane@example.com
  hash: '${hash}'
  username: jane
  userID: user-jane
- email: max@example.com
  hash: '${hash}'
  username: max
  userID: user-max
oauth2:
  skipApprovalScreen: true
staticClients:
- id: app-a
  name: App A
  secret: a-secret
  redirectURIs: ['${A}']
  postLogoutRedirectURIs: ['${A_LOGGED_OUT}']
  ssoSharedWith: [app-b]
  refreshTokenLifetime: session
- id: app-b
  name: App B
  secret: b-secret
  redirectURIs: ['${B}']
- id: app-c
  name: App C
  secret: c-secret
  redirectURIs: ['${C}']
`);
  for (const [id, secret] of [
    ['app-a', 'a-secret'],
    ['app-b', 'b-secret'],
    ['app-c', 'c-secret'],
  ] as const) {
    rps[id] = await relyingParty(server, id, secret);
  }
});
afterAll(async () => {
  await server?.close();
});

const REDIRECTS: Record<string, string> = { 'app-a': A, 'app-b': B, 'app-c': C };

/** A login of `client` in `browser`; whether the connector's password form was shown on the way. */
async function login(
  client: string,
  browser: TestBrowser,
  opts: { username?: string; extraParams?: Record<string, string>; scope?: string } = {},
) {
  const before = browser.history.length;
  const result = await browserLogin(rps[client]!, {
    redirectURI: REDIRECTS[client]!,
    scope: opts.scope ?? 'openid email offline_access',
    browser,
    username: opts.username ?? 'jane@example.com',
    ...(opts.extraParams ? { extraParams: opts.extraParams } : {}),
  });
  const tokens = await oidc.authorizationCodeGrant(rps[client]!, result.callback, {
    pkceCodeVerifier: result.verifier,
    expectedNonce: result.nonce,
    expectedState: result.state,
  });
  const askedConnector = browser.history.slice(before).some((u) => new URL(u).pathname.endsWith('/login'));
  return { tokens, claims: tokens.claims()!, askedConnector };
}

/** The client's redirect for an /auth request that must not show any page (prompt=none and the like). */
async function silentAuth(client: string, browser: TestBrowser, params: Record<string, string>) {
  const url = oidc.buildAuthorizationUrl(rps[client]!, {
    redirect_uri: REDIRECTS[client]!,
    scope: 'openid',
    state: 'silent-state',
    ...params,
  });
  const page = await browser.open(url.toString(), { stopAt: REDIRECTS[client]! });
  if (page.status !== 0) throw new Error(`no redirect to the client: HTTP ${page.status} ${page.url}`);
  return new URL(page.url).searchParams;
}

describe('single sign-on', () => {
  it('lets a client the first one shares with complete without the connector, and not another', async () => {
    const browser = new TestBrowser();
    const first = await login('app-a', browser);
    expect(first.askedConnector).toBe(true);
    expect(typeof first.claims.sid).toBe('string');

    const second = await login('app-b', browser);
    expect(second.askedConnector).toBe(false);
    expect(second.claims.sub).toBe(first.claims.sub);
    expect(second.claims.sid).toBe(first.claims.sid);
    expect(second.claims.auth_time).toBe(first.claims.auth_time);

    // app-a does not list app-c, and the default is none.
    const third = await login('app-c', browser);
    expect(third.askedConnector).toBe(true);
  });

  it('is per browser: another browser logs in afresh', async () => {
    const browser = new TestBrowser();
    await login('app-a', browser);
    const other = await login('app-b', new TestBrowser());
    expect(other.askedConnector).toBe(true);
  });
});

describe('prompt, max_age and id_token_hint', () => {
  it('prompt=none succeeds with a session and says login_required without one', async () => {
    const browser = new TestBrowser();
    await login('app-a', browser);
    const ok = await silentAuth('app-a', browser, { prompt: 'none' });
    expect(ok.get('code')).toBeTruthy();
    expect(ok.get('state')).toBe('silent-state');

    const fresh = await silentAuth('app-a', new TestBrowser(), { prompt: 'none' });
    expect(fresh.get('error')).toBe('login_required');
    expect(fresh.get('code')).toBeNull();
    expect(fresh.get('state')).toBe('silent-state');
  });

  it('max_age forces a login once it has passed, and auth_time moves', async () => {
    const browser = new TestBrowser();
    const first = await login('app-a', browser);
    const within = await login('app-a', browser, { extraParams: { max_age: '1' } });
    expect(within.askedConnector).toBe(false);

    server.clock.advance(2_000);
    const after = await login('app-a', browser, { extraParams: { max_age: '1' } });
    expect(after.askedConnector).toBe(true);
    expect(after.claims.auth_time).toBeGreaterThanOrEqual((first.claims.auth_time as number) + 2);
    // The same user renewed the same session: relying parties keep their sid.
    expect(after.claims.sid).toBe(first.claims.sid);
  });

  it('prompt=login forces a login', async () => {
    const browser = new TestBrowser();
    await login('app-a', browser);
    const again = await login('app-a', browser, { extraParams: { prompt: 'login' } });
    expect(again.askedConnector).toBe(true);
  });

  it('an id_token_hint of another user is login_required; of this user, a silent login', async () => {
    const maxBrowser = new TestBrowser();
    const max = await login('app-a', maxBrowser, { username: 'max@example.com' });
    const browser = new TestBrowser();
    const jane = await login('app-a', browser);

    const mismatch = await silentAuth('app-a', browser, {
      prompt: 'none',
      id_token_hint: max.tokens.id_token!,
    });
    expect(mismatch.get('error')).toBe('login_required');
    const match = await silentAuth('app-a', browser, {
      prompt: 'none',
      id_token_hint: jane.tokens.id_token!,
    });
    expect(match.get('code')).toBeTruthy();

    // A hint that does not verify (not ours, or its key since dropped) names nobody: a login is needed.
    const garbage = await silentAuth('app-a', browser, { prompt: 'none', id_token_hint: 'not.a.token' });
    expect(garbage.get('error')).toBe('login_required');
  });
});

describe('the device flow', () => {
  it('completes from the browser’s session: no password form, tokens with the session’s sid', async () => {
    const browser = new TestBrowser();
    const first = await login('app-a', browser);
    const started = await postForm(
      `${server.issuer}/device/code`,
      { scope: 'openid email' },
      basicAuth('app-a', 'a-secret'),
    );
    expect(started.status).toBe(200);
    const before = browser.history.length;
    const entry = await browser.open(started.body.verification_uri_complete as string);
    const done = await browser.submit(entry, {});
    expect(done.status).toBe(200);
    expect(browser.history.slice(before).some((u) => new URL(u).pathname.endsWith('/login'))).toBe(false);
    // The device polls (the first poll may be too early: slow_down is fine, waiting out the interval).
    const tokens = await waitFor(
      async () => {
        const r = await postForm(
          `${server.issuer}/token`,
          {
            grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
            device_code: started.body.device_code as string,
          },
          basicAuth('app-a', 'a-secret'),
        );
        if (r.status === 200) return r.body;
        server.clock.advance(6_000);
        return undefined;
      },
      { what: 'the device token' },
    );
    const claims = decodeJwt(tokens.id_token as string);
    expect(claims.sid).toBe(first.claims.sid);
  });
});

describe('cookies that are not a live session of this issuer', () => {
  it.each([
    ['tampered', (v: string) => `${v.slice(0, -4)}AAAA`],
    ['garbage', () => 'x'.repeat(300)],
    ['empty', () => ''],
    ['huge', () => 'y'.repeat(10_000)],
  ])('ignores a %s cookie: a fresh login, never an error page', async (_what, mangle) => {
    const browser = new TestBrowser();
    await login('app-a', browser);
    browser.setCookie('latchkey_session', mangle(browser.cookie('latchkey_session')!));
    const again = await login('app-a', browser);
    expect(again.askedConnector).toBe(true);
  });

  it('ignores a cookie of another issuer sharing the storage keys', async () => {
    const other = await startInProcess(
      `sessions: {}\n${jane()}\noauth2:\n  skipApprovalScreen: true\nstaticClients:\n- id: app-a\n  name: A\n  secret: a-secret\n  redirectURIs: ['${A}']\n`,
      { issuerPath: '/other' },
    );
    try {
      const otherRP = await relyingParty(other, 'app-a', 'a-secret');
      const browser = new TestBrowser();
      await browserLogin(otherRP, { redirectURI: A, scope: 'openid', browser, username: 'jane@example.com' });
      const foreign = browser.cookie('latchkey_session');
      expect(foreign).toBeTruthy();
      const mine = new TestBrowser();
      mine.setCookie('latchkey_session', foreign);
      const again = await login('app-a', mine);
      expect(again.askedConnector).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('ends a session at its idle expiry', async () => {
    const browser = new TestBrowser();
    await login('app-a', browser);
    server.clock.advance(60 * 60_000 + 1_000);
    const again = await login('app-a', browser);
    expect(again.askedConnector).toBe(true);
  });
});

describe('logout', () => {
  it('ends the session, redirects only to the registered URI with state, and prompt=none then fails', async () => {
    const browser = new TestBrowser();
    const { tokens } = await login('app-a', browser);
    const url = new URL(`${server.issuer}/logout`);
    url.search = new URLSearchParams({
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: A_LOGGED_OUT,
      state: 'bye',
    }).toString();
    const page = await browser.open(url.toString(), { stopAt: A_LOGGED_OUT });
    expect(page.status).toBe(0);
    expect(new URL(page.url).searchParams.get('state')).toBe('bye');

    const after = await silentAuth('app-a', browser, { prompt: 'none' });
    expect(after.get('error')).toBe('login_required');
  });

  it.each([
    ['a trailing slash', `${A_LOGGED_OUT}/`],
    ['another port', A_LOGGED_OUT.replace('5555', '5556')],
    ['a query', `${A_LOGGED_OUT}?x=1`],
    ['another client’s URI', B],
  ])('answers a near-miss post_logout_redirect_uri (%s) with a page, never a redirect', async (_w, uri) => {
    const browser = new TestBrowser();
    const { tokens } = await login('app-a', browser);
    const url = new URL(`${server.issuer}/logout`);
    url.search = new URLSearchParams({
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: uri,
    }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    // The session survived the bad request.
    const still = await silentAuth('app-a', browser, { prompt: 'none' });
    expect(still.get('code')).toBeTruthy();
  });

  it('asks for confirmation without a matching hint, and a cross-site GET ends nothing', async () => {
    const browser = new TestBrowser();
    await login('app-a', browser);
    const page = await browser.open(`${server.issuer}/logout`);
    expect(page.status).toBe(200);
    expect(page.$('#confirm-logout').length).toBe(1);
    expect((await silentAuth('app-a', browser, { prompt: 'none' })).get('code')).toBeTruthy();

    // A forged confirmation (no CSRF token) ends nothing either.
    const forged = await browser.open(`${server.issuer}/logout`, {
      method: 'POST',
      form: { confirm: 'yes', csrf_token: 'forged' },
    });
    expect(forged.$('#confirm-logout').length).toBe(1);
    expect((await silentAuth('app-a', browser, { prompt: 'none' })).get('code')).toBeTruthy();

    const done = await browser.submit(page, {}, { button: { name: 'confirm', value: 'yes' } });
    expect(done.status).toBe(200);
    expect(done.html).toContain('You are logged out');
    expect((await silentAuth('app-a', browser, { prompt: 'none' })).get('error')).toBe('login_required');
  });

  it('stops session-bound refresh tokens; standalone ones still refresh', async () => {
    const browser = new TestBrowser();
    const bound = await login('app-a', browser);
    const standalone = await login('app-b', browser);
    expect(bound.tokens.refresh_token).toBeTruthy();
    expect(standalone.tokens.refresh_token).toBeTruthy();
    // Both refresh while the session lives.
    const boundRefreshed = await oidc.refreshTokenGrant(rps['app-a']!, bound.tokens.refresh_token!);

    const url = new URL(`${server.issuer}/logout`);
    url.search = new URLSearchParams({ id_token_hint: bound.tokens.id_token! }).toString();
    const page = await browser.open(url.toString());
    expect(page.html).toContain('You are logged out');

    await expect(oidc.refreshTokenGrant(rps['app-a']!, boundRefreshed.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    const still = await oidc.refreshTokenGrant(rps['app-b']!, standalone.tokens.refresh_token!);
    expect(still.access_token).toBeTruthy();
  });

  it('refuses duplicated, unknown-client and forged-hint requests with a page', async () => {
    const cases = [
      `client_id=app-a&client_id=app-b`,
      `client_id=nobody&post_logout_redirect_uri=${encodeURIComponent(A_LOGGED_OUT)}`,
      `post_logout_redirect_uri=${encodeURIComponent(A_LOGGED_OUT)}`,
      `id_token_hint=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.&post_logout_redirect_uri=${encodeURIComponent(A_LOGGED_OUT)}`,
    ];
    for (const q of cases) {
      const res = await fetch(`${server.issuer}/logout?${q}`, { redirect: 'manual' });
      expect([q, res.status, res.headers.get('location')]).toEqual([q, 400, null]);
    }
  });
});

describe('the signed-in page and discovery', () => {
  it('shows the signed-in user with a logout button, and nobody without a session', async () => {
    const browser = new TestBrowser();
    await login('app-a', browser);
    const home = await browser.open(`${server.issuer}/`);
    expect(home.status).toBe(200);
    expect(home.$('#signed-in-user').text()).toBe('jane');
    const done = await browser.submit(home, {}, { button: { name: 'confirm', value: 'yes' } });
    expect(done.html).toContain('You are logged out');
    const after = await browser.open(`${server.issuer}/`);
    expect(after.$('#signed-in-user').length).toBe(0);
    expect(after.$('#logout').length).toBe(0);
  });

  it('advertises logout and sid', async () => {
    const doc = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(doc).toMatchObject({
      end_session_endpoint: `${server.issuer}/logout`,
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
    });
    expect(doc.claims_supported).toEqual(expect.arrayContaining(['sid', 'auth_time']));
  });
});

describe('without a sessions section', () => {
  let plain: InProcessServer;
  beforeAll(async () => {
    plain = await startInProcess(`
${jane()}
oauth2:
  skipApprovalScreen: true
staticClients:
- id: app-a
  name: app-a
  secret: a-secret
  redirectURIs: ['${A}']
`);
  });
  afterAll(async () => {
    await plain?.close();
  });

  it('answers prompt=none with login_required, advertises no logout and serves none', async () => {
    const rp = await relyingParty(plain, 'app-a', 'a-secret');
    const browser = new TestBrowser();
    const first = await browserLogin(rp, {
      redirectURI: A,
      scope: 'openid',
      browser,
      username: 'jane@example.com',
    });
    expect(first.callback.searchParams.get('code')).toBeTruthy();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: A,
      scope: 'openid',
      prompt: 'none',
      state: 's',
    });
    const page = await browser.open(url.toString(), { stopAt: A });
    expect(new URL(page.url).searchParams.get('error')).toBe('login_required');
    expect(browser.cookie('latchkey_session')).toBeUndefined();

    const doc = (await (await fetch(`${plain.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(doc.end_session_endpoint).toBeUndefined();
    expect(doc.claims_supported).not.toContain('sid');
    expect((await fetch(`${plain.issuer}/logout`)).status).toBe(404);
  });
});

describe('approval within a session', () => {
  let asking: InProcessServer;
  let rpA: oidc.Configuration;
  let rpB: oidc.Configuration;
  beforeAll(async () => {
    asking = await startInProcess(`
sessions:
  ssoSharedWithDefault: all
${jane()}
staticClients:
- id: app-a
  name: app-a
  secret: a-secret
  redirectURIs: ['${A}']
- id: app-b
  name: app-b
  secret: b-secret
  redirectURIs: ['${B}']
`);
    const rp = (id: string, secret: string) => relyingParty(asking, id, secret);
    rpA = await rp('app-a', 'a-secret');
    rpB = await rp('app-b', 'b-secret');
  });
  afterAll(async () => {
    await asking?.close();
  });

  const authURL = (
    rp: oidc.Configuration,
    redirect: string,
    scope: string,
    extra: Record<string, string> = {},
  ) => oidc.buildAuthorizationUrl(rp, { redirect_uri: redirect, scope, state: 'st', ...extra }).toString();

  it('asks once per client and scopes, again for more scopes or prompt=consent; answers once', async () => {
    const browser = new TestBrowser();
    let page = await browser.open(authURL(rpA, A, 'openid email'), { stopAt: A });
    page = await browser.submit(page, { login: 'jane@example.com', password: 'password' }, { stopAt: A });
    expect(page.$('button[name=approval]').length).toBe(2);
    const approvalPage = page;
    const approved = await browser.submit(
      approvalPage,
      {},
      { button: { name: 'approval', value: 'approve' }, stopAt: A },
    );
    expect(new URL(approved.url).searchParams.get('code')).toBeTruthy();
    // The same form again (a double click, a replay): the first answer stands.
    const replay = await browser.submit(
      approvalPage,
      {},
      { button: { name: 'approval', value: 'approve' }, stopAt: A },
    );
    expect(replay.status).toBe(409);

    // Remembered: no page this time.
    const remembered = await browser.open(authURL(rpA, A, 'openid'), { stopAt: A });
    expect(new URL(remembered.url).searchParams.get('code')).toBeTruthy();
    // More scopes, or prompt=consent: asked again.
    const more = await browser.open(authURL(rpA, A, 'openid email groups'), { stopAt: A });
    expect(more.$('button[name=approval]').length).toBe(2);
    const forced = await browser.open(authURL(rpA, A, 'openid', { prompt: 'consent' }), { stopAt: A });
    expect(forced.$('button[name=approval]').length).toBe(2);

    // SSO to app-b (shared by default here) needs app-b's own approval: prompt=none says consent_required.
    const silent = await browser.open(authURL(rpB, B, 'openid', { prompt: 'none' }), { stopAt: B });
    expect(new URL(silent.url).searchParams.get('error')).toBe('consent_required');
    const declined = await browser.submit(
      await browser.open(authURL(rpB, B, 'openid'), { stopAt: B }),
      {},
      { button: { name: 'approval', value: 'rejected' }, stopAt: B },
    );
    expect(new URL(declined.url).searchParams.get('error')).toBe('access_denied');
  });

  it('costs at most 5 storage writes for a first login with approval and a refresh token (the budget)', async () => {
    const storage = asking.running.storage as unknown as Record<string, (...args: unknown[]) => unknown>;
    const writes: string[] = [];
    const names = Object.getOwnPropertyNames(Object.getPrototypeOf(storage)).concat(Object.keys(storage));
    const patched: [string, (...args: unknown[]) => unknown][] = [];
    for (const name of new Set(names)) {
      const original = storage[name];
      if (typeof original !== 'function' || !/^(create|update|delete|consume)/.test(name)) continue;
      patched.push([name, original]);
      storage[name] = (...args: unknown[]) => {
        writes.push(name);
        return original.apply(storage, args);
      };
    }
    try {
      const browser = new TestBrowser();
      const result = await browserLogin(rpA, {
        redirectURI: A,
        scope: 'openid email offline_access',
        browser,
        username: 'jane@example.com',
      });
      const tokens = await oidc.authorizationCodeGrant(rpA, result.callback, {
        pkceCodeVerifier: result.verifier,
        expectedNonce: result.nonce,
        expectedState: result.state,
      });
      expect(tokens.refresh_token).toBeTruthy();
      expect(writes).toEqual([
        'createSession',
        'updateSession',
        'createAuthCode',
        'consumeAuthCode',
        'createRefreshToken',
      ]);
    } finally {
      for (const [name, original] of patched) storage[name] = original;
    }
  });

  it('refuses an approval form from another browser', async () => {
    const browser = new TestBrowser();
    let page = await browser.open(authURL(rpA, A, 'openid'), { stopAt: A });
    page = await browser.submit(page, { login: 'jane@example.com', password: 'password' }, { stopAt: A });
    const thief = new TestBrowser();
    const stolen = await thief.submit(
      page,
      {},
      { button: { name: 'approval', value: 'approve' }, stopAt: A },
    );
    expect(stolen.status).toBe(403);
  });
});

describe('back-channel logout', () => {
  it('POSTs a logout token that jose verifies to each client of the session with a back-channel URI', async () => {
    const received: string[] = [];
    const rpServer = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (
          req.method === 'POST' &&
          req.headers['content-type']?.startsWith('application/x-www-form-urlencoded')
        ) {
          received.push(new URLSearchParams(body).get('logout_token') ?? '');
        }
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => rpServer.listen(0, '127.0.0.1', resolve));
    const port = (rpServer.address() as AddressInfo).port;
    const notified = await startInProcess(`
sessions: {}
${jane()}
oauth2:
  skipApprovalScreen: true
staticClients:
- id: app-a
  name: app-a
  secret: a-secret
  redirectURIs: ['${A}']
  backchannelLogoutURI: http://127.0.0.1:${port}/backchannel
- id: app-b
  name: app-b
  secret: b-secret
  redirectURIs: ['${B}']
`);
    try {
      const rp = await relyingParty(notified, 'app-a', 'a-secret');
      const browser = new TestBrowser();
      const result = await browserLogin(rp, {
        redirectURI: A,
        scope: 'openid',
        browser,
        username: 'jane@example.com',
      });
      const tokens = await oidc.authorizationCodeGrant(rp, result.callback, {
        pkceCodeVerifier: result.verifier,
        expectedNonce: result.nonce,
        expectedState: result.state,
      });
      const sid = tokens.claims()!.sid;
      expect(typeof sid).toBe('string');

      const url = new URL(`${notified.issuer}/logout`);
      url.search = new URLSearchParams({ id_token_hint: tokens.id_token! }).toString();
      const page = await browser.open(url.toString());
      expect(page.html).toContain('You are logged out');

      const token = await waitFor(async () => received[0], { what: 'the logout token at the relying party' });
      const jwks = createRemoteJWKSet(new URL(`${notified.issuer}/keys`));
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: notified.issuer,
        audience: 'app-a',
        typ: 'logout+jwt',
        currentDate: notified.clock.now(),
      });
      expect(protectedHeader.typ).toBe('logout+jwt');
      expect(payload.sid).toBe(sid);
      expect(payload.sub).toBe(tokens.claims()!.sub);
      expect(payload.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
      expect(payload).not.toHaveProperty('nonce');
      expect(received).toHaveLength(1);
    } finally {
      await notified.close();
      await new Promise((resolve) => rpServer.close(resolve));
    }
  });
});

describe('hostile input at /logout and /', () => {
  it('answers every case without a 5xx, a leak, an unverified redirect or a spoilt request accepted', async () => {
    const browser = new TestBrowser();
    const { tokens } = await login('app-a', browser);
    const cookie = {
      cookie: ['latchkey_browser', 'latchkey_session']
        .map((name) => `${name}=${browser.cookie(name)!}`)
        .join('; '),
    };
    const logoutParams = {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: A_LOGGED_OUT,
      state: 'bye',
      client_id: 'app-a',
    };
    const targets: Target[] = [
      ...(['GET', 'POST'] as const).map((method): Target => ({
        name: `${method} /logout`,
        method,
        url: `${server.issuer}/logout`,
        where: method === 'GET' ? 'query' : 'body',
        params: logoutParams,
        headers: cookie,
        auth: 'cookie',
        optionalParams: true,
      })),
      {
        name: 'GET /',
        method: 'GET',
        url: `${server.issuer}/`,
        where: 'query',
        params: { a: '1' },
        headers: cookie,
        auth: 'cookie',
        ignoresParams: true,
      },
    ];
    const redirects: RedirectPolicy = { ownPages: [`${server.issuer}/`], registered: [A_LOGGED_OUT] };
    const problems: string[] = [];
    const cases = hostileCases(targets);
    for (const c of cases) {
      const res = await sendRaw(c.request);
      for (const p of judge(c, res, redirects).problems)
        problems.push(`${c.target.name} × ${c.mutation.name}: ${p}`);
    }
    closeConnections();
    expect(cases.length).toBeGreaterThan(50);
    expect(problems).toEqual([]);
  });
});
