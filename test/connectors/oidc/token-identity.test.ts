import { generateKeyPairSync } from 'node:crypto';
import type { JWK, JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { ConnectorError, SubjectTokenError } from '../../../src/connectors/connector.js';
import { freePort } from '../../helpers/net.js';
import { startUpstreamOidc, upstreamEndpointPath, type UpstreamOidc } from '../../helpers/upstream-oidc.js';
import { scopes } from '../helpers.js';
import {
  CALLBACK,
  countRequests,
  JANE,
  LATCHKEY_AT_UPSTREAM,
  loginAtUpstream,
  openOidc,
  type Opened,
} from './harness.js';

// Token exchange's half in the oidc connector (RFC 8693 subject tokens), against a real provider's discovery,
// JWKS and userinfo: what is accepted, and each refusal with the sentence the client will read.

const ID = 'urn:ietf:params:oauth:token-type:id_token';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const JOB = 'repo:octo-org/octo-repo:ref:refs/heads/main';
/** What a SubjectTokenError with exactly this message (shown to the client) looks like. */
const refusal = (message: string) => ({ name: 'SubjectTokenError', message });
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

function rsaKey(kid: string): JWK & { kid: string } {
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as JWK;
  return { ...jwk, kid, alg: 'RS256', use: 'sig' };
}
const publicPart = ({ kty, n, e, kid, alg, use }: JWK) => ({ kty, n, e, kid, alg, use });

describe('oidc connector: token exchange subject tokens', () => {
  let upstream: UpstreamOidc;
  let realTokens: { id_token: string; access_token: string };
  let jwksPath: string;
  const opened: Opened[] = [];
  const open = (...args: Parameters<typeof openOidc>) => {
    const o = openOidc(...args);
    opened.push(o);
    return o;
  };

  beforeAll(async () => {
    upstream = await startUpstreamOidc({ clients: [LATCHKEY_AT_UPSTREAM], accounts: [JANE] });
    jwksPath = await upstreamEndpointPath(upstream, 'jwks_uri');
    // A real ID token and access token, from a login of Latchkey's client at the upstream.
    const rp = await oidc.discovery(new URL(upstream.issuer), 'latchkey', 'latchkey-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: CALLBACK,
      scope: 'openid profile email groups',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
    });
    const params = await loginAtUpstream(url.href);
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(`${CALLBACK}?${params}`), {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
    });
    realTokens = { id_token: tokens.id_token!, access_token: tokens.access_token };
  });
  afterEach(() => {
    upstream.intercept = undefined;
    for (const o of opened.splice(0)) o.stop.abort();
  });
  afterAll(() => upstream?.stop());

  /** The seed's GitHub Actions connector: no clientID, no audiences, username from `sub`. */
  const ciConfig = () => ({ issuer: upstream.issuer, scopes: ['openid', 'groups'], userNameKey: 'sub' });
  const job = (o: Opened, claims: JWTPayload = {}) => {
    const now = Math.floor(o.clock.now().getTime() / 1000);
    return upstream.sign({
      sub: JOB,
      aud: 'https://github.com/octo-org',
      repository: 'octo-org/octo-repo',
      iat: now,
      nbf: now - 5,
      exp: now + 300,
      ...claims,
    });
  };

  it('accepts a real ID token of the provider, its audience the client ID', async () => {
    const o = open({ issuer: upstream.issuer, clientID: 'latchkey', insecureEnableGroups: true });
    expect(await o.connector.tokenIdentity(scopes, ID, realTokens.id_token)).toEqual({
      userID: 'jane-sub',
      username: 'Jane Doe',
      preferredUsername: 'janed',
      email: 'jane@example.com',
      emailVerified: true,
      groups: ['admins', 'dev', 'ops'],
    });
    // Not warned about: the client ID restricts the audience.
    expect(o.logger.at('warn').map((r) => r.msg)).toEqual([]);
  });

  it('accepts a real access token by asking the userinfo endpoint, with getUserInfo', async () => {
    const o = open({ issuer: upstream.issuer, getUserInfo: true, audiences: ['latchkey'] });
    expect(await o.connector.tokenIdentity(scopes, ACCESS, realTokens.access_token)).toMatchObject({
      userID: 'jane-sub',
      username: 'Jane Doe',
      email: 'jane@example.com',
    });
    await expect(o.connector.tokenIdentity(scopes, ACCESS, 'made-up-token')).rejects.toMatchObject(
      refusal("the provider's userinfo endpoint refused the token (invalid_token)"),
    );
  });

  it('accepts a JWT access token without getUserInfo (GitHub Actions), warning at open about any audience', async () => {
    const o = open(ciConfig(), { id: 'github-actions' });
    expect(o.logger.at('warn')).toEqual([
      {
        level: 'warn',
        obj: { connector: 'github-actions' },
        msg:
          'connectors[github-actions].config: token exchange accepts subject tokens issued for any audience; ' +
          'set audiences (or clientID) to accept only tokens meant for Latchkey',
      },
    ]);
    expect(await o.connector.tokenIdentity(scopes, ACCESS, await job(o))).toEqual({
      userID: JOB,
      username: JOB,
      preferredUsername: '',
      email: '',
      emailVerified: false,
      groups: [],
    });
    // The same JWT as an ID token.
    expect((await o.connector.tokenIdentity(scopes, ID, await job(o))).userID).toBe(JOB);
  });

  it('refuses an expired token, by the injected clock', async () => {
    const o = open(ciConfig());
    const now = Math.floor(o.clock.now().getTime() / 1000);
    await expect(
      o.connector.tokenIdentity(scopes, ACCESS, await job(o, { exp: now - 120 })),
    ).rejects.toMatchObject(refusal(`the token expired at ${new Date((now - 120) * 1000).toISOString()}`));
    const token = await job(o);
    o.clock.advance(10 * 60_000);
    await expect(o.connector.tokenIdentity(scopes, ACCESS, token)).rejects.toThrow(/^the token expired at /);
    o.clock.advance(-20 * 60_000);
    await expect(o.connector.tokenIdentity(scopes, ACCESS, token)).rejects.toThrow(
      /^the token is not valid before /,
    );
  });

  it('refuses a token naming another issuer, though signed with the provider key', async () => {
    const o = open(ciConfig());
    await expect(
      o.connector.tokenIdentity(scopes, ACCESS, await job(o, { iss: 'https://evil.example' })),
    ).rejects.toMatchObject(
      refusal(`the token was issued by "https://evil.example", expected "${upstream.issuer}"`),
    );
  });

  it('accepts the issuerAlias as the issuer of a token', async () => {
    const o = open({ ...ciConfig(), issuerAlias: 'https://alias.example' });
    expect(
      (await o.connector.tokenIdentity(scopes, ACCESS, await job(o, { iss: 'https://alias.example' })))
        .userID,
    ).toBe(JOB);
  });

  it('refuses a token for another audience: audiences configured, or else the client ID', async () => {
    const byAudiences = open({ ...ciConfig(), audiences: ['latchkey', 'latchkey-ci'] });
    expect(
      (
        await byAudiences.connector.tokenIdentity(
          scopes,
          ACCESS,
          await job(byAudiences, { aud: ['x', 'latchkey-ci'] }),
        )
      ).userID,
    ).toBe(JOB);
    await expect(
      byAudiences.connector.tokenIdentity(scopes, ACCESS, await job(byAudiences)),
    ).rejects.toMatchObject(
      refusal(
        `the token's audience "https://github.com/octo-org" does not include "latchkey" or "latchkey-ci"`,
      ),
    );
    const byClient = open({ ...ciConfig(), clientID: 'latchkey' });
    await expect(byClient.connector.tokenIdentity(scopes, ACCESS, await job(byClient))).rejects.toMatchObject(
      refusal(`the token's audience "https://github.com/octo-org" does not include "latchkey"`),
    );
  });

  it('refuses alg none, and HS256 "signed" with the provider public key as the secret', async () => {
    const o = open(ciConfig());
    const payload = JSON.parse(
      Buffer.from((await job(o)).split('.')[1]!, 'base64url').toString(),
    ) as JWTPayload;
    await expect(
      o.connector.tokenIdentity(scopes, ACCESS, `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`),
    ).rejects.toMatchObject(refusal('the token is unsigned (alg "none")'));
    const secret = new TextEncoder().encode(JSON.stringify(publicPart(upstream.signingKey)));
    const forged = await upstream.sign(payload, { alg: 'HS256', key: secret, kid: upstream.signingKey.kid });
    await expect(o.connector.tokenIdentity(scopes, ACCESS, forged)).rejects.toMatchObject(
      refusal(
        "the token is signed with HS256, a shared-secret algorithm; only the provider's published keys can vouch for a token",
      ),
    );
  });

  it('refuses a tampered token and anything that is not a JWT', async () => {
    const o = open(ciConfig());
    const [header, , signature] = (await job(o)).split('.');
    const tampered = `${header}.${b64({ sub: 'repo:octo-org/prod:ref:x', iss: upstream.issuer, exp: 4e9 })}.${signature}`;
    await expect(o.connector.tokenIdentity(scopes, ACCESS, tampered)).rejects.toMatchObject(
      refusal("the token's signature does not verify with the provider's keys"),
    );
    await expect(o.connector.tokenIdentity(scopes, ACCESS, 'not-a-jwt')).rejects.toMatchObject(
      refusal('the token is not a JWT'),
    );
    await expect(
      o.connector.tokenIdentity(scopes, 'urn:ietf:params:oauth:token-type:saml2', await job(o)),
    ).rejects.toBeInstanceOf(SubjectTokenError);
  });

  it('refuses a token whose claims do not make an identity', async () => {
    // Default userNameKey (name) and default scopes (email required): a job token has neither.
    const o = open({ issuer: upstream.issuer, audiences: ['https://github.com/octo-org'] });
    await expect(o.connector.tokenIdentity(scopes, ACCESS, await job(o))).rejects.toMatchObject(
      refusal('the token cannot be used: missing "name" claim'),
    );
  });

  it('refetches the key set for an unknown key id: a rogue key is still refused, a new published key is found', async () => {
    const o = open(ciConfig());
    const counts = countRequests(upstream);
    const jwks = () => counts.get(`GET ${jwksPath}`) ?? 0;
    expect((await o.connector.tokenIdentity(scopes, ACCESS, await job(o))).userID).toBe(JOB);
    expect(jwks()).toBe(1);
    expect((await o.connector.tokenIdentity(scopes, ACCESS, await job(o))).userID).toBe(JOB);
    expect(jwks()).toBe(1); // cached

    const rogue = rsaKey('rogue');
    const now = Math.floor(o.clock.now().getTime() / 1000);
    const rogueToken = await upstream.sign({ sub: JOB, exp: now + 60 }, { key: rogue, kid: 'rogue' });
    await expect(o.connector.tokenIdentity(scopes, ACCESS, rogueToken)).rejects.toMatchObject(
      refusal('the token is signed with a key the provider does not publish (kid "rogue")'),
    );
    expect(jwks()).toBe(2); // looked again before refusing

    // The provider starts publishing a second key (a rotation): a token signed with it is accepted.
    const added = rsaKey('added');
    upstream.intercept = (req, res) => {
      if (req.method !== 'GET' || new URL(req.url ?? '/', upstream.issuer).pathname !== jwksPath)
        return false;
      counts.set(`GET ${jwksPath}`, jwks() + 1);
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
      res.end(JSON.stringify({ keys: [publicPart(upstream.signingKey), publicPart(added)] }));
      return true;
    };
    const addedToken = await upstream.sign({ sub: JOB, exp: now + 60 }, { key: added, kid: 'added' });
    expect((await o.connector.tokenIdentity(scopes, ACCESS, addedToken)).userID).toBe(JOB);
    expect(jwks()).toBe(3);
  });

  it('answers ConnectorError (try again later) while the issuer cannot be reached', async () => {
    const o = open({ issuer: `http://127.0.0.1:${await freePort()}`, userNameKey: 'sub' });
    const token = await job(o);
    await expect(o.connector.tokenIdentity(scopes, ACCESS, token)).rejects.toThrow(ConnectorError);
    await expect(o.connector.tokenIdentity(scopes, ACCESS, token)).rejects.toMatchObject({
      userMessage: 'The identity provider cannot be reached at the moment; please try again later.',
    });
  });
});
