import { ConfigSection, ConnectorConfigError } from '../config-keys.js';
import { readRootCAs } from '../http.js';

// `type: oidc` configuration (reference §6), read the way Dex reads it: keys case-insensitively, everything
// checked when the connector opens so a mistake names its key path. Where Dex ignores a key that restricts
// who may log in (hostedDomains since 2.35, allowedGroups without insecureEnableGroups), Latchkey enforces
// it: a restriction is never silently dropped.

/** `type: oidc` configuration keys (reference §6), read case-insensitively like every connector config. */
export const OIDC_CONFIG_KEYS = [
  'issuer',
  'issuerAlias',
  'clientID',
  'clientSecret',
  'redirectURI',
  'scopes',
  'basicAuthUnsupported',
  'rootCAs',
  'insecureSkipVerify',
  'insecureSkipEmailVerified',
  'insecureEnableGroups',
  'allowedGroups',
  'acrValues',
  'getUserInfo',
  'userIDKey',
  'userNameKey',
  'preferredUsernameKey',
  'emailKey',
  'groupsKey',
  'promptType',
  'pkceChallenge',
  'overrideClaimMapping',
  'claimMapping',
  'claimModifications',
  'providerDiscoveryOverrides',
  'hostedDomains',
  'audiences',
] as const;

const CLAIM_MAPPING_KEYS = ['preferred_username', 'email', 'groups'];
const CLAIM_MODIFICATION_KEYS = ['newGroupFromClaims', 'filterGroupClaims', 'modifyGroupNames'];
const NEW_GROUP_KEYS = ['claims', 'delimiter', 'clearDelimiter', 'prefix'];
const OVERRIDE_KEYS = ['tokenURL', 'authURL', 'jwksURL', 'userInfoURL'];

/** Hosts whose token endpoints refuse HTTP Basic client authentication (Dex's list, dexidp/dex#859). */
const BASIC_AUTH_BROKEN_DOMAINS = ['okta.com', 'oktapreview.com'];

/** Dex's claimModifications.newGroupFromClaims entry: a group made of other claims' values. */
export interface NewGroupRule {
  claims: string[];
  delimiter: string;
  /** Remove the delimiter from claim values, so the group's structure stays the operator's. */
  clearDelimiter: boolean;
  prefix: string;
}

/** How claims become an Identity (Dex's rules, reference §6 "Callback"). */
export interface ClaimRules {
  /** Overrides `sub` as the user ID. */
  userIDKey?: string | undefined;
  /** The username claim (default `name`); missing ⇒ the login fails. */
  userNameKey: string;
  /** claimMapping: used when the standard claim is absent, or always with overrideClaimMapping. */
  preferredUsernameKey?: string | undefined;
  emailKey?: string | undefined;
  groupsKey?: string | undefined;
  overrideClaimMapping: boolean;
  /** The `email` scope is requested upstream: email and email_verified are then required. */
  emailRequired: boolean;
  insecureSkipEmailVerified: boolean;
  /** insecureEnableGroups: take groups from the upstream's claims. */
  groupsEnabled: boolean;
  /** Login refused unless a member of one; groups narrowed to these. Enforced even without groupsEnabled. */
  allowedGroups: string[];
  groupsFilter?: RegExp | undefined;
  groupPrefix: string;
  groupSuffix: string;
  newGroupFromClaims: NewGroupRule[];
  /** Login refused unless the `hd` claim is one of these. */
  hostedDomains: string[];
}

export interface DiscoveryOverrides {
  tokenURL?: string | undefined;
  authURL?: string | undefined;
  jwksURL?: string | undefined;
  userInfoURL?: string | undefined;
}

export interface OidcConfig {
  issuer: string;
  /** Another `iss` the provider uses (its discovery document or tokens name it instead of `issuer`). */
  issuerAlias?: string | undefined;
  clientID?: string | undefined;
  clientSecret?: string | undefined;
  redirectURI?: string | undefined;
  /** Scopes asked upstream, `openid` first; `offline_access` is added per login, only when asked for. */
  scopes: string[];
  /** basicAuthUnsupported as written (undefined = decide from the issuer and its discovery document). */
  basicAuthUnsupported?: boolean | undefined;
  rootCAs: string[];
  insecureSkipVerify: boolean;
  acrValues: string[];
  getUserInfo: boolean;
  /** `prompt` sent when offline access is asked for; undefined when written as "" (send none). */
  promptType: string | undefined;
  overrides: DiscoveryOverrides;
  /** Token exchange: a subject token's `aud` must contain one of these (Latchkey's key). */
  audiences: string[];
  claims: ClaimRules;
}

export interface ParsedOidcConfig {
  config: OidcConfig;
  /** Non-fatal findings, logged as warnings naming the connector. */
  warnings: string[];
}

export function parseOidcConfig(section: ConfigSection): ParsedOidcConfig {
  const warnings: string[] = [];
  const issuer = section.requiredURL('issuer');
  const issuerAlias = section.url('issuerAlias');
  const clientID = section.string('clientID');
  const clientSecret = section.string('clientSecret');
  if (clientSecret !== undefined && clientID === undefined) {
    throw new ConnectorConfigError(section.keyPath('clientID'), 'required when clientSecret is set');
  }
  const redirectURI = section.url('redirectURI');

  // Dex: `openid` then the configured scopes, or `profile email` when none are. offline_access is the
  // downstream's to ask for: it is added per login when asked, and never sent otherwise.
  const written = section.strings('scopes');
  const configured = written === undefined ? ['profile', 'email'] : written.map((s) => s.value);
  const scopes = ['openid', ...new Set(configured.filter((s) => s !== 'openid' && s !== 'offline_access'))];

  const pkce = section.string('pkceChallenge');
  if (pkce !== undefined && pkce !== 'S256' && pkce !== 'plain') {
    throw new ConnectorConfigError(section.keyPath('pkceChallenge'), 'expected "S256" or "plain"');
  }
  if (pkce === 'plain') {
    // Accepted for Dex configs; S256 is what every login uses anyway (RFC 9700 §2.1.1).
    warnings.push(`${section.keyPath('pkceChallenge')}: "plain" is not used; logins use S256 PKCE`);
  }

  const rootCAs = readRootCAs(section.strings('rootCAs') ?? []);
  const insecureSkipVerify = section.boolean('insecureSkipVerify');
  if (insecureSkipVerify) {
    warnings.push(
      `${section.keyPath('insecureSkipVerify')}: the provider's TLS certificate is not checked (never do this in production)`,
    );
  }

  const promptType = section.has('promptType') ? section.string('promptType') : 'consent';

  const overrides = readOverrides(section, warnings);
  const audiences = section.stringValues('audiences');
  if (audiences.length === 0 && clientID === undefined) {
    warnings.push(
      `${section.path}: token exchange accepts subject tokens issued for any audience; ` +
        'set audiences (or clientID) to accept only tokens meant for Latchkey',
    );
  }

  return {
    config: {
      issuer,
      issuerAlias,
      clientID,
      clientSecret,
      redirectURI,
      scopes,
      basicAuthUnsupported: section.optionalBoolean('basicAuthUnsupported'),
      rootCAs,
      insecureSkipVerify,
      acrValues: section.stringValues('acrValues'),
      getUserInfo: section.boolean('getUserInfo'),
      promptType,
      overrides,
      audiences,
      claims: readClaimRules(section, scopes, warnings),
    },
    warnings,
  };
}

/** Dex's auto-detection: Okta refuses Basic authentication at its token endpoint. */
export function knownBasicAuthBroken(issuer: string): boolean {
  const host = new URL(issuer).hostname;
  return BASIC_AUTH_BROKEN_DOMAINS.some((d) => host === d || host.endsWith(`.${d}`));
}

function readOverrides(section: ConfigSection, warnings: string[]): DiscoveryOverrides {
  const o = section.section('providerDiscoveryOverrides');
  if (o === undefined) return {};
  warnUnread(o, OVERRIDE_KEYS, warnings);
  const overrides = {
    tokenURL: o.url('tokenURL'),
    authURL: o.url('authURL'),
    jwksURL: o.url('jwksURL'),
    userInfoURL: o.url('userInfoURL'),
  };
  if (Object.values(overrides).some((v) => v !== undefined)) {
    // Dex warns too: these endpoints are trusted instead of what the issuer itself publishes.
    warnings.push(
      `${o.path}: endpoints overridden; they are trusted in place of the issuer's discovery document`,
    );
  }
  return overrides;
}

function readClaimRules(section: ConfigSection, scopes: string[], warnings: string[]): ClaimRules {
  const mapping = section.section('claimMapping');
  warnUnread(mapping, CLAIM_MAPPING_KEYS, warnings);
  // Dex reads these under claimMapping; the flat spellings are accepted too, but not both at once.
  const mapped = (flat: string, nested: string): string | undefined => {
    const a = section.string(flat);
    const b = mapping?.string(nested);
    if (a !== undefined && b !== undefined && a !== b) {
      throw new ConnectorConfigError(
        section.keyPath(flat),
        `conflicts with ${mapping!.keyPath(nested)} (${JSON.stringify(b)}); set one of them`,
      );
    }
    return a ?? b;
  };

  const mods = section.section('claimModifications');
  warnUnread(mods, CLAIM_MODIFICATION_KEYS, warnings);
  const filter = mods?.section('filterGroupClaims');
  warnUnread(filter, ['groupsFilter'], warnings);
  const rename = mods?.section('modifyGroupNames');
  warnUnread(rename, ['prefix', 'suffix'], warnings);

  const groupsEnabled = section.boolean('insecureEnableGroups');
  const allowedGroups = section.stringValues('allowedGroups');
  if (allowedGroups.length > 0 && !groupsEnabled) {
    warnings.push(
      `${section.keyPath('allowedGroups')}: enforced although insecureEnableGroups is not set ` +
        "(Dex would ignore it): the upstream's groups claim is read to check membership",
    );
  }

  return {
    userIDKey: section.string('userIDKey'),
    userNameKey: section.string('userNameKey') ?? 'name',
    preferredUsernameKey: mapped('preferredUsernameKey', 'preferred_username'),
    emailKey: mapped('emailKey', 'email'),
    groupsKey: mapped('groupsKey', 'groups'),
    overrideClaimMapping: section.boolean('overrideClaimMapping'),
    emailRequired: scopes.includes('email'),
    insecureSkipEmailVerified: section.boolean('insecureSkipEmailVerified'),
    groupsEnabled,
    allowedGroups,
    groupsFilter: filter === undefined ? undefined : filter.regexp('groupsFilter'),
    groupPrefix: rename?.string('prefix') ?? '',
    groupSuffix: rename?.string('suffix') ?? '',
    newGroupFromClaims: readNewGroups(mods, warnings),
    hostedDomains: section.stringValues('hostedDomains'),
  };
}

function readNewGroups(mods: ConfigSection | undefined, warnings: string[]): NewGroupRule[] {
  const written = mods?.list('newGroupFromClaims');
  if (written === undefined) return [];
  return written.items.map((item, i) => {
    const rule = ConfigSection.of(`${written.path}[${i}]`, item);
    warnUnread(rule, NEW_GROUP_KEYS, warnings);
    const claims = rule.strings('claims');
    if (claims === undefined) throw new ConnectorConfigError(rule.keyPath('claims'), 'required');
    return {
      claims: claims.map((c) => c.value),
      delimiter: rule.string('delimiter') ?? '',
      clearDelimiter: rule.boolean('clearDelimiter'),
      prefix: rule.string('prefix') ?? '',
    };
  });
}

function warnUnread(section: ConfigSection | undefined, known: readonly string[], warnings: string[]): void {
  for (const path of section?.unknownKeys(known) ?? []) warnings.push(`${path}: unknown key, ignored`);
}
