import { distinct, groupNames, MalformedClaimError } from '../claims/groups.js';
import type { Identity } from '../connector.js';
import type { ClaimRules } from './config.js';

// An upstream's claims (ID token, merged with userinfo when asked) turned into an Identity by Dex's rules
// (reference §6, connector/oidc createIdentity), plus the restrictions Latchkey never drops. The same rules
// serve a login, a refresh and a token exchange; each caller turns a refusal into its own error.

export type Claims = Record<string, unknown>;

/** The claims cannot make an identity, or the user is not allowed in. `userMessage` is for the login page. */
export class ClaimsRejectedError extends Error {
  constructor(
    message: string,
    readonly userMessage: string,
  ) {
    super(message);
    this.name = 'ClaimsRejectedError';
  }
}

const MISSING_INFORMATION = 'The identity provider did not send the account information this login requires.';

const missing = (claim: string) => new ClaimsRejectedError(`missing "${claim}" claim`, MISSING_INFORMATION);

const stringClaim = (claims: Claims, key: string): string | undefined => {
  const v = claims[key];
  return typeof v === 'string' ? v : undefined;
};

export function identityFromClaims(claims: Claims, rules: ClaimRules): Omit<Identity, 'connectorData'> {
  const sub = stringClaim(claims, 'sub');
  if (sub === undefined) throw missing('sub');

  const username = stringClaim(claims, rules.userNameKey);
  if (username === undefined) throw missing(rules.userNameKey);

  // claimMapping (Dex): the mapped claim stands in when the standard one is absent, or always with
  // overrideClaimMapping.
  let preferredUsername = stringClaim(claims, 'preferred_username');
  if ((preferredUsername === undefined || rules.overrideClaimMapping) && rules.preferredUsernameKey) {
    preferredUsername = stringClaim(claims, rules.preferredUsernameKey);
  }

  let emailKey = 'email';
  let email = stringClaim(claims, emailKey);
  if ((email === undefined || rules.overrideClaimMapping) && rules.emailKey) {
    emailKey = rules.emailKey;
    email = stringClaim(claims, emailKey);
  }
  if (email === undefined && rules.emailRequired) throw missing(emailKey);

  let emailVerified = claims.email_verified;
  if (typeof emailVerified !== 'boolean') {
    if (rules.insecureSkipEmailVerified) emailVerified = true;
    else if (rules.emailRequired) throw missing('email_verified');
    else emailVerified = false;
  }

  if (rules.hostedDomains.length > 0) {
    const hd = stringClaim(claims, 'hd');
    if (hd === undefined || !rules.hostedDomains.includes(hd)) {
      throw new ClaimsRejectedError(
        `hd claim ${JSON.stringify(hd ?? null)} is not among hostedDomains`,
        "Your account's domain is not allowed to sign in here.",
      );
    }
  }

  let userID = sub;
  if (rules.userIDKey) {
    const value = stringClaim(claims, rules.userIDKey);
    if (value === undefined) throw missing(rules.userIDKey);
    userID = value;
  }

  return {
    userID,
    username,
    preferredUsername: preferredUsername ?? '',
    email: email ?? '',
    emailVerified: emailVerified as boolean,
    groups: groupsFromClaims(claims, rules),
  };
}

/**
 * Groups, in this order: the upstream's groups claim (only with insecureEnableGroups, or to check
 * allowedGroups), kept where filterGroupClaims matches, narrowed to allowedGroups (none left ⇒ refused),
 * renamed by modifyGroupNames; then the groups newGroupFromClaims builds, which neither filter nor rename.
 */
function groupsFromClaims(claims: Claims, rules: ClaimRules): string[] {
  let groups: string[] = [];
  if (rules.groupsEnabled || rules.allowedGroups.length > 0) {
    let key = 'groups';
    if ((claims[key] === undefined || rules.overrideClaimMapping) && rules.groupsKey) key = rules.groupsKey;
    try {
      groups = groupNames(claims[key], key, true) ?? [];
    } catch (e) {
      if (e instanceof MalformedClaimError) throw new ClaimsRejectedError(e.message, MISSING_INFORMATION);
      throw e;
    }
    const filter = rules.groupsFilter;
    if (filter !== undefined) groups = groups.filter((g) => filter.test(g));
    if (rules.allowedGroups.length > 0) {
      groups = groups.filter((g) => rules.allowedGroups.includes(g));
      if (groups.length === 0) {
        throw new ClaimsRejectedError(
          'user is not a member of any of allowedGroups',
          'You are not a member of a group that may sign in here.',
        );
      }
    }
    groups = groups.map((g) => `${rules.groupPrefix}${g}${rules.groupSuffix}`);
  }
  for (const rule of rules.newGroupFromClaims) {
    const segments = [rule.prefix];
    for (const name of rule.claims) {
      const value = stringClaim(claims, name);
      // Dex: a claim that is absent or not a string is skipped (joining it would make no sense).
      if (value === undefined) continue;
      segments.push(
        rule.clearDelimiter && rule.delimiter !== '' ? value.replaceAll(rule.delimiter, '') : value,
      );
    }
    if (segments.length > 1) groups.push(segments.join(rule.delimiter));
  }
  return distinct(groups);
}
