#!/usr/bin/env node
// node-oidc-provider (npm `oidc-provider`, v9) on the token benchmark's scenario, started by run.mjs as a child
// process: usage `node oidc-provider-server.mjs PORT`. Same shape as Latchkey's run: one confidential client
// `bench`/`bench-secret` (client_secret_basic), refresh tokens issued and never rotated, and every
// refresh_token grant answers with an RS256 ID token and an RS256 JWT access token. Storage is the library's
// default in-memory adapter (Latchkey uses SQLite, so the comparison is conservative for Latchkey).
//
// The first refresh token is not obtained through the interaction UI: once listening, the script creates a
// Grant and a RefreshToken through the provider's own models — what a completed code flow with consent would
// have stored — and prints one JSON line `{"issuer": …, "refreshToken": …}` to stdout for run.mjs.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
// The resource server every access token is issued for; resource indicators are the only way v9 issues JWT
// (rather than opaque) access tokens.
const RESOURCE = 'urn:latchkey:bench';
const ACCOUNT = 'bench-user';

const jwk = {
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid: 'bench-rs256',
  alg: 'RS256',
  use: 'sig',
};

const provider = new Provider(issuer, {
  jwks: { keys: [jwk] },
  clients: [
    {
      client_id: 'bench',
      client_secret: 'bench-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/cb'],
      id_token_signed_response_alg: 'RS256',
    },
    // The bench table's client_credentials row (table.mjs): an RS256 JWT access token for the resource server.
    {
      client_id: 'machine',
      client_secret: 'machine-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
  ],
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  scopes: ['openid', 'offline_access'],
  issueRefreshToken: () => true,
  rotateRefreshToken: false,
  // Fixed lifetimes (the defaults are functions that log "you should change this" warnings).
  ttl: { AccessToken: 3600, IdToken: 3600, Grant: 14 * 86400, RefreshToken: 14 * 86400, Session: 86400 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      // Use the refresh token's granted resource on refresh (else, with userinfo enabled and scope openid,
      // the access token would be an opaque userinfo token).
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'openid',
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});
provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));

await new Promise((resolve) => createServer(provider.callback()).listen(port, '127.0.0.1', resolve));

// What an authorization-code login with consent for `openid offline_access` would leave behind.
const client = await provider.Client.find('bench');
const grant = new provider.Grant({ accountId: ACCOUNT, clientId: client.clientId });
grant.addOIDCScope('openid offline_access');
grant.addResourceScope(RESOURCE, 'openid');
const grantId = await grant.save();
const refreshToken = await new provider.RefreshToken({
  client,
  accountId: ACCOUNT,
  grantId,
  gty: 'authorization_code',
  scope: 'openid offline_access',
  resource: RESOURCE,
  authTime: Math.floor(Date.now() / 1000),
  expiresWithSession: false,
}).save();

console.log(JSON.stringify({ issuer, refreshToken }));
