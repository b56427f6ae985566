import { decodeJwt } from 'jose';
import { encodeSubject } from '../../src/tokens/subject.js';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';

// client_credentials (Dex main-branch semantics): confidential clients only, opted in per client
// (staticClients[].grantTypes) or for every confidential client by oauth2.grantTypes; the client is the
// subject; groups from clientCredentialsClaims; never a refresh token.

const CLIENTS = `
staticClients:
- id: robot
  name: Build Robot
  secret: robot-secret
  grantTypes: [client_credentials]
  clientCredentialsClaims:
    groups: [ci, deployers]
- id: web
  name: Web App
  secret: web-secret
  redirectURIs: [http://127.0.0.1:5555/callback]
- id: cli
  name: CLI
  public: true
`;

async function token(server: InProcessServer, auth: string | undefined, form: Record<string, string>) {
  const res = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}),
    },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('client_credentials, opted in per client', () => {
  let server: InProcessServer;
  beforeAll(async () => {
    server = await startInProcess(`${CLIENTS}\nenablePasswordDB: true`);
  });
  afterAll(() => server.close());

  it('issues tokens about the client: sub encodes the client alone, name and groups from its config', async () => {
    const { status, body } = await token(server, 'robot:robot-secret', {
      grant_type: 'client_credentials',
      scope: 'openid profile groups',
      nonce: 'n-1',
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: expect.any(Number) });
    expect(body.refresh_token).toBeUndefined();
    const id = decodeJwt(body.id_token as string);
    expect(id).toMatchObject({
      iss: server.issuer,
      aud: 'robot',
      sub: encodeSubject('robot', ''),
      name: 'Build Robot',
      preferred_username: 'Build Robot',
      groups: ['ci', 'deployers'],
      nonce: 'n-1',
    });
    expect(id.sub).toBe('CgVyb2JvdA'); // protobuf {1: "robot"}, no connector field
    expect(decodeJwt(body.access_token as string).sub).toBe(id.sub);
  });

  it('issues only an access token without openid, and no claims the scopes did not ask for', async () => {
    const { status, body } = await token(server, 'robot:robot-secret', { grant_type: 'client_credentials' });
    expect(status).toBe(200);
    expect(body.id_token).toBeUndefined();
    const access = decodeJwt(body.access_token as string);
    expect(access.groups).toBeUndefined();
    expect(access.name).toBeUndefined();
  });

  it.each([
    ['offline_access', 'The client_credentials grant does not issue refresh tokens (offline_access).'],
    ['federated:id', 'The client_credentials grant has no upstream identity (federated:id).'],
    ['openid bogus', 'Unrecognized scope(s) ["bogus"]'],
  ])('refuses scope %j as invalid_scope', async (scope, description) => {
    const { status, body } = await token(server, 'robot:robot-secret', {
      grant_type: 'client_credentials',
      scope,
    });
    expect(status).toBe(400);
    expect(body).toEqual({ error: 'invalid_scope', error_description: description });
  });

  it('refuses a confidential client that did not opt in, as unauthorized_client', async () => {
    const { status, body } = await token(server, 'web:web-secret', { grant_type: 'client_credentials' });
    expect(status).toBe(400);
    expect(body).toEqual({
      error: 'unauthorized_client',
      error_description: 'Client "web" may not use the client_credentials grant.',
    });
  });

  it('refuses a public client, which cannot authenticate', async () => {
    const { status, body } = await token(server, undefined, {
      grant_type: 'client_credentials',
      client_id: 'cli',
    });
    expect(status).toBe(400);
    expect(body.error).toBe('unauthorized_client');
  });

  it('refuses a wrong secret or none at all, as invalid_client', async () => {
    expect((await token(server, 'robot:wrong', { grant_type: 'client_credentials' })).status).toBe(401);
    const noSecret = await token(server, undefined, { grant_type: 'client_credentials', client_id: 'robot' });
    expect(noSecret).toEqual({
      status: 401,
      body: { error: 'invalid_client', error_description: 'Invalid client credentials.' },
    });
  });

  it('keeps the opted-in client to the grants it listed', async () => {
    const { status, body } = await token(server, 'robot:robot-secret', {
      grant_type: 'password',
      username: 'a',
      password: 'b',
    });
    // password is not served at all here (no oauth2.passwordConnector): unsupported before unauthorized.
    expect(status).toBe(400);
    expect(body.error).toBe('unsupported_grant_type');
    const refresh = await token(server, 'robot:robot-secret', {
      grant_type: 'refresh_token',
      refresh_token: 'x',
    });
    expect(refresh.body).toEqual({
      error: 'unauthorized_client',
      error_description: 'Client "robot" may not use the refresh_token grant.',
    });
  });

  it('is advertised in discovery because a static client opted in', async () => {
    const doc = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as {
      grant_types_supported: string[];
    };
    expect(doc.grant_types_supported).toContain('client_credentials');
  });

  it('audits the issuance without any secret', () => {
    const issued = server
      .logs()
      .filter((l) => l.audit === 'tokens_issued' && l.grant === 'client_credentials');
    expect(issued.length).toBeGreaterThan(0);
    expect(issued[0]).toMatchObject({ client: 'robot', connector: '', user: 'robot' });
    expect(JSON.stringify(server.logs())).not.toContain('robot-secret');
  });
});

describe('client_credentials enabled for every confidential client by oauth2.grantTypes', () => {
  let server: InProcessServer;
  beforeAll(async () => {
    server = await startInProcess(
      `${CLIENTS}\noauth2:\n  grantTypes: [authorization_code, refresh_token, client_credentials]`,
    );
  });
  afterAll(() => server.close());

  it('serves a confidential client that did not list it, still not a public one', async () => {
    const web = await token(server, 'web:web-secret', { grant_type: 'client_credentials', scope: 'openid' });
    expect(web.status).toBe(200);
    expect(decodeJwt(web.body.id_token as string).sub).toBe(encodeSubject('web', ''));
    const cli = await token(server, undefined, { grant_type: 'client_credentials', client_id: 'cli' });
    expect(cli.body.error).toBe('unauthorized_client');
  });
});

describe('client_credentials not enabled in the configuration', () => {
  let server: InProcessServer;
  beforeAll(async () => {
    server = await startInProcess(
      'staticClients:\n- id: web\n  name: Web\n  secret: web-secret\n  redirectURIs: [http://127.0.0.1:5555/cb]',
    );
  });
  afterAll(() => server.close());

  it('is not advertised, and refused to a client that did not opt in', async () => {
    const { body } = await token(server, 'web:web-secret', { grant_type: 'client_credentials' });
    expect(body).toEqual({
      error: 'unauthorized_client',
      error_description: 'Client "web" may not use the client_credentials grant.',
    });
    const doc = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as {
      grant_types_supported: string[];
    };
    expect(doc.grant_types_supported).not.toContain('client_credentials');
  });

  it('serves a client stored as a resource that opts in, without a restart', async () => {
    await server.running.storage.createClient({
      id: 'ci-bot',
      secret: 'ci-secret',
      redirectURIs: [],
      trustedPeers: [],
      public: false,
      name: 'CI bot',
      logoURL: '',
      grantTypes: ['client_credentials'],
    });
    const r = await token(server, 'ci-bot:ci-secret', { grant_type: 'client_credentials', scope: 'openid' });
    expect(r.status).toBe(200);
    expect(decodeJwt(r.body.id_token as string).sub).toBe(encodeSubject('ci-bot', ''));
  });
});
