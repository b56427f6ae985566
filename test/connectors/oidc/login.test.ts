import { ConnectorError, RefreshDeniedError, type Identity } from '../../../src/connectors/connector.js';
import { httpClientFactory, type HttpFetch } from '../../../src/connectors/http.js';
import { decodeUpstreamTokens } from '../../../src/connectors/upstream/connector-data.js';
import { startUpstreamOidc, upstreamEndpointPath, type UpstreamOidc } from '../../helpers/upstream-oidc.js';
import { offline, scopes } from '../helpers.js';
import {
  CALLBACK,
  countRequests,
  JANE,
  LATCHKEY_AT_UPSTREAM,
  loginAtUpstream,
  openOidc,
  type Opened,
} from './harness.js';

// The oidc connector's login and refresh against a real OpenID provider (node-oidc-provider): what it asks
// the upstream for, what it checks in the answer, how claims become the identity, and what a refresh does.

describe('oidc connector: login and refresh through oidc-provider', () => {
  let upstream: UpstreamOidc;
  const opened: Opened[] = [];
  const open = (...args: Parameters<typeof openOidc>) => {
    const o = openOidc(...args);
    opened.push(o);
    return o;
  };
  const base = () => ({
    issuer: upstream.issuer,
    clientID: 'latchkey',
    clientSecret: 'latchkey-secret',
    scopes: ['profile', 'email', 'groups'],
  });

  beforeAll(async () => {
    upstream = await startUpstreamOidc({
      clients: [LATCHKEY_AT_UPSTREAM],
      accounts: [JANE, { sub: 'bob-sub', name: 'Bob', email: 'bob@example.com' }],
    });
  });
  afterEach(() => {
    upstream.intercept = undefined;
    for (const o of opened.splice(0)) o.stop.abort();
  });
  afterAll(() => upstream?.stop());

  async function login(o: Opened, s = scopes, hint?: string): Promise<{ identity: Identity; url: URL }> {
    const begun = await o.connector.beginLogin(s, CALLBACK, hint);
    const url = new URL(begun.url('latchkey-state'));
    const params = await loginAtUpstream(url.href);
    expect(params.get('state')).toBe('latchkey-state');
    return { identity: await o.connector.handleCallback(s, CALLBACK, params, begun.connectorState), url };
  }

  it('asks for the configured scopes with S256 PKCE and a nonce; offline access only when asked for', async () => {
    const o = open({ ...base(), acrValues: ['urn:mfa', 'urn:pwd'], hostedDomains: ['example.com'] });
    const plain = new URL((await o.connector.beginLogin(scopes, CALLBACK, 'jane@example.com')).url('s'));
    expect(`${plain.origin}${plain.pathname}`).toBe(
      `${upstream.issuer}${await upstreamEndpointPath(upstream, 'authorization_endpoint')}`,
    );
    expect(Object.fromEntries(plain.searchParams)).toEqual({
      client_id: 'latchkey',
      response_type: 'code',
      redirect_uri: CALLBACK,
      scope: 'openid profile email groups',
      code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      code_challenge_method: 'S256',
      nonce: expect.any(String),
      state: 's',
      acr_values: 'urn:mfa urn:pwd',
      login_hint: 'jane@example.com',
      hd: 'example.com',
    });
    const withOffline = new URL((await o.connector.beginLogin(offline, CALLBACK)).url('s'));
    expect(withOffline.searchParams.get('scope')).toBe('openid profile email groups offline_access');
    expect(withOffline.searchParams.get('prompt')).toBe('consent');
    expect(withOffline.searchParams.get('access_type')).toBe('offline');
    // Every login its own verifier and nonce.
    expect(withOffline.searchParams.get('nonce')).not.toBe(plain.searchParams.get('nonce'));
    expect(withOffline.searchParams.get('code_challenge')).not.toBe(plain.searchParams.get('code_challenge'));
  });

  it('never sends offline_access without the downstream asking, even when configured; promptType is sent', async () => {
    const o = open({ ...base(), scopes: ['openid', 'email', 'offline_access'], promptType: 'login' });
    const url = new URL((await o.connector.beginLogin(scopes, CALLBACK)).url('s'));
    expect(url.searchParams.get('scope')).toBe('openid email');
    expect(url.searchParams.get('prompt')).toBeNull();
    const asked = new URL((await o.connector.beginLogin(offline, CALLBACK)).url('s'));
    expect(asked.searchParams.get('scope')).toBe('openid email offline_access');
    expect(asked.searchParams.get('prompt')).toBe('login');
  });

  it('logs in: the identity carries the upstream claims; groups only with insecureEnableGroups', async () => {
    const withGroups = await login(open({ ...base(), insecureEnableGroups: true }));
    expect(withGroups.identity).toEqual({
      userID: 'jane-sub',
      username: 'Jane Doe',
      preferredUsername: 'janed',
      email: 'jane@example.com',
      emailVerified: true,
      groups: ['admins', 'dev', 'ops'],
    });
    const without = await login(open(base()));
    expect(without.identity.groups).toEqual([]);
    // No offline access asked for: nothing kept for refreshes.
    expect(without.identity.connectorData).toBeUndefined();
  });

  it('applies claim mapping, allowedGroups and the claim modifications', async () => {
    const { identity } = await login(
      open({
        ...base(),
        userIDKey: 'email',
        userNameKey: 'preferred_username',
        allowedGroups: ['dev', 'ops', 'nobody'],
        claimMapping: { preferred_username: 'name' },
        overrideClaimMapping: true,
        claimModifications: {
          filterGroupClaims: { groupsFilter: '^(dev|admins)$' },
          modifyGroupNames: { prefix: 'up:', suffix: ':team' },
          newGroupFromClaims: [{ claims: ['email', 'name'], delimiter: '/', prefix: 'person' }],
        },
      }),
    );
    expect(identity).toMatchObject({
      userID: 'jane@example.com',
      username: 'janed',
      preferredUsername: 'Jane Doe',
      // ops is filtered out, admins is not allowed; the made-up group is neither filtered nor renamed.
      groups: ['up:dev:team', 'person/jane@example.com/Jane Doe'],
    });
  });

  it('refuses a user outside allowedGroups or the hosted domains, with a message for the login page', async () => {
    const outside = open({ ...base(), allowedGroups: ['finance'] });
    await expect(login(outside)).rejects.toMatchObject({
      name: 'ConnectorError',
      userMessage: 'You are not a member of a group that may sign in here.',
    });
    const domain = open({ ...base(), hostedDomains: ['example.com', 'example.org'] });
    await expect(login(domain)).rejects.toMatchObject({
      name: 'ConnectorError',
      userMessage: "Your account's domain is not allowed to sign in here.",
    });
  });

  it('requires email and email_verified with the email scope, unless insecureSkipEmailVerified', async () => {
    // Bob has an email but no email_verified claim.
    await expect(login(open(base()), scopes).then(() => 'jane ok')).resolves.toBe('jane ok');
    const strict = open(base());
    const begun = await strict.connector.beginLogin(scopes, CALLBACK);
    const params = await loginAtUpstream(begun.url('s'), 'bob-sub');
    await expect(
      strict.connector.handleCallback(scopes, CALLBACK, params, begun.connectorState),
    ).rejects.toThrow('missing "email_verified" claim');
    const lax = open({ ...base(), insecureSkipEmailVerified: true });
    const begun2 = await lax.connector.beginLogin(scopes, CALLBACK);
    const params2 = await loginAtUpstream(begun2.url('s'), 'bob-sub');
    expect(
      await lax.connector.handleCallback(scopes, CALLBACK, params2, begun2.connectorState),
    ).toMatchObject({
      userID: 'bob-sub',
      email: 'bob@example.com',
      emailVerified: true,
    });
  });

  it('merges userinfo claims with getUserInfo', async () => {
    const counts = countRequests(upstream);
    const userinfo = `GET ${await upstreamEndpointPath(upstream, 'userinfo_endpoint')}`;
    const before = counts.get(userinfo) ?? 0;
    const { identity } = await login(open({ ...base(), getUserInfo: true, insecureEnableGroups: true }));
    expect(identity).toMatchObject({
      userID: 'jane-sub',
      username: 'Jane Doe',
      groups: ['admins', 'dev', 'ops'],
    });
    expect(counts.get(userinfo)).toBe(before + 1);
  });

  it('checks PKCE and the nonce: the state of another login fails the code exchange', async () => {
    const o = open(base());
    const a = await o.connector.beginLogin(scopes, CALLBACK);
    const b = await o.connector.beginLogin(scopes, CALLBACK);
    const paramsA = await loginAtUpstream(a.url('s'));
    // B's verifier: the upstream refuses the code (PKCE).
    await expect(
      o.connector.handleCallback(scopes, CALLBACK, paramsA, b.connectorState),
    ).rejects.toMatchObject({
      name: 'ConnectorError',
      message: expect.stringMatching(/code exchange .* invalid_grant/),
    });
    // A's verifier but B's nonce: the code is good, the ID token is not for this login.
    const paramsA2 = await loginAtUpstream(a.url('s'));
    const mixed = JSON.stringify({
      v: (JSON.parse(a.connectorState!) as { v: string }).v,
      n: (JSON.parse(b.connectorState!) as { n: string }).n,
    });
    await expect(o.connector.handleCallback(scopes, CALLBACK, paramsA2, mixed)).rejects.toMatchObject({
      name: 'ConnectorError',
      message: expect.stringMatching(/nonce/),
    });
    await expect(o.connector.handleCallback(scopes, CALLBACK, paramsA2, undefined)).rejects.toBeInstanceOf(
      ConnectorError,
    );
  });

  it('refuses a redirectURI that is not the callback, and logins without a clientID', async () => {
    const wrong = open({ ...base(), redirectURI: 'https://elsewhere.example/callback' });
    await expect(wrong.connector.beginLogin(scopes, CALLBACK)).rejects.toMatchObject({
      message: expect.stringContaining('connectors[upstream].config.redirectURI'),
    });
    const exchangeOnly = open({ issuer: upstream.issuer, userNameKey: 'sub' });
    await expect(exchangeOnly.connector.beginLogin(scopes, CALLBACK)).rejects.toMatchObject({
      userMessage: 'This login method cannot be used to sign in interactively.',
    });
  });

  it('refreshes through the upstream, writes the rotated refresh token back, and is denied once the user is gone', async () => {
    upstream.accounts.set('carol-sub', {
      sub: 'carol-sub',
      name: 'Carol',
      email: 'c@example.com',
      email_verified: true,
    });
    const o = open({ ...base(), insecureEnableGroups: true });
    const begun = await o.connector.beginLogin(offline, CALLBACK);
    const params = await loginAtUpstream(begun.url('s'), 'carol-sub');
    const identity = await o.connector.handleCallback(offline, CALLBACK, params, begun.connectorState);
    const first = decodeUpstreamTokens(identity.connectorData);
    expect(first).toMatchObject({ refreshToken: expect.any(String), subject: 'carol-sub' });

    upstream.accounts.set('carol-sub', {
      sub: 'carol-sub',
      name: 'Carol Smith',
      email: 'c@example.com',
      email_verified: true,
      groups: ['new'],
    });
    const refreshed = await o.connector.refresh(offline, identity);
    expect(refreshed).toMatchObject({ userID: 'carol-sub', username: 'Carol Smith', groups: ['new'] });
    const second = decodeUpstreamTokens(refreshed.connectorData);
    expect(second!.refreshToken).not.toBe(first!.refreshToken);

    // The user is removed upstream: the upstream refuses the refresh token (invalid_grant), a denial.
    upstream.accounts.delete('carol-sub');
    await expect(o.connector.refresh(offline, refreshed)).rejects.toMatchObject({
      name: 'RefreshDeniedError',
      message: expect.stringContaining('invalid_grant'),
    });
  });

  it('is denied a refresh with an upstream refresh token that was rotated away', async () => {
    const o = open(base());
    const begun = await o.connector.beginLogin(offline, CALLBACK);
    const identity = await o.connector.handleCallback(
      offline,
      CALLBACK,
      await loginAtUpstream(begun.url('s')),
      begun.connectorState,
    );
    await o.connector.refresh(offline, identity);
    await expect(o.connector.refresh(offline, identity)).rejects.toMatchObject({
      name: 'RefreshDeniedError',
      message: expect.stringContaining('invalid_grant'),
    });
  });

  it('refuses to refresh a login that kept no upstream refresh token', async () => {
    const o = open(base());
    const { identity } = await login(o);
    await expect(o.connector.refresh(offline, identity)).rejects.toBeInstanceOf(RefreshDeniedError);
  });

  it('keeps the identity when a refresh answers without an ID token, but the refresh itself must succeed', async () => {
    // oidc-provider always sends an ID token on refresh; providers that do not are played by removing it
    // from its real answer on the way back.
    const strip =
      (fetch: HttpFetch): HttpFetch =>
      async (url, init) => {
        const res = await fetch(url, init);
        if (!String(init?.body ?? '').includes('grant_type=refresh_token') || !res.ok) return res;
        const body = (await res.json()) as Record<string, unknown>;
        delete body.id_token;
        return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
      };
    const signal = new AbortController();
    const real = httpClientFactory({ signal: signal.signal });
    try {
      const o = open({ ...base(), insecureEnableGroups: true }, { http: (trust) => strip(real(trust)) });
      const begun = await o.connector.beginLogin(offline, CALLBACK);
      const identity = await o.connector.handleCallback(
        offline,
        CALLBACK,
        await loginAtUpstream(begun.url('s')),
        begun.connectorState,
      );
      const refreshed = await o.connector.refresh(offline, identity);
      expect({ ...refreshed, connectorData: undefined }).toEqual({ ...identity, connectorData: undefined });
      expect(decodeUpstreamTokens(refreshed.connectorData)!.refreshToken).not.toBe(
        decodeUpstreamTokens(identity.connectorData)!.refreshToken,
      );

      // With getUserInfo, userinfo speaks for the user instead.
      const withInfo = open(
        { ...base(), insecureEnableGroups: true, getUserInfo: true },
        { http: (trust) => strip(real(trust)) },
      );
      const begun2 = await withInfo.connector.beginLogin(offline, CALLBACK);
      const identity2 = await withInfo.connector.handleCallback(
        offline,
        CALLBACK,
        await loginAtUpstream(begun2.url('s')),
        begun2.connectorState,
      );
      upstream.accounts.set(JANE.sub, { ...JANE, name: 'Jane Q. Doe' });
      try {
        expect(await withInfo.connector.refresh(offline, identity2)).toMatchObject({
          username: 'Jane Q. Doe',
        });
      } finally {
        upstream.accounts.set(JANE.sub, JANE);
      }
    } finally {
      signal.abort();
    }
  });

  it('answers an upstream failure during refresh with ConnectorError (try again), not a denial', async () => {
    const o = open(base());
    const begun = await o.connector.beginLogin(offline, CALLBACK);
    const identity = await o.connector.handleCallback(
      offline,
      CALLBACK,
      await loginAtUpstream(begun.url('s')),
      begun.connectorState,
    );
    const tokenPath = await upstreamEndpointPath(upstream, 'token_endpoint');
    upstream.intercept = (req, res) => {
      if (req.method !== 'POST' || !req.url?.startsWith(tokenPath)) return false;
      res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>maintenance</h1>');
      return true;
    };
    await expect(o.connector.refresh(offline, identity)).rejects.toMatchObject({
      name: 'ConnectorError',
      userMessage: 'The identity provider answered unexpectedly; please try again later.',
    });
  });
});
