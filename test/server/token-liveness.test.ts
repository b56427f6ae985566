import bcrypt from 'bcrypt';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { basicAuth, browserLogin, postForm } from '../helpers/flows.js';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';

// Issue 13 §8: revocation means something at Latchkey's own endpoints. Access tokens stay JWTs that others
// verify offline, but /userinfo and introspection accept only access tokens (never an ID token) whose login
// is alive: not revoked at /token/revoke, not revoked by a replayed code, refresh family not revoked. And
// introspection tells a client only about its own tokens and those of the clients it trusts.

const REDIRECT = 'http://127.0.0.1:5555/callback';

let server: InProcessServer;
let rp: oidc.Configuration;

beforeAll(async () => {
  const hash = await bcrypt.hash('password', 10);
  server = await startInProcess(`
enablePasswordDB: true
oauth2:
  skipApprovalScreen: true
  passwordConnector: local
  grantTypes: [authorization_code, refresh_token, password]
expiry:
  refreshTokens:
    reuseInterval: 2s
staticPasswords:
- email: jane@example.com
  hash: '${hash}'
  username: jane
  userID: user-jane
staticClients:
- id: app
  name: App
  secret: app-secret
  redirectURIs: ['${REDIRECT}']
- id: api
  name: API (trusts app)
  secret: api-secret
  trustedPeers: [app]
- id: stranger
  name: Stranger
  secret: stranger-secret
`);
  rp = await oidc.discovery(new URL(server.issuer), 'app', 'app-secret', undefined, {
    execute: [oidc.allowInsecureRequests],
  });
});
afterAll(async () => {
  await server?.close();
});

/** A code-flow login as the relying party does it; returns the callback (to replay its code) and tokens. */
async function codeLogin(scope = 'openid email offline_access') {
  const { callback, verifier, state, nonce } = await browserLogin(rp, {
    redirectURI: REDIRECT,
    scope,
    username: 'jane@example.com',
  });
  const tokens = await oidc.authorizationCodeGrant(rp, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
  });
  return { callback, verifier, tokens };
}

async function passwordLogin(client: [string, string], scope = 'openid email') {
  const r = await postForm(
    `${server.issuer}/token`,
    { grant_type: 'password', username: 'jane@example.com', password: 'password', scope },
    basicAuth(...client),
  );
  expect(r.body).toEqual(expect.objectContaining({ access_token: expect.any(String) }));
  return r.body as { access_token: string; id_token: string; refresh_token?: string };
}

async function userinfo(token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.issuer}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function introspect(token: string, client: [string, string] = ['app', 'app-secret']) {
  const r = await postForm(`${server.issuer}/token/introspect`, { token }, basicAuth(...client));
  expect(r.status).toBe(200);
  return r.body;
}

async function revoke(token: string, client: [string, string] = ['app', 'app-secret']) {
  const r = await postForm(`${server.issuer}/token/revoke`, { token }, basicAuth(...client));
  expect(r.status).toBe(200);
}

describe('access tokens are told apart from ID tokens', () => {
  it('only the access token carries a grant ID; headers stay { alg, kid } as Dex users verify them', async () => {
    const { access_token: access, id_token: id } = await passwordLogin(['app', 'app-secret']);
    expect(decodeJwt(access).grant_id).toEqual(expect.any(String));
    expect(decodeJwt(id).grant_id).toBeUndefined();
    expect(Object.keys(decodeProtectedHeader(access)).sort()).toEqual(['alg', 'kid']);
  });

  it('refuses an ID token at /userinfo and reports it inactive at introspection', async () => {
    const { access_token: access, id_token: id } = await passwordLogin(['app', 'app-secret']);
    expect((await userinfo(access)).status).toBe(200);
    const refused = await userinfo(id);
    expect(refused).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    expect(await introspect(id)).toEqual({ active: false });
  });
});

describe('a revoked login ends its access tokens at /userinfo and introspection', () => {
  it('revoking the refresh token at /token/revoke (RFC 7009)', async () => {
    const { tokens } = await codeLogin();
    expect(await userinfo(tokens.access_token)).toMatchObject({
      status: 200,
      body: { email: 'jane@example.com' },
    });
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true, token_use: 'access_token' });

    await revoke(tokens.refresh_token!);
    expect((await userinfo(tokens.access_token)).status).toBe(401);
    expect(await introspect(tokens.access_token)).toEqual({ active: false });
  });

  it('revoking the access token itself, which ends its refresh token too (RFC 7009 §2.1)', async () => {
    const { tokens } = await codeLogin();
    await revoke(tokens.access_token);
    expect((await userinfo(tokens.access_token)).status).toBe(401);
    expect(await introspect(tokens.access_token)).toEqual({ active: false });
    await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('revoking a login that has no refresh token (no offline_access)', async () => {
    const { access_token: access } = await passwordLogin(['app', 'app-secret']);
    await revoke(access);
    expect((await userinfo(access)).status).toBe(401);
    expect(await introspect(access)).toEqual({ active: false });
  });

  it('a stranger revoking the token changes nothing (it was not issued to it)', async () => {
    const { access_token: access } = await passwordLogin(['app', 'app-secret']);
    await revoke(access, ['stranger', 'stranger-secret']);
    expect((await userinfo(access)).status).toBe(200);
  });

  it('replaying the code that produced it (RFC 6749 §4.1.2)', async () => {
    const { callback, verifier, tokens } = await codeLogin();
    expect((await userinfo(tokens.access_token)).status).toBe(200);
    const replay = await postForm(
      `${server.issuer}/token`,
      {
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
      },
      basicAuth('app', 'app-secret'),
    );
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await userinfo(tokens.access_token)).status).toBe(401);
    expect(await introspect(tokens.access_token)).toEqual({ active: false });
  });

  it('replaying an old refresh token outside the reuse window: every access token of the family ends', async () => {
    const { tokens } = await codeLogin();
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect((await userinfo(refreshed.access_token)).status).toBe(200);
    server.clock.advance(3_000);
    await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    for (const access of [tokens.access_token, refreshed.access_token]) {
      expect((await userinfo(access)).status).toBe(401);
      expect(await introspect(access)).toEqual({ active: false });
    }
  });

  it('leaves other logins of the same user alone', async () => {
    const first = await codeLogin();
    const second = await codeLogin();
    await revoke(first.tokens.refresh_token!);
    expect((await userinfo(second.tokens.access_token)).status).toBe(200);
    expect(await introspect(second.tokens.access_token)).toMatchObject({ active: true });
  });
});

describe('introspection answers only the token’s own client and the clients that trust it', () => {
  it('own client and a trusting peer see it active; a stranger sees { active: false }', async () => {
    const { access_token: access, refresh_token: refresh } = await passwordLogin(
      ['app', 'app-secret'],
      'openid email offline_access',
    );
    expect(await introspect(access)).toMatchObject({ active: true, client_id: 'app' });
    expect(await introspect(access, ['api', 'api-secret'])).toMatchObject({ active: true, client_id: 'app' });
    expect(await introspect(access, ['stranger', 'stranger-secret'])).toEqual({ active: false });
    expect(await introspect(refresh!, ['stranger', 'stranger-secret'])).toEqual({ active: false });
    expect(await introspect(refresh!)).toMatchObject({ active: true, token_use: 'refresh_token' });
  });
});
