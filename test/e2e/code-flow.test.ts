import * as oidc from 'openid-client';
import { startServer, type ServerProcess } from '../helpers/cli.js';
import { exampleConfig, type TestServerConfig } from '../helpers/config.js';
import { browserLogin } from '../helpers/flows.js';

// The real relying-party library (openid-client) against a server started from examples/config-dev.yaml,
// with the login pages driven as a browser would: chooser → password form → approval → redirect.
const REDIRECT_URI = 'http://127.0.0.1:5555/callback';

describe('openid-client against examples/config-dev.yaml', () => {
  let cfg: TestServerConfig;
  let server: ServerProcess;
  let rp: oidc.Configuration;

  beforeAll(async () => {
    cfg = await exampleConfig('examples/config-dev.yaml');
    server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
    rp = await oidc.discovery(new URL(cfg.issuer), 'example-app', 'ZXhhbXBsZS1hcHAtc2VjcmV0', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const login = (scope: string) => browserLogin(rp, { redirectURI: REDIRECT_URI, scope });

  it('completes the code flow with PKCE and nonce, then refreshes with rotation', async () => {
    const { callback, verifier, nonce, state } = await login('openid email profile groups offline_access');
    expect(callback.searchParams.get('iss')).toBe(cfg.issuer);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      expectedState: state,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({
      iss: cfg.issuer,
      aud: 'example-app',
      sub: 'CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs',
      email: 'admin@example.com',
      email_verified: true,
      groups: ['team-a', 'team-a/admins'],
      name: 'admin',
      nonce,
    });
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.refresh_token).toBeDefined();

    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeDefined();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()!.sub).toBe(claims.sub);

    const info = await oidc.fetchUserInfo(rp, refreshed.access_token, claims.sub);
    expect(info).toMatchObject({
      sub: claims.sub,
      email: 'admin@example.com',
      groups: ['team-a', 'team-a/admins'],
    });

    const introspected = await oidc.tokenIntrospection(rp, refreshed.access_token);
    expect(introspected).toMatchObject({
      active: true,
      sub: claims.sub,
      client_id: 'example-app',
      token_use: 'access_token',
    });
    const refreshInfo = await oidc.tokenIntrospection(rp, refreshed.refresh_token!);
    expect(refreshInfo).toMatchObject({ active: true, token_use: 'refresh_token' });

    await oidc.tokenRevocation(rp, refreshed.refresh_token!);
    expect(await oidc.tokenIntrospection(rp, refreshed.refresh_token!)).toEqual({ active: false });
    await expect(oidc.refreshTokenGrant(rp, refreshed.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('moves the business metrics on a login, a refresh and a refused refresh', async () => {
    const metric = async (line: RegExp): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${cfg.telemetryPort}/metrics`)).text();
      const m = line.exec(text);
      return m ? Number(m[1]) : 0;
    };
    const logins = /^latchkey_logins_total\{connector="local",result="success"\} (\d+)$/m;
    const codeGrants = /^latchkey_tokens_issued_total\{grant="authorization_code"\} (\d+)$/m;
    const refreshes = /^latchkey_tokens_issued_total\{grant="refresh_token"\} (\d+)$/m;
    const refused = /^latchkey_refresh_failures_total\{reason="invalid"\} (\d+)$/m;
    const conflicts =
      /^latchkey_storage_operation_duration_seconds_count\{operation="createAuthCode",outcome="ok"\} (\d+)$/m;
    const before = await Promise.all([logins, codeGrants, refreshes, refused, conflicts].map(metric));

    const { callback, verifier, nonce, state } = await login('openid offline_access');
    const tokens = await oidc.authorizationCodeGrant(rp, callback, {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      expectedState: state,
    });
    await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    await expect(oidc.refreshTokenGrant(rp, 'not-a-refresh-token')).rejects.toMatchObject({
      error: 'invalid_grant',
    });

    const after = await Promise.all([logins, codeGrants, refreshes, refused, conflicts].map(metric));
    expect(after.map((v, i) => v - before[i]!)).toEqual([1, 1, 1, 1, 1]);
    expect(server.output()).toMatch(/"audit":"login".*"result":"success"/);
  });

  it('serves the password grant through oauth2.passwordConnector', async () => {
    const tokens = await oidc.genericGrantRequest(rp, 'password', {
      username: 'admin@example.com',
      password: 'password',
      scope: 'openid email groups',
    });
    expect(tokens.claims()).toMatchObject({
      email: 'admin@example.com',
      groups: ['team-a', 'team-a/admins'],
    });
    expect(tokens.refresh_token).toBeUndefined();
  });
});
