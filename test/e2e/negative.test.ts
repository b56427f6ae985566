import * as oidc from 'openid-client';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { startServer, type ServerProcess } from '../helpers/cli.js';
import { exampleConfig, type TestServerConfig } from '../helpers/config.js';
import { TestBrowser } from '../helpers/browser.js';
import { basicAuth, browserLogin, postForm } from '../helpers/flows.js';
import { waitFor } from '../helpers/wait.js';
import * as cheerio from 'cheerio';

const cheerioText = (html: string, selector: string) => cheerio.load(html)(selector).text().trim();

// Every way a client or a browser can get the protocol wrong, each with the exact answer, against a server
// started from examples/config-dev.yaml (short code and reuse lifetimes so expiry can be waited out).
const REDIRECT_URI = 'http://127.0.0.1:5555/callback';
const SECRET = 'ZXhhbXBsZS1hcHAtc2VjcmV0';
const AUTH_CODE_SECONDS = 3;
const REUSE_SECONDS = 1;

describe('protocol errors', () => {
  let cfg: TestServerConfig;
  let server: ServerProcess;
  let rp: oidc.Configuration;

  beforeAll(async () => {
    cfg = await exampleConfig('examples/config-dev.yaml', (doc) => {
      doc.expiry = {
        authCodes: `${AUTH_CODE_SECONDS}s`,
        refreshTokens: { reuseInterval: `${REUSE_SECONDS}s` },
      };
      (doc.staticClients as object[]).push({
        id: 'evil-app',
        secret: 'evil-secret',
        name: '<script>alert(1)</script>',
        redirectURIs: ['http://127.0.0.1:5555/evil'],
      });
    });
    server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
    const opts = { execute: [oidc.allowInsecureRequests] };
    rp = await oidc.discovery(new URL(cfg.issuer), 'example-app', SECRET, undefined, opts);
  });
  afterAll(async () => {
    await server?.stop();
  });

  const authURL = (params: Record<string, string>) => `${cfg.issuer}/auth?${new URLSearchParams(params)}`;
  const good = {
    client_id: 'example-app',
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: 'openid',
    state: 'st',
  };

  async function rawGet(url: string) {
    const res = await fetch(url, { redirect: 'manual' });
    return { status: res.status, location: res.headers.get('location'), html: await res.text() };
  }

  describe('/auth before the redirect URI is trusted: an HTML page, never a redirect', () => {
    it('refuses an unknown client', async () => {
      const r = await rawGet(authURL({ ...good, client_id: 'nobody' }));
      expect(r.status).toBe(400);
      expect(r.location).toBeNull();
      expect(cheerioText(r.html, '.dex-error-box')).toBe('Unknown client "nobody".');
    });

    it.each([
      ['trailing slash', `${REDIRECT_URI}/`],
      ['case', 'http://127.0.0.1:5555/Callback'],
      ['extra query', `${REDIRECT_URI}?next=/admin`],
      ['path traversal', 'http://127.0.0.1:5555/callback/../evil'],
      ['userinfo@host', 'http://127.0.0.1:5555@evil.example/callback'],
      ['another registered client’s URI', 'http://127.0.0.1:5555/evil'],
    ])('refuses a near-miss redirect URI (%s)', async (_name, uri) => {
      const r = await rawGet(authURL({ ...good, redirect_uri: uri }));
      expect(r.status).toBe(400);
      expect(r.location).toBeNull();
      expect(r.html).toContain('Unregistered redirect_uri');
    });

    it('refuses a duplicated client_id', async () => {
      const r = await rawGet(`${authURL(good)}&client_id=evil-app`);
      expect(r.status).toBe(400);
      expect(r.location).toBeNull();
    });
  });

  describe('/auth after the redirect URI is trusted: errors go back to the client', () => {
    const errorOf = (location: string | null) => {
      const u = new URL(location!);
      expect(`${u.origin}${u.pathname}`).toBe(REDIRECT_URI);
      return Object.fromEntries(u.searchParams);
    };

    it('requires the openid scope', async () => {
      const r = await rawGet(authURL({ ...good, scope: 'email' }));
      expect(r.status).toBe(302);
      expect(errorOf(r.location)).toEqual({
        error: 'invalid_scope',
        error_description: 'Missing required scope(s) ["openid"].',
        state: 'st',
        iss: cfg.issuer,
      });
    });

    it('refuses a duplicated parameter', async () => {
      const r = await rawGet(`${authURL(good)}&scope=openid`);
      expect(errorOf(r.location)).toMatchObject({
        error: 'invalid_request',
        error_description: 'Duplicate parameter "scope".',
      });
    });

    it('refuses implicit and hybrid response types', async () => {
      const r = await rawGet(authURL({ ...good, response_type: 'id_token token' }));
      expect(errorOf(r.location)).toMatchObject({ error: 'unsupported_response_type' });
    });
  });

  describe('/token', () => {
    async function codeFor(scope = 'openid offline_access', client = rp, redirectURI = REDIRECT_URI) {
      return browserLogin(client, { redirectURI, scope });
    }
    const redeem = (
      code: string,
      extra: Record<string, string> = {},
      auth = basicAuth('example-app', SECRET),
    ) =>
      postForm(
        `${cfg.issuer}/token`,
        { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, ...extra },
        auth,
      );

    it('answers GET with invalid_request', async () => {
      const res = await fetch(`${cfg.issuer}/token`);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: 'invalid_request',
        error_description: 'The token endpoint accepts only POST.',
      });
    });

    it('refuses a wrong client secret with 401 invalid_client and WWW-Authenticate', async () => {
      const r = await postForm(
        `${cfg.issuer}/token`,
        { grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT_URI },
        basicAuth('example-app', 'wrong'),
      );
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: 'invalid_client', error_description: 'Invalid client credentials.' });
      expect(r.headers.get('www-authenticate')).toBe('Basic realm="latchkey"');
      expect(r.headers.get('cache-control')).toBe('no-store');
    });

    it('refuses duplicated parameters', async () => {
      const r = await postForm(
        `${cfg.issuer}/token`,
        'grant_type=authorization_code&code=a&code=b',
        basicAuth('example-app', SECRET),
      );
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ error: 'invalid_request', error_description: 'Duplicate parameter "code".' });
    });

    it('refuses a bad PKCE verifier, and the code is spent', async () => {
      const { callback } = await codeFor();
      const code = callback.searchParams.get('code')!;
      const r = await redeem(code, { code_verifier: 'x'.repeat(43) });
      expect(r).toMatchObject({
        status: 400,
        body: { error: 'invalid_grant', error_description: 'Invalid code_verifier.' },
      });
    });

    it('refuses a PKCE downgrade (challenge sent, no verifier)', async () => {
      const { callback } = await codeFor();
      const r = await redeem(callback.searchParams.get('code')!);
      expect(r).toMatchObject({
        status: 400,
        body: {
          error: 'invalid_grant',
          error_description: 'Expecting parameter code_verifier in PKCE flow.',
        },
      });
    });

    it('refuses a replayed code and revokes the refresh token of its first redemption', async () => {
      const { callback, verifier } = await codeFor();
      const code = callback.searchParams.get('code')!;
      const first = await redeem(code, { code_verifier: verifier });
      expect(first.status).toBe(200);
      const refreshToken = first.body.refresh_token as string;
      const second = await redeem(code, { code_verifier: verifier });
      expect(second).toMatchObject({
        status: 400,
        body: { error: 'invalid_grant', error_description: 'Invalid or expired code parameter.' },
      });
      const refresh = await postForm(
        `${cfg.issuer}/token`,
        { grant_type: 'refresh_token', refresh_token: refreshToken },
        basicAuth('example-app', SECRET),
      );
      expect(refresh).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    });

    it('refuses a code redeemed by another client', async () => {
      const { callback, verifier } = await codeFor();
      const r = await redeem(
        callback.searchParams.get('code')!,
        { code_verifier: verifier },
        basicAuth('evil-app', 'evil-secret'),
      );
      expect(r).toMatchObject({
        status: 400,
        body: { error: 'invalid_grant', error_description: 'The code was issued to another client.' },
      });
    });

    it('refuses a redirect_uri that differs from the one at /auth', async () => {
      const { callback, verifier } = await codeFor();
      const r = await redeem(callback.searchParams.get('code')!, {
        code_verifier: verifier,
        redirect_uri: `${REDIRECT_URI}/`,
      });
      expect(r).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    });

    it('refuses an expired code', async () => {
      const { callback, verifier } = await codeFor();
      const issued = Date.now();
      // Waiting out the configured code lifetime (a few seconds) is the point of this test.
      await waitFor(() => Date.now() - issued > AUTH_CODE_SECONDS * 1000 + 200, {
        timeoutMs: 10_000,
        what: 'code expiry',
      });
      const r = await redeem(callback.searchParams.get('code')!, { code_verifier: verifier });
      expect(r).toMatchObject({
        status: 400,
        body: { error: 'invalid_grant', error_description: 'Invalid or expired code parameter.' },
      });
    });

    it('revokes the login when an old refresh token is replayed outside the reuse window', async () => {
      const { callback, verifier } = await codeFor();
      const tokens = (await redeem(callback.searchParams.get('code')!, { code_verifier: verifier })).body;
      const refresh = (rt: string) =>
        postForm(
          `${cfg.issuer}/token`,
          { grant_type: 'refresh_token', refresh_token: rt },
          basicAuth('example-app', SECRET),
        );
      const r1 = await refresh(tokens.refresh_token as string);
      expect(r1.status).toBe(200);
      // Inside the reuse window the old token gets the same successor (racing kubectl processes).
      const again = await refresh(tokens.refresh_token as string);
      expect(again.body.refresh_token).toBe(r1.body.refresh_token);
      const rotated = Date.now();
      await waitFor(() => Date.now() - rotated > REUSE_SECONDS * 1000 + 200, {
        timeoutMs: 10_000,
        what: 'reuse window',
      });
      const replay = await refresh(tokens.refresh_token as string);
      expect(replay).toMatchObject({
        status: 400,
        body: {
          error: 'invalid_grant',
          error_description: 'Refresh token was already used; the login has been revoked.',
        },
      });
      // The whole family is gone: the legitimate successor no longer works either.
      expect(await refresh(r1.body.refresh_token as string)).toMatchObject({
        status: 400,
        body: { error: 'invalid_grant' },
      });
    });
  });

  describe('garbage', () => {
    const token = (body: string, headers: Record<string, string> = {}) =>
      postForm(`${cfg.issuer}/token`, body, { ...basicAuth('example-app', SECRET), ...headers });

    it('answers oversized, over-long and wrongly typed token requests with JSON errors', async () => {
      const many = `grant_type=password&${Array.from({ length: 200 }, (_, i) => `p${i}=x`).join('&')}`;
      expect(await token(many)).toMatchObject({ status: 413, body: { error: 'invalid_request' } });
      expect(await token(`x=${'a'.repeat(70_000)}`)).toMatchObject({
        status: 413,
        body: { error: 'invalid_request' },
      });
      expect(await token('')).toMatchObject({
        status: 400,
        body: { error: 'invalid_request', error_description: 'Missing grant_type.' },
      });
      const json = await fetch(`${cfg.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...basicAuth('example-app', SECRET) },
        body: '{"grant_type":"password"}',
      });
      expect(json.status).toBe(400);
      expect(await json.json()).toMatchObject({ error: 'invalid_request' });
      const basic = await postForm(`${cfg.issuer}/token`, 'grant_type=x', { authorization: 'Basic !!!' });
      expect(basic).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    });

    it('answers garbage at /auth with an error page and no redirect', async () => {
      const bad = await rawGet(`${cfg.issuer}/auth?client_id=%ZZ`);
      expect(bad.status).toBe(400);
      expect(bad.location).toBeNull();
      const big = await fetch(`${cfg.issuer}/auth`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `client_id=${'a'.repeat(70_000)}`,
      });
      expect(big.status).toBe(413);
      expect(big.headers.get('location')).toBeNull();
    });
  });

  describe('pages', () => {
    it('refuses an approval POST without the CSRF token', async () => {
      const browser = new TestBrowser();
      let page = await browser.open(authURL({ ...good, connector_id: 'local' }));
      page = await browser.submit(page, { login: 'admin@example.com', password: 'password' });
      expect(page.$('button[name=approval]').length).toBe(2);
      const approve = await browser.submit(
        page,
        { csrf_token: '' },
        { button: { name: 'approval', value: 'approve' } },
      );
      expect(approve.status).toBe(403);
      // …and from a browser without the login's cookie, even with the right token.
      const stranger = new TestBrowser();
      const other = await stranger.submit(page, {}, { button: { name: 'approval', value: 'approve' } });
      expect(other.status).toBe(403);
    });

    it('renders a client name containing <script> escaped', async () => {
      const browser = new TestBrowser();
      let page = await browser.open(
        authURL({
          client_id: 'evil-app',
          redirect_uri: 'http://127.0.0.1:5555/evil',
          response_type: 'code',
          scope: 'openid',
          connector_id: 'local',
        }),
      );
      page = await browser.submit(page, { login: 'admin@example.com', password: 'password' });
      expect(page.status).toBe(200);
      expect(page.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(page.html).not.toContain('<script>alert(1)</script>');
      expect(page.$('script').length).toBe(0);
    });

    it('throttles the 6th wrong password in a row, without telling whether the account exists', async () => {
      const browser = new TestBrowser();
      const form = await browser.open(authURL({ ...good, connector_id: 'local' }));
      for (let i = 1; i <= 5; i++) {
        const r = await browser.submit(form, { login: 'throttled@example.com', password: `wrong-${i}` });
        expect(r.status).toBe(401);
        expect(r.html).toContain('Invalid');
      }
      const sixth = await browser.submit(form, { login: 'throttled@example.com', password: 'wrong-6' });
      expect(sixth.status).toBe(429);
      expect(sixth.html).toContain('Too many attempts. Try again later.');
      // The same answer for an account that does exist.
      for (let i = 1; i <= 5; i++)
        await browser.submit(form, { login: 'admin@example.com', password: `wrong-${i}` });
      const real = await browser.submit(form, { login: 'admin@example.com', password: 'password' });
      expect(real.status).toBe(429);
      expect(real.html.replaceAll('admin@example.com', 'X')).toBe(
        sixth.html.replaceAll('throttled@example.com', 'X'),
      );
    });
  });

  describe('no storage write before authentication', () => {
    function rowCounts(): Record<string, number> {
      const db = new DatabaseSync(join(cfg.dir, 'latchkey.db'), { readOnly: true });
      try {
        const tables = db
          .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
          .all() as { name: string }[];
        return Object.fromEntries(
          tables.map(({ name }) => [
            name,
            (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n,
          ]),
        );
      } finally {
        db.close();
      }
    }

    it('leaves every table unchanged for anonymous /auth and /auth/{connector} hits', async () => {
      const before = rowCounts();
      expect(Object.keys(before).length).toBeGreaterThan(5);
      for (let i = 0; i < 20; i++) {
        const browser = new TestBrowser();
        const chooser = await browser.open(authURL({ ...good, state: `bot-${i}` }));
        expect(chooser.status).toBe(200);
        for (const href of chooser
          .$('a[href*="/auth/"]')
          .map((_, a) => chooser.$(a).attr('href'))
          .get()) {
          // Up to the upstream's door: the mock connector's redirect to /callback stands for the upstream
          // login a bot cannot complete.
          await browser.open(new URL(href, chooser.url).toString(), { stopAt: `${cfg.issuer}/callback` });
        }
      }
      expect(rowCounts()).toEqual(before);
    });
  });
});
