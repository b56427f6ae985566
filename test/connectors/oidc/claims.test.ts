import { ConfigSection } from '../../../src/connectors/config-keys.js';
import { identityFromClaims, type Claims } from '../../../src/connectors/oidc/claims.js';
import { parseOidcConfig, type ClaimRules } from '../../../src/connectors/oidc/config.js';

// Dex's claim rules (connector/oidc createIdentity) as pure functions: which claim feeds which field, what
// is required, and the group pipeline (filter, allowedGroups, renaming, groups made of claims).

const rules = (config: Record<string, unknown>): ClaimRules =>
  parseOidcConfig(ConfigSection.of('c', { issuer: 'https://idp.example.com', ...config })).config.claims;

const JANE: Claims = {
  sub: 'u1',
  name: 'Jane',
  preferred_username: 'jane',
  email: 'jane@example.com',
  email_verified: true,
  groups: ['a', 'b'],
};

const refusal = (claims: Claims, config: Record<string, unknown>): string => {
  try {
    identityFromClaims(claims, rules(config));
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('oidc claim rules', () => {
  it('maps sub, name, preferred_username, email and email_verified; groups only when enabled', () => {
    expect(identityFromClaims(JANE, rules({}))).toEqual({
      userID: 'u1',
      username: 'Jane',
      preferredUsername: 'jane',
      email: 'jane@example.com',
      emailVerified: true,
      groups: [],
    });
    expect(identityFromClaims(JANE, rules({ insecureEnableGroups: true })).groups).toEqual(['a', 'b']);
  });

  it.each([
    [{ ...JANE, sub: undefined }, {}, 'missing "sub" claim'],
    [{ ...JANE, name: undefined }, {}, 'missing "name" claim'],
    [JANE, { userNameKey: 'login' }, 'missing "login" claim'],
    [{ ...JANE, email: undefined }, {}, 'missing "email" claim'],
    [{ ...JANE, email: undefined }, { claimMapping: { email: 'mail' } }, 'missing "mail" claim'],
    [{ ...JANE, email_verified: 'true' }, {}, 'missing "email_verified" claim'],
    [JANE, { userIDKey: 'oid' }, 'missing "oid" claim'],
    [{ ...JANE, groups: [1] }, { insecureEnableGroups: true }, 'malformed "groups" claim'],
    [{ ...JANE, groups: { a: 1 } }, { insecureEnableGroups: true }, 'malformed "groups" claim'],
    [
      JANE,
      { insecureEnableGroups: true, allowedGroups: ['c'] },
      'user is not a member of any of allowedGroups',
    ],
    [JANE, { hostedDomains: ['example.com'] }, 'hd claim null is not among hostedDomains'],
    [
      { ...JANE, hd: 'evil.com' },
      { hostedDomains: ['example.com'] },
      'hd claim "evil.com" is not among hostedDomains',
    ],
  ])('refuses %j with %j', (claims, config, message) => {
    expect(refusal(claims, config)).toBe(message);
  });

  it('needs neither email nor email_verified without the email scope; insecureSkipEmailVerified fills in true', () => {
    const thin = { sub: 'u1', name: 'Jane' };
    expect(identityFromClaims(thin, rules({ scopes: ['profile'] }))).toMatchObject({
      email: '',
      emailVerified: false,
    });
    expect(
      identityFromClaims({ ...thin, email: 'j@x' }, rules({ insecureSkipEmailVerified: true })),
    ).toMatchObject({ email: 'j@x', emailVerified: true });
    // An explicit false stays false.
    expect(
      identityFromClaims({ ...JANE, email_verified: false }, rules({ insecureSkipEmailVerified: true }))
        .emailVerified,
    ).toBe(false);
  });

  it('uses claimMapping where the standard claim is absent, and everywhere with overrideClaimMapping', () => {
    const claims = { ...JANE, preferred_username: undefined, mail: 'j@corp', nick: 'jj', roles: ['r'] };
    const mapping = { claimMapping: { preferred_username: 'nick', email: 'mail', groups: 'roles' } };
    expect(identityFromClaims(claims, rules({ ...mapping, insecureEnableGroups: true }))).toMatchObject({
      preferredUsername: 'jj',
      email: 'jane@example.com',
      groups: ['a', 'b'],
    });
    expect(
      identityFromClaims(
        claims,
        rules({ ...mapping, insecureEnableGroups: true, overrideClaimMapping: true }),
      ),
    ).toMatchObject({ preferredUsername: 'jj', email: 'j@corp', groups: ['r'] });
    expect(identityFromClaims(claims, rules({ userIDKey: 'mail' })).userID).toBe('j@corp');
  });

  it('reads groups as strings, {name} objects or one string', () => {
    const on = rules({ insecureEnableGroups: true });
    expect(identityFromClaims({ ...JANE, groups: [{ name: 'x', id: 1 }, 'y'] }, on).groups).toEqual([
      'x',
      'y',
    ]);
    expect(identityFromClaims({ ...JANE, groups: 'solo' }, on).groups).toEqual(['solo']);
    expect(identityFromClaims({ ...JANE, groups: undefined }, on).groups).toEqual([]);
  });

  it('filters, narrows to allowedGroups, renames, then adds groups made of claims', () => {
    const claims = { ...JANE, groups: ['dev-a', 'dev-b', 'ops', 'dev-a'], org: 'acme:eu', team: 'core' };
    const identity = identityFromClaims(
      claims,
      rules({
        insecureEnableGroups: true,
        allowedGroups: ['dev-a', 'ops'],
        claimModifications: {
          filterGroupClaims: { groupsFilter: '^dev-' },
          modifyGroupNames: { prefix: 'k8s:' },
          newGroupFromClaims: [
            { claims: ['org', 'team', 'missing'], delimiter: ':', clearDelimiter: true, prefix: 'tenant' },
            { claims: ['missing'], delimiter: ':', prefix: 'never' },
          ],
        },
      }),
    );
    expect(identity.groups).toEqual(['k8s:dev-a', 'tenant:acmeeu:core']);
  });

  it('enforces allowedGroups without insecureEnableGroups, emitting only the allowed groups', () => {
    expect(identityFromClaims(JANE, rules({ allowedGroups: ['b', 'z'] })).groups).toEqual(['b']);
    expect(refusal(JANE, { allowedGroups: ['z'] })).toBe('user is not a member of any of allowedGroups');
  });

  it('accepts the hd claim of a hosted domain', () => {
    expect(
      identityFromClaims(
        { ...JANE, hd: 'example.org' },
        rules({ hostedDomains: ['example.com', 'example.org'] }),
      ).userID,
    ).toBe('u1');
  });
});
