import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  configJsonSchema,
  effectiveConnectors,
  loadConfigFile,
  MAX_CONFIG_BYTES,
  parseConfig,
  requireListener,
} from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';

const HASH = '$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW';
const BASE = `
issuer: http://127.0.0.1:5556/dex
storage:
  type: memory
web:
  http: 127.0.0.1:5556
`;

function load(
  yaml: string,
  env: NodeJS.ProcessEnv = {},
  baseDir?: string,
): { config: Config; warnings: string[] } {
  return parseConfig(yaml, env, baseDir);
}

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml, env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('loaded without problems');
}

describe('parseConfig: defaults', () => {
  it('fills every default of a minimal file', () => {
    const { config, warnings } = load(BASE);
    expect(warnings).toEqual([]);
    expect(config).toEqual({
      issuer: 'http://127.0.0.1:5556/dex',
      issuerPath: '/dex',
      storage: { type: 'memory' },
      web: {
        http: '127.0.0.1:5556',
        tlsMinVersion: 'TLSv1.2',
        headers: {},
        allowedOrigins: [],
        allowedHeaders: ['Authorization'],
        clientRemoteIP: { trustedProxies: [] },
      },
      telemetry: { enableProfiling: false },
      expiry: {
        signingKeys: 6 * 3600_000,
        idTokens: 24 * 3600_000,
        authRequests: 24 * 3600_000,
        authCodes: 10 * 60_000,
        deviceRequests: 5 * 60_000,
        refreshTokens: { disableRotation: false, reuseInterval: 3_000 },
      },
      logger: { level: 'info', format: 'text', excludeFields: [] },
      oauth2: {
        grantTypes: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        responseTypes: ['code'],
        skipApprovalScreen: false,
        alwaysShowLoginScreen: false,
        pkce: { enforce: false, codeChallengeMethodsSupported: ['S256'] },
      },
      signer: { type: 'local', keysRotationPeriod: 6 * 3600_000, algorithm: 'RS256' },
      staticClients: [],
      connectors: [],
      enablePasswordDB: false,
      staticPasswords: [],
      frontend: { theme: 'light', issuer: 'Latchkey', logoURL: 'theme/logo.png', extra: {} },
      throttling: {
        passwordFailuresPerAccount: 5,
        passwordFailuresPerIP: 50,
        window: 15 * 60_000,
        requestsPerSecondPerIP: 10,
        requestBurstPerIP: 100,
      },
    } satisfies Config);
  });

  it('reads the throttling limits and names bad values by path', () => {
    expect(
      load(`${BASE}\nthrottling:\n  passwordFailuresPerAccount: 3\n  window: 1h\n`).config.throttling,
    ).toEqual({
      passwordFailuresPerAccount: 3,
      passwordFailuresPerIP: 50,
      window: 3600_000,
      requestsPerSecondPerIP: 10,
      requestBurstPerIP: 100,
    });
    expect(
      problems(`${BASE}\nthrottling:\n  passwordFailuresPerAccount: 0\n  passwordFailuresPerIP: 2.5\n`),
    ).toEqual([
      'throttling.passwordFailuresPerAccount: expected at least 1, got a number (0)',
      'throttling.passwordFailuresPerIP: expected a whole number of attempts, got a number (2.5)',
    ]);
  });

  it('reads web.workers (a number or "auto"; unset = "auto", decided by serve) and names bad values', () => {
    expect(load(BASE).config.web.workers).toBeUndefined();
    expect(load(`${BASE}  workers: 4\n`).config.web.workers).toBe(4);
    expect(load(`${BASE}  workers: auto\n`).config.web.workers).toBe('auto');
    expect(problems(`${BASE}  workers: 0\n`)).toEqual([
      'web.workers: expected 1 or more workers, got a number (0)',
    ]);
    expect(problems(`${BASE}  workers: 1.5\n`)).toEqual([
      'web.workers: expected a number of workers or "auto", got a number (1.5)',
    ]);
    expect(problems(`${BASE}  workers: many\n`)).toEqual([
      'web.workers: expected a number of workers or "auto", got "many"',
    ]);
  });

  it('derives the issuer path without a trailing slash, "" for a root issuer', () => {
    const at = (issuer: string) => load(BASE.replace('http://127.0.0.1:5556/dex', issuer)).config.issuerPath;
    expect(at('https://dex.example.com:32000')).toBe('');
    expect(at('https://dex.example.com/')).toBe('');
    expect(at('https://dex.example.com/dex/')).toBe('/dex');
    expect(at('https://example.com/auth/dex')).toBe('/auth/dex');
    expect(
      load(BASE.replace('http://127.0.0.1:5556/dex', 'https://dex.example.com/dex/')).config.issuer,
    ).toBe('https://dex.example.com/dex/');
  });

  it('refuses issuers that are not absolute http(s) URLs', () => {
    const bad = (issuer: string) => problems(BASE.replace('http://127.0.0.1:5556/dex', issuer));
    expect(bad('ftp://dex.example.com')).toEqual([
      'issuer: expected an absolute http(s) URL such as "https://dex.example.com/dex", got "ftp://dex.example.com"',
    ]);
    expect(bad('/dex')).toEqual([
      'issuer: expected an absolute http(s) URL such as "https://dex.example.com/dex", got "/dex"',
    ]);
    expect(bad('https://dex.example.com/dex#x')).toEqual([
      'issuer: must not have a query or fragment, got "https://dex.example.com/dex#x"',
    ]);
    expect(bad('https://user:pw@dex.example.com')).toEqual([
      'issuer: must not contain a user name or password',
    ]);
    expect(bad('[a, b]')).toEqual(['issuer: expected a URL, got a list']);
  });
});

describe('parseConfig: keys', () => {
  it('matches keys case-insensitively, as Go encoding/json does', () => {
    const { config, warnings } = load(`
ISSUER: http://127.0.0.1:5556/dex
Storage:
  Type: sqlite3
  Config:
    FILE: x.db
web:
  HTTP: 127.0.0.1:5556
staticclients:
  - ID: app
    Secret: s
    NAME: App
    RedirectURIs: [http://127.0.0.1:5555/callback]
    PUBLIC: false
OAuth2:
  SkipApprovalScreen: true
EnablePasswordDb: true
STATICPASSWORDS:
  - Email: Admin@Example.com
    HASH: ${HASH}
    UserName: admin
    UserId: u1
`);
    expect(warnings).toEqual([]);
    expect(config.storage).toEqual({ type: 'sqlite3', file: 'x.db' });
    expect(config.web.http).toBe('127.0.0.1:5556');
    expect(config.staticClients).toEqual([
      {
        id: 'app',
        secret: 's',
        name: 'App',
        redirectURIs: ['http://127.0.0.1:5555/callback'],
        trustedPeers: [],
        public: false,
        logoURL: '',
      },
    ]);
    expect(config.oauth2.skipApprovalScreen).toBe(true);
    expect(config.enablePasswordDB).toBe(true);
    expect(config.staticPasswords[0]).toMatchObject({
      email: 'admin@example.com',
      username: 'admin',
      userID: 'u1',
    });
  });

  it('keeps the keys of free-form maps as written', () => {
    const { config } = load(`${BASE.replace('web:\n  http: 127.0.0.1:5556\n', '')}
web:
  http: 127.0.0.1:5556
  headers:
    X-Frame-Options: DENY
    content-security-policy: "default-src 'self'"
frontend:
  extra:
    TOS_Link: https://example.com/tos
    Flag: true
    Count: 3
connectors:
  - type: oidc
    id: up
    name: Upstream
    config:
      Issuer: https://up.example.com
      ClaimMapping: { Email: mail }
`);
    expect(config.web.headers).toEqual({
      'X-Frame-Options': 'DENY',
      'content-security-policy': "default-src 'self'",
    });
    expect(config.frontend.extra).toEqual({ TOS_Link: 'https://example.com/tos', Flag: 'true', Count: '3' });
    expect(config.connectors[0]!.config).toEqual({
      Issuer: 'https://up.example.com',
      ClaimMapping: { Email: 'mail' },
    });
  });

  it('reports a field given twice under two spellings', () => {
    expect(problems(`${BASE}Issuer: http://other/\n`)).toEqual([
      'issuer: given twice (as "issuer" and "Issuer")',
    ]);
  });

  it('warns about unknown keys, naming their path, and ignores them', () => {
    const { warnings } = load(`${BASE}  htp: 127.0.0.1:1
unknownTopLevel: 1
staticClients:
  - id: app
    secrte: typo
    secret: s
    name: App
storage2: {}
expiry:
  idToken: 1h
  refreshTokens:
    reuseIntervall: 2s
`);
    expect(warnings).toEqual([
      'web.htp: unknown key (ignored)',
      'unknownTopLevel: unknown key (ignored)',
      'staticClients[0].secrte: unknown key (ignored)',
      'storage2: unknown key (ignored)',
      'expiry.idToken: unknown key (ignored)',
      'expiry.refreshTokens.reuseIntervall: unknown key (ignored)',
    ]);
  });

  it('warns about unknown keys inside a storage config of the matching type only', () => {
    expect(load(BASE.replace('type: memory', 'type: memory\n  config: { file: x }')).warnings).toEqual([
      'storage.config.file: unknown key (ignored)',
    ]);
  });

  it('treats null as unset, as Go does', () => {
    const { config } = load(`${BASE}oauth2:\nlogger:\n  level:\nfrontend: ~\n`);
    expect(config.logger.level).toBe('info');
    expect(config.oauth2.skipApprovalScreen).toBe(false);
    expect(problems(`issuer:\n${BASE.replace(/^\nissuer.*\n/, '')}`)).toEqual(['issuer: required']);
  });

  it('reads YAML 1.1 as go-yaml does: yes/on are booleans, merge keys work, timestamps stay strings', () => {
    const { config } = load(`${BASE}
enablePasswordDB: yes
oauth2:
  skipApprovalScreen: on
x-client: &client
  secret: s
  name: App
staticClients:
  - <<: *client
    id: app
    logoURL: 2024-01-02
`);
    expect(config.enablePasswordDB).toBe(true);
    expect(config.oauth2.skipApprovalScreen).toBe(true);
    expect(config.staticClients[0]).toMatchObject({
      id: 'app',
      secret: 's',
      name: 'App',
      logoURL: '2024-01-02',
    });
  });

  it('turns numbers written where strings are expected into the text as written', () => {
    const { config } = load(`
issuer: http://127.0.0.1:5556/dex
storage: { type: memory }
web:
  http: 127.0.0.1:5556
  tlsMinVersion: 1.3
staticClients:
  - id: 0x1F
    secret: 00123
    name: 1e3
    public: true
enablePasswordDB: true
staticPasswords:
  - email: a@example.com
    hash: ${HASH}
    username: 42
    userID: 0012
`);
    expect(config.web.tlsMinVersion).toBe('TLSv1.3');
    expect(config.staticClients[0]).toMatchObject({ id: '0x1F', secret: '00123', name: '1e3' });
    expect(config.staticPasswords[0]).toMatchObject({ username: '42', userID: '0012' });
  });

  it('does not turn booleans into strings outside string maps (YAML 1.1: y/n/yes/no/on/off are booleans)', () => {
    expect(problems(`${BASE}staticClients:\n  - id: true\n    secret: s\n    name: n\n`)).toEqual([
      'staticClients[0].id: expected a client id, got a boolean (true)',
      'staticClients[0].name: expected a name, got a boolean (false)',
    ]);
  });
});

describe('parseConfig: YAML level problems', () => {
  it('reports duplicate keys with their path and lines', () => {
    expect(problems(`${BASE}staticClients:\n  - id: a\n    id: b\n    secret: s\n    name: n\n`)).toEqual([
      'staticClients[0].id: duplicate key at line 9, column 5 (first at line 8, column 5)',
    ]);
  });

  it('reports syntax errors with line and column', () => {
    expect(problems('issuer: "http://x\nstorage: {}\n')).toEqual([
      'YAML syntax error at line 3, column 1: Missing closing "quote',
    ]);
    expect(problems('issuer: x\n  storage: y\n')).toEqual([
      'YAML syntax error at line 1, column 9: Nested mappings are not allowed in compact mappings',
      'YAML syntax error at line 1, column 9: Implicit keys need to be on a single line',
    ]);
  });

  it('refuses several documents, a top level that is not a mapping, and empty files', () => {
    expect(problems(`${BASE}---\n${BASE}`)).toEqual([
      'YAML syntax error at line 7, column 1: expected a single YAML document',
    ]);
    expect(problems('- issuer: x\n')).toEqual([
      'the config file must be a mapping (issuer: …, storage: …), got a list',
    ]);
    expect(problems('just a string\n')).toEqual([
      'the config file must be a mapping (issuer: …, storage: …), got "just a string"',
    ]);
    expect(problems('')).toEqual(['the config file is empty']);
    expect(problems('  \n\n')).toEqual(['the config file is empty']);
    expect(problems('# only a comment\n')).toEqual(['the config file is empty']);
    expect(problems('~\n')).toEqual(['the config file is empty']);
  });

  it('refuses a huge file', () => {
    const huge = `${BASE}frontend:\n  extra:\n    big: "${'x'.repeat(MAX_CONFIG_BYTES)}"\n`;
    expect(problems(huge)).toEqual([`the config file is too large (${huge.length} bytes; at most 1048576)`]);
  });

  it('refuses alias bombs', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++) {
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    }
    const result = problems(`${BASE}${lines.join('\n')}\n`);
    expect(result).toHaveLength(1);
    expect(result[0]).toMatch(/^the config file could not be read: .*alias/i);
  });
});

describe('parseConfig: environment', () => {
  const withEnvRefs = `
issuer: http://127.0.0.1:5556/$ISSUER_PATH
storage:
  type: sqlite3
  config:
    file: \${DATA_DIR}/latchkey.db
web:
  http: 127.0.0.1:5556
signer:
  type: local
  config:
    keysRotationPeriod: $ROTATION
staticClients:
  - id: app
    secret: $NOT_EXPANDED
    name: App
connectors:
  - type: oidc
    id: up
    name: $NAME_NOT_EXPANDED
    config:
      clientID: $CLIENT_ID
      clientSecret: pa$$word
      nested: { list: ["\${CLIENT_ID}-1", 2, "$UNSET_VAR"], keep: "$ 5" }
frontend:
  extra:
    link: $NOT_EXPANDED
`;
  const env = {
    ISSUER_PATH: 'x',
    DATA_DIR: '/var/lib',
    ROTATION: '2h',
    CLIENT_ID: 'cid',
    NOT_EXPANDED: 'oops',
  };

  it('expands $VAR only in storage.config, connectors[].config and signer.config', () => {
    const { config } = load(withEnvRefs, env);
    expect(config.issuer).toBe('http://127.0.0.1:5556/$ISSUER_PATH');
    expect(config.storage).toEqual({ type: 'sqlite3', file: '/var/lib/latchkey.db' });
    expect(config.signer.keysRotationPeriod).toBe(2 * 3600_000);
    expect(config.staticClients[0]!.secret).toBe('$NOT_EXPANDED');
    expect(config.connectors[0]!.name).toBe('$NAME_NOT_EXPANDED');
    expect(config.connectors[0]!.config).toEqual({
      clientID: 'cid',
      clientSecret: 'paword', // Go's os.ExpandEnv has no escape: "$$" is the (unset) variable "$"
      nested: { list: ['cid-1', 2, ''], keep: '$ 5' },
    });
    expect(config.frontend.extra).toEqual({ link: '$NOT_EXPANDED' });
  });

  it.each([
    [{ DEX_EXPAND_ENV: 'false' }],
    [{ DEX_EXPAND_ENV: '0' }],
    [{ LATCHKEY_EXPAND_ENV: 'false' }],
    [{ LATCHKEY_EXPAND_ENV: 'F', DEX_EXPAND_ENV: 'true' }],
  ])('is turned off by %j', (flags) => {
    const { config } = load(withEnvRefs.replace('$ROTATION', '3h'), { ...env, ...flags });
    expect(config.storage).toEqual({ type: 'sqlite3', file: '${DATA_DIR}/latchkey.db' });
    expect(config.connectors[0]!.config.clientSecret).toBe('pa$$word');
  });

  it('LATCHKEY_EXPAND_ENV wins over DEX_EXPAND_ENV; a value that is not a boolean is ignored with a warning', () => {
    expect(
      load(withEnvRefs, { ...env, LATCHKEY_EXPAND_ENV: 'true', DEX_EXPAND_ENV: 'false' }).config.storage,
    ).toEqual({
      type: 'sqlite3',
      file: '/var/lib/latchkey.db',
    });
    const { config, warnings } = load(withEnvRefs, { ...env, DEX_EXPAND_ENV: 'nope' });
    expect(config.storage).toEqual({ type: 'sqlite3', file: '/var/lib/latchkey.db' });
    expect(warnings).toEqual(['DEX_EXPAND_ENV: "nope" is not a boolean (ignored)']);
  });

  it('reads idEnv, secretEnv and hashFromEnv', () => {
    const { config } = load(
      `${BASE}
staticClients:
  - idEnv: APP_ID
    secretEnv: APP_SECRET
    name: App
enablePasswordDB: true
staticPasswords:
  - email: a@example.com
    hashFromEnv: ADMIN_HASH
    username: a
    userID: u
`,
      { APP_ID: 'from-env', APP_SECRET: 'secret-from-env', ADMIN_HASH: HASH },
    );
    expect(config.staticClients[0]).toMatchObject({ id: 'from-env', secret: 'secret-from-env' });
    expect(config.staticPasswords[0]!.hash).toBe(HASH);
  });

  it('names the path and the variable when a referenced variable is unset, and refuses both forms at once', () => {
    expect(
      problems(
        `${BASE}
staticClients:
  - idEnv: APP_ID
    secretEnv: APP_SECRET
    name: App
  - id: b
    idEnv: B_ID
    secret: s
    secretEnv: B_SECRET
    name: B
enablePasswordDB: true
staticPasswords:
  - email: a@example.com
    hashFromEnv: ADMIN_HASH
    username: a
    userID: u
  - email: b@example.com
    hashFromEnv: B_HASH
    username: b
    userID: v
`,
        { APP_SECRET: '', B_HASH: 'not a hash' },
      ),
    ).toEqual([
      'staticClients[0].idEnv: environment variable "APP_ID" is not set',
      'staticClients[0].secretEnv: environment variable "APP_SECRET" is not set',
      'staticClients[1].idEnv: set either id or idEnv, not both',
      'staticClients[1].secretEnv: set either secret or secretEnv, not both',
      'staticPasswords[0].hashFromEnv: environment variable "ADMIN_HASH" is not set',
      'staticPasswords[1].hashFromEnv: environment variable "B_HASH" does not hold a bcrypt hash ("$2a$…", "$2b$…" or "$2y$…", 60 characters) or the base64 encoding of one',
    ]);
  });

  it('fills frontend.dir from LATCHKEY_FRONTEND_DIR, else DEX_FRONTEND_DIR, unless the file sets it', () => {
    expect(load(BASE, { DEX_FRONTEND_DIR: '/srv/dex/web' }).config.frontend.dir).toBe('/srv/dex/web');
    expect(
      load(BASE, { DEX_FRONTEND_DIR: '/srv/dex/web', LATCHKEY_FRONTEND_DIR: '/srv/latchkey/web' }).config
        .frontend.dir,
    ).toBe('/srv/latchkey/web');
    expect(
      load(`${BASE}frontend:\n  dir: mine\n`, { DEX_FRONTEND_DIR: '/srv/dex/web' }).config.frontend.dir,
    ).toBe('mine');
    expect(load(BASE, {}).config.frontend.dir).toBeUndefined();
  });
});

describe('parseConfig: sections', () => {
  it('storage: sqlite3 needs a file; kubernetes takes exactly one of inCluster and kubeConfigFile', () => {
    const storage = (s: string) => BASE.replace('storage:\n  type: memory\n', `storage:\n${s}`);
    expect(load(storage('  type: sqlite3\n  config: { file: ":memory:" }\n')).config.storage).toEqual({
      type: 'sqlite3',
      file: ':memory:',
    });
    expect(
      load(
        storage('  type: kubernetes\n  config: { kubeConfigFile: kc, namespace: ns, crdHandling: check }\n'),
      ).config.storage,
    ).toEqual({
      type: 'kubernetes',
      inCluster: false,
      kubeConfigFile: 'kc',
      namespace: 'ns',
      crdHandling: 'check',
    });
    expect(
      problems(storage('  type: kubernetes\n  config: { inCluster: true, kubeConfigFile: kc }\n')),
    ).toEqual(['storage.config: set either inCluster: true or kubeConfigFile, not both']);
    expect(problems(storage('  type: kubernetes\n'))).toEqual([
      'storage.config: expected inCluster: true or a kubeConfigFile',
    ]);
    expect(problems(storage('  type: sqlite3\n  config: { file: "" }\n'))).toEqual([
      'storage.config.file: must not be empty',
    ]);
    for (const type of ['mysql', 'etcd', 'foo']) {
      expect(problems(storage(`  type: ${type}\n`))).toEqual([
        `storage.type: "${type}" is not supported by Latchkey (supported: memory, sqlite3, kubernetes)`,
      ]);
    }
    expect(problems(storage('  config: {}\n'))).toEqual(['storage.type: required']);
    expect(problems(BASE.replace('storage:\n  type: memory\n', ''))).toEqual(['storage: required']);
    expect(problems(BASE.replace('type: memory', 'type: [memory]'))).toEqual([
      'storage.type: expected one of memory, sqlite3, kubernetes, got a list',
    ]);
  });

  it('resolves relative paths against baseDir when one is given', () => {
    const yaml = `
issuer: https://dex.example.com
storage: { type: sqlite3, config: { file: data/x.db } }
web: { https: 0.0.0.0:443, tlsCert: ssl/cert.pem, tlsKey: /abs/key.pem }
frontend: { dir: web }
`;
    const { config } = load(yaml, {}, '/srv/latchkey');
    expect(config.storage).toEqual({ type: 'sqlite3', file: '/srv/latchkey/data/x.db' });
    expect(config.web.tlsCert).toBe('/srv/latchkey/ssl/cert.pem');
    expect(config.web.tlsKey).toBe('/abs/key.pem');
    expect(config.frontend.dir).toBe('/srv/latchkey/web');
    expect(load(yaml).config.web.tlsCert).toBe('ssl/cert.pem');
  });

  it('web: TLS versions, CORS, headers and trusted proxies', () => {
    const { config } = load(`
issuer: https://dex.example.com
storage: { type: memory }
web:
  https: "[::]:5554"
  tlsCert: c.pem
  tlsKey: k.pem
  tlsMinVersion: "1.2"
  tlsMaxVersion: "1.3"
  allowedOrigins: ["*"]
  allowedHeaders: [Authorization, X-Requested-With]
  headers: { Strict-Transport-Security: max-age=31536000 }
  clientRemoteIP:
    header: X-Forwarded-For
    trustedProxies: [10.0.0.0/8, 192.168.1.7, "fd00::/8", "::1"]
`);
    expect(config.web).toEqual({
      https: '[::]:5554',
      tlsCert: 'c.pem',
      tlsKey: 'k.pem',
      tlsMinVersion: 'TLSv1.2',
      tlsMaxVersion: 'TLSv1.3',
      headers: { 'Strict-Transport-Security': 'max-age=31536000' },
      allowedOrigins: ['*'],
      allowedHeaders: ['Authorization', 'X-Requested-With'],
      clientRemoteIP: {
        header: 'X-Forwarded-For',
        trustedProxies: ['10.0.0.0/8', '192.168.1.7/32', 'fd00::/8', '::1/128'],
      },
    });
    expect(
      problems(
        `${BASE}  tlsMinVersion: 1.3\n  tlsMaxVersion: 1.2\n  clientRemoteIP:\n    trustedProxies: [10.0.0.0/8, 10.0.0.0/33, proxy.local]\n  headers:\n    "Bad Header": x\n`,
      ),
    ).toEqual([
      'web.headers["Bad Header"]: expected an HTTP header name, got "Bad Header"',
      'web.clientRemoteIP.trustedProxies[1]: expected a CIDR such as "10.0.0.0/8" or an IP address, got "10.0.0.0/33"',
      'web.clientRemoteIP.trustedProxies[2]: expected a CIDR such as "10.0.0.0/8" or an IP address, got "proxy.local"',
      'web.tlsMaxVersion: "1.2" is lower than web.tlsMinVersion "1.3"',
    ]);
  });

  it('web: a file without listeners loads; requireListener() is for the CLI after its flags', () => {
    const { config } = load(BASE.replace('web:\n  http: 127.0.0.1:5556\n', ''));
    expect(config.web.http).toBeUndefined();
    expect(() => requireListener(config)).toThrow(ConfigError);
    try {
      requireListener({ ...config, web: { ...config.web, https: '0.0.0.0:443' } });
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([
        'web.tlsCert: required with web.https',
        'web.tlsKey: required with web.https',
      ]);
    }
    expect(() => requireListener({ ...config, web: { ...config.web, http: ':5556' } })).not.toThrow();
  });

  it('expiry: Go durations in milliseconds; zero where it means "never"; refusals name the key', () => {
    const { config } = load(`${BASE}
expiry:
  idTokens: 1h30m
  authRequests: 10m
  authCodes: 30s
  deviceRequests: 2m
  refreshTokens:
    disableRotation: true
    reuseInterval: 0
    validIfNotUsedFor: 2160h
    absoluteLifetime: "0"
`);
    expect(config.expiry).toEqual({
      signingKeys: 6 * 3600_000,
      idTokens: 5_400_000,
      authRequests: 600_000,
      authCodes: 30_000,
      deviceRequests: 120_000,
      refreshTokens: { disableRotation: true, reuseInterval: 0, validIfNotUsedFor: 2160 * 3600_000 },
    });
    expect(
      problems(
        `${BASE}expiry:\n  authCodes: -5m\n  idTokens: 10\n  refreshTokens:\n    reuseInterval: [3s]\n`,
      ),
    ).toEqual([
      'expiry.idTokens: expected a Go duration such as "10m", "24h" or "1h30m", got "10"',
      'expiry.authCodes: expected a positive duration, got "-5m"',
      'expiry.refreshTokens.reuseInterval: expected a Go duration such as "10m", "24h" or "1h30m", got a list',
    ]);
  });

  it('logger: levels in any case, json format, excluded fields', () => {
    const { config } = load(
      `${BASE}logger: { level: DEBUG, format: JSON, excludeFields: [email, groups] }\n`,
    );
    expect(config.logger).toEqual({ level: 'debug', format: 'json', excludeFields: ['email', 'groups'] });
    expect(load(`${BASE}logger: { level: Warning }\n`).config.logger.level).toBe('warn');
    expect(problems(`${BASE}logger: { format: xml }\n`)).toEqual([
      'logger.format: expected "text" or "json", got "xml"',
    ]);
  });

  it('signer: absent ⇒ local keys rotated every expiry.signingKeys (with a deprecation warning), RS256', () => {
    const { config, warnings } = load(`${BASE}expiry: { signingKeys: 12h }\n`);
    expect(config.signer).toEqual({ type: 'local', keysRotationPeriod: 12 * 3600_000, algorithm: 'RS256' });
    expect(config.expiry.signingKeys).toBe(12 * 3600_000);
    expect(warnings).toEqual(['expiry.signingKeys: deprecated (use signer.config.keysRotationPeriod)']);
  });

  it('signer: explicit local needs keysRotationPeriod, takes ES256, and wins over expiry.signingKeys', () => {
    const { config, warnings } = load(
      `${BASE}expiry: { signingKeys: 12h }\nsigner:\n  type: local\n  config: { keysRotationPeriod: 1h, algorithm: ES256 }\n`,
    );
    expect(config.signer).toEqual({ type: 'local', keysRotationPeriod: 3600_000, algorithm: 'ES256' });
    expect(config.expiry.signingKeys).toBe(3600_000);
    expect(warnings).toEqual([
      'expiry.signingKeys: deprecated and ignored because signer is set (use signer.config.keysRotationPeriod)',
    ]);
    expect(problems(`${BASE}signer: { type: local }\n`)).toEqual([
      'signer.config.keysRotationPeriod: required',
    ]);
    expect(
      problems(`${BASE}signer: { type: local, config: { keysRotationPeriod: 1h, algorithm: HS256 } }\n`),
    ).toEqual(['signer.config.algorithm: expected one of "RS256", "ES256", got "HS256"']);
  });

  it('staticClients: redirect URIs may be URLs, the OOB URN or the device callback path', () => {
    const { config } = load(`${BASE}
staticClients:
  - id: cli
    name: CLI
    public: true
    trustedPeers: [web]
    logoURL: https://example.com/logo.png
    redirectURIs:
      - urn:ietf:wg:oauth:2.0:oob
      - /device/callback
      - /dex/device/callback
      - http://localhost:8000
      - com.example.app:/oauth2redirect
`);
    expect(config.staticClients[0]).toEqual({
      id: 'cli',
      secret: '',
      name: 'CLI',
      redirectURIs: [
        'urn:ietf:wg:oauth:2.0:oob',
        '/device/callback',
        '/dex/device/callback',
        'http://localhost:8000',
        'com.example.app:/oauth2redirect',
      ],
      trustedPeers: ['web'],
      public: true,
      logoURL: 'https://example.com/logo.png',
    });
    expect(
      problems(
        `${BASE}staticClients:\n  - id: c\n    name: C\n    public: true\n    redirectURIs: [/other/device/callback, "localhost:8000", "", 5]\n`,
      ),
    ).toEqual([
      'staticClients[0].redirectURIs[0]: expected an absolute URL such as "http://127.0.0.1:5555/callback", "urn:ietf:wg:oauth:2.0:oob" or "/dex/device/callback", got "/other/device/callback"',
      'staticClients[0].redirectURIs[1]: "localhost:8000" looks like host:port without a scheme; expected an absolute URL such as "http://localhost:8000"',
      'staticClients[0].redirectURIs[2]: expected an absolute URL such as "http://127.0.0.1:5555/callback", "urn:ietf:wg:oauth:2.0:oob" or "/dex/device/callback", got ""',
      'staticClients[0].redirectURIs[3]: expected an absolute URL such as "http://127.0.0.1:5555/callback", "urn:ietf:wg:oauth:2.0:oob" or "/dex/device/callback", got "5"',
    ]);
    expect(problems(`${BASE}staticClients:\n  - secret: s\n`)).toEqual([
      'staticClients[0].name: required',
      'staticClients[0].id: required (or idEnv)',
    ]);
    expect(problems(`${BASE}staticClients: {id: a}\n`)).toEqual([
      'staticClients: expected a list of clients, got a mapping',
    ]);
    expect(problems(`${BASE}staticClients: [a]\n`)).toEqual([
      'staticClients[0]: expected a mapping, got "a"',
    ]);
  });

  it('connectors: allowed types, unique ids, "local" reserved with the password database', () => {
    const { config } = load(`${BASE}
enablePasswordDB: true
connectors:
  - { type: mockPassword, id: mockpw, name: Mock, config: { username: kilgore, password: trout } }
  - { type: ldap, id: ldap, name: LDAP, config: { host: "ldap:389", insecureNoSSL: true, port: 389 } }
  - { type: github, id: gh, name: GitHub }
  - { type: oauth, id: oa, name: OAuth }
  - { type: local, id: local2, name: Local }
`);
    expect(config.connectors.map((c) => [c.type, c.id])).toEqual([
      ['mockPassword', 'mockpw'],
      ['ldap', 'ldap'],
      ['github', 'gh'],
      ['oauth', 'oa'],
      ['local', 'local2'],
    ]);
    expect(config.connectors[1]!.config).toEqual({ host: 'ldap:389', insecureNoSSL: true, port: 389 });
    expect(config.connectors[2]!.config).toEqual({});
    expect(effectiveConnectors(config).map((c) => c.id)).toEqual([
      'mockpw',
      'ldap',
      'gh',
      'oa',
      'local2',
      'local',
    ]);
    expect(effectiveConnectors(config)[5]).toEqual({ type: 'local', id: 'local', name: 'Email', config: {} });

    expect(
      problems(`${BASE}
enablePasswordDB: true
connectors:
  - { type: local, id: local, name: Local }
  - { type: google, id: g, name: Google }
  - { type: oidc, name: No id }
  - { type: 5, id: x, name: X }
`),
    ).toEqual([
      'connectors[0].id: "local" is reserved for the password database (enablePasswordDB: true)',
      'connectors[1].type: "google" is not supported by Latchkey (supported: local, mockCallback, mockPassword, ldap, oidc, github, oauth)',
      'connectors[2].id: required',
      'connectors[3].type: "5" is not supported by Latchkey (supported: local, mockCallback, mockPassword, ldap, oidc, github, oauth)',
    ]);
  });

  it('staticPasswords: lower-cased emails, base64-wrapped hashes decoded, cost warnings, duplicates refused', () => {
    const cost4 = '$2a$04$abcdefghijklmnopqrstuuK3sFdMXqCFFKvS1Rnh1RM27eX0ukO/i';
    const { config, warnings } = load(`${BASE}
enablePasswordDB: true
staticPasswords:
  - email: Admin@Example.COM
    hash: ${Buffer.from(HASH).toString('base64')}
    username: admin
    name: Admin Istrator
    preferredUsername: adm
    userID: u1
    emailVerified: false
    groups: [g]
  - email: weak@example.com
    hash: "${cost4}"
    username: weak
    userID: u2
`);
    expect(config.staticPasswords).toEqual([
      {
        email: 'admin@example.com',
        hash: HASH,
        username: 'admin',
        name: 'Admin Istrator',
        preferredUsername: 'adm',
        emailVerified: false,
        userID: 'u1',
        groups: ['g'],
      },
      {
        email: 'weak@example.com',
        hash: cost4,
        username: 'weak',
        emailVerified: true,
        userID: 'u2',
        groups: [],
      },
    ]);
    expect(warnings).toEqual([
      'staticPasswords[1].hash: bcrypt cost 4 is outside 10..16: logins with this password will be refused',
    ]);
    expect(
      problems(`${BASE}
enablePasswordDB: true
staticPasswords:
  - { email: a@example.com, hash: "${HASH}", username: a, userID: u1 }
  - { email: A@EXAMPLE.com, hash: "${HASH}", hashFromEnv: H, username: a, userID: u2 }
  - { email: not-an-email, username: c }
`),
    ).toEqual([
      'staticPasswords[1].hashFromEnv: set either hash or hashFromEnv, not both',
      'staticPasswords[1].email: duplicate email "a@example.com" (already used by staticPasswords[0])',
      'staticPasswords[2].email: expected an email address, got "not-an-email"',
      'staticPasswords[2].userID: required',
      'staticPasswords[2].hash: required (or hashFromEnv)',
    ]);
  });

  it('frontend: defaults, legacy themes', () => {
    const { config, warnings } = load(
      `${BASE}frontend: { theme: coreos, issuer: Acme, logoURL: /logo.svg }\n`,
    );
    expect(config.frontend).toEqual({ theme: 'light', issuer: 'Acme', logoURL: '/logo.svg', extra: {} });
    expect(warnings).toEqual(['frontend.theme: "coreos" is a legacy theme name; using "light"']);
    expect(load(`${BASE}frontend: { theme: dark }\n`).config.frontend.theme).toBe('dark');
  });

  it('unsupported sections: refused when used, an empty one is only a warning', () => {
    expect(problems(`${BASE}mfa:\n  authenticators: []\n`)).toEqual([
      'mfa: not supported yet (multi-factor authentication)',
    ]);
    expect(load(`${BASE}grpc: {}\n`).warnings).toEqual([
      'grpc: empty section ignored (the gRPC API is not supported by Latchkey)',
    ]);
    expect(load(`${BASE}grpc:\n`).warnings).toEqual([]);
  });
});

describe('parseConfig: oauth2', () => {
  const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
  const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';

  it('defaults to the grants the configuration makes possible', () => {
    expect(load(BASE).config.oauth2.grantTypes).toEqual(['authorization_code', 'refresh_token', DEVICE]);
    expect(
      load(`${BASE}enablePasswordDB: true\noauth2: { passwordConnector: local }\n`).config.oauth2,
    ).toMatchObject({
      grantTypes: ['authorization_code', 'password', 'refresh_token', DEVICE],
      passwordConnector: 'local',
    });
    expect(load(`${BASE}connectors: [{ type: oidc, id: up, name: Up }]\n`).config.oauth2.grantTypes).toEqual([
      'authorization_code',
      'refresh_token',
      DEVICE,
      TE,
    ]);
    expect(
      load(`${BASE}connectors: [{ type: mockCallback, id: mock, name: Mock }]\n`).config.oauth2.grantTypes,
    ).toContain(TE);
    expect(
      load(`${BASE}connectors: [{ type: github, id: gh, name: GH }]\n`).config.oauth2.grantTypes,
    ).not.toContain(TE);
  });

  it('takes an explicit list, sorted and without repeats', () => {
    const { config } = load(
      `${BASE}connectors: [{ type: ldap, id: ldap, name: LDAP }]\noauth2:\n  passwordConnector: ldap\n  grantTypes: [refresh_token, password, authorization_code, password]\n`,
    );
    expect(config.oauth2.grantTypes).toEqual(['authorization_code', 'password', 'refresh_token']);
    expect(load(`${BASE}oauth2: { grantTypes: [] }\n`).config.oauth2.grantTypes).toEqual([
      'authorization_code',
      'refresh_token',
      DEVICE,
    ]);
  });

  it("client_credentials: off by default, on for every confidential client when listed or by Dex's env flag", () => {
    expect(load(BASE).config.oauth2.grantTypes).not.toContain('client_credentials');
    expect(
      load(`${BASE}oauth2: { grantTypes: [authorization_code, client_credentials] }\n`).config.oauth2
        .grantTypes,
    ).toEqual(['authorization_code', 'client_credentials']);
    expect(
      load(BASE, { DEX_CLIENT_CREDENTIAL_GRANT_ENABLED_BY_DEFAULT: 'true' }).config.oauth2.grantTypes,
    ).toEqual(['authorization_code', 'client_credentials', 'refresh_token', DEVICE]);
    expect(
      load(BASE, { DEX_CLIENT_CREDENTIAL_GRANT_ENABLED_BY_DEFAULT: 'no' }).config.oauth2.grantTypes,
    ).not.toContain('client_credentials');
  });

  it('clients: allowedConnectors, grantTypes and clientCredentialsClaims; refusals name their path', () => {
    const { config } = load(`${BASE}
staticClients:
  - id: robot
    name: Robot
    secret: s
    allowedConnectors: [a, b, a]
    grantTypes: [client_credentials, refresh_token]
    clientCredentialsClaims: { groups: [ci] }
  - { id: plain, name: Plain, secret: s }
`);
    expect(config.staticClients[0]).toMatchObject({
      allowedConnectors: ['a', 'b'],
      grantTypes: ['client_credentials', 'refresh_token'],
      clientCredentialsClaims: { groups: ['ci'] },
    });
    expect(config.staticClients[1]).not.toHaveProperty('grantTypes');
    expect(config.staticClients[1]).not.toHaveProperty('allowedConnectors');
    expect(
      problems(`${BASE}
staticClients:
  - { id: cli, name: CLI, public: true, grantTypes: [authorization_code, client_credentials] }
  - { id: app, name: App, secret: s, grantTypes: [password, magic], allowedConnectors: x }
  - { id: cc, name: CC, secret: s, clientCredentialsClaims: { groups: admins } }
`),
    ).toEqual([
      'staticClients[0].grantTypes[1]: "client_credentials" needs a confidential client (public: false, with a secret)',
      'staticClients[1].allowedConnectors: expected a list of connector ids, got "x"',
      'staticClients[1].grantTypes[1]: "magic" is not a grant type (known: authorization_code, client_credentials, refresh_token, password, urn:ietf:params:oauth:grant-type:device_code, urn:ietf:params:oauth:grant-type:token-exchange)',
      'staticClients[2].clientCredentialsClaims.groups: expected a list of group names, got "admins"',
    ]);
    expect(
      problems(`${BASE}staticClients: [{ id: app, name: App, secret: s, grantTypes: [password] }]\n`),
    ).toEqual([
      'staticClients[0].grantTypes[0]: "password" is not served (oauth2.grantTypes: authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:device_code)',
    ]);
  });

  it("refuses Dex's restricting client keys it cannot enforce, instead of ignoring them", () => {
    expect(
      problems(`${BASE}
staticClients:
  - { id: a, name: A, secret: s, mfaChain: [totp], refreshTokenLifetime: session }
`),
    ).toEqual([
      'staticClients[0].mfaChain: not supported',
      'staticClients[0].refreshTokenLifetime: "session" needs the sessions section: without browser sessions there is no session for its refresh tokens to end with',
    ]);
    const { config, warnings } = load(
      `${BASE}staticClients: [{ id: b, name: B, secret: s, refreshTokenLifetime: standalone }]\n`,
    );
    expect(warnings).toEqual([]);
    expect(config.staticClients[0]!.refreshTokenLifetime).toBe('standalone');
  });

  it('connectors: grantTypes limited to what the type can serve', () => {
    const { config } = load(
      `${BASE}connectors: [{ type: oidc, id: up, name: Up, grantTypes: [${TE}, ${TE}] }]\n`,
    );
    expect(config.connectors[0]!.grantTypes).toEqual([TE]);
    expect(
      problems(
        `${BASE}connectors: [{ type: github, id: gh, name: GH, grantTypes: [refresh_token, password, ${TE}] }]\n`,
      ),
    ).toEqual([
      'connectors[0].grantTypes[1]: a connector of type github cannot serve "password"',
      `connectors[0].grantTypes[2]: a connector of type github cannot serve "${TE}"`,
    ]);
  });

  it('refuses listed grants that are impossible or unsupported, naming each', () => {
    expect(
      problems(`${BASE}oauth2:\n  grantTypes: [authorization_code, ${TE}, password, implicit, magic]\n`),
    ).toEqual([
      'oauth2.grantTypes[3]: "implicit" is not supported by Latchkey',
      `oauth2.grantTypes[4]: "magic" is not a grant type (known: authorization_code, client_credentials, refresh_token, password, ${DEVICE}, ${TE})`,
      `oauth2.grantTypes[1]: "${TE}" needs a connector that can exchange tokens (type mockCallback or oidc)`,
      'oauth2.grantTypes[2]: "password" needs oauth2.passwordConnector',
    ]);
  });

  it('checks the password connector', () => {
    expect(problems(`${BASE}oauth2: { passwordConnector: local }\n`)).toEqual([
      'oauth2.passwordConnector: "local" needs enablePasswordDB: true',
    ]);
    expect(
      problems(
        `${BASE}connectors: [{ type: github, id: gh, name: GH }]\noauth2: { passwordConnector: ldap }\n`,
      ),
    ).toEqual(['oauth2.passwordConnector: no connector with id "ldap" (connector ids: gh)']);
    expect(problems(`${BASE}oauth2: { passwordConnector: ldap }\n`)).toEqual([
      'oauth2.passwordConnector: no connector with id "ldap" (no connectors are configured)',
    ]);
    expect(
      problems(
        `${BASE}connectors: [{ type: github, id: gh, name: GH }]\noauth2: { passwordConnector: gh }\n`,
      ),
    ).toEqual([
      'oauth2.passwordConnector: connector "gh" is of type github, which cannot check passwords (password connectors: local, mockPassword, ldap)',
    ]);
  });

  it('response types, approval, PKCE', () => {
    const { config } = load(
      `${BASE}oauth2:\n  responseTypes: [code]\n  alwaysShowLoginScreen: true\n  pkce: { enforce: true, codeChallengeMethodsSupported: [S256] }\n`,
    );
    expect(config.oauth2).toMatchObject({
      responseTypes: ['code'],
      alwaysShowLoginScreen: true,
      pkce: { enforce: true, codeChallengeMethodsSupported: ['S256'] },
    });
    expect(
      problems(
        `${BASE}oauth2:\n  responseTypes: ["code id_token", device]\n  pkce: { codeChallengeMethodsSupported: [S512] }\n`,
      ),
    ).toEqual([
      'oauth2.responseTypes[0]: "code id_token" is not supported by Latchkey (implicit and hybrid flows; supported: code)',
      'oauth2.responseTypes[1]: "device" is not a response type (supported: code)',
      'oauth2.pkce.codeChallengeMethodsSupported[0]: expected one of "S256", "plain", got "S512"',
    ]);
  });

  it('PKCE: S256 only by default; plain only when listed, with a warning', () => {
    expect(load(BASE).config.oauth2.pkce.codeChallengeMethodsSupported).toEqual(['S256']);
    const { config, warnings } = load(
      `${BASE}oauth2: { pkce: { codeChallengeMethodsSupported: [S256, plain] } }\n`,
    );
    expect(config.oauth2.pkce.codeChallengeMethodsSupported).toEqual(['S256', 'plain']);
    expect(warnings).toEqual([
      'oauth2.pkce.codeChallengeMethodsSupported: "plain" lets anyone who sees the authorization request redeem its code (RFC 9700 §2.1.1); allow only S256 unless an old client needs plain',
    ]);
  });
});

describe('parseConfig: sessions', () => {
  const HOUR = 3_600_000;
  const DEFAULTS = {
    cookieName: 'latchkey_session',
    absoluteLifetime: 24 * HOUR,
    validIfNotUsedFor: HOUR,
    rememberMeCheckedByDefault: true,
    ssoSharedWithDefault: 'none',
  };

  it('are off without the section, and on with the defaults when it is there, even empty', () => {
    expect(load(BASE).config).not.toHaveProperty('sessions');
    // `sessions:` with nothing is null, which Go reads as unset.
    expect(load(`${BASE}sessions:\n`).config).not.toHaveProperty('sessions');
    const { config, warnings } = load(`${BASE}sessions: {}\n`);
    expect(config.sessions).toEqual(DEFAULTS);
    expect(warnings).toEqual([]);
  });

  it('reads every key; durations in Go syntax, keys in any case', () => {
    const { config, warnings } = load(`${BASE}
sessions:
  cookieName: sso
  absoluteLifetime: 8h
  validIfNotUsedFor: 1h30m
  rememberMeCheckedByDefault: false
  SSOSharedWithDefault: all
`);
    expect(warnings).toEqual([]);
    expect(config.sessions).toEqual({
      cookieName: 'sso',
      absoluteLifetime: 8 * HOUR,
      validIfNotUsedFor: 1.5 * HOUR,
      rememberMeCheckedByDefault: false,
      ssoSharedWithDefault: 'all',
    });
    expect(load(`${BASE}sessions: { cookieName: "", ssoSharedWithDefault: none }\n`).config.sessions).toEqual(
      DEFAULTS,
    );
  });

  it('refuses values of the wrong kind, naming the key', () => {
    expect(problems(`${BASE}sessions: 5\n`)).toEqual(['sessions: expected a mapping, got a number (5)']);
    expect(problems(`${BASE}sessions: [cookieName]\n`)).toEqual(['sessions: expected a mapping, got a list']);
    expect(
      problems(`${BASE}
sessions:
  cookieName: "a;b"
  absoluteLifetime: -1h
  validIfNotUsedFor: 10
  ssoSharedWithDefault: [all]
  cookieEncryptionKey: { key: x }
`),
    ).toEqual([
      `sessions.cookieName: expected a cookie name (letters, digits and !#$%&'*+-.^_\`|~), got "a;b"`,
      'sessions.absoluteLifetime: expected a positive duration, got "-1h"',
      'sessions.validIfNotUsedFor: expected a Go duration such as "10m", "24h" or "1h30m", got "10"',
      'sessions.cookieEncryptionKey: expected a string, got a mapping',
      'sessions.ssoSharedWithDefault: expected one of "none", "all", got a list',
    ]);
    expect(problems(`${BASE}sessions: { absoluteLifetime: "0" }\n`)).toEqual([
      'sessions.absoluteLifetime: expected a duration greater than 0, got "0"',
    ]);
  });

  it('validIfNotUsedFor is at most absoluteLifetime; unset, it is shortened to fit', () => {
    expect(problems(`${BASE}sessions: { absoluteLifetime: 1h, validIfNotUsedFor: 61m }\n`)).toEqual([
      'sessions.validIfNotUsedFor: "61m" is longer than sessions.absoluteLifetime "1h"',
    ]);
    expect(problems(`${BASE}sessions: { validIfNotUsedFor: 25h }\n`)).toEqual([
      'sessions.validIfNotUsedFor: "25h" is longer than sessions.absoluteLifetime (default "24h")',
    ]);
    expect(
      load(`${BASE}sessions: { absoluteLifetime: 2h, validIfNotUsedFor: 120m }\n`).config.sessions,
    ).toMatchObject({
      absoluteLifetime: 2 * HOUR,
      validIfNotUsedFor: 2 * HOUR,
    });
    expect(load(`${BASE}sessions: { absoluteLifetime: 30m }\n`).config.sessions).toMatchObject({
      absoluteLifetime: HOUR / 2,
      validIfNotUsedFor: HOUR / 2,
    });
    // A bad absoluteLifetime is reported once, not compared.
    expect(problems(`${BASE}sessions: { absoluteLifetime: soon, validIfNotUsedFor: 48h }\n`)).toEqual([
      'sessions.absoluteLifetime: expected a Go duration such as "10m", "24h" or "1h30m", got "soon"',
    ]);
  });

  it("accepts Dex's cookieEncryptionKey, of any length, with a warning that it is not used", () => {
    const warning =
      'sessions.cookieEncryptionKey: not used: Latchkey seals the session cookie with its rotating sealing keys from storage';
    for (const key of ['0123456789abcdef', 'short']) {
      const { config, warnings } = load(`${BASE}sessions: { cookieEncryptionKey: ${key} }\n`);
      expect(warnings).toEqual([warning]);
      expect(config.sessions).toEqual(DEFAULTS);
    }
  });

  it('refuses a __Secure- or __Host- cookie name that browsers would drop', () => {
    const https = (path: string) =>
      BASE.replace('http://127.0.0.1:5556/dex', `https://id.example.com${path}`);
    expect(problems(`${BASE}sessions: { cookieName: __Secure-sid }\n`)).toEqual([
      'sessions.cookieName: browsers keep a cookie named "__Secure-…" only when it is Secure, which needs an https issuer',
    ]);
    expect(problems(`${https('/dex')}sessions: { cookieName: __host-sid }\n`)).toEqual([
      'sessions.cookieName: browsers keep a cookie named "__host-…" only with Path=/, and the cookie\'s path is the issuer\'s, "/dex"',
    ]);
    expect(load(`${https('/dex')}sessions: { cookieName: __Secure-sid }\n`).config.sessions!.cookieName).toBe(
      '__Secure-sid',
    );
    expect(load(`${https('')}sessions: { cookieName: __Host-sid }\n`).config.sessions!.cookieName).toBe(
      '__Host-sid',
    );
  });

  it('warns about unknown keys inside the section, and leaves $VAR alone as outside storage/connector/signer config', () => {
    const { config, warnings } = load(`${BASE}sessions: { cookieNmae: x, cookieName: $NAME }\n`, {
      NAME: 'expanded',
    });
    expect(warnings).toEqual(['sessions.cookieNmae: unknown key (ignored)']);
    expect(config.sessions!.cookieName).toBe('$NAME');
  });

  const CLIENTS = `
staticClients:
  - id: web
    name: Web
    secret: s
    redirectURIs: [https://web.example.com/callback]
    postLogoutRedirectURIs: ["https://web.example.com/bye?from=idp", "com.example.app:/logout", "https://web.example.com/bye?from=idp"]
    backchannelLogoutURI: http://web.internal:8080/logout?via=idp
    ssoSharedWith: [admin, admin]
    refreshTokenLifetime: session
  - id: admin
    name: Admin
    secret: s
    ssoSharedWith: []
  - id: cli
    name: CLI
    public: true
    ssoSharedWith: ["*"]
  - { id: plain, name: Plain, secret: s }
`;

  it('clients: the session keys as written, [] and an absent ssoSharedWith told apart', () => {
    const { config, warnings } = load(`${BASE}sessions: {}\n${CLIENTS}`);
    expect(warnings).toEqual([]);
    const [web, admin, cli, plain] = config.staticClients;
    expect(web).toMatchObject({
      postLogoutRedirectURIs: [
        'https://web.example.com/bye?from=idp',
        'com.example.app:/logout',
        'https://web.example.com/bye?from=idp',
      ],
      backchannelLogoutURI: 'http://web.internal:8080/logout?via=idp',
      ssoSharedWith: ['admin'],
      refreshTokenLifetime: 'session',
    });
    expect(admin!.ssoSharedWith).toEqual([]);
    expect(cli!.ssoSharedWith).toEqual(['*']);
    for (const key of [
      'postLogoutRedirectURIs',
      'backchannelLogoutURI',
      'ssoSharedWith',
      'refreshTokenLifetime',
    ]) {
      expect(plain).not.toHaveProperty(key);
    }
  });

  it('clients without sessions: refreshTokenLifetime: session refused, the keys that only grant warned about', () => {
    expect(problems(`${BASE}${CLIENTS}`)).toEqual([
      'staticClients[0].refreshTokenLifetime: "session" needs the sessions section: without browser sessions there is no session for its refresh tokens to end with',
    ]);
    const { config, warnings } = load(`${BASE}${CLIENTS.replace('refreshTokenLifetime: session', '')}`);
    expect(warnings).toEqual([
      'staticClients[0].postLogoutRedirectURIs: has no effect without the sessions section (there is no logout endpoint to redirect from)',
      'staticClients[0].backchannelLogoutURI: has no effect without the sessions section (there are no browser sessions whose end it would hear of)',
      'staticClients[0].ssoSharedWith: has no effect without the sessions section (there are no browser sessions to share)',
      'staticClients[1].ssoSharedWith: has no effect without the sessions section (there are no browser sessions to share)',
      'staticClients[2].ssoSharedWith: has no effect without the sessions section (there are no browser sessions to share)',
    ]);
    expect(config).not.toHaveProperty('sessions');
    // An invalid sessions section is still a section: its problems are reported, not "needs the sessions section".
    expect(problems(`${BASE}sessions: 5\n${CLIENTS}`)).toEqual([
      'sessions: expected a mapping, got a number (5)',
    ]);
  });

  it('clients: ssoSharedWith naming a client that is not static is a warning', () => {
    const { config, warnings } = load(
      `${BASE}sessions: {}\n${CLIENTS.replace('[admin, admin]', '[ghost, admin, "*", Admin]')}`,
    );
    expect(warnings).toEqual([
      'staticClients[0].ssoSharedWith[0]: no static client has the id "ghost" (static clients: web, admin, cli, plain); it counts only if the storage holds a client with this id',
      'staticClients[0].ssoSharedWith[3]: no static client has the id "Admin" (static clients: web, admin, cli, plain); it counts only if the storage holds a client with this id',
    ]);
    expect(config.staticClients[0]!.ssoSharedWith).toEqual(['ghost', 'admin', '*', 'Admin']);
  });

  it('clients: post-logout and back-channel logout URIs are checked, naming each', () => {
    expect(
      problems(`${BASE}sessions: {}
staticClients:
  - id: app
    name: App
    secret: s
    postLogoutRedirectURIs: [/dex/device/callback, "https://app.example.com/#bye", 5]
    backchannelLogoutURI: com.example.app:/logout
  - { id: b, name: B, secret: s, backchannelLogoutURI: "https://b.example.com/logout#now" }
  - { id: c, name: C, secret: s, backchannelLogoutURI: [https://c.example.com/logout] }
`),
    ).toEqual([
      'staticClients[0].postLogoutRedirectURIs[0]: expected an absolute URL such as "http://127.0.0.1:5555/", got "/dex/device/callback"',
      'staticClients[0].postLogoutRedirectURIs[1]: must not contain a fragment ("#…"), got "https://app.example.com/#bye"',
      'staticClients[0].postLogoutRedirectURIs[2]: expected an absolute URL such as "http://127.0.0.1:5555/", got "5"',
      'staticClients[0].backchannelLogoutURI: expected an absolute http(s) URL such as "https://app.example.com/backchannel-logout", got "com.example.app:/logout"',
      'staticClients[1].backchannelLogoutURI: must not contain a fragment ("#…"), got "https://b.example.com/logout#now"',
      'staticClients[2].backchannelLogoutURI: expected a URL, got a list',
    ]);
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-config-'));

  it('loads a file and returns its warnings', async () => {
    const path = join(dir, 'ok.yaml');
    writeFileSync(path, `${BASE}surprise: 1\n`);
    const { config, warnings } = await loadConfigFile(path, {});
    expect(config.issuer).toBe('http://127.0.0.1:5556/dex');
    expect(warnings).toEqual(['surprise: unknown key (ignored)']);
  });

  it('says when the file cannot be read', async () => {
    const missing = join(dir, 'missing.yaml');
    await expect(loadConfigFile(missing, {})).rejects.toMatchObject({
      problems: [`cannot read the config file ${missing}: no such file`],
    });
    await expect(loadConfigFile(dir, {})).rejects.toBeInstanceOf(ConfigError);
  });

  it('refuses a huge file before reading it', async () => {
    const path = join(dir, 'huge.yaml');
    writeFileSync(path, Buffer.alloc(MAX_CONFIG_BYTES + 1, 0x20));
    await expect(loadConfigFile(path, {})).rejects.toMatchObject({
      problems: [`the config file is too large (${MAX_CONFIG_BYTES + 1} bytes; at most ${MAX_CONFIG_BYTES})`],
    });
  });
});

describe('configJsonSchema', () => {
  it('is a draft 2020-12 JSON Schema of the file format', () => {
    const schema = configJsonSchema() as {
      $schema: string;
      type: string;
      required: string[];
      properties: Record<
        string,
        { description?: string; not?: object; properties?: Record<string, unknown> }
      >;
    };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.type).toBe('object');
    expect(schema.required).toEqual(['issuer', 'storage']);
    expect(Object.keys(schema.properties)).toEqual([
      'issuer',
      'storage',
      'web',
      'telemetry',
      'expiry',
      'logger',
      'oauth2',
      'signer',
      'staticClients',
      'connectors',
      'enablePasswordDB',
      'staticPasswords',
      'frontend',
      'throttling',
      'grpc',
      'sessions',
      'mfa',
    ]);
    expect(schema.properties.grpc).toEqual({
      description: 'Not supported by Latchkey (the gRPC API).',
      not: {},
    });
    expect(Object.keys(schema.properties.web!.properties!)).toContain('clientRemoteIP');
    expect(Object.keys(schema.properties.sessions!.properties!)).toEqual([
      'cookieName',
      'absoluteLifetime',
      'validIfNotUsedFor',
      'rememberMeCheckedByDefault',
      'cookieEncryptionKey',
      'ssoSharedWithDefault',
    ]);
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });
});
