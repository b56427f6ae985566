import {
  RefreshDeniedError,
  SubjectTokenError,
  type CallbackConnector,
  type CallbackLogin,
  type ConnectorScopes,
  type Identity,
  type RefreshConnector,
  type TokenIdentityConnector,
} from '../connector.js';
import { kilgoreTrout } from './identity.js';

// `type: mockCallback` — a test connector, as in Dex: the "upstream" sends the browser straight back to the
// callback, and every login, refresh and token exchange yields Kilgore Trout. Never for production.

export interface MockCallbackOptions {
  /**
   * Test hook, not in Dex: every refresh fails with RefreshDeniedError, as when an upstream user has been
   * removed, so protocol tests can exercise a denied refresh.
   */
  failRefresh?: boolean;
}

/** Opaque data handed out with offline access, so tests can see it travel through refresh tokens (Dex's value). */
const CONNECTOR_DATA = 'foobar';

export class MockCallbackConnector implements CallbackConnector, RefreshConnector, TokenIdentityConnector {
  readonly kind = 'callback' as const;
  private readonly failRefresh: boolean;

  constructor(options: MockCallbackOptions = {}) {
    this.failRefresh = options.failRefresh ?? false;
  }

  async beginLogin(_scopes: ConnectorScopes, callbackURL: string): Promise<CallbackLogin> {
    return {
      url: (state) => {
        const url = new URL(callbackURL);
        if (url.searchParams.has('state')) {
          url.searchParams.set('state', state);
          return url.toString();
        }
        // Appended, not re-serialised: the callback's own query comes back exactly as it was written.
        const param = `state=${encodeURIComponent(state)}`;
        url.search = url.search === '' ? `?${param}` : `${url.search}&${param}`;
        return url.toString();
      },
    };
  }

  async handleCallback(
    scopes: ConnectorScopes,
    _callbackURL: string,
    _params: URLSearchParams,
    _connectorState: string | undefined,
  ): Promise<Identity> {
    const identity = kilgoreTrout();
    if (scopes.offlineAccess) identity.connectorData = new TextEncoder().encode(CONNECTOR_DATA);
    return identity;
  }

  async refresh(_scopes: ConnectorScopes, identity: Identity): Promise<Identity> {
    if (this.failRefresh) throw new RefreshDeniedError('mockCallback is configured with failRefresh');
    const refreshed = kilgoreTrout();
    if (identity.connectorData !== undefined) refreshed.connectorData = identity.connectorData;
    return refreshed;
  }

  async tokenIdentity(
    _scopes: ConnectorScopes,
    _subjectTokenType: string,
    subjectToken: string,
  ): Promise<Identity> {
    if (subjectToken === '') throw new SubjectTokenError('The subject token is empty.');
    return kilgoreTrout();
  }
}
