// Protocol errors are values: protocol code throws an OAuthError, and one place per surface renders it
// (JSON at /token, a redirect to a trusted redirect URI at /auth, an HTML page otherwise).

/** RFC 6749 §4.1.2.1 / §5.2, RFC 8628 §3.5, RFC 7009, RFC 6750 codes that Latchkey emits. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'request_not_supported'
  | 'login_required'
  | 'consent_required'
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  | 'unsupported_token_type'
  | 'invalid_token';

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status: number = defaultStatus(error),
  ) {
    super(`${error}: ${description}`);
    this.name = 'OAuthError';
  }

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

function defaultStatus(error: OAuthErrorCode): number {
  switch (error) {
    case 'invalid_client':
    case 'invalid_token':
      return 401;
    case 'access_denied':
      return 403;
    case 'server_error':
      return 500;
    case 'temporarily_unavailable':
      return 503;
    default:
      return 400;
  }
}

/**
 * A request the browser must not be redirected for: unknown client or an unregistered redirect URI
 * (RFC 6749 §4.1.2.1). Rendered as an HTML error page, never as a redirect.
 */
export class UntrustedRedirectError extends Error {
  constructor(
    readonly title: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'UntrustedRedirectError';
  }
}

/**
 * An authorization-request error after the client and redirect URI were verified: rendered as a redirect to
 * that URI with `error`, `error_description`, `state` and `iss` (RFC 6749 §4.1.2.1, RFC 9207).
 */
export class AuthorizationRedirectError extends OAuthError {
  constructor(
    cause: OAuthError,
    readonly redirectURI: string,
    readonly state: string,
  ) {
    super(cause.error, cause.description, 302);
    this.name = 'AuthorizationRedirectError';
  }
}
