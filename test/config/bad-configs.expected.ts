// Each malformed config in test/fixtures/config-bad and exactly the problem lines it must produce; used by
// the loader tests and by the CLI tests (which also check exit code 2).
const BCRYPT_EXPECTED =
  'a bcrypt hash ("$2a$…", "$2b$…" or "$2y$…", 60 characters) or the base64 encoding of one';

export const expectedProblems: Record<string, string[]> = {
  'missing-issuer.yaml': ['issuer: required'],
  'issuer-not-url.yaml': [
    'issuer: expected an absolute http(s) URL such as "https://dex.example.com/dex", got "dex.example.com"',
  ],
  'issuer-boolean.yaml': ['issuer: expected a URL, got a boolean (true)'],
  'storage-postgres.yaml': [
    'storage.type: "postgres" is not supported by Latchkey (supported: memory, sqlite3, kubernetes)',
  ],
  'redirect-uris-string.yaml': ['staticClients[0].redirectURIs: expected a list of URLs'],
  'redirect-uri-not-url.yaml': [
    'staticClients[0].redirectURIs[1]: expected an absolute URL such as "http://127.0.0.1:5555/callback", ' +
      '"urn:ietf:wg:oauth:2.0:oob" or "/dex/device/callback", got "127.0.0.1:5555/callback"',
  ],
  'bad-duration.yaml': [
    'expiry.idTokens: expected a Go duration such as "10m", "24h" or "1h30m", got "tomorrow"',
    'expiry.deviceRequests: expected a duration greater than 0, got "0"',
  ],
  'connector-saml.yaml': [
    'connectors[0].type: "saml" is not supported by Latchkey (supported: local, mockCallback, mockPassword, ldap, oidc, github, oauth)',
  ],
  'duplicate-client-id.yaml': [
    'staticClients[1].id: duplicate client id "example-app" (already used by staticClients[0])',
  ],
  'client-secret-missing.yaml': [
    'staticClients[0].secret: required for a confidential client (or secretEnv, or public: true)',
  ],
  'passwords-without-passworddb.yaml': ['staticPasswords: requires enablePasswordDB: true'],
  'bad-hash.yaml': [`staticPasswords[0].hash: expected ${BCRYPT_EXPECTED}`],
  'https-without-tls-cert.yaml': ['web.tlsCert: required with web.https'],
  'password-grant-without-connector.yaml': [
    'oauth2.grantTypes[2]: "password" needs oauth2.passwordConnector',
  ],
  'wrong-types.yaml': [
    'web: expected a mapping, got a list',
    'enablePasswordDB: expected true or false, got a number (1)',
    'oauth2.skipApprovalScreen: expected true or false, got "yes please"',
  ],
  'grpc.yaml': ['grpc: the gRPC API is not supported by Latchkey'],
  'sessions.yaml': [
    'sessions.cookieName: expected a cookie name (letters, digits and !#$%&\'*+-.^_`|~), got "dex session"',
    'sessions.absoluteLifetime: expected a Go duration such as "10m", "24h" or "1h30m", got a boolean (true)',
    'sessions.validIfNotUsedFor: expected a duration greater than 0, got "0"',
    'sessions.rememberMeCheckedByDefault: expected true or false, got "sometimes"',
    'sessions.ssoSharedWithDefault: expected one of "none", "all", got "some"',
    'staticClients[0].ssoSharedWith: expected a list of client ids, got "*"',
    'staticClients[0].refreshTokenLifetime: expected one of "standalone", "session", got "forever"',
    'staticClients[0].postLogoutRedirectURIs[1]: "localhost:5555/bye" looks like host:port without a scheme; expected an absolute URL such as "http://localhost:5555/bye"',
    'staticClients[0].backchannelLogoutURI: expected an absolute http(s) URL such as "https://app.example.com/backchannel-logout", got "/backchannel-logout"',
  ],
  'refresh-token-lifetime-session.yaml': [
    'staticClients[0].refreshTokenLifetime: "session" needs the sessions section: without browser sessions there is no session for its refresh tokens to end with',
  ],
  'signer-vault.yaml': ['signer.type: "vault" is not supported by Latchkey (supported: local)'],
  'implicit-flow.yaml': [
    'oauth2.grantTypes[1]: "implicit" is not supported by Latchkey',
    'oauth2.responseTypes[1]: "token" is not supported by Latchkey (implicit and hybrid flows; supported: code)',
    'oauth2.responseTypes[2]: "id_token" is not supported by Latchkey (implicit and hybrid flows; supported: code)',
  ],
  'kubernetes-no-credentials.yaml': [
    'storage.config.crdHandling: expected one of "ensure", "check", got "sometimes"',
    'storage.config: expected inCluster: true or a kubeConfigFile',
  ],
  'duplicate-keys.yaml': ['web.http: duplicate key at line 7, column 3 (first at line 6, column 3)'],
  'syntax-error.yaml': [
    'YAML syntax error at line 6, column 1: Flow map in block collection must be sufficiently indented and end with a }',
  ],
  'empty.yaml': ['the config file is empty'],
  'many-problems.yaml': [
    'issuer: must not have a query or fragment, got "http://127.0.0.1:5556/dex?x=1"',
    'storage.config.file: required',
    'web.http: expected a listen address such as "0.0.0.0:5556" or ":5556", got "5556"',
    'web.tlsMinVersion: expected "1.2" or "1.3", got "1.1"',
    'logger.level: expected one of debug, info, warn, error, got "verbose"',
    'connectors[0].name: required',
    'connectors[0].config: expected a mapping, got a list',
    'connectors[1].id: duplicate connector id "ldap" (already used by connectors[0])',
    'staticClients[0].name: required',
    'staticClients[0].idEnv: environment variable "EXAMPLE_APP_ID" is not set',
    'staticClients[0].secretEnv: environment variable "EXAMPLE_APP_SECRET" is not set',
    'staticClients[0].redirectURIs[0]: must not contain a fragment ("#…"), got "http://127.0.0.1:5555/callback#frag"',
    'staticClients[1].trustedPeers: expected a list of client ids, got "cli-peer"',
  ],
};
