import * as oidc from 'openid-client';
import { TestBrowser } from '../helpers/browser.js';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';
import {
  loginThroughUpstream,
  startUpstreamOidc,
  upstreamEndpointPath,
  type UpstreamOidc,
  LATCHKEY_AT_UPSTREAM,
} from '../helpers/upstream-oidc.js';

// What a refresh re-checks and what an outage may not cost (issue 13 §4 and §5): the connector is asked
// before the token rotates, so an upstream that fails leaves the presented token valid however long the
// client waits to retry; and trust given at login (cross-client audiences) is checked again.

const REDIRECT = 'http://127.0.0.1:5555/callback';

async function token(server: InProcessServer, auth: string, form: Record<string, string>) {
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

describe('a refresh during an upstream outage', () => {
  let upstream: UpstreamOidc;
  let server: InProcessServer;

  beforeAll(async () => {
    upstream = await startUpstreamOidc({
      clients: [LATCHKEY_AT_UPSTREAM],
      accounts: [{ sub: 'jane', name: 'Jane', email: 'jane@example.com', email_verified: true }],
    });
    server = await startInProcess(`
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
    issuer: ${upstream.issuer}
    clientID: latchkey
    clientSecret: latchkey-secret
`);
  });
  afterAll(async () => {
    await server?.close();
    await upstream?.stop();
  });

  it('answers 503 and keeps the presented token valid, past the reuse window, until the upstream is back', async () => {
    const rp = new oidc.Configuration(
      {
        issuer: server.issuer,
        authorization_endpoint: `${server.issuer}/auth`,
        token_endpoint: `${server.issuer}/token`,
      },
      'app',
      'app-secret',
    );
    oidc.allowInsecureRequests(rp);
    const login = await loginThroughUpstream(new TestBrowser(), rp, upstream, {
      redirectURI: REDIRECT,
      scope: 'openid email offline_access',
      connector: 'corp',
      login: 'jane',
    });
    const code = login.callback.searchParams.get('code')!;
    const first = await token(server, 'app:app-secret', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      code_verifier: login.verifier,
    });
    expect(first.status).toBe(200);
    const refreshToken = first.body.refresh_token as string;

    const tokenPath = await upstreamEndpointPath(upstream, 'token_endpoint');
    upstream.intercept = (req, res) => {
      if (!req.url?.startsWith(tokenPath)) return false;
      res.writeHead(500, { 'content-type': 'text/plain' }).end('upstream down');
      return true;
    };
    const during = await token(server, 'app:app-secret', {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    });
    expect(during.status).toBe(503);
    expect(during.body.error).toBe('temporarily_unavailable');

    // The client retries much later than the 3 s reuse window, with the only token it has.
    server.clock.advance(10 * 60_000);
    upstream.intercept = undefined;
    const after = await token(server, 'app:app-secret', {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    });
    expect(after.status).toBe(200);
    expect(after.body.refresh_token).toEqual(expect.any(String));
    expect(after.body.refresh_token).not.toBe(refreshToken);
  });
});

describe('a refresh after cross-client trust was withdrawn', () => {
  let server: InProcessServer;

  beforeAll(async () => {
    server = await startInProcess(`
oauth2:
  passwordConnector: pw
connectors:
- type: mockPassword
  id: pw
  name: Password
  config: { username: kilgore, password: trout }
staticClients:
- id: cli
  name: CLI
  secret: cli-secret
`);
    await server.running.storage.createClient({
      id: 'kubernetes',
      secret: '',
      redirectURIs: [],
      trustedPeers: ['cli'],
      public: true,
      name: 'Kubernetes',
      logoURL: '',
    });
  });
  afterAll(() => server?.close());

  it('refuses the refresh once the peer no longer trusts the client (invalid_grant), not before', async () => {
    const scope = 'openid offline_access audience:server:client_id:kubernetes';
    const login = await token(server, 'cli:cli-secret', {
      grant_type: 'password',
      username: 'kilgore',
      password: 'trout',
      scope,
    });
    expect(login.status).toBe(200);
    const first = await token(server, 'cli:cli-secret', {
      grant_type: 'refresh_token',
      refresh_token: login.body.refresh_token as string,
    });
    expect(first.status).toBe(200);

    await server.running.storage.updateClient('kubernetes', (c) => ({ ...c, trustedPeers: [] }));
    const refused = await token(server, 'cli:cli-secret', {
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token as string,
    });
    expect(refused).toEqual({
      status: 400,
      body: {
        error: 'invalid_grant',
        error_description: `The login's scopes are no longer allowed: Client "kubernetes" does not trust "cli"`,
      },
    });
  });
});
