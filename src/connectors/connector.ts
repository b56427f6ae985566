// The small interfaces a connector implements (Dex's model, reference §6). A connector knows how to turn
// some upstream proof (a password, an upstream callback, an upstream token) into an Identity; it knows
// nothing about OAuth clients, codes or storage of Latchkey's own state.

import type { Claims } from '../storage/storage.js';

/**
 * What a connector vouches for: the claims tokens carry, and `connectorData`, opaque state it wants back on
 * refresh (never put in a token).
 */
export interface Identity extends Claims {
  connectorData?: Uint8Array;
}

/** The parts of the downstream request a connector may act on. */
export interface ConnectorScopes {
  /** `offline_access` was requested: keep what a later refresh needs in connectorData. */
  offlineAccess: boolean;
  /** `groups` was requested: look groups up (they can be expensive). */
  groups: boolean;
}

/** A failure the user should see as "try again" (wrong password, upstream said no), never as a 500. */
export class ConnectorError extends Error {
  constructor(
    message: string,
    /** Shown to the user; never contains secrets or whether an account exists. */
    readonly userMessage: string = 'Login failed.',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ConnectorError';
  }
}

/** The identity can no longer be refreshed (user deleted, disabled, left the required groups). */
export class RefreshDeniedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RefreshDeniedError';
  }
}

export interface PasswordConnector {
  readonly kind: 'password';
  /** The label of the username field ("Email Address", "Username"). */
  prompt(): string;
  /**
   * Checks the credentials. `undefined` = wrong username or password (the two are never told apart).
   * Throws ConnectorError when the upstream cannot be reached.
   */
  login(scopes: ConnectorScopes, username: string, password: string): Promise<Identity | undefined>;
}

/** One login's start at a callback connector. */
export interface CallbackLogin {
  /**
   * Where to send the browser: the upstream must come back to the callback URL with `state` unchanged.
   * `state` is only known once connectorState is sealed into it, hence a function.
   */
  url(state: string): string;
  /**
   * A value the connector needs back at its callback (the upstream PKCE verifier and nonce). It travels
   * sealed with the pending request, bound to the browser: nothing is stored before the user authenticates.
   */
  connectorState?: string;
}

export interface CallbackConnector {
  readonly kind: 'callback';
  /** Starts a login (may contact the upstream, e.g. for discovery); throws ConnectorError. */
  beginLogin(scopes: ConnectorScopes, callbackURL: string, loginHint?: string): Promise<CallbackLogin>;
  /**
   * Turns the upstream's callback (its query parameters) into an identity; throws ConnectorError.
   * `connectorState` is what beginLogin returned for this login.
   */
  handleCallback(
    scopes: ConnectorScopes,
    callbackURL: string,
    params: URLSearchParams,
    connectorState: string | undefined,
  ): Promise<Identity>;
}

export interface RefreshConnector {
  /** Re-reads the identity for a refresh; throws RefreshDeniedError when it no longer exists. */
  refresh(scopes: ConnectorScopes, identity: Identity): Promise<Identity>;
}

/** RFC 8693 token-type URNs: the subject tokens a TokenIdentityConnector verifies, and what exchange issues. */
export const TOKEN_TYPE_ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
export const TOKEN_TYPE_ID = 'urn:ietf:params:oauth:token-type:id_token';

export interface TokenIdentityConnector {
  /**
   * RFC 8693 token exchange: the identity an upstream token vouches for. `subjectTokenType` is the URN of
   * an ID or access token. Throws SubjectTokenError when the token is not acceptable (expired, wrong
   * issuer or audience, bad signature), ConnectorError when the upstream cannot be reached.
   */
  tokenIdentity(scopes: ConnectorScopes, subjectTokenType: string, subjectToken: string): Promise<Identity>;
}

/** A subject token that the connector refuses; the message says why and is shown to the client. */
export class SubjectTokenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SubjectTokenError';
  }
}

/** A connector that runs something in the background (an upstream discovery retry) stops it here. */
export interface ClosableConnector {
  close(): void;
}

export type Connector = (PasswordConnector | CallbackConnector) &
  Partial<RefreshConnector> &
  Partial<TokenIdentityConnector> &
  Partial<ClosableConnector>;

export const canRefresh = (c: Connector): c is Connector & RefreshConnector =>
  typeof c.refresh === 'function';
export const canExchangeTokens = (c: Connector): c is Connector & TokenIdentityConnector =>
  typeof c.tokenIdentity === 'function';
