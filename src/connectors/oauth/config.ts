import { ConnectorConfigError, type ConfigSection } from '../config-keys.js';
import { readRootCAs } from '../http.js';

// `type: oauth` configuration (reference §6; Dex's connector/oauth): a plain OAuth 2.0 server whose user
// information comes from a JSON endpoint called with the access token. Dex reads the claim keys under
// `claimMapping` (userIDKey at the top); the flat spellings the reference lists are accepted too.

/** `type: oauth` configuration keys (reference §6), read case-insensitively like every connector config. */
export const OAUTH_CONFIG_KEYS = [
  'clientID',
  'clientSecret',
  'redirectURI',
  'tokenURL',
  'authorizationURL',
  'userInfoURL',
  'scopes',
  'userIDKey',
  'userNameKey',
  'preferredUsernameKey',
  'groupsKey',
  'emailKey',
  'emailVerifiedKey',
  'claimMapping',
  'rootCAs',
  'insecureSkipVerify',
] as const;

const CLAIM_MAPPING_KEYS = [
  'userNameKey',
  'preferredUsernameKey',
  'groupsKey',
  'emailKey',
  'emailVerifiedKey',
] as const;

/** Which userinfo fields make the identity (Dex's defaults). */
export interface OAuthClaimKeys {
  userIDKey: string;
  userNameKey: string;
  preferredUsernameKey: string;
  groupsKey: string;
  emailKey: string;
  emailVerifiedKey: string;
}

const DEFAULT_KEYS: OAuthClaimKeys = {
  userIDKey: 'id',
  userNameKey: 'user_name',
  preferredUsernameKey: 'preferred_username',
  groupsKey: 'groups',
  emailKey: 'email',
  emailVerifiedKey: 'email_verified',
};

export interface OAuthConfig {
  clientID: string;
  clientSecret?: string | undefined;
  redirectURI?: string | undefined;
  authorizationURL: string;
  tokenURL: string;
  userInfoURL: string;
  /** As configured, without `offline_access` (added per login, only when the downstream asks for it). */
  scopes: string[];
  /** `offline_access` was configured: the server knows it, so it is asked for with offline logins. */
  offlineAccessScope: boolean;
  keys: OAuthClaimKeys;
  rootCAs: string[];
  insecureSkipVerify: boolean;
}

export interface ParsedOAuthConfig {
  config: OAuthConfig;
  warnings: string[];
}

export function parseOAuthConfig(section: ConfigSection): ParsedOAuthConfig {
  const warnings: string[] = [];
  const clientID = section.string('clientID');
  if (clientID === undefined) throw new ConnectorConfigError(section.keyPath('clientID'), 'required');
  const mapping = section.section('claimMapping');
  for (const path of mapping?.unknownKeys(CLAIM_MAPPING_KEYS) ?? [])
    warnings.push(`${path}: unknown key, ignored`);

  const keys: OAuthClaimKeys = { ...DEFAULT_KEYS, userIDKey: section.string('userIDKey') ?? 'id' };
  for (const key of CLAIM_MAPPING_KEYS) {
    const flat = section.string(key);
    const nested = mapping?.string(key);
    if (flat !== undefined && nested !== undefined && flat !== nested) {
      throw new ConnectorConfigError(
        section.keyPath(key),
        `conflicts with ${mapping!.keyPath(key)} (${JSON.stringify(nested)}); set one of them`,
      );
    }
    const value = flat ?? nested;
    if (value !== undefined) keys[key] = value;
  }

  const scopes = section.stringValues('scopes');
  const insecureSkipVerify = section.boolean('insecureSkipVerify');
  if (insecureSkipVerify) {
    warnings.push(
      `${section.keyPath('insecureSkipVerify')}: the server's TLS certificate is not checked (never do this in production)`,
    );
  }
  return {
    config: {
      clientID,
      clientSecret: section.string('clientSecret'),
      redirectURI: section.url('redirectURI'),
      authorizationURL: section.requiredURL('authorizationURL'),
      tokenURL: section.requiredURL('tokenURL'),
      userInfoURL: section.requiredURL('userInfoURL'),
      scopes: scopes.filter((s) => s !== 'offline_access'),
      offlineAccessScope: scopes.includes('offline_access'),
      keys,
      rootCAs: readRootCAs(section.strings('rootCAs') ?? []),
      insecureSkipVerify,
    },
    warnings,
  };
}
