import {
  createRemoteJWKSet,
  customFetch,
  decodeProtectedHeader,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { Clock } from '../../util/clock.js';
import type { HttpFetch } from '../http.js';

// Verifying a JWT an upstream signed (an ID token at login, a subject token at token exchange) against the
// upstream's published keys, with jose. Only asymmetric algorithms: a token "signed" with HMAC proves
// nothing (anyone can compute one with the provider's public key as the secret), and an unsigned one even
// less. Every refusal says why in a sentence a client developer can act on.

/** The signature algorithms an upstream's public keys can vouch for. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

/** Tolerated difference between our clock and the upstream's for exp/nbf/iat. */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** A JWT that is not acceptable; the message (starting "the token …") is meant for the client. */
export class TokenRejectedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenRejectedError';
  }
}

export interface JwtExpectations {
  /** Accepted `iss` values (the issuer, and its alias when configured). */
  issuers: string[];
  /** `aud` must contain one of these; undefined accepts any audience. */
  audiences?: string[] | undefined;
}

/**
 * The upstream's key set, fetched through the connector's HTTP client and cached (jose: ten minutes), and
 * fetched again when a token names a key id it does not hold, so a key the provider adds is found at once.
 * `cooldownMs` is the least time between two such refetches; Dex (go-oidc) refetches on every unknown key
 * id, which 0 reproduces. jose shares one fetch among concurrent requests either way.
 */
export class UpstreamKeySet {
  private set: { uri: string; getKey: JWTVerifyGetKey } | undefined;

  constructor(
    private readonly fetch: HttpFetch,
    private readonly cooldownMs: number,
  ) {}

  keys(jwksURI: string): JWTVerifyGetKey {
    if (this.set?.uri !== jwksURI) {
      const getKey = createRemoteJWKSet(new URL(jwksURI), {
        cooldownDuration: this.cooldownMs,
        [customFetch]: (url, options) => this.fetch(url, options),
      });
      this.set = { uri: jwksURI, getKey };
    }
    return this.set.getKey;
  }
}

const quote = (v: unknown) => JSON.stringify(v);
const list = (vs: string[]) => vs.map(quote).join(' or ');
const at = (seconds: unknown) =>
  typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : String(seconds);

/**
 * Verifies `token`'s signature with `keys` and its iss, aud, exp and nbf against `expect` at the clock's
 * time. Throws TokenRejectedError for a token that is not acceptable; anything else (the key set could not
 * be fetched) is rethrown for the caller to report as an upstream failure.
 */
export async function verifyUpstreamJwt(
  token: string,
  keys: JWTVerifyGetKey,
  expect: JwtExpectations,
  clock: Clock,
): Promise<JWTPayload> {
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw new TokenRejectedError('the token is not a JWT');
  }
  if (token.split('.').length !== 3) throw new TokenRejectedError('the token is not a signed JWT (JWS)');
  if (alg === undefined || alg === 'none') {
    throw new TokenRejectedError('the token is unsigned (alg "none")');
  }
  if (typeof alg === 'string' && /^HS\d+$/.test(alg)) {
    throw new TokenRejectedError(
      `the token is signed with ${alg}, a shared-secret algorithm; only the provider's published keys can vouch for a token`,
    );
  }
  if (typeof alg !== 'string' || !ASYMMETRIC_ALGORITHMS.includes(alg)) {
    throw new TokenRejectedError(`the token's algorithm ${quote(alg)} is not accepted`);
  }
  try {
    const { payload } = await jwtVerify(token, keys, {
      algorithms: ASYMMETRIC_ALGORITHMS,
      issuer: expect.issuers,
      ...(expect.audiences !== undefined ? { audience: expect.audiences } : {}),
      currentDate: clock.now(),
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp'],
    });
    return payload;
  } catch (e) {
    throw rejection(e, token, expect) ?? e;
  }
}

/** The refusal a jose error stands for, or undefined when it is not about the token (a fetch failed). */
function rejection(e: unknown, token: string, expect: JwtExpectations): TokenRejectedError | undefined {
  const err = e as { code?: string; claim?: string; reason?: string; payload?: JWTPayload; message?: string };
  const payload = err.payload ?? {};
  switch (err.code) {
    case 'ERR_JWT_EXPIRED':
      return new TokenRejectedError(`the token expired at ${at(payload.exp)}`, { cause: e });
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return new TokenRejectedError(claimProblem(err.claim, err.reason, payload, expect), { cause: e });
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return new TokenRejectedError("the token's signature does not verify with the provider's keys", {
        cause: e,
      });
    case 'ERR_JWKS_NO_MATCHING_KEY': {
      const kid = safeKid(token);
      return new TokenRejectedError(
        `the token is signed with a key the provider does not publish${kid ? ` (kid ${quote(kid)})` : ''}`,
        { cause: e },
      );
    }
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return new TokenRejectedError(`the token is not a valid JWT (${err.message})`, { cause: e });
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new TokenRejectedError(`the token's algorithm is not accepted (${err.message})`, { cause: e });
    default:
      return undefined;
  }
}

function claimProblem(
  claim: string | undefined,
  reason: string | undefined,
  payload: JWTPayload,
  expect: JwtExpectations,
): string {
  if (reason === 'missing') return `the token has no ${quote(claim)} claim`;
  switch (claim) {
    case 'iss':
      return `the token was issued by ${quote(payload.iss)}, expected ${list(expect.issuers)}`;
    case 'aud':
      return `the token's audience ${quote(payload.aud)} does not include ${list(expect.audiences ?? [])}`;
    case 'nbf':
      return `the token is not valid before ${at(payload.nbf)}`;
    case 'iat':
      return `the token's "iat" claim is invalid`;
    default:
      return `the token's ${quote(claim)} claim is invalid`;
  }
}

function safeKid(token: string): string | undefined {
  try {
    const kid = decodeProtectedHeader(token).kid;
    return typeof kid === 'string' ? kid.slice(0, 100) : undefined;
  } catch {
    return undefined;
  }
}
