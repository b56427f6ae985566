import type { GrantType } from '../config/types.js';
import { LDAP_CONFIG_KEYS } from './ldap/keys.js';
import { GITHUB_CONFIG_KEYS } from './github/config.js';
import { OAUTH_CONFIG_KEYS } from './oauth/config.js';
import { OIDC_CONFIG_KEYS } from './oidc/config.js';

// Every connector type Latchkey knows, declared once: what it can do and which config keys it reads. The
// config schema (which types exist, which may back the password grant or token exchange), `serve --check`
// and the registry (which must open each of them) all read this table, so they cannot disagree.

export interface ConnectorTypeDeclaration {
  /** How a person logs in through it: a password form, or a redirect to the upstream and back. */
  login: 'password' | 'callback';
  /** It can re-read an identity for the refresh_token grant. */
  refresh: boolean;
  /** It can verify an upstream token for the token-exchange grant (RFC 8693). */
  tokenIdentity: boolean;
  /** Every key its `config` reads, for warning about the others (typos Go would silently ignore). */
  keys: readonly string[];
  /** A test connector (Dex's mocks): never for production. */
  mock?: true;
}

export const CONNECTOR_TYPES = {
  local: { login: 'password', refresh: true, tokenIdentity: false, keys: [] },
  mockCallback: { login: 'callback', refresh: true, tokenIdentity: true, keys: ['failRefresh'], mock: true },
  mockPassword: {
    login: 'password',
    refresh: true,
    tokenIdentity: false,
    keys: ['username', 'password'],
    mock: true,
  },
  ldap: { login: 'password', refresh: true, tokenIdentity: false, keys: LDAP_CONFIG_KEYS },
  oidc: { login: 'callback', refresh: true, tokenIdentity: true, keys: OIDC_CONFIG_KEYS },
  github: { login: 'callback', refresh: true, tokenIdentity: false, keys: GITHUB_CONFIG_KEYS },
  oauth: { login: 'callback', refresh: true, tokenIdentity: false, keys: OAUTH_CONFIG_KEYS },
} as const satisfies Record<string, ConnectorTypeDeclaration>;

export type ConnectorType = keyof typeof CONNECTOR_TYPES;

export const CONNECTOR_TYPE_NAMES = Object.keys(CONNECTOR_TYPES) as ConnectorType[];

export function connectorType(type: string): ConnectorTypeDeclaration | undefined {
  return Object.hasOwn(CONNECTOR_TYPES, type) ? CONNECTOR_TYPES[type as ConnectorType] : undefined;
}

/** The types with a capability, for messages and the config's cross-checks. */
export const typesThat = (has: (d: ConnectorTypeDeclaration) => boolean): ConnectorType[] =>
  CONNECTOR_TYPE_NAMES.filter((t) => has(CONNECTOR_TYPES[t]));

/**
 * Whether a grant can ever be served through a connector of this type. client_credentials uses no
 * connector; the code and device grants need an interactive login, which every type offers.
 */
export function typeServesGrant(d: ConnectorTypeDeclaration, grant: GrantType): boolean {
  switch (grant) {
    case 'authorization_code':
    case 'urn:ietf:params:oauth:grant-type:device_code':
      return true;
    case 'password':
      return d.login === 'password';
    case 'refresh_token':
      return d.refresh;
    case 'urn:ietf:params:oauth:grant-type:token-exchange':
      return d.tokenIdentity;
    case 'client_credentials':
      return false;
  }
}
