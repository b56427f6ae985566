import { createHash } from 'node:crypto';
import { isAllowedRedirectURI, OOB_REDIRECT_URI } from '../../src/oauth/redirect-uri.js';
import { splitScopes, validateScopes } from '../../src/oauth/scopes.js';
import { audiences } from '../../src/tokens/audience.js';
import { parseCodeChallenge, verifyCodeVerifier } from '../../src/oauth/pkce.js';
import { constantTimeEqual, digest } from '../../src/oauth/digest.js';
import { OAuthError } from '../../src/oauth/errors.js';

const confidential = {
  public: false,
  redirectURIs: ['https://app.example.com/callback', 'http://127.0.0.1:5555/callback'],
};
const publicCli = { public: true, redirectURIs: ['http://localhost:8000/cb'] };

describe('redirect URI matching', () => {
  it('accepts exactly the registered URIs', () => {
    expect(isAllowedRedirectURI(confidential, 'https://app.example.com/callback')).toBe(true);
    expect(isAllowedRedirectURI(confidential, 'http://127.0.0.1:5555/callback')).toBe(true);
  });

  it.each([
    'https://app.example.com/callback/',
    'https://APP.example.com/callback',
    'https://app.example.com/Callback',
    'https://app.example.com/callback?x=1',
    'https://app.example.com/callback#frag',
    'https://app.example.com/callback/../callback',
    'https://app.example.com/x/../callback',
    'https://evil@app.example.com/callback',
    'https://app.example.com@evil.example/callback',
    'https://app.example.com:443/callback',
    'http://app.example.com/callback',
    'http://127.0.0.1:5556/callback',
    OOB_REDIRECT_URI,
    '',
  ])('refuses the near miss %j for a confidential client', (uri) => {
    expect(isAllowedRedirectURI(confidential, uri)).toBe(false);
  });

  it('lets a public client use any loopback port with the registered path', () => {
    for (const uri of [
      'http://localhost:8000/cb',
      'http://localhost:18000/cb',
      'http://127.0.0.1:1234/cb',
      'http://[::1]:9/cb',
    ]) {
      expect(isAllowedRedirectURI(publicCli, uri)).toBe(true);
    }
  });

  it.each([
    'http://localhost:8000/other',
    'http://localhost:8000/cb/',
    'http://localhost:8000/cb?x=1',
    'https://localhost:8000/cb',
    'http://localhost.evil.example:8000/cb',
    'http://127.0.0.2:8000/cb',
    'http://localhost:99999/cb',
    'http://user@localhost:8000/cb',
    'myapp://cb',
  ])('refuses %j for a public client', (uri) => {
    expect(isAllowedRedirectURI(publicCli, uri)).toBe(false);
  });

  it('lets a public client use the out-of-band URI', () => {
    expect(isAllowedRedirectURI(publicCli, OOB_REDIRECT_URI)).toBe(true);
  });

  it('gives a public client without registered URIs only the loopback root', () => {
    const bare = { public: true, redirectURIs: [] };
    expect(isAllowedRedirectURI(bare, 'http://localhost:8000')).toBe(true);
    expect(isAllowedRedirectURI(bare, 'http://127.0.0.1:18000/')).toBe(true);
    expect(isAllowedRedirectURI(bare, 'http://localhost:8000/anything')).toBe(false);
  });
});

describe('scopes', () => {
  const clients: Record<string, { id: string; trustedPeers: string[] }> = {
    kubernetes: { id: 'kubernetes', trustedPeers: ['cli'] },
    other: { id: 'other', trustedPeers: [] },
  };
  const lookup = async (id: string) => clients[id];

  it('splits on spaces without duplicates', () => {
    expect(splitScopes('openid  email openid groups')).toEqual(['openid', 'email', 'groups']);
    expect(splitScopes(undefined)).toEqual([]);
  });

  it('requires openid', async () => {
    await expect(validateScopes(['email'], 'cli', lookup)).rejects.toMatchObject({ error: 'invalid_scope' });
  });

  it('refuses unknown scopes by name', async () => {
    await expect(validateScopes(['openid', 'admin'], 'cli', lookup)).rejects.toThrow(
      'Unrecognized scope(s) ["admin"]',
    );
  });

  it('allows a trusted cross-client audience and refuses an untrusting or unknown peer', async () => {
    await expect(
      validateScopes(['openid', 'audience:server:client_id:kubernetes'], 'cli', lookup),
    ).resolves.toBeUndefined();
    await expect(
      validateScopes(['openid', 'audience:server:client_id:other'], 'cli', lookup),
    ).rejects.toThrow('does not trust');
    await expect(
      validateScopes(['openid', 'audience:server:client_id:ghost'], 'cli', lookup),
    ).rejects.toThrow('Unknown client');
  });

  it('computes aud like Dex: peers, then the client appended', () => {
    expect(audiences('cli', ['openid'])).toEqual(['cli']);
    expect(audiences('cli', ['openid', 'audience:server:client_id:kubernetes'])).toEqual([
      'kubernetes',
      'cli',
    ]);
    expect(
      audiences('cli', ['audience:server:client_id:cli', 'audience:server:client_id:kubernetes']),
    ).toEqual(['cli', 'kubernetes']);
  });
});

describe('PKCE', () => {
  const verifier = 'dBjftJeZ4CVP-mJ92K9ClSgS1_xB9s9pXhqhK_mm9dM0';
  const s256 = createHash('sha256').update(verifier).digest('base64url');
  const policy = { enforce: false, methods: ['S256', 'plain'] };

  it('verifies S256 and plain', () => {
    expect(() => verifyCodeVerifier(parseCodeChallenge(s256, 'S256', policy), verifier)).not.toThrow();
    expect(() => verifyCodeVerifier(parseCodeChallenge(verifier, undefined, policy), verifier)).not.toThrow();
  });

  it('refuses a wrong verifier, a missing verifier and a verifier without a challenge', () => {
    const stored = parseCodeChallenge(s256, 'S256', policy);
    expect(() => verifyCodeVerifier(stored, verifier.replace('d', 'e'))).toThrow(
      new OAuthError('invalid_grant', 'Invalid code_verifier.'),
    );
    expect(() => verifyCodeVerifier(stored, undefined)).toThrow(
      new OAuthError('invalid_grant', 'Expecting parameter code_verifier in PKCE flow.'),
    );
    expect(() => verifyCodeVerifier({ codeChallenge: '', codeChallengeMethod: '' }, verifier)).toThrow(
      new OAuthError('invalid_request', 'No PKCE flow started. Cannot check code_verifier.'),
    );
  });

  it('enforces PKCE and the configured methods', () => {
    expect(() => parseCodeChallenge(undefined, undefined, { ...policy, enforce: true })).toThrow(
      'PKCE is required',
    );
    expect(() => parseCodeChallenge(s256, 'plain', { enforce: false, methods: ['S256'] })).toThrow(
      'unsupported code_challenge_method',
    );
    expect(() => parseCodeChallenge('short', 'S256', policy)).toThrow('malformed code_challenge');
  });
});

describe('digests', () => {
  it('hashes with SHA-256 base64url and compares in constant time', () => {
    expect(digest('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    expect(constantTimeEqual('secret', 'secret')).toBe(true);
    expect(constantTimeEqual('secret', 'secreT')).toBe(false);
    expect(constantTimeEqual('secret', 'secret2')).toBe(false);
  });
});
