// `type: oauth` configuration keys (reference §6), read case-insensitively like every connector config.
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
