import * as oidc from 'openid-client';
import type { Connector as ConnectorEntity } from '../../storage/storage.js';
import type { ConfigSection } from '../config-keys.js';
import {
  ConnectorError,
  RefreshDeniedError,
  SubjectTokenError,
  TOKEN_TYPE_ACCESS,
  TOKEN_TYPE_ID,
  type CallbackConnector,
  type CallbackLogin,
  type ConnectorScopes,
  type Identity,
  type RefreshConnector,
  type TokenIdentityConnector,
} from '../connector.js';
import type { ResolvedConnectorDeps } from '../deps.js';
import type { HttpFetch } from '../http.js';
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
import { TokenRejectedError, UpstreamKeySet, verifyUpstreamJwt } from '../upstream/jwt.js';
import { ClaimsRejectedError, identityFromClaims, type Claims } from './claims.js';
import { knownBasicAuthBroken, parseOidcConfig, type OidcConfig } from './config.js';
import { ProviderDiscovery } from './discovery.js';

// `type: oidc` (reference §6): log in through an upstream OpenID provider (code flow with S256 PKCE and a
// nonce, the ID token's signature checked against the provider's keys), refresh through its refresh token,
// and verify its tokens for token exchange (RFC 8693). openid-client speaks the protocol; jose checks
// signatures; this file decides what is trusted and what each failure tells the user.

/** openid-client wants a client id even for calls that send none (userinfo at token exchange). */
const NO_CLIENT_ID = 'latchkey';

const MISCONFIGURED = 'This login method is misconfigured; please tell your administrator.';
const UNVERIFIABLE = "The identity provider's answer could not be verified.";

export interface OidcTuning {
  /** First discovery retry after a failure; doubled each time up to the maximum. */
  discoveryRetryInitialMs: number;
  discoveryRetryMaxMs: number;
  /** Least time between two JWKS refetches caused by unknown key ids (0: Dex's behaviour). */
  jwksCooldownMs: number;
}

export const DEFAULT_OIDC_TUNING: OidcTuning = {
  discoveryRetryInitialMs: 1_000,
  discoveryRetryMaxMs: 5 * 60_000,
  jwksCooldownMs: 0,
};

/**
 * Opens a `type: oidc` connector: parses the whole config (errors name their key path), logs what it warns
 * about, and starts discovery in the background. Contacts nothing before the event loop turns.
 */
export function openOidcConnector(
  entity: ConnectorEntity,
  config: ConfigSection,
  deps: ResolvedConnectorDeps,
  tuning: Partial<OidcTuning> = {},
): OidcConnector {
  const { config: parsed, warnings } = parseOidcConfig(config);
  for (const warning of warnings) deps.logger.warn({ connector: entity.id }, warning);
  const connector = new OidcConnector(entity.id, parsed, deps, { ...DEFAULT_OIDC_TUNING, ...tuning });
  connector.discoverInBackground();
  return connector;
}

export class OidcConnector implements CallbackConnector, RefreshConnector, TokenIdentityConnector {
  readonly kind = 'callback' as const;
  private readonly fetch: HttpFetch;
  private readonly discovery: ProviderDiscovery;
  private readonly keySet: UpstreamKeySet;

  constructor(
    private readonly id: string,
    private readonly config: OidcConfig,
    private readonly deps: ResolvedConnectorDeps,
    tuning: OidcTuning,
  ) {
    this.fetch = deps.http({ rootCAs: config.rootCAs, insecureSkipVerify: config.insecureSkipVerify });
    this.discovery = new ProviderDiscovery({
      connectorID: id,
      issuer: config.issuer,
      issuerAlias: config.issuerAlias,
      overrides: config.overrides,
      fetch: this.fetch,
      logger: deps.logger,
      signal: deps.signal,
      retryInitialMs: tuning.discoveryRetryInitialMs,
      retryMaxMs: tuning.discoveryRetryMaxMs,
    });
    this.keySet = new UpstreamKeySet(this.fetch, tuning.jwksCooldownMs);
  }

  discoverInBackground(): void {
    this.discovery.startInBackground();
  }

  /** Ends the background discovery (for a registry that replaces this connector with a reopened one). */
  close(): void {
    this.discovery.stopBackground();
  }

  async beginLogin(scopes: ConnectorScopes, callbackURL: string, loginHint?: string): Promise<CallbackLogin> {
    const clientID = this.loginClientID();
    const redirectURI = this.redirectURI(callbackURL);
    const metadata = await this.discovery.get();
    if (metadata.authorization_endpoint === undefined) {
      throw new ConnectorError(`${this.config.issuer} publishes no authorization_endpoint`, MISCONFIGURED);
    }
    // S256 PKCE always, whatever pkceChallenge says or discovery advertises: a server that does not know
    // PKCE ignores the parameters (RFC 6749 §3.1), one that does gets the protection.
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const scope = [...this.config.scopes];
    const params: Record<string, string> = {
      redirect_uri: redirectURI,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
    };
    if (scopes.offlineAccess) {
      // Only when the downstream asked for it, so an upstream grants long-lived access no more often than
      // needed; `access_type=offline` is Google's spelling of the same request, ignored elsewhere.
      const supported = metadata.scopes_supported;
      if (supported === undefined || supported.includes('offline_access')) scope.push('offline_access');
      params.access_type = 'offline';
      if (this.config.promptType !== undefined) params.prompt = this.config.promptType;
    }
    params.scope = scope.join(' ');
    if (this.config.acrValues.length > 0) params.acr_values = this.config.acrValues.join(' ');
    if (loginHint) params.login_hint = loginHint;
    const domains = this.config.claims.hostedDomains;
    if (domains.length === 1) params.hd = domains[0]!;
    const base = oidc.buildAuthorizationUrl(this.client(metadata, clientID), params).href;
    return {
      url: (state) => {
        const url = new URL(base);
        url.searchParams.set('state', state);
        return url.href;
      },
      connectorState: encodeLoginSecrets({ verifier, nonce }),
    };
  }

  async handleCallback(
    scopes: ConnectorScopes,
    callbackURL: string,
    params: URLSearchParams,
    connectorState: string | undefined,
  ): Promise<Identity> {
    const clientID = this.loginClientID();
    const secrets = decodeLoginSecrets(connectorState);
    if (secrets?.nonce === undefined) {
      throw new ConnectorError('callback without the PKCE verifier and nonce of its login', MISCONFIGURED);
    }
    const error = params.get('error');
    if (error !== null) {
      const f = { kind: 'refused', error, status: 400, detail: error } as const;
      throw new ConnectorError(`upstream returned error=${error}`, failureMessage(f));
    }
    if (!params.get('code')) {
      throw new ConnectorError(
        'callback without a code',
        'The identity provider sent no authorization code.',
      );
    }
    const metadata = await this.discovery.get();
    const config = this.client(metadata, clientID);
    const current = new URL(this.redirectURI(callbackURL));
    for (const [k, v] of params) current.searchParams.append(k, v);

    let tokens;
    try {
      tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: secrets.verifier,
        expectedNonce: secrets.nonce,
        // The state is Latchkey's own sealed request, already checked before this callback was handed over.
        expectedState: oidc.skipStateCheck,
        idTokenExpected: true,
      });
    } catch (e) {
      throw this.upstreamFailure('code exchange', e);
    }
    await this.verifyIDTokenSignature(tokens.id_token!, metadata, clientID);
    let claims: Claims = { ...tokens.claims() };
    if (this.config.getUserInfo) {
      claims = { ...claims, ...(await this.userInfo(config, tokens.access_token, claims.sub as string)) };
    }
    const identity: Identity = this.loginIdentity(claims);
    if (scopes.offlineAccess) {
      if (tokens.refresh_token !== undefined) {
        identity.connectorData = encodeUpstreamTokens({
          refreshToken: tokens.refresh_token,
          subject: claims.sub as string,
        });
      } else {
        this.deps.logger.warn(
          { connector: this.id },
          'offline access was asked for but the provider issued no refresh token: refreshes of this login will be refused',
        );
      }
    }
    return identity;
  }

  async refresh(_scopes: ConnectorScopes, identity: Identity): Promise<Identity> {
    const stored = decodeUpstreamTokens(identity.connectorData);
    if (stored?.refreshToken === undefined) {
      throw new RefreshDeniedError('no upstream refresh token was kept for this login');
    }
    const clientID = this.loginClientID();
    const metadata = await this.discovery.get();
    const config = this.client(metadata, clientID);
    let tokens;
    try {
      tokens = await oidc.refreshTokenGrant(config, stored.refreshToken);
    } catch (e) {
      const f = classifyUpstreamError(e);
      if (f.kind === 'refused' && f.error === 'invalid_grant') {
        throw new RefreshDeniedError(`the provider refused the refresh token: ${f.detail}`, { cause: e });
      }
      throw this.upstreamFailure('refresh', e);
    }
    // An upstream may answer a refresh without an ID token (OIDC Core §12.2): then userinfo speaks for the
    // user when configured, and otherwise the identity stays as it was (the refresh itself still had to
    // succeed, so a revoked user is still caught).
    let claims: Claims | undefined;
    if (tokens.id_token !== undefined) {
      await this.verifyIDTokenSignature(tokens.id_token, metadata, clientID);
      claims = { ...tokens.claims() };
    }
    const subject = (claims?.sub as string | undefined) ?? stored.subject;
    if (this.config.getUserInfo) {
      claims = { ...claims, ...(await this.userInfo(config, tokens.access_token, subject)) };
    }
    const connectorData = encodeUpstreamTokens({
      refreshToken: tokens.refresh_token ?? stored.refreshToken,
      subject: (claims?.sub as string | undefined) ?? stored.subject,
    });
    if (claims === undefined) return { ...identity, connectorData };
    if (stored.subject !== undefined && claims.sub !== stored.subject) {
      throw new RefreshDeniedError(
        `the provider's refresh answered for sub ${JSON.stringify(claims.sub)}, not ${JSON.stringify(stored.subject)}`,
      );
    }
    try {
      return { ...identityFromClaims(claims, this.config.claims), connectorData };
    } catch (e) {
      if (e instanceof ClaimsRejectedError) throw new RefreshDeniedError(e.message, { cause: e });
      throw e;
    }
  }

  async tokenIdentity(
    _scopes: ConnectorScopes,
    subjectTokenType: string,
    subjectToken: string,
  ): Promise<Identity> {
    if (subjectTokenType !== TOKEN_TYPE_ID && subjectTokenType !== TOKEN_TYPE_ACCESS) {
      throw new SubjectTokenError(`subject tokens of type ${subjectTokenType} are not accepted`);
    }
    const metadata = await this.discovery.get();
    // An access token is opaque unless the provider says otherwise: with getUserInfo, the provider itself
    // vouches for it at its userinfo endpoint; without, it must be a JWT the provider signed (GitHub
    // Actions' tokens are, and the seed's workflow sends them as access tokens).
    const claims =
      subjectTokenType === TOKEN_TYPE_ACCESS && this.config.getUserInfo
        ? await this.subjectUserInfo(metadata, subjectToken)
        : await this.verifySubjectJwt(subjectToken, metadata);
    try {
      return identityFromClaims(claims, this.config.claims);
    } catch (e) {
      if (e instanceof ClaimsRejectedError)
        throw new SubjectTokenError(`the token cannot be used: ${e.message}`);
      throw e;
    }
  }

  private loginClientID(): string {
    if (this.config.clientID === undefined) {
      throw new ConnectorError(
        `connectors[${this.id}].config.clientID is not set: the connector only serves token exchange`,
        'This login method cannot be used to sign in interactively.',
      );
    }
    return this.config.clientID;
  }

  /** Dex requires redirectURI to be its own callback; Latchkey defaults it, and refuses a different one. */
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

  private client(metadata: oidc.ServerMetadata, clientID: string): oidc.Configuration {
    return upstreamConfiguration(metadata, {
      clientID,
      clientSecret: this.config.clientSecret,
      auth: this.authMethod(metadata),
      fetch: this.fetch,
      clock: this.deps.clock,
    });
  }

  /**
   * Dex's rules: basicAuthUnsupported decides when written; Okta's hosts use the form body; otherwise
   * Basic (RFC 6749 §2.3.1's preference) unless the provider's discovery lists only client_secret_post.
   */
  private authMethod(metadata: oidc.ServerMetadata): ClientAuthMethod {
    const unsupported = this.config.basicAuthUnsupported;
    if (unsupported !== undefined) return unsupported ? 'client_secret_post' : 'client_secret_basic';
    if (knownBasicAuthBroken(this.config.issuer)) return 'client_secret_post';
    const methods = metadata.token_endpoint_auth_methods_supported;
    return methods !== undefined &&
      !methods.includes('client_secret_basic') &&
      methods.includes('client_secret_post')
      ? 'client_secret_post'
      : 'client_secret_basic';
  }

  private loginIdentity(claims: Claims): Identity {
    try {
      return identityFromClaims(claims, this.config.claims);
    } catch (e) {
      if (e instanceof ClaimsRejectedError) throw new ConnectorError(e.message, e.userMessage, { cause: e });
      throw e;
    }
  }

  /**
   * openid-client checked the ID token's claims (iss, aud, exp, nonce); its signature is checked here, with
   * the same key set token exchange uses, so one cache serves both.
   */
  private async verifyIDTokenSignature(
    idToken: string,
    metadata: oidc.ServerMetadata,
    clientID: string,
  ): Promise<void> {
    try {
      await verifyUpstreamJwt(
        idToken,
        this.keys(metadata),
        { issuers: [metadata.issuer], audiences: [clientID] },
        this.deps.clock,
      );
    } catch (e) {
      if (e instanceof TokenRejectedError) {
        throw new ConnectorError(`ID token refused: ${e.message}`, UNVERIFIABLE, { cause: e });
      }
      if (e instanceof ConnectorError) throw e;
      throw this.upstreamFailure('key set fetch', e);
    }
  }

  private keys(metadata: oidc.ServerMetadata) {
    if (metadata.jwks_uri === undefined) {
      throw new ConnectorError(`${this.config.issuer} publishes no jwks_uri`, MISCONFIGURED);
    }
    return this.keySet.keys(metadata.jwks_uri);
  }

  private async userInfo(
    config: oidc.Configuration,
    accessToken: string,
    subject: string | undefined,
  ): Promise<Claims> {
    if (config.serverMetadata().userinfo_endpoint === undefined) {
      throw new ConnectorError(
        `getUserInfo is set but ${this.config.issuer} publishes no userinfo_endpoint`,
        MISCONFIGURED,
      );
    }
    try {
      return { ...(await oidc.fetchUserInfo(config, accessToken, subject ?? oidc.skipSubjectCheck)) };
    } catch (e) {
      throw this.upstreamFailure('userinfo', e);
    }
  }

  private async verifySubjectJwt(token: string, metadata: oidc.ServerMetadata): Promise<Claims> {
    const { audiences, clientID, issuer, issuerAlias } = this.config;
    const issuers = [...new Set([issuer, metadata.issuer, ...(issuerAlias ? [issuerAlias] : [])])];
    try {
      return await verifyUpstreamJwt(
        token,
        this.keys(metadata),
        {
          issuers,
          // Latchkey's audiences, else the client ID, else (warned about at open) any audience.
          audiences: audiences.length > 0 ? audiences : clientID !== undefined ? [clientID] : undefined,
        },
        this.deps.clock,
      );
    } catch (e) {
      if (e instanceof TokenRejectedError) throw new SubjectTokenError(e.message, { cause: e });
      if (e instanceof ConnectorError) throw e;
      throw this.upstreamFailure('key set fetch', e);
    }
  }

  private async subjectUserInfo(metadata: oidc.ServerMetadata, accessToken: string): Promise<Claims> {
    const config = this.client(metadata, this.config.clientID ?? NO_CLIENT_ID);
    try {
      return await this.userInfo(config, accessToken, undefined);
    } catch (e) {
      const f = classifyUpstreamError((e as Error).cause);
      if (f.kind === 'refused' && (f.status === 401 || f.status === 403)) {
        throw new SubjectTokenError(`the provider's userinfo endpoint refused the token (${f.error})`, {
          cause: e,
        });
      }
      throw e;
    }
  }

  /** A ConnectorError for a failed upstream call, logged with what the user is not shown. */
  private upstreamFailure(during: string, e: unknown): ConnectorError {
    const f = classifyUpstreamError(e);
    return new ConnectorError(
      `connector ${this.id}: ${during} with ${this.config.issuer} failed: ${f.detail}`,
      failureMessage(f),
      { cause: e },
    );
  }
}
