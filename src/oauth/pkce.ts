import { createHash } from 'node:crypto';
import { OAuthError } from './errors.js';
import { constantTimeEqual } from './digest.js';
import type { PKCE } from '../storage/storage.js';

// RFC 7636 §4.1: 43–128 characters of the unreserved set. The same shape bounds the challenge.
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** Validates the PKCE parameters of an authorization request (RFC 7636 §4.3). */
export function parseCodeChallenge(
  challenge: string | undefined,
  method: string | undefined,
  policy: { enforce: boolean; methods: readonly string[] },
): PKCE {
  if (!challenge) {
    if (method) throw new OAuthError('invalid_request', 'code_challenge_method without code_challenge');
    if (policy.enforce) throw new OAuthError('invalid_request', 'PKCE is required: send code_challenge');
    return { codeChallenge: '', codeChallengeMethod: '' };
  }
  // Dex (and RFC 7636) default to "plain" when no method is given.
  const m = method || 'plain';
  if (!policy.methods.includes(m)) {
    throw new OAuthError(
      'invalid_request',
      `unsupported code_challenge_method "${m}" (supported: ${policy.methods.join(', ')})`,
    );
  }
  if (!VERIFIER.test(challenge)) throw new OAuthError('invalid_request', 'malformed code_challenge');
  return { codeChallenge: challenge, codeChallengeMethod: m };
}

/** Checks the verifier presented at the token endpoint against what /auth stored (Dex's rules, reference §2). */
export function verifyCodeVerifier(pkce: PKCE, verifier: string | undefined): void {
  if (!pkce.codeChallenge) {
    if (verifier)
      throw new OAuthError('invalid_request', 'No PKCE flow started. Cannot check code_verifier.');
    return;
  }
  if (!verifier) throw new OAuthError('invalid_grant', 'Expecting parameter code_verifier in PKCE flow.');
  if (!VERIFIER.test(verifier)) throw new OAuthError('invalid_grant', 'Invalid code_verifier.');
  const computed =
    pkce.codeChallengeMethod === 'S256'
      ? createHash('sha256').update(verifier, 'ascii').digest('base64url')
      : verifier;
  if (!constantTimeEqual(computed, pkce.codeChallenge))
    throw new OAuthError('invalid_grant', 'Invalid code_verifier.');
}
