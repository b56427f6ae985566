import * as oidc from 'openid-client';
import { encodeSubject } from '../../src/tokens/subject.js';
import { TestBrowser } from '../helpers/browser.js';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';
import {
  loginThroughUpstream,
  startUpstreamOidc,
  upstreamEndpointPath,
  type UpstreamOidc,
} from '../helpers/upstream-oidc.js';

// Whole logins through `type: oauth`, with node-oidc-provider as a plain OAuth 2.0 server (only its
// authorization, token and userinfo endpoints are configured; Latchkey never reads its discovery document
// or its ID tokens), openid-client as the application and a browser through every page.

const REDIRECT = 'http://127.0.0.1:5555/callback';

describe('type: oauth, end to end through oidc-provider as an OAuth 2.0 server', () => {
  let upstream: UpstreamOidc;
  let server: InProcessServer;
  let rp: oidc.Configuration;
  let userInfoCalls = 0;

  beforeAll(async () => {
    upstream = await startUpstreamOidc({
      clients: [
        {
          client_id: 'latchkey',
          client_secret: 'latchkey-secret',
          application_type: 'native',
          redirect_uris: ['http://127.0.0.1/dex/callback'],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
        },
      ],
      accounts: [
        {
          sub: 'gina-sub',
          name: 'Gina Lee',
          preferred_username: 'gina',
          email: 'gina@example.com',
          email_verified: true,
          // A group as an object with a name, as some servers (Keycloak) send them.
          groups: ['eng', { name: 'sre' }] as unknown as string[],
        },
      ],
    });
    const at = async (e: string) => `${upstream.issuer}${await upstreamEndpointPath(upstream, e)}`;
    const userInfoURL = await at('userinfo_endpoint');
    server = await startInProcess(`
oauth2:
  skipApprovalScreen: true
staticClients:
- id: app
  name: App
  secret: app-secret
  redirectURIs: ['${REDIRECT}']
connectors:
- type: oauth
  id: generic
  name: Generic OAuth
  config:
    clientID: latchkey
    clientSecret: latchkey-secret
    authorizationURL: ${await at('authorization_endpoint')}
    tokenURL: ${await at('token_endpoint')}
    userInfoURL: ${userInfoURL}
    scopes: [openid, profile, email, groups, offline_access]
    userIDKey: sub
    claimMapping:
      userNameKey: name
      preferredUsernameKey: email
      emailKey: email
`);
    rp = await oidc.discovery(new URL(server.issuer), 'app', 'app-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    const userInfoPath = new URL(userInfoURL).pathname;
    upstream.intercept = (req) => {
      if (req.url === userInfoPath) userInfoCalls++;
      return false;
    };
  });
  afterAll(async () => {
    await server?.close();
    await upstream?.stop();
  });

  it('logs in with the claim keys mapped, refreshes by reading the user again, and stops once the user is gone', async () => {
    const l = await loginThroughUpstream(new TestBrowser(), rp, upstream, {
      redirectURI: REDIRECT,
      scope: 'openid profile email groups offline_access',
      connector: 'generic',
      login: 'gina-sub',
    });
    // Plain OAuth: PKCE, but no nonce; offline_access (configured) asked for because the application did.
    expect(Object.fromEntries(l.upstreamRequest.searchParams)).toMatchObject({
      scope: 'openid profile email groups offline_access',
      code_challenge_method: 'S256',
      prompt: 'consent',
    });
    expect(l.upstreamRequest.searchParams.has('nonce')).toBe(false);

    const tokens = await oidc.authorizationCodeGrant(rp, l.callback, {
      pkceCodeVerifier: l.verifier,
      expectedNonce: l.nonce,
      expectedState: l.state,
      idTokenExpected: true,
    });
    expect(tokens.claims()).toMatchObject({
      iss: server.issuer,
      sub: encodeSubject('gina-sub', 'generic'),
      name: 'Gina Lee',
      preferred_username: 'gina@example.com',
      email: 'gina@example.com',
      email_verified: true,
      groups: ['eng', 'sre'],
    });

    const before = userInfoCalls;
    upstream.accounts.set('gina-sub', { ...upstream.accounts.get('gina-sub')!, groups: ['eng'] });
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(userInfoCalls).toBe(before + 1);
    expect(refreshed.claims()).toMatchObject({ sub: encodeSubject('gina-sub', 'generic'), groups: ['eng'] });

    upstream.accounts.delete('gina-sub');
    await expect(oidc.refreshTokenGrant(rp, refreshed.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });
});
