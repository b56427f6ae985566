// `type: github` configuration keys (reference §6), read case-insensitively like every connector config.
export const GITHUB_CONFIG_KEYS = [
  'clientID',
  'clientSecret',
  'redirectURI',
  'org',
  'orgs',
  'hostName',
  'rootCA',
  'teamNameField',
  'loadAllGroups',
  'useLoginAsID',
  'preferredEmailDomain',
] as const;
