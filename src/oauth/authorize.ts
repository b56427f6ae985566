import type { Client, PKCE } from '../storage/storage.js';
import { AuthorizationRedirectError, OAuthError, UntrustedRedirectError } from './errors.js';
import { isAllowedRedirectURI } from './redirect-uri.js';
import { parseCodeChallenge } from './pkce.js';
import { splitScopes, validateScopes } from './scopes.js';

/** Limits on client-supplied values that travel in the sealed request (documented in the README). */
export const MAX_STATE_BYTES = 2048;
export const MAX_NONCE_BYTES = 2048;
export const MAX_LOGIN_HINT_BYTES = 256;
/** Large enough for an id_token_hint with many groups. */
const MAX_PARAM_BYTES = 8192;

const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);

/** A validated authorization request: what is sealed into the browser until the user has authenticated. */
export interface PendingAuthRequest {
  clientID: string;
  redirectURI: string;
  responseType: 'code';
  scopes: string[];
  state: string;
  nonce: string;
  pkce: PKCE;
  connectorID?: string;
  loginHint?: string;
  prompt: string[];
  maxAge?: number;
  /** Dex's approval_prompt=force, or prompt=consent. */
  forceApproval: boolean;
}

export interface AuthorizePolicy {
  responseTypes: readonly string[];
  pkce: { enforce: boolean; methods: readonly string[] };
}

type Params = Record<string, unknown>;

/**
 * Validates an authorization request (GET query or POST form). Order matters: until the client and its
 * redirect URI are verified, every error is an UntrustedRedirectError (an HTML page, never a redirect);
 * after that, errors are AuthorizationRedirectError.
 */
export async function validateAuthorizationRequest(
  params: Params,
  lookupClient: (id: string) => Promise<Client | undefined>,
  policy: AuthorizePolicy,
): Promise<PendingAuthRequest> {
  const clientID = single(params, 'client_id');
  if (clientID instanceof OAuthError) throw new UntrustedRedirectError('Bad request', clientID.description);
  if (!clientID) throw new UntrustedRedirectError('Bad request', 'Missing client_id.');
  const client = await lookupClient(clientID);
  if (!client) throw new UntrustedRedirectError('Bad request', `Unknown client "${clientID}".`);

  const redirectURI = single(params, 'redirect_uri');
  if (redirectURI instanceof OAuthError)
    throw new UntrustedRedirectError('Bad request', redirectURI.description);
  if (!redirectURI) throw new UntrustedRedirectError('Bad request', 'Missing redirect_uri.');
  if (!isAllowedRedirectURI(client, redirectURI)) {
    throw new UntrustedRedirectError('Bad request', `Unregistered redirect_uri "${redirectURI}".`);
  }

  // From here on the redirect URI is trusted: errors go back to the client. state is echoed only if usable.
  const rawState = single(params, 'state');
  const state =
    typeof rawState === 'string' && Buffer.byteLength(rawState) <= MAX_STATE_BYTES ? rawState : '';
  const fail = (e: OAuthError): never => {
    throw new AuthorizationRedirectError(e, redirectURI, state);
  };
  try {
    for (const [name, value] of Object.entries(params)) {
      if (Array.isArray(value)) fail(new OAuthError('invalid_request', `Duplicate parameter "${name}".`));
      if (typeof value === 'string' && Buffer.byteLength(value) > MAX_PARAM_BYTES) {
        fail(new OAuthError('invalid_request', `Parameter "${name}" is too long.`));
      }
    }
    if (rawState instanceof OAuthError) fail(rawState);
    if (typeof rawState === 'string' && Buffer.byteLength(rawState) > MAX_STATE_BYTES) {
      fail(new OAuthError('invalid_request', `state must be at most ${MAX_STATE_BYTES} bytes.`));
    }
    if (params.request !== undefined)
      fail(new OAuthError('request_not_supported', 'The request parameter is not supported.'));
    if (params.request_uri !== undefined) {
      fail(new OAuthError('invalid_request', 'The request_uri parameter is not supported.'));
    }
    const responseMode = str(params, 'response_mode');
    if (responseMode && responseMode !== 'query') {
      fail(new OAuthError('invalid_request', `Unsupported response_mode "${responseMode}".`));
    }

    const responseType = str(params, 'response_type');
    if (!responseType) fail(new OAuthError('invalid_request', 'Missing response_type.'));
    if (responseType !== 'code' || !policy.responseTypes.includes('code')) {
      fail(new OAuthError('unsupported_response_type', `Unsupported response_type "${responseType}".`));
    }

    const scopes = splitScopes(str(params, 'scope'));
    await validateScopes(scopes, clientID, async (id) => lookupClient(id));

    const nonce = str(params, 'nonce') ?? '';
    if (Buffer.byteLength(nonce) > MAX_NONCE_BYTES) {
      fail(new OAuthError('invalid_request', `nonce must be at most ${MAX_NONCE_BYTES} bytes.`));
    }

    // A public client has no secret to bind its code to: without PKCE anyone who sees the code can redeem
    // it (RFC 9700 §2.1.1). Confidential clients need it only when the configuration says so.
    const pkce = parseCodeChallenge(str(params, 'code_challenge'), str(params, 'code_challenge_method'), {
      ...policy.pkce,
      enforce: policy.pkce.enforce || client.public,
    });

    const prompt = splitScopes(str(params, 'prompt'));
    for (const p of prompt)
      if (!PROMPTS.has(p)) fail(new OAuthError('invalid_request', `Unsupported prompt "${p}".`));
    if (prompt.includes('none') && prompt.length > 1) {
      fail(new OAuthError('invalid_request', 'prompt=none cannot be combined with other values.'));
    }
    // prompt=none is decided where the browser's session is known (server/authorize.ts beginLogin).

    const rawMaxAge = str(params, 'max_age');
    let maxAge: number | undefined;
    if (rawMaxAge !== undefined) {
      if (!/^\d{1,10}$/.test(rawMaxAge))
        fail(new OAuthError('invalid_request', 'max_age must be a non-negative integer.'));
      maxAge = Number(rawMaxAge);
    }

    const loginHint = str(params, 'login_hint');
    if (loginHint !== undefined && Buffer.byteLength(loginHint) > MAX_LOGIN_HINT_BYTES) {
      fail(new OAuthError('invalid_request', `login_hint must be at most ${MAX_LOGIN_HINT_BYTES} bytes.`));
    }
    const connectorID = str(params, 'connector_id');

    return {
      clientID,
      redirectURI,
      responseType: 'code',
      scopes,
      state,
      nonce,
      pkce,
      ...(connectorID ? { connectorID } : {}),
      ...(loginHint ? { loginHint } : {}),
      prompt,
      ...(maxAge !== undefined ? { maxAge } : {}),
      forceApproval: str(params, 'approval_prompt') === 'force' || prompt.includes('consent'),
    };
  } catch (e) {
    if (e instanceof AuthorizationRedirectError) throw e;
    if (e instanceof OAuthError) fail(e);
    throw e;
  }
}

/** One string parameter; an OAuthError when it was sent more than once or is not a string. */
function single(params: Params, name: string): string | undefined | OAuthError {
  const v = params[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') return new OAuthError('invalid_request', `Duplicate parameter "${name}".`);
  return v;
}

/** For use after the duplicate check: a string parameter or undefined (empty counts as absent). */
function str(params: Params, name: string): string | undefined {
  const v = params[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}
