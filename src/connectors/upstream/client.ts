import * as oidc from 'openid-client';
import type { Clock } from '../../util/clock.js';
import type { HttpFetch } from '../http.js';

// openid-client, set up the way every upstream call of a connector needs it: the connector's own HTTP client
// (deadline, CAs, shutdown), the injected clock, and plain-HTTP upstreams allowed (Dex allows them; a test
// or in-cluster issuer is often http://). A Configuration is built per operation because openid-client
// freezes the clock skew into it, and the injected clock may move between two logins.

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';

export interface UpstreamClient {
  clientID: string;
  clientSecret?: string | undefined;
  /** How the secret is presented at the token endpoint (ignored without a secret: public client). */
  auth: ClientAuthMethod;
  fetch: HttpFetch;
  clock: Clock;
}

export function upstreamConfiguration(
  metadata: oidc.ServerMetadata,
  client: UpstreamClient,
): oidc.Configuration {
  // openid-client's "current time" is Date.now() + skew: the skew makes it the injected clock's time.
  const skew = Math.round((client.clock.now().getTime() - Date.now()) / 1000);
  const secret = client.clientSecret;
  const auth =
    secret === undefined
      ? oidc.None()
      : client.auth === 'client_secret_post'
        ? oidc.ClientSecretPost(secret)
        : oidc.ClientSecretBasic(secret);
  const config = new oidc.Configuration(metadata, client.clientID, { [oidc.clockSkew]: skew }, auth);
  config[oidc.customFetch] = (url, options) => client.fetch(url, options as RequestInit);
  oidc.allowInsecureRequests(config);
  return config;
}

/** Server metadata as a plain object (serverMetadata() carries helper methods a Configuration cannot clone). */
export function plainMetadata(config: oidc.Configuration): oidc.ServerMetadata {
  return { ...config.serverMetadata() };
}

/** What went wrong talking to an upstream, in the terms a user-facing message needs. */
export type UpstreamFailure =
  | { kind: 'unreachable'; detail: string }
  /** The upstream answered with an OAuth error (`error` is its code, e.g. invalid_grant). */
  | { kind: 'refused'; error: string; status: number; detail: string }
  /** An answer that is not what the protocol allows (an HTML 500, a token failing validation). */
  | { kind: 'unexpected'; detail: string };

const UNREACHABLE_CODES = new Set(['OAUTH_TIMEOUT', 'OAUTH_ABORT', 'ERR_JWKS_TIMEOUT']);

/** Classifies what openid-client, jose or the HTTP client threw. */
export function classifyUpstreamError(e: unknown): UpstreamFailure {
  if (e instanceof oidc.ResponseBodyError) {
    return {
      kind: 'refused',
      error: e.error,
      status: e.status,
      detail: `${e.error}${e.error_description ? `: ${e.error_description}` : ''} (HTTP ${e.status})`,
    };
  }
  if (e instanceof oidc.WWWAuthenticateChallengeError) {
    const error = e.cause[0]?.parameters.error ?? 'invalid_token';
    return { kind: 'refused', error, status: e.status, detail: `${error} (HTTP ${e.status})` };
  }
  if (e instanceof oidc.AuthorizationResponseError) {
    return { kind: 'refused', error: e.error, status: 400, detail: e.message };
  }
  const err = e as { name?: string; message?: string; code?: string; cause?: unknown };
  // undici: TypeError("fetch failed", { cause: ECONNREFUSED … }); a deadline or shutdown: a DOMException.
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') {
    return { kind: 'unreachable', detail: 'no answer before the deadline' };
  }
  if (e instanceof TypeError && err.message === 'fetch failed') {
    const cause = err.cause as { code?: string; message?: string } | undefined;
    return { kind: 'unreachable', detail: cause?.code ?? cause?.message ?? 'fetch failed' };
  }
  if (typeof err?.code === 'string' && UNREACHABLE_CODES.has(err.code)) {
    return { kind: 'unreachable', detail: err.message ?? err.code };
  }
  const cause = (err?.cause as { message?: string } | undefined)?.message;
  return {
    kind: 'unexpected',
    detail: `${err?.message ?? String(e)}${cause && cause !== err?.message ? ` (${cause})` : ''}`,
  };
}

/** The user-facing sentence for a failure (never the upstream's own words, which may say too much). */
export function failureMessage(f: UpstreamFailure): string {
  switch (f.kind) {
    case 'unreachable':
      return 'The identity provider cannot be reached at the moment; please try again later.';
    case 'refused':
      return f.error === 'access_denied'
        ? 'The sign-in was declined.'
        : `The identity provider refused the sign-in (${f.error.slice(0, 64)}).`;
    case 'unexpected':
      return 'The identity provider answered unexpectedly; please try again later.';
  }
}
