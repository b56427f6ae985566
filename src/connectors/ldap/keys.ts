// The top-level keys `type: ldap` reads (for the registry's warning about the others). Apart from
// config.ts so that the table of connector types can name them without loading ldapts: the LDAP code and
// its library load only when an LDAP connector is opened.
export const LDAP_CONFIG_KEYS = [
  'host',
  'insecureNoSSL',
  'insecureSkipVerify',
  'startTLS',
  'rootCA',
  'rootCAData',
  'clientCert',
  'clientKey',
  'bindDN',
  'bindPW',
  'usernamePrompt',
  // Latchkey's own: Dex has no such key (its LDAP connector always says true). Named like the key of the same
  // meaning on Dex's static passwords (`staticPasswords[].emailVerified`, default true).
  'emailVerified',
  'userSearch',
  'groupSearch',
] as const;
