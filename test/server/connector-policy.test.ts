import { decodeJwt } from 'jose';
import { TestBrowser } from '../helpers/browser.js';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';

// Who may use what: a client's allowedConnectors (Dex's main branch), a connector's grantTypes (Dex's main
// branch) and a client's grantTypes (Latchkey), enforced on the chooser page, on every login step and on
// every grant at /token.

const CALLBACK = 'http://127.0.0.1:5555/callback';

describe('allowedConnectors and grantTypes', () => {
  let server: InProcessServer;

  beforeAll(async () => {
    server = await startInProcess(`
oauth2:
  passwordConnector: alpha
  skipApprovalScreen: true
connectors:
- type: mockPassword
  id: alpha
  name: Alpha
  config: { username: kilgore, password: trout }
- type: mockPassword
  id: beta
  name: Beta
  config: { username: kilgore, password: trout }
- type: mockPassword
  id: codes-only
  name: Codes only
  grantTypes: [authorization_code]
  config: { username: kilgore, password: trout }
staticClients:
- id: any
  name: Any connector
  secret: any-secret
  redirectURIs: ['${CALLBACK}']
- id: beta-only
  name: Beta only
  secret: beta-secret
  redirectURIs: ['${CALLBACK}']
  allowedConnectors: [beta]
- id: nothing
  name: No usable connector
  secret: nothing-secret
  redirectURIs: ['${CALLBACK}']
  allowedConnectors: [gone]
- id: code-flow-only
  name: Code flow only
  secret: cf-secret
  redirectURIs: ['${CALLBACK}']
  grantTypes: [authorization_code, refresh_token]
`);
  });
  afterAll(() => server?.close());

  const authURL = (client: string, extra: Record<string, string> = {}) =>
    `${server.issuer}/auth?${new URLSearchParams({
      client_id: client,
      redirect_uri: CALLBACK,
      response_type: 'code',
      scope: 'openid',
      state: 'st',
      ...extra,
    })}`;

  async function token(auth: string, form: Record<string, string>) {
    const res = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(auth).toString('base64')}`,
      },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  const passwordGrant = (auth: string, scope = 'openid offline_access') =>
    token(auth, { grant_type: 'password', username: 'kilgore', password: 'trout', scope });

  it('lists every connector for an unrestricted client', async () => {
    const page = await new TestBrowser().open(authURL('any'));
    const links = page
      .$('a[href*="/auth/"]')
      .map((_, a) => page.$(a).attr('href'))
      .get();
    expect(links.map((l) => new URL(l, page.url).pathname)).toEqual([
      '/dex/auth/alpha',
      '/dex/auth/beta',
      '/dex/auth/codes-only',
    ]);
  });

  it('sends a client allowed one connector straight to it', async () => {
    const browser = new TestBrowser();
    const page = await browser.open(authURL('beta-only'));
    expect(new URL(page.url).pathname).toBe('/dex/auth/beta/login');
    expect(page.$('input[name=password]').length).toBe(1);
  });

  it('refuses a connector_id the client may not use, back to the client', async () => {
    const page = await new TestBrowser().open(authURL('beta-only', { connector_id: 'alpha' }), {
      stopAt: CALLBACK,
    });
    const back = new URL(page.url);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('state')).toBe('st');
  });

  it('refuses an edited login link to another connector with a page', async () => {
    const browser = new TestBrowser();
    const page = await browser.open(authURL('beta-only'));
    const edited = page.url.replace('/auth/beta/login', '/auth/alpha/login');
    const refused = await browser.open(edited);
    expect(refused.status).toBe(403);
    expect(refused.html).toContain('may not use the login method');
    const posted = await browser.submit(page, { login: 'kilgore', password: 'trout' }, { stopAt: CALLBACK });
    expect(new URL(posted.url).searchParams.get('code')).toBeTruthy();
  });

  it('shows a page when a client may use no connector at all', async () => {
    const page = await new TestBrowser().open(authURL('nothing'));
    expect(page.status).toBe(403);
    expect(page.html).toContain('No login method is available to this application.');
  });

  it('enforces allowedConnectors on the password grant', async () => {
    expect((await passwordGrant('any:any-secret')).status).toBe(200);
    expect(await passwordGrant('beta-only:beta-secret')).toEqual({
      status: 400,
      body: {
        error: 'invalid_grant',
        error_description: 'Client "beta-only" may not log in through connector "alpha".',
      },
    });
  });

  it('enforces allowedConnectors on refresh, when the client was restricted after the login', async () => {
    await server.running.storage.createClient({
      id: 'later',
      secret: 'later-secret',
      redirectURIs: [CALLBACK],
      trustedPeers: [],
      public: false,
      name: 'Restricted later',
      logoURL: '',
    });
    const first = await passwordGrant('later:later-secret');
    expect(first.status).toBe(200);
    const refreshToken = first.body.refresh_token as string;
    expect(refreshToken).toBeDefined();
    await server.running.storage.updateClient('later', (c) => ({ ...c, allowedConnectors: ['beta'] }));
    expect(
      await token('later:later-secret', { grant_type: 'refresh_token', refresh_token: refreshToken }),
    ).toEqual({
      status: 400,
      body: {
        error: 'invalid_grant',
        error_description: 'Client "later" may not log in through connector "alpha".',
      },
    });
  });

  it('keeps a connector to the grants it lists: no refresh token where refresh_token is not listed', async () => {
    const browser = new TestBrowser();
    const start = await browser.open(
      authURL('any', { connector_id: 'codes-only', scope: 'openid offline_access' }),
    );
    const done = await browser.submit(start, { login: 'kilgore', password: 'trout' }, { stopAt: CALLBACK });
    const code = new URL(done.url).searchParams.get('code')!;
    const tokens = await token('any:any-secret', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: CALLBACK,
    });
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.id_token as string).sub).toBeDefined();
    // offline_access was granted, but this connector does not serve refresh_token: no refresh token.
    expect(tokens.body.refresh_token).toBeUndefined();
  });

  it('keeps a client to the grants it lists', async () => {
    expect(await passwordGrant('code-flow-only:cf-secret')).toEqual({
      status: 400,
      body: {
        error: 'unauthorized_client',
        error_description: 'Client "code-flow-only" may not use the password grant.',
      },
    });
  });
});
