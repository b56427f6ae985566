// The small interfaces a connector implements (Dex's model, reference §6). A connector knows how to turn
// some upstream proof (a password, an upstream callback, an upstream token) into an Identity; it knows
// nothing about OAuth clients, codes or storage of Latchkey's own state.

/** What a connector vouches for. `connectorData` is opaque state it wants back on refresh. */
export interface Identity {
  userID: string;
  username: string;
  preferredUsername: string;
  email: string;
  emailVerified: boolean;
  groups: string[];
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

export interface CallbackConnector {
  readonly kind: 'callback';
  /** Where to send the browser; the upstream must come back to `callbackURL` with `state` unchanged. */
  loginURL(scopes: ConnectorScopes, callbackURL: string, state: string, loginHint?: string): Promise<string>;
  /** Turns the upstream's callback (its query parameters) into an identity; throws ConnectorError. */
  handleCallback(scopes: ConnectorScopes, callbackURL: string, params: URLSearchParams): Promise<Identity>;
}

export interface RefreshConnector {
  /** Re-reads the identity for a refresh; throws RefreshDeniedError when it no longer exists. */
  refresh(scopes: ConnectorScopes, identity: Identity): Promise<Identity>;
}

export interface TokenIdentityConnector {
  /** RFC 8693 token exchange: the identity an upstream token vouches for; throws ConnectorError. */
  tokenIdentity(subjectTokenType: string, subjectToken: string): Promise<Identity>;
}

export type Connector = (PasswordConnector | CallbackConnector) &
  Partial<RefreshConnector> &
  Partial<TokenIdentityConnector>;

export const canRefresh = (c: Connector): c is Connector & RefreshConnector =>
  typeof c.refresh === 'function';
export const canExchangeTokens = (c: Connector): c is Connector & TokenIdentityConnector =>
  typeof c.tokenIdentity === 'function';
