import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import type { Connector as ConnectorEntity } from '../../storage/storage.js';
import { distinct, groupNames } from '../claims/groups.js';
import type { ConfigSection } from '../config-keys.js';
import {
  ConnectorError,
  RefreshDeniedError,
  type CallbackConnector,
  type CallbackLogin,
  type ConnectorScopes,
  type Identity,
  type RefreshConnector,
} from '../connector.js';
import type { ResolvedConnectorDeps } from '../deps.js';
import { fetchJSON, UpstreamHttpError, type HttpFetch } from '../http.js';
import {
  classifyUpstreamError,
  failureMessage,
  upstreamConfiguration,
  type ClientAuthMethod,
} from '../upstream/client.js';
import {
  decodeLoginSecrets,
  decodeUpstreamTokens,
  encodeLoginSecrets,
  encodeUpstreamTokens,
} from '../upstream/connector-data.js';
import { parseOAuthConfig, type OAuthConfig } from './config.js';

// `type: oauth` (reference §6; Dex's connector/oauth): a generic OAuth 2.0 server. The code is exchanged at
// tokenURL (with S256 PKCE, which servers that do not know it ignore), the user read from userInfoURL with
// the access token, and the fields named by the claim keys become the identity. Unlike Dex, it refreshes:
// the stored access token reads the user again, and when the server no longer accepts it (401) the stored
// refresh token gets a new one; a server that refuses both has revoked the user.

const MISCONFIGURED = 'This login method is misconfigured; please tell your administrator.';

/** Opens a `type: oauth` connector; parses its whole config and contacts nothing. */
export function openOAuthConnector(
  entity: ConnectorEntity,
  config: ConfigSection,
  deps: ResolvedConnectorDeps,
): OAuthConnector {
  const { config: parsed, warnings } = parseOAuthConfig(config);
  for (const warning of warnings) deps.logger.warn({ connector: entity.id }, warning);
  return new OAuthConnector(entity.id, parsed, deps);
}

type UserInfo = Record<string, unknown>;

export class OAuthConnector implements CallbackConnector, RefreshConnector {
  readonly kind = 'callback' as const;
  private readonly fetch: HttpFetch;
  private readonly metadata: oidc.ServerMetadata;
  /** The HTTP client openid-client uses: the connector's, minus ID tokens in token responses. */
  private readonly tokenFetch: HttpFetch;
  /** Like Go's oauth2 AuthStyleAutoDetect: Basic first, the form body if the server refuses that, remembered. */
  private auth: ClientAuthMethod = 'client_secret_basic';

  constructor(
    private readonly id: string,
    private readonly config: OAuthConfig,
    private readonly deps: ResolvedConnectorDeps,
  ) {
    const http = deps.http({ rootCAs: config.rootCAs, insecureSkipVerify: config.insecureSkipVerify });
    this.fetch = http;
    const tokenURL = new URL(config.tokenURL).href;
    this.metadata = {
      // Plain OAuth 2.0 has no issuer identifier; openid-client wants one. Nothing is checked against it:
      // the callback's `iss` is not passed on, and an ID token in a token response is removed (below).
      issuer: new URL(config.authorizationURL).origin,
      authorization_endpoint: config.authorizationURL,
      token_endpoint: config.tokenURL,
    };
    // An OpenID server used as plain OAuth returns an ID token when `openid` is among the scopes. This
    // connector has no issuer or keys to verify one against and never uses it, so it is dropped before
    // openid-client would try to validate it.
    this.tokenFetch = async (url, init) => {
      const res = await http(url, init);
      if (new URL(url).href !== tokenURL || !res.ok) return res;
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return new Response(text, { status: res.status, headers: res.headers });
      }
      if (typeof body === 'object' && body !== null) delete (body as { id_token?: unknown }).id_token;
      return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
    };
  }

  async beginLogin(scopes: ConnectorScopes, callbackURL: string, loginHint?: string): Promise<CallbackLogin> {
    const verifier = oidc.randomPKCECodeVerifier();
    const scope = [...this.config.scopes];
    const params: Record<string, string> = {
      redirect_uri: this.redirectURI(callbackURL),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    if (scopes.offlineAccess && this.config.offlineAccessScope) {
      // The server knows offline_access (it was configured): asked only for offline logins, with
      // prompt=consent as OpenID Connect Core §11 requires of it.
      scope.push('offline_access');
      params.prompt = 'consent';
    }
    if (scope.length > 0) params.scope = scope.join(' ');
    if (loginHint) params.login_hint = loginHint;
    const base = oidc.buildAuthorizationUrl(this.client(), params).href;
    return {
      url: (state) => {
        const url = new URL(base);
        url.searchParams.set('state', state);
        return url.href;
      },
      connectorState: encodeLoginSecrets({ verifier }),
    };
  }

  async handleCallback(
    scopes: ConnectorScopes,
    callbackURL: string,
    params: URLSearchParams,
    connectorState: string | undefined,
  ): Promise<Identity> {
    const secrets = decodeLoginSecrets(connectorState);
    if (secrets === undefined) {
      throw new ConnectorError('callback without the PKCE verifier of its login', MISCONFIGURED);
    }
    const error = params.get('error');
    if (error !== null) {
      throw new ConnectorError(
        `upstream returned error=${error}`,
        failureMessage({ kind: 'refused', error, status: 400, detail: error }),
      );
    }
    const code = params.get('code');
    if (!code) {
      throw new ConnectorError(
        'callback without a code',
        'The identity provider sent no authorization code.',
      );
    }
    const current = new URL(this.redirectURI(callbackURL));
    current.searchParams.set('code', code);
    const tokens = await this.tokenRequest('code exchange', (config) =>
      oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: secrets.verifier,
        // No state was passed on: Latchkey checked its own sealed state before handing the callback over.
        expectedState: undefined,
      }),
    );
    const info = await this.userInfo(tokens.access_token).catch((e: unknown) => {
      throw this.upstreamFailure('userinfo', e);
    });
    const identity: Identity = this.identity(info, tokens.access_token, scopes);
    if (scopes.offlineAccess) {
      identity.connectorData = encodeUpstreamTokens({
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token,
      });
    }
    return identity;
  }

  async refresh(scopes: ConnectorScopes, identity: Identity): Promise<Identity> {
    const stored = decodeUpstreamTokens(identity.connectorData);
    if (stored?.accessToken === undefined) {
      throw new RefreshDeniedError('no upstream access token was kept for this login');
    }
    let accessToken = stored.accessToken;
    let refreshToken = stored.refreshToken;
    let info: UserInfo;
    try {
      info = await this.userInfo(accessToken);
    } catch (e) {
      if (!(e instanceof UpstreamHttpError && e.status === 401)) throw this.upstreamFailure('userinfo', e);
      if (refreshToken === undefined) {
        throw new RefreshDeniedError(
          'the server no longer accepts the stored access token and issued no refresh token',
        );
      }
      const tokens = await this.refreshGrant(refreshToken);
      accessToken = tokens.access_token;
      refreshToken = tokens.refresh_token ?? refreshToken;
      try {
        info = await this.userInfo(accessToken);
      } catch (e2) {
        if (e2 instanceof UpstreamHttpError && e2.status === 401) {
          throw new RefreshDeniedError('the server refuses its own fresh access token at userInfoURL');
        }
        throw this.upstreamFailure('userinfo', e2);
      }
    }
    let fresh: Identity;
    try {
      fresh = this.identity(info, accessToken, scopes);
    } catch (e) {
      throw new RefreshDeniedError((e as Error).message, { cause: e });
    }
    if (fresh.userID !== identity.userID) {
      throw new RefreshDeniedError(
        `userInfoURL now answers for ${JSON.stringify(fresh.userID)}, not ${JSON.stringify(identity.userID)}`,
      );
    }
    fresh.connectorData = encodeUpstreamTokens({ accessToken, refreshToken });
    return fresh;
  }

  private async refreshGrant(refreshToken: string) {
    try {
      return await this.tokenRequest('refresh', (config) => oidc.refreshTokenGrant(config, refreshToken));
    } catch (e) {
      const f = classifyUpstreamError((e as Error).cause);
      if (f.kind === 'refused' && f.error === 'invalid_grant') {
        throw new RefreshDeniedError(`the server refused the refresh token: ${f.detail}`, { cause: e });
      }
      throw e;
    }
  }

  /**
   * One token request, with the client authentication that works: Basic first (RFC 6749 §2.3.1), then the
   * form body if the server answers invalid_client, as Go's oauth2 (and so Dex) does.
   */
  private async tokenRequest<T>(
    during: string,
    request: (config: oidc.Configuration) => Promise<T>,
  ): Promise<T> {
    try {
      return await request(this.client());
    } catch (e) {
      const f = classifyUpstreamError(e);
      if (
        this.config.clientSecret !== undefined &&
        this.auth === 'client_secret_basic' &&
        f.kind === 'refused' &&
        (f.error === 'invalid_client' || f.status === 401)
      ) {
        try {
          const result = await request(this.client('client_secret_post'));
          this.auth = 'client_secret_post';
          return result;
        } catch (e2) {
          throw this.upstreamFailure(during, e2);
        }
      }
      throw this.upstreamFailure(during, e);
    }
  }

  private client(auth: ClientAuthMethod = this.auth): oidc.Configuration {
    return upstreamConfiguration(this.metadata, {
      clientID: this.config.clientID,
      clientSecret: this.config.clientSecret,
      auth,
      fetch: this.tokenFetch,
      clock: this.deps.clock,
    });
  }

  private redirectURI(callbackURL: string): string {
    const configured = this.config.redirectURI;
    if (configured !== undefined && configured !== callbackURL) {
      throw new ConnectorError(
        `connectors[${this.id}].config.redirectURI ${JSON.stringify(configured)} is not Latchkey's callback ${JSON.stringify(callbackURL)}`,
        MISCONFIGURED,
      );
    }
    return callbackURL;
  }

  private userInfo(accessToken: string): Promise<UserInfo> {
    return fetchJSON<UserInfo>(this.fetch, this.config.userInfoURL, {
      headers: { Authorization: `Bearer ${accessToken}` },
    }).then((info) => {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) {
        throw new UpstreamHttpError(this.config.userInfoURL, 200, 'not a JSON object');
      }
      return info;
    });
  }

  /** Dex's mapping: the ID is required (a string or a number); the rest default to empty. */
  private identity(info: UserInfo, accessToken: string, scopes: ConnectorScopes): Identity {
    const { keys } = this.config;
    const rawID = info[keys.userIDKey];
    let userID: string;
    if (typeof rawID === 'string') userID = rawID;
    else if (typeof rawID === 'number') userID = goNumber(rawID);
    else {
      throw new ConnectorError(
        `userInfoURL answered without a string or number ${JSON.stringify(keys.userIDKey)}`,
        'The identity provider did not send the account information this login requires.',
      );
    }
    const str = (key: string) => (typeof info[key] === 'string' ? (info[key] as string) : '');
    let groups: string[] = [];
    if (scopes.groups) {
      // Dex also reads groups from the access token when it is a JWT. It came straight from the token
      // endpoint (or from our storage), so its payload is as trustworthy as the channel: decoded, not verified.
      groups = [
        ...(groupNames(info[keys.groupsKey], keys.groupsKey, false) ?? []),
        ...(groupNames(accessTokenClaims(accessToken)[keys.groupsKey], keys.groupsKey, false) ?? []),
      ];
    }
    return {
      userID,
      username: str(keys.userNameKey),
      preferredUsername: str(keys.preferredUsernameKey),
      email: str(keys.emailKey),
      emailVerified: info[keys.emailVerifiedKey] === true,
      groups: distinct(groups),
    };
  }

  private upstreamFailure(during: string, e: unknown): ConnectorError {
    if (e instanceof ConnectorError) return e;
    const f =
      e instanceof UpstreamHttpError
        ? e.status === 401 || e.status === 403
          ? ({ kind: 'refused', error: 'invalid_token', status: e.status, detail: e.message } as const)
          : ({ kind: 'unexpected', detail: e.message } as const)
        : classifyUpstreamError(e);
    return new ConnectorError(
      `connector ${this.id}: ${during} with ${this.config.tokenURL} failed: ${f.detail}`,
      failureMessage(f),
      { cause: e },
    );
  }
}

function accessTokenClaims(token: string): Record<string, unknown> {
  try {
    return decodeJwt(token);
  } catch {
    return {};
  }
}

/**
 * A JSON number as Dex prints it (Go's `%v` of a float64): integers from 1e6 up in e-notation
 * ("1.234567e+06"), so a numeric user ID makes the same `sub` it made under Dex.
 */
export function goNumber(n: number): string {
  const [mantissa, exp] = n.toExponential().split('e') as [string, string];
  const exponent = Number(exp);
  if (exponent < -4 || exponent >= 6) {
    return `${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return String(n);
}
