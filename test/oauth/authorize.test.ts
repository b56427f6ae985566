import { createHash } from 'node:crypto';
import type { AuthorizePolicy, PendingAuthRequest } from '../../src/oauth/authorize.js';
import {
  MAX_LOGIN_HINT_BYTES,
  MAX_NONCE_BYTES,
  MAX_STATE_BYTES,
  validateAuthorizationRequest,
} from '../../src/oauth/authorize.js';
import { AuthorizationRedirectError, OAuthError, UntrustedRedirectError } from '../../src/oauth/errors.js';
import { OOB_REDIRECT_URI } from '../../src/oauth/redirect-uri.js';
import type { Client } from '../../src/storage/storage.js';

const client = (id: string, over: Partial<Client> = {}): Client => ({
  id,
  secret: `secret-${id}`,
  redirectURIs: ['https://app.example.com/callback'],
  trustedPeers: [],
  public: false,
  name: id,
  logoURL: '',
  ...over,
});

const CLIENTS: Record<string, Client> = {
  app: client('app'),
  kubernetes: client('kubernetes', { trustedPeers: ['app'] }),
  cli: client('cli', { public: true, redirectURIs: ['http://localhost:8000/callback'] }),
};
const lookup = async (id: string) => CLIENTS[id];

const POLICY: AuthorizePolicy = {
  responseTypes: ['code'],
  pkce: { enforce: false, methods: ['S256', 'plain'] },
};
const REDIRECT = 'https://app.example.com/callback';
const VERIFIER = 'dBjftJeZ4CVP-mJ92K9ClSgS1_xB9s9pXhqhK_mm9dM0';
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');

const base = (): Record<string, unknown> => ({
  client_id: 'app',
  redirect_uri: REDIRECT,
  response_type: 'code',
  scope: 'openid email',
  state: 'st-123',
  nonce: 'n-456',
});
const validate = (params: Record<string, unknown>, policy: AuthorizePolicy = POLICY) =>
  validateAuthorizationRequest(params, lookup, policy);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('until the client and its redirect URI are verified: an error page, never a redirect', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['missing client_id', { client_id: undefined }, 'Missing client_id.'],
    ['empty client_id', { client_id: '' }, 'Missing client_id.'],
    ['unknown client', { client_id: 'ghost' }, 'Unknown client "ghost".'],
    ['duplicate client_id', { client_id: ['app', 'app'] }, 'Duplicate parameter "client_id".'],
    ['missing redirect_uri', { redirect_uri: undefined }, 'Missing redirect_uri.'],
    ['duplicate redirect_uri', { redirect_uri: [REDIRECT, REDIRECT] }, 'Duplicate parameter "redirect_uri".'],
    [
      'unregistered redirect_uri',
      { redirect_uri: 'https://evil.example/callback' },
      'Unregistered redirect_uri "https://evil.example/callback".',
    ],
    ['near-miss redirect_uri', { redirect_uri: `${REDIRECT}/` }, `Unregistered redirect_uri "${REDIRECT}/".`],
    [
      'unknown client with every other error too',
      { client_id: 'ghost', prompt: 'none', scope: 'admin', request: 'x', state: ['a', 'b'] },
      'Unknown client "ghost".',
    ],
    [
      'bad redirect_uri with every other error too',
      { redirect_uri: 'https://evil.example/', response_type: 'token', scope: ['openid', 'email'] },
      'Unregistered redirect_uri "https://evil.example/".',
    ],
  ])('%s', async (_name, patch, message) => {
    const e = await rejection(validate({ ...base(), ...patch }));
    expect(e).toBeInstanceOf(UntrustedRedirectError);
    expect(e).not.toBeInstanceOf(OAuthError);
    expect(e).toMatchObject({ title: 'Bad request', message, status: 400 });
  });
});

describe('once the redirect URI is trusted: a redirect carrying the error and state', () => {
  const long = (bytes: number) => 'x'.repeat(bytes);
  it.each<[string, Record<string, unknown>, string, string]>([
    ['duplicate scope', { scope: ['openid', 'openid'] }, 'invalid_request', 'Duplicate parameter "scope".'],
    ['duplicate nonce', { nonce: ['a', 'b'] }, 'invalid_request', 'Duplicate parameter "nonce".'],
    ['missing scope', { scope: undefined }, 'invalid_scope', 'Missing required scope(s) ["openid"].'],
    ['missing openid', { scope: 'email profile' }, 'invalid_scope', 'Missing required scope(s) ["openid"].'],
    ['unknown scope', { scope: 'openid admin' }, 'invalid_scope', 'Unrecognized scope(s) ["admin"]'],
    [
      'audience of a peer that does not trust the client',
      { scope: 'openid audience:server:client_id:cli' },
      'invalid_scope',
      'Client "cli" does not trust "app"',
    ],
    [
      'request object',
      { request: 'eyJhbGciOi.x.y' },
      'request_not_supported',
      'The request parameter is not supported.',
    ],
    [
      'request_uri',
      { request_uri: 'https://app.example.com/r' },
      'invalid_request',
      'The request_uri parameter is not supported.',
    ],
    [
      'response_mode=fragment',
      { response_mode: 'fragment' },
      'invalid_request',
      'Unsupported response_mode "fragment".',
    ],
    ['missing response_type', { response_type: undefined }, 'invalid_request', 'Missing response_type.'],
    [
      'response_type=token',
      { response_type: 'token' },
      'unsupported_response_type',
      'Unsupported response_type "token".',
    ],
    [
      'response_type=code id_token',
      { response_type: 'code id_token' },
      'unsupported_response_type',
      'Unsupported response_type "code id_token".',
    ],
    [
      'code_challenge_method without code_challenge',
      { code_challenge_method: 'S256' },
      'invalid_request',
      'code_challenge_method without code_challenge',
    ],
    [
      'unknown code_challenge_method',
      { code_challenge: CHALLENGE, code_challenge_method: 'S512' },
      'invalid_request',
      'unsupported code_challenge_method "S512" (supported: S256, plain)',
    ],
    ['malformed code_challenge', { code_challenge: 'short' }, 'invalid_request', 'malformed code_challenge'],
    [
      'prompt=none with others',
      { prompt: 'none consent' },
      'invalid_request',
      'prompt=none cannot be combined with other values.',
    ],
    ['unknown prompt', { prompt: 'login bogus' }, 'invalid_request', 'Unsupported prompt "bogus".'],
    ['negative max_age', { max_age: '-1' }, 'invalid_request', 'max_age must be a non-negative integer.'],
    ['fractional max_age', { max_age: '1.5' }, 'invalid_request', 'max_age must be a non-negative integer.'],
    ['textual max_age', { max_age: 'soon' }, 'invalid_request', 'max_age must be a non-negative integer.'],
    [
      'huge max_age',
      { max_age: '12345678901' },
      'invalid_request',
      'max_age must be a non-negative integer.',
    ],
    [
      'over-long nonce',
      { nonce: long(MAX_NONCE_BYTES + 1) },
      'invalid_request',
      `nonce must be at most ${MAX_NONCE_BYTES} bytes.`,
    ],
    [
      'over-long login_hint',
      { login_hint: long(MAX_LOGIN_HINT_BYTES + 1) },
      'invalid_request',
      `login_hint must be at most ${MAX_LOGIN_HINT_BYTES} bytes.`,
    ],
    ['over-long unknown parameter', { foo: long(8193) }, 'invalid_request', 'Parameter "foo" is too long.'],
  ])('%s', async (_name, patch, error, description) => {
    const e = await rejection(validate({ ...base(), ...patch }));
    expect(e).toBeInstanceOf(AuthorizationRedirectError);
    expect(e).toMatchObject({ error, description, redirectURI: REDIRECT, state: 'st-123', status: 302 });
  });

  it('enforces PKCE when configured', async () => {
    const e = await rejection(validate(base(), { ...POLICY, pkce: { enforce: true, methods: ['S256'] } }));
    expect(e).toBeInstanceOf(AuthorizationRedirectError);
    expect(e).toMatchObject({
      error: 'invalid_request',
      description: 'PKCE is required: send code_challenge',
      state: 'st-123',
    });
  });

  it('refuses plain PKCE when only S256 is allowed (no downgrade)', async () => {
    const e = await rejection(
      validate(
        { ...base(), code_challenge: VERIFIER },
        { ...POLICY, pkce: { enforce: true, methods: ['S256'] } },
      ),
    );
    expect(e).toMatchObject({
      error: 'invalid_request',
      description: 'unsupported code_challenge_method "plain" (supported: S256)',
    });
  });

  it('refuses the code response type when the configuration does not offer it', async () => {
    const e = await rejection(validate(base(), { ...POLICY, responseTypes: ['token'] }));
    expect(e).toMatchObject({
      error: 'unsupported_response_type',
      description: 'Unsupported response_type "code".',
    });
  });

  it('omits a duplicated state from the redirect', async () => {
    const e = await rejection(validate({ ...base(), state: ['a', 'b'] }));
    expect(e).toBeInstanceOf(AuthorizationRedirectError);
    expect(e).toMatchObject({
      error: 'invalid_request',
      description: 'Duplicate parameter "state".',
      state: '',
    });
  });

  it('refuses an over-long state and omits it from the redirect (counted in bytes, not characters)', async () => {
    const state = 'é'.repeat(MAX_STATE_BYTES / 2 + 1); // 1025 characters, 2050 bytes
    const e = await rejection(validate({ ...base(), state }));
    expect(e).toBeInstanceOf(AuthorizationRedirectError);
    expect(e).toMatchObject({
      error: 'invalid_request',
      description: `state must be at most ${MAX_STATE_BYTES} bytes.`,
      redirectURI: REDIRECT,
      state: '',
    });
    const huge = await rejection(validate({ ...base(), state: long(9000) }));
    expect(huge).toMatchObject({
      error: 'invalid_request',
      description: 'Parameter "state" is too long.',
      state: '',
    });
  });

  it('echoes a state of exactly the limit', async () => {
    const state = 'é'.repeat(MAX_STATE_BYTES / 2);
    await expect(validate({ ...base(), state })).resolves.toMatchObject({ state });
    const e = await rejection(validate({ ...base(), state, nonce: long(MAX_NONCE_BYTES + 1) }));
    expect(e).toMatchObject({ error: 'invalid_request', state });
  });

  it('uses the public client’s loopback redirect URI as sent', async () => {
    const redirect = 'http://127.0.0.1:49152/callback';
    const e = await rejection(
      validate({ ...base(), client_id: 'cli', redirect_uri: redirect, scope: 'email' }),
    );
    expect(e).toMatchObject({ error: 'invalid_scope', redirectURI: redirect, state: 'st-123' });
  });
});

describe('a valid request', () => {
  const expected = (over: Partial<PendingAuthRequest> = {}): PendingAuthRequest => ({
    clientID: 'app',
    redirectURI: REDIRECT,
    responseType: 'code',
    scopes: ['openid', 'email'],
    state: 'st-123',
    nonce: 'n-456',
    pkce: { codeChallenge: '', codeChallengeMethod: '' },
    prompt: [],
    forceApproval: false,
    ...over,
  });

  it('yields exactly the pending request', async () => {
    expect(await validate(base())).toStrictEqual(expected());
  });

  it('keeps every optional parameter', async () => {
    const got = await validate({
      ...base(),
      scope: 'openid email openid groups offline_access audience:server:client_id:kubernetes',
      code_challenge: CHALLENGE,
      code_challenge_method: 'S256',
      connector_id: 'ldap',
      login_hint: 'jane@example.com',
      prompt: 'login select_account',
      max_age: '0',
      response_mode: 'query',
    });
    expect(got).toStrictEqual(
      expected({
        scopes: ['openid', 'email', 'groups', 'offline_access', 'audience:server:client_id:kubernetes'],
        pkce: { codeChallenge: CHALLENGE, codeChallengeMethod: 'S256' },
        connectorID: 'ldap',
        loginHint: 'jane@example.com',
        prompt: ['login', 'select_account'],
        maxAge: 0,
      }),
    );
  });

  it('treats empty optional parameters as absent and defaults PKCE to plain', async () => {
    const got = await validate({
      ...base(),
      state: '',
      nonce: '',
      connector_id: '',
      code_challenge: VERIFIER,
    });
    expect(got).toStrictEqual(
      expected({ state: '', nonce: '', pkce: { codeChallenge: VERIFIER, codeChallengeMethod: 'plain' } }),
    );
  });

  it.each<[string, Record<string, unknown>, boolean]>([
    ['approval_prompt=force', { approval_prompt: 'force' }, true],
    ['prompt=consent', { prompt: 'consent' }, true],
    ['prompt=login consent', { prompt: 'login consent' }, true],
    ['approval_prompt=auto', { approval_prompt: 'auto' }, false],
    ['prompt=login', { prompt: 'login' }, false],
  ])('%s sets forceApproval=%s', async (_name, patch, force) => {
    expect((await validate({ ...base(), ...patch })).forceApproval).toBe(force);
  });

  it('accepts a public client on any loopback port and out-of-band, with PKCE', async () => {
    const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
    for (const redirect of [
      'http://localhost:1234/callback',
      'http://[::1]:8000/callback',
      OOB_REDIRECT_URI,
    ]) {
      const got = await validate({
        ...base(),
        client_id: 'cli',
        redirect_uri: redirect,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      expect(got).toStrictEqual(
        expected({
          clientID: 'cli',
          redirectURI: redirect,
          pkce: { codeChallenge: challenge, codeChallengeMethod: 'S256' },
        }),
      );
    }
  });

  it('requires PKCE of a public client, whatever oauth2.pkce.enforce says (RFC 9700 §2.1.1)', async () => {
    const e = await rejection(
      validate({ ...base(), client_id: 'cli', redirect_uri: 'http://localhost:1234/callback' }),
    );
    expect(e).toMatchObject({
      error: 'invalid_request',
      description: 'PKCE is required: send code_challenge',
    });
    // A confidential client without PKCE is still fine unless enforced.
    expect(await validate(base())).toStrictEqual(expected());
  });
});
