import { createRemoteJWKSet, decodeJwt, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { encodeSubject } from '../../src/tokens/subject.js';
import { startGitHubActionsIssuer, type GitHubActionsIssuer } from '../helpers/gha-issuer.js';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';

// The token-exchange grant (RFC 8693) in-process, against a GitHub-Actions-shaped issuer: what is accepted,
// and each way a subject token or a request is refused, with its error and description.

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const ID = 'urn:ietf:params:oauth:token-type:id_token';
const JOB = 'repo:octo-org/octo-repo:ref:refs/heads/main';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('token exchange', () => {
  let gha: GitHubActionsIssuer;
  let server: InProcessServer;

  beforeAll(async () => {
    gha = await startGitHubActionsIssuer({
      repository: 'octo-org/octo-repo',
      ref: 'refs/heads/main',
      actor: 'octocat',
      workflow: 'ci',
    });
    server = await startInProcess(`
connectors:
- type: oidc
  id: ci
  name: CI
  config:
    issuer: ${gha.issuer}
    scopes: [openid]
    userNameKey: sub
- type: oidc
  id: ci-strict
  name: CI (audience checked)
  config:
    issuer: ${gha.issuer}
    scopes: [openid]
    userNameKey: sub
    audiences: [latchkey]
- type: oidc
  id: ci-exchange-only
  name: CI (token exchange only)
  grantTypes: ['${GRANT}']
  config:
    issuer: ${gha.issuer}
    scopes: [openid]
    userNameKey: sub
- type: mockPassword
  id: pw
  name: Password
  config: { username: kilgore, password: trout }
staticClients:
- id: my-app
  name: My App
  secret: my-secret
  public: true
- id: kubernetes
  name: Kubernetes
  public: true
  redirectURIs: [http://localhost:8000]
  trustedPeers: [my-app]
- id: restricted
  name: Restricted
  secret: restricted-secret
  allowedConnectors: [pw]
`);
  });
  afterAll(async () => {
    await server?.close();
    await gha?.stop();
  });

  /** `auth` null: no client authentication at all. */
  async function exchange(
    form: Record<string, string>,
    auth: string | null = 'my-app:my-secret',
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}),
      },
      body: new URLSearchParams({
        grant_type: GRANT,
        connector_id: 'ci',
        subject_token_type: ACCESS,
        ...form,
      }).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  const refused = (description: RegExp | string) => ({
    status: 400,
    body: {
      error: 'invalid_request',
      error_description: typeof description === 'string' ? description : expect.stringMatching(description),
    },
  });

  it('exchanges a job token for an access token carrying the job identity, signed by Latchkey', async () => {
    const r = await exchange({ subject_token: await gha.token(), scope: 'openid groups federated:id' });
    expect(r).toEqual({
      status: 200,
      body: {
        access_token: expect.any(String),
        issued_token_type: ACCESS,
        token_type: 'bearer',
        expires_in: expect.any(Number),
      },
    });
    const { payload } = await jwtVerify(
      r.body.access_token as string,
      createRemoteJWKSet(new URL(`${server.issuer}/keys`)),
      { issuer: server.issuer, audience: 'my-app' },
    );
    expect(payload).toMatchObject({
      sub: encodeSubject(JOB, 'ci'),
      federated_claims: { connector_id: 'ci', user_id: JOB },
    });
  });

  it('mints an ID token when asked, and honours cross-client trust for its audience', async () => {
    const r = await exchange({
      subject_token: await gha.token(),
      subject_token_type: ID,
      requested_token_type: ID,
      scope: 'openid profile audience:server:client_id:kubernetes',
    });
    expect(r.status).toBe(200);
    expect(r.body.issued_token_type).toBe(ID);
    expect(decodeJwt(r.body.access_token as string)).toMatchObject({
      aud: ['kubernetes', 'my-app'],
      azp: 'my-app',
      name: JOB,
      preferred_username: expect.any(String),
    });
  });

  it('checks the audience when the connector names one', async () => {
    const accepted = await exchange({
      connector_id: 'ci-strict',
      subject_token: await gha.token({ audience: 'latchkey' }),
    });
    expect(accepted.status).toBe(200);
    expect(await exchange({ connector_id: 'ci-strict', subject_token: await gha.token() })).toEqual(
      refused(/^The subject_token was refused: .*audience/i),
    );
  });

  it('refuses an expired token (the server clock moved past its exp)', async () => {
    const token = await gha.token();
    server.clock.advance(10 * 60_000);
    try {
      expect(await exchange({ subject_token: token })).toEqual(
        refused(/^The subject_token was refused: .*expired/i),
      );
    } finally {
      server.clock.advance(-10 * 60_000);
    }
    expect((await exchange({ subject_token: token })).status).toBe(200);
  });

  it('refuses a token naming another issuer, even when signed with the right key', async () => {
    expect(await exchange({ subject_token: await gha.token({ iss: 'https://evil.example' }) })).toEqual(
      refused(/^The subject_token was refused: .*iss/i),
    );
  });

  it('refuses alg none', async () => {
    const payload = decodeJwt(await gha.token());
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
    expect(await exchange({ subject_token: unsigned })).toEqual(refused(/^The subject_token was refused: /));
  });

  it('refuses HS256 "signed" with the issuer’s public key as the HMAC secret', async () => {
    const jwks = (await (await fetch(`${gha.issuer}/.well-known/jwks`)).json()) as {
      keys: { kid: string }[];
    };
    const publicJwk = JSON.stringify(jwks.keys[0]);
    const forged = await new SignJWT(decodeJwt(await gha.token()))
      .setProtectedHeader({ alg: 'HS256', kid: jwks.keys[0]!.kid })
      .sign(new TextEncoder().encode(publicJwk));
    expect(await exchange({ subject_token: forged })).toEqual(refused(/^The subject_token was refused: /));
  });

  it('refuses a tampered token', async () => {
    const [header, , signature] = (await gha.token()).split('.');
    const tampered = `${header}.${b64({ ...decodeJwt(await gha.token()), sub: 'repo:octo-org/prod:ref:x' })}.${signature}`;
    expect(await exchange({ subject_token: tampered })).toEqual(refused(/^The subject_token was refused: /));
  });

  it('refuses a token signed by a key the issuer never published, and finds a newly published one', async () => {
    const rogue = await generateKeyPair('RS256');
    const forged = await new SignJWT(decodeJwt(await gha.token()))
      .setProtectedHeader({ alg: 'RS256', kid: 'never-published' })
      .sign(rogue.privateKey);
    expect(await exchange({ subject_token: forged })).toEqual(refused(/^The subject_token was refused: /));
    // A rotation: the new key's unknown kid makes Latchkey fetch the JWKS again.
    await gha.rotateKey();
    expect((await exchange({ subject_token: await gha.token() })).status).toBe(200);
  });

  it.each([
    ['an unknown connector', { connector_id: 'nope' }, 'Unknown connector_id "nope".'],
    [
      'a connector without token exchange',
      { connector_id: 'pw' },
      'Connector "pw" (type mockPassword) cannot exchange tokens.',
    ],
    ['no connector_id', { connector_id: '' }, 'Missing connector_id.'],
    ['no subject_token', { subject_token: '' }, 'Missing subject_token.'],
    ['a 20 kB subject_token', { subject_token: 'x'.repeat(20_000) }, 'subject_token is too long.'],
    [
      'a SAML subject_token_type',
      { subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' },
      /^Unsupported subject_token_type "urn:ietf:params:oauth:token-type:saml2"/,
    ],
    [
      'a refresh token as requested_token_type',
      { requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' },
      /^Unsupported requested_token_type/,
    ],
    ['a subject_token that is no JWT', { subject_token: 'not-a-jwt' }, /^The subject_token was refused: /],
  ])('refuses %s', async (_what, form, description) => {
    expect(await exchange({ subject_token: await gha.token(), ...form })).toEqual(refused(description));
  });

  it('refuses an unknown scope', async () => {
    expect(await exchange({ subject_token: await gha.token(), scope: 'openid admin' })).toEqual({
      status: 400,
      body: { error: 'invalid_scope', error_description: 'Unrecognized scope(s) ["admin"]' },
    });
  });

  it('refuses a client that may not use the connector', async () => {
    expect(await exchange({ subject_token: await gha.token() }, 'restricted:restricted-secret')).toEqual({
      status: 400,
      body: {
        error: 'invalid_grant',
        error_description: 'Client "restricted" may not log in through connector "ci".',
      },
    });
  });

  it('refuses a request without client authentication', async () => {
    expect(await exchange({ subject_token: await gha.token() }, null)).toEqual({
      status: 401,
      body: { error: 'invalid_client', error_description: 'Client authentication required.' },
    });
  });

  it('refuses a duplicated parameter', async () => {
    const res = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('my-app:my-secret').toString('base64')}`,
      },
      body: `grant_type=${encodeURIComponent(GRANT)}&connector_id=ci&connector_id=ci-strict&subject_token=x&subject_token_type=${encodeURIComponent(ACCESS)}`,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('keeps a connector limited to token exchange out of browser logins', async () => {
    expect(
      (await exchange({ connector_id: 'ci-exchange-only', subject_token: await gha.token() })).status,
    ).toBe(200);
    const page = await fetch(
      `${server.issuer}/auth?${new URLSearchParams({
        client_id: 'kubernetes',
        redirect_uri: 'http://localhost:8000',
        response_type: 'code',
        scope: 'openid',
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 'S256',
      })}`,
    );
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('/auth/ci?');
    expect(html).not.toContain('/auth/ci-exchange-only?');
  });

  it('logs each exchange as tokens issued, never the subject token', async () => {
    const token = await gha.token();
    await exchange({ subject_token: token });
    const issued = server.logs().filter((l) => l.audit === 'tokens_issued' && l.grant === 'token-exchange');
    expect(issued.at(-1)).toMatchObject({ client: 'my-app', connector: 'ci', user: JOB });
    expect(JSON.stringify(server.logs())).not.toContain(token);
  });
});
