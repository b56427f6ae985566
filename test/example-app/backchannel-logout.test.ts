import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as cheerio from 'cheerio';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { exampleApp, listen } from '../../src/example-app/web.js';
import { tokenPage } from '../../src/example-app/pages.js';
import { freePort } from '../helpers/net.js';

// The example app's back-channel logout receiver (OpenID Connect Back-Channel Logout 1.0 §2.6, §2.8) in
// process, against a local JWKS server: what it refuses (each for the reason it gives) and what it accepts,
// logs and lists on its start page. The real issuer's tokens and the browser's logout are in
// test/browser/example-app-logout.test.ts.

const ISSUER = 'http://127.0.0.1:1/dex';
const CLIENT = 'example-app';
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const HOSTILE = '<img src=x onerror=alert(1)>';

let jwksServer: Server;
let issuerKey: CryptoKey;
/** Another key published under nobody's name: its signatures must not pass for the issuer's. */
let strangerKey: CryptoKey;
let app: Server;
let appURL: string;
let logged: string[];

function metadata(jwksURI: string, extra: Partial<oidc.ServerMetadata> = {}): oidc.ServerMetadata {
  return {
    issuer: ISSUER,
    jwks_uri: jwksURI,
    authorization_endpoint: `${ISSUER}/auth`,
    token_endpoint: `${ISSUER}/token`,
    end_session_endpoint: `${ISSUER}/logout`,
    backchannel_logout_supported: true,
    id_token_signing_alg_values_supported: ['RS256'],
    ...extra,
  };
}

async function startApp(
  meta: oidc.ServerMetadata,
  customFetch?: oidc.CustomFetch,
): Promise<{ server: Server; url: string }> {
  const config = new oidc.Configuration(meta, CLIENT, 'secret');
  if (customFetch) config[oidc.customFetch] = customFetch;
  const server = await listen(
    exampleApp({
      config,
      issuer: ISSUER,
      clientID: CLIENT,
      redirectURI: 'http://127.0.0.1:5555/callback',
      scopes: ['openid'],
      crossClients: [],
      log: (line) => logged.push(line),
    }),
    '127.0.0.1',
    0,
  );
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function stop(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

beforeAll(async () => {
  const issuer = await generateKeyPair('RS256');
  issuerKey = issuer.privateKey;
  strangerKey = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(issuer.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwksServer = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const jwksURI = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/keys`;
  ({ server: app, url: appURL } = await startApp(metadata(jwksURI)));
});

afterAll(async () => {
  await stop(app);
  await stop(jwksServer);
});

beforeEach(() => {
  logged = [];
});

const now = () => Math.floor(Date.now() / 1000);

/** A logout token as Latchkey makes them (§2.4), with `change` applied (undefined deletes a claim). */
function claims(change: Record<string, unknown> = {}): JWTPayload {
  const base: Record<string, unknown> = {
    iss: ISSUER,
    sub: 'CgZ1c2VyLTESBWxvY2Fs',
    aud: CLIENT,
    iat: now(),
    exp: now() + 120,
    jti: randomUUID(),
    sid: `session-${randomUUID()}`,
    events: { [EVENT]: {} },
  };
  for (const [k, v] of Object.entries(change)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base as JWTPayload;
}

function sign(
  payload: JWTPayload,
  opts: { typ?: string | null; key?: CryptoKey; kid?: string } = {},
): Promise<string> {
  const typ = opts.typ === undefined ? 'logout+jwt' : opts.typ;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'k1', ...(typ !== null ? { typ } : {}) })
    .sign(opts.key ?? issuerKey);
}

async function post(body: string, contentType = 'application/x-www-form-urlencoded') {
  const res = await fetch(`${appURL}/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  const text = await res.text();
  return {
    status: res.status,
    cacheControl: res.headers.get('cache-control'),
    body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
  };
}

const form = (token: string) => new URLSearchParams({ logout_token: token }).toString();

/** The start page's list of received logouts, as text per entry. */
async function listed(url = appURL): Promise<string[]> {
  const $ = cheerio.load(await (await fetch(`${url}/`)).text());
  return $('#backchannel-logouts li')
    .toArray()
    .map((li) => $(li).text().replace(/\s+/g, ' ').trim());
}

describe('the back-channel logout receiver', () => {
  it('accepts a valid logout token: 200, no-store, one log line without the token, listed on /', async () => {
    const payload = claims();
    const token = await sign(payload);
    const r = await post(form(token));
    expect(r).toEqual({ status: 200, cacheControl: 'no-store', body: undefined });
    expect(logged).toEqual([`example-app: back-channel logout: sid=${payload.sid} sub=${payload.sub}`]);
    const entries = await listed();
    expect(entries[0]).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z: session ${payload.sid as string}, subject ${payload.sub}$`,
      ),
    );
  });

  it('accepts a token that names only the session, or only the user', async () => {
    const onlySid = claims({ sub: undefined });
    const onlySub = claims({ sid: undefined, sub: 'only-the-user' });
    expect((await post(form(await sign(onlySid)))).status).toBe(200);
    expect((await post(form(await sign(onlySub)))).status).toBe(200);
    expect(logged).toEqual([
      `example-app: back-channel logout: sid=${onlySid.sid} sub=-`,
      'example-app: back-channel logout: sid=- sub=only-the-user',
    ]);
    expect((await listed()).slice(0, 2)).toEqual([
      expect.stringMatching(/: session \(none\), subject only-the-user$/),
      expect.stringMatching(new RegExp(`: session ${onlySid.sid as string}, subject \\(none\\)$`)),
    ]);
  });

  it.each<[string, () => Promise<string>, RegExp]>([
    [
      'a nonce (an ID token must never pass for a logout token)',
      () => sign(claims({ nonce: 'n-1' })),
      /nonce/,
    ],
    ['another audience', () => sign(claims({ aud: 'second-app' })), /"aud" claim/],
    ['another issuer', () => sign(claims({ iss: 'http://127.0.0.1:2/dex' })), /"iss" claim/],
    ['typ JWT', () => sign(claims(), { typ: 'JWT' }), /"typ"/],
    ['no typ (an ID token)', () => sign(claims(), { typ: null }), /"typ"/],
    ['no events', () => sign(claims({ events: undefined })), /backchannel-logout event/],
    [
      'events without the back-channel one',
      () => sign(claims({ events: { other: {} } })),
      /backchannel-logout event/,
    ],
    [
      'the event not an object',
      () => sign(claims({ events: { [EVENT]: true } })),
      /backchannel-logout event/,
    ],
    ['neither sid nor sub', () => sign(claims({ sid: undefined, sub: undefined })), /neither sid nor sub/],
    ['no iat', () => sign(claims({ iat: undefined })), /"iat" claim/],
    ['an iat an hour old', () => sign(claims({ iat: now() - 3600 })), /"iat" claim/],
    ['an expired token', () => sign(claims({ iat: now() - 200, exp: now() - 80 })), /"exp" claim/],
    ['no jti', () => sign(claims({ jti: undefined })), /"jti" claim/],
    ['a sid that is not a string', () => sign(claims({ sid: 42 })), /sid must be a string/],
    [
      'a stranger’s signature under the issuer’s kid',
      () => sign(claims(), { key: strangerKey }),
      /signature/,
    ],
    ['an unknown kid', () => sign(claims(), { key: strangerKey, kid: 'k2' }), /no applicable key/],
    [
      'no signature (alg none)',
      async () =>
        new UnsecuredJWT(claims())
          .encode()
          .replace(/^[^.]+/, Buffer.from('{"alg":"none","typ":"logout+jwt"}').toString('base64url')),
      /alg|JWS/,
    ],
    ['garbage', async () => 'garbage', /Invalid Compact JWS/],
  ])('refuses %s with 400 invalid_request', async (_what, make, reason) => {
    const token = await make();
    const r = await post(form(token));
    expect(r).toEqual({
      status: 400,
      cacheControl: 'no-store',
      body: { error: 'invalid_request', error_description: expect.stringMatching(reason) },
    });
    expect(logged).toEqual([expect.stringMatching(/^example-app: back-channel logout refused: /)]);
    expect(logged.join('\n')).not.toContain(token);
  });

  it.each<[string, () => Promise<[string, string?]>]>([
    ['an empty body', async () => ['']],
    ['no logout_token', async () => ['hello=world']],
    ['two logout_tokens', async () => [`${form(await sign(claims()))}&${form(await sign(claims()))}`]],
    ['a JSON body', async () => [JSON.stringify({ logout_token: await sign(claims()) }), 'application/json']],
    ['a body over 32 kB', async () => [form('x'.repeat(40_000))]],
    ['an unknown charset', async () => [form('x'), 'application/x-www-form-urlencoded; charset=koi8-r']],
  ])('refuses %s with 400 invalid_request', async (_what, make) => {
    const [body, contentType] = await make();
    const r = await post(body, contentType);
    expect(r).toEqual({
      status: 400,
      cacheControl: 'no-store',
      body: { error: 'invalid_request', error_description: expect.any(String) },
    });
  });

  it('fetches the issuer’s keys as openid-client does (its customFetch: the --issuer-root-ca trust)', async () => {
    const fetched: string[] = [];
    const jwksURI = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/keys`;
    const own = await startApp(metadata(jwksURI), (url, init) => {
      fetched.push(String(url));
      return fetch(url, init);
    });
    try {
      const res = await fetch(`${own.url}/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form(await sign(claims())),
      });
      expect(res.status).toBe(200);
      expect(fetched).toEqual([jwksURI]);
    } finally {
      await stop(own.server);
    }
  });

  it('answers 503 (the issuer retries) when the issuer’s keys are out of reach, and lists nothing', async () => {
    const cut = await startApp(metadata(`http://127.0.0.1:${await freePort()}/keys`));
    try {
      const payload = claims();
      const res = await fetch(`${cut.url}/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form(await sign(payload)),
      });
      expect([res.status, res.headers.get('cache-control'), await res.json()]).toEqual([
        503,
        'no-store',
        { error: 'temporarily_unavailable' },
      ]);
      expect(await listed(cut.url)).toEqual([]);
      expect(logged).toEqual([]);
    } finally {
      await stop(cut.server);
    }
  });

  it('lists only the last 10, newest first, and shows what they name as text', async () => {
    const sids = Array.from({ length: 12 }, (_, i) => `bounded-${i}`);
    for (const sid of sids)
      expect(await post(form(await sign(claims({ sid }))))).toMatchObject({ status: 200 });
    expect(await post(form(await sign(claims({ sid: HOSTILE }))))).toMatchObject({ status: 200 });
    const html = await (await fetch(`${appURL}/`)).text();
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    const $ = cheerio.load(html);
    const sessions = $('#backchannel-logouts li')
      .toArray()
      .map((li) => $(li).find('code').first().text());
    expect(sessions).toEqual([HOSTILE, ...sids.slice(-9).reverse()]);
  });
});

describe('the start page and the Log out form', () => {
  it('says where logout tokens go, and nothing about logout when the issuer has no back channel', async () => {
    const withBackchannel = cheerio.load(await (await fetch(`${appURL}/`)).text());
    expect(withBackchannel('#backchannel-heading').text()).toBe('Back-channel logouts received');
    expect(withBackchannel('.hint code').last().text()).toBe('http://127.0.0.1:5555/backchannel-logout');

    const plain = await startApp(
      metadata('http://127.0.0.1:1/keys', {
        end_session_endpoint: undefined,
        backchannel_logout_supported: undefined,
      }),
    );
    try {
      const $ = cheerio.load(await (await fetch(`${plain.url}/`)).text());
      expect($('h1').text()).toBe('Example App');
      expect($('#backchannel-heading')).toHaveLength(0);
      // No end_session_endpoint: no logout route either.
      const res = await fetch(`${plain.url}/logout`, { method: 'POST' });
      expect(res.status).toBe(404);
    } finally {
      await stop(plain.server);
    }
  });

  it('ignores a state that this browser’s logout did not start', async () => {
    const forged = cheerio.load(await (await fetch(`${appURL}/?state=forged`)).text());
    expect(forged('h1').text()).toBe('Example App');
    expect(forged('#logged-out')).toHaveLength(0);
    const wrongCookie = await fetch(`${appURL}/?state=forged`, {
      headers: { cookie: 'example_app_logout_state=other' },
    });
    expect(cheerio.load(await wrongCookie.text())('#logged-out')).toHaveLength(0);
  });

  it.each<[string, Record<string, string>, string | undefined]>([
    ['no CSRF token', { id_token: 'a.b.c' }, undefined],
    ['a CSRF token but no browser cookie', { id_token: 'a.b.c', csrf_token: 'x'.repeat(43) }, undefined],
    [
      'a forged CSRF token',
      { id_token: 'a.b.c', csrf_token: 'x'.repeat(43) },
      `example_app_browser=${'y'.repeat(43)}`,
    ],
    ['no ID token', { csrf_token: 'x'.repeat(43) }, `example_app_browser=${'y'.repeat(43)}`],
  ])('refuses a logout with %s (400, no redirect to the issuer)', async (_what, fields, cookie) => {
    const res = await fetch(`${appURL}/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(cookie ? { cookie } : {}),
      },
      body: new URLSearchParams(fields).toString(),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(
      cheerio
        .load(await res.text())('#error')
        .text(),
    ).toMatch(/^The logout form was not posted from this app/);
  });

  it('the token page has the Log out form only when given one, with its values escaped', () => {
    const base = {
      idToken: `x${HOSTILE}`,
      accessToken: 'at',
      claims: { email: 'jane@example.com' },
      refreshAction: '/callback',
    };
    expect(cheerio.load(tokenPage(base))('#logout')).toHaveLength(0);
    const html = tokenPage({ ...base, logout: { action: '/logout', csrfToken: `c${HOSTILE}` } });
    expect(html).not.toContain(HOSTILE);
    const $ = cheerio.load(html);
    const logoutForm = $('#logout').closest('form');
    expect(logoutForm.attr('method')).toBe('post');
    expect(logoutForm.attr('action')).toBe('/logout');
    expect(logoutForm.find('input[name=id_token]').attr('value')).toBe(`x${HOSTILE}`);
    expect(logoutForm.find('input[name=csrf_token]').attr('value')).toBe(`c${HOSTILE}`);
  });
});
