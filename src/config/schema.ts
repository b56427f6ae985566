// The configuration file format, once: field names (Dex's, reference §4), per-field checks and the wording of
// their problems, defaults, and the descriptions editors show (`latchkey config-schema`). Rules that relate
// several fields (grant types and connectors, secret or public, TLS with https …) live in build.ts.

import { isIP } from 'node:net';
import { z } from 'zod';
import { CONNECTOR_TYPE_NAMES, typesThat } from '../connectors/types.js';
import { parseGoDuration } from './duration.js';
import { describeValue, quote } from './problems.js';

// ---------------------------------------------------------------------------------------------------------
// What Latchkey serves, and what it refuses

export const SUPPORTED_STORAGE_TYPES = ['memory', 'sqlite3', 'kubernetes'] as const;
/** Every connector type (connectors/types.ts declares them and what each can do). */
export const SUPPORTED_CONNECTOR_TYPES = CONNECTOR_TYPE_NAMES;
/** Connector types that can check a username and password (oauth2.passwordConnector). */
export const PASSWORD_CONNECTOR_TYPES: readonly string[] = typesThat((t) => t.login === 'password');
/** Connector types that can verify an upstream token (the token-exchange grant). */
export const TOKEN_EXCHANGE_CONNECTOR_TYPES: readonly string[] = typesThat((t) => t.tokenIdentity);

export const GRANT_TYPES = [
  'authorization_code',
  'client_credentials',
  'refresh_token',
  'password',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:token-exchange',
] as const;
const UNSUPPORTED_GRANT_TYPES = ['implicit'];

// ---------------------------------------------------------------------------------------------------------
// Field kinds

type IssueInput = { input?: unknown };

/** Words an invalid_type issue with a custom noun; "required" and other issues fall through. */
function expectedNoun(noun: string) {
  return (iss: IssueInput & { code?: string }) =>
    iss.code === 'invalid_type' && iss.input !== undefined
      ? `expected ${noun}, got ${describeValue(iss.input)}`
      : undefined;
}

const GO_DURATION = /^[-+]?(?:0|(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/;

/** A Go duration string, parsed to milliseconds. */
export function duration(options: { allowZero: boolean }) {
  const expected = `expected a Go duration such as "10m", "24h" or "1h30m"`;
  return z
    .string({ error: expectedNoun('a Go duration such as "10m", "24h" or "1h30m"') })
    .transform((s, ctx) => {
      let ms: number;
      try {
        ms = parseGoDuration(s);
      } catch {
        const negative = /^-/.test(s) && GO_DURATION.test(s);
        ctx.issues.push({
          code: 'custom',
          input: s,
          message: negative
            ? `expected a positive duration, got ${quote(s)}`
            : `${expected}, got ${quote(s)}`,
        });
        return z.NEVER;
      }
      if (ms === 0 && !options.allowZero) {
        ctx.issues.push({
          code: 'custom',
          input: s,
          message: `expected a duration greater than 0, got ${quote(s)}`,
        });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ pattern: GO_DURATION.source });
}

/** host:port as Go's net.Listen takes it ("0.0.0.0:5556", ":5556", "[::1]:5556"); "" means unset. */
const LISTEN_ADDRESS = /^(?:\[[0-9A-Fa-f:.]+(?:%[\w.-]+)?\]|[^\s:[\]/]*):(\d{1,5})$/;
export function isListenAddress(s: string): boolean {
  const m = LISTEN_ADDRESS.exec(s);
  return m !== null && Number(m[1]) <= 65535;
}
const listenAddress = z
  .string({ error: expectedNoun('a listen address') })
  .refine((s) => s === '' || isListenAddress(s), {
    error: (iss) =>
      `expected a listen address such as "0.0.0.0:5556" or ":5556", got ${describeValue(iss.input)}`,
  });

/** Go's unquoted tls versions: `tlsMinVersion: 1.2` reaches here as the string "1.2". */
const tlsVersion = z.enum(['1.2', '1.3'], {
  error: (iss) =>
    iss.input === undefined ? undefined : `expected "1.2" or "1.3", got ${describeValue(iss.input)}`,
});

/** A CIDR ("10.0.0.0/8") or a single address, which stands for its /32 or /128. */
export function parseCidr(s: string): string | undefined {
  const slash = s.indexOf('/');
  const ip = slash < 0 ? s : s.slice(0, slash);
  const family = isIP(ip);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return `${ip}/${max}`;
  const prefix = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return undefined;
  return `${ip}/${Number(prefix)}`;
}
const cidr = z.string({ error: expectedNoun('a CIDR') }).transform((s, ctx) => {
  const parsed = parseCidr(s);
  if (parsed === undefined) {
    ctx.issues.push({
      code: 'custom',
      input: s,
      message: `expected a CIDR such as "10.0.0.0/8" or an IP address, got ${quote(s)}`,
    });
    return z.NEVER;
  }
  return parsed;
});

/** RFC 9110 §5.6.2 token: what a header name is, and a cookie name too (RFC 6265 §4.1.1). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const headerName = z.string().regex(TOKEN, {
  error: (iss) => `expected an HTTP header name, got ${describeValue(iss.input)}`,
});
const headerValue = z
  .string({ error: expectedNoun('a header value (a string)') })
  .refine((s) => !/[\r\n\0]/.test(s), { error: 'a header value must not contain line breaks' });

const stringList = (noun = 'a list of strings') => z.array(z.string(), { error: expectedNoun(noun) });
const bool = (defaultValue: boolean) => z.boolean().default(defaultValue);
const nonEmptyString = (noun = 'a string') => z.string({ error: expectedNoun(noun) }).min(1);
const stringMap = (noun: string) => z.record(z.string(), z.string(), { error: expectedNoun(noun) });

// ---------------------------------------------------------------------------------------------------------
// Sections

export const issuerSchema = z
  .string({ error: expectedNoun('a URL') })
  .describe('The issuer URL (required): tokens carry it as "iss"; its path is the prefix of every route.')
  .meta({ examples: ['https://dex.example.com/dex'] });

const memoryStorage = z.object({
  type: z.literal('memory'),
  config: z.object({}, { error: expectedNoun('a mapping') }).optional(),
});
const sqliteStorage = z.object({
  type: z.literal('sqlite3'),
  config: z
    .object(
      {
        file: nonEmptyString('a file path').describe(
          'Database file; relative paths resolve against the working directory. ":memory:" is allowed.',
        ),
      },
      { error: expectedNoun('a mapping') },
    )
    .prefault({} as { file: string }),
});
const kubernetesStorage = z.object({
  type: z.literal('kubernetes'),
  config: z
    .object(
      {
        inCluster: bool(false).describe("Use the pod's service account (exclusive with kubeConfigFile)."),
        kubeConfigFile: z.string().optional().describe('A kubeconfig file (exclusive with inCluster: true).'),
        namespace: z
          .string()
          .optional()
          .describe('Default: the pod\'s namespace, else the kubeconfig context\'s, else "default".'),
        crdHandling: z
          .enum(['ensure', 'check'])
          .default('ensure')
          .describe('ensure: create missing CRDs at start; check: only verify they exist.'),
        watchSecrets: bool(false).describe(
          'Watch every Secret of the namespace (needs list and watch on secrets) instead of reading the ' +
            'Secrets clients reference (OAuth2Client.spec.secretRef) one by one by name (needs only get).',
        ),
        tokenCacheSize: z
          .number({ error: expectedNoun('a whole number of entries') })
          .int({ error: (iss) => `expected a whole number of entries, got ${describeValue(iss.input)}` })
          .min(0, { error: (iss) => `expected 0 or more, got ${describeValue(iss.input)}` })
          .optional()
          .describe(
            'Refresh tokens, offline sessions and browser sessions this replica keeps (as many of each) in a ' +
              'watch-invalidated cache so that a refresh or a session login reads nothing from the API; 0 ' +
              'turns the caches off. Default 10000.',
          ),
      },
      { error: expectedNoun('a mapping') },
    )
    .prefault({}),
});
export const storageSchema = z
  .discriminatedUnion('type', [memoryStorage, sqliteStorage, kubernetesStorage], {
    error: expectedNoun('a mapping with a type'),
  })
  .describe('Where state lives: memory, sqlite3 or kubernetes (postgres, mysql and etcd are not supported).');

export const webShape = {
  http: listenAddress.optional().describe('Plain HTTP listen address, e.g. "0.0.0.0:5556".'),
  https: listenAddress.optional().describe('HTTPS listen address; needs tlsCert and tlsKey.'),
  tlsCert: z.string().optional(),
  tlsKey: z.string().optional(),
  tlsMinVersion: tlsVersion.optional().describe('"1.2" (default) or "1.3".'),
  tlsMaxVersion: tlsVersion.optional(),
  headers: z
    .record(headerName, headerValue, { error: expectedNoun('a mapping of header names to values') })
    .optional()
    .describe('Extra response headers, e.g. Strict-Transport-Security, X-Frame-Options.'),
  allowedOrigins: stringList().optional().describe('CORS origins; "*" allows any.'),
  allowedHeaders: stringList().optional().describe('CORS request headers; default ["Authorization"].'),
  drainDelay: duration({ allowZero: true })
    .optional()
    .describe(
      'On SIGTERM, how long to keep serving with readiness false before refusing new connections, so load ' +
        'balancers take the replica out of rotation first; default "0s". Behind a Service or an ingress: ' +
        'longer than their endpoint update and the 5 s keep-alive timeout, e.g. "10s".',
    ),
  workers: z
    .union(
      [
        z.literal('auto'),
        z
          .number()
          .int({ error: (iss) => `expected a whole number of workers, got ${describeValue(iss.input)}` })
          .min(1, { error: (iss) => `expected 1 or more workers, got ${describeValue(iss.input)}` })
          .max(256, { error: (iss) => `expected at most 256 workers, got ${describeValue(iss.input)}` }),
      ],
      { error: (iss) => `expected a number of workers or "auto", got ${describeValue(iss.input)}` },
    )
    .optional()
    .describe(
      'Latchkey: worker processes serving requests, sharing the listeners. Default "auto": one per core ' +
        '(the cgroup CPU quota counts), fewer when the memory limit cannot hold 160 MiB for each worker and ' +
        'the primary. The storage, limits and background work stay in one primary process, so N workers ' +
        'cost the storage what one replica does. 1 = one process, no primary.',
    ),
  clientRemoteIP: z
    .object(
      {
        header: z.string().optional().describe('Header holding the client address, e.g. X-Forwarded-For.'),
        trustedProxies: z.array(cidr, { error: expectedNoun('a list of CIDRs') }).optional(),
      },
      { error: expectedNoun('a mapping') },
    )
    .optional(),
};

export const telemetryShape = {
  http: listenAddress.optional().describe('Listen address of /metrics and /healthz/*, e.g. "0.0.0.0:5558".'),
  enableProfiling: bool(false),
};

/** A whole number of at least 1 (attempt counts). */
const positiveCount = (what: string) =>
  z
    .number({ error: expectedNoun(`a whole number of ${what}`) })
    .int({ error: (iss) => `expected a whole number of ${what}, got ${describeValue(iss.input)}` })
    .min(1, { error: (iss) => `expected at least 1, got ${describeValue(iss.input)}` });

/** Latchkey's own section: limits on password guesses (Dex has none, dexidp/dex#1671). */
export const throttlingShape = {
  passwordFailuresPerAccount: positiveCount('attempts')
    .optional()
    .describe(
      'Failed logins for one account (per connector) within the window before it is throttled; default 5.',
    ),
  passwordFailuresPerIP: positiveCount('attempts')
    .optional()
    .describe('Failed logins from one client IP within the window before it is throttled; default 50.'),
  window: duration({ allowZero: false })
    .optional()
    .describe('How long failures are remembered; default "15m".'),
  requestsPerSecondPerIP: positiveCount('requests')
    .optional()
    .describe('Requests per second one client IP may make to /token and /device (sustained); default 10.'),
  requestBurstPerIP: positiveCount('requests')
    .optional()
    .describe('Requests one client IP may make to /token and /device at once; default 100.'),
};

export const refreshTokensSchema = z
  .object(
    {
      disableRotation: bool(false),
      reuseInterval: duration({ allowZero: true }).optional().describe('Default "3s"; "0" disables reuse.'),
      validIfNotUsedFor: duration({ allowZero: true }).optional().describe('Unset or "0": never.'),
      absoluteLifetime: duration({ allowZero: true }).optional().describe('Unset or "0": never.'),
    },
    { error: expectedNoun('a mapping') },
  )
  .optional();

export const expiryShape = {
  signingKeys: duration({ allowZero: false })
    .optional()
    .describe('Deprecated: use signer.config.keysRotationPeriod. Default "6h".'),
  idTokens: duration({ allowZero: false }).optional().describe('Default "24h".'),
  authRequests: duration({ allowZero: false }).optional().describe('Default "24h".'),
  authCodes: duration({ allowZero: false }).optional().describe('Default "10m" (Latchkey).'),
  deviceRequests: duration({ allowZero: false }).optional().describe('Default "5m".'),
  refreshTokens: refreshTokensSchema,
};

const LOG_LEVELS: Record<string, 'debug' | 'info' | 'warn' | 'error'> = {
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
};
export const loggerShape = {
  level: z
    .string({ error: expectedNoun('a log level') })
    .refine((s) => LOG_LEVELS[s.toLowerCase()] !== undefined, {
      error: (iss) => `expected one of debug, info, warn, error, got ${describeValue(iss.input)}`,
    })
    .transform((s) => LOG_LEVELS[s.toLowerCase()]!)
    .optional()
    .meta({ examples: ['debug', 'info', 'warn', 'error'] }),
  format: z
    .string({ error: expectedNoun('"text" or "json"') })
    .refine((s) => ['text', 'json'].includes(s.toLowerCase()), {
      error: (iss) => `expected "text" or "json", got ${describeValue(iss.input)}`,
    })
    .transform((s) => s.toLowerCase() as 'text' | 'json')
    .optional()
    .meta({ examples: ['text', 'json'] }),
  excludeFields: stringList().optional().describe('Log attributes never written (e.g. email).'),
};

function grantTypeProblem(input: unknown): string | undefined {
  if (input === undefined) return undefined;
  if (typeof input !== 'string') return `expected a grant type, got ${describeValue(input)}`;
  if (UNSUPPORTED_GRANT_TYPES.includes(input)) return `${quote(input)} is not supported by Latchkey`;
  return `${quote(input)} is not a grant type (known: ${GRANT_TYPES.join(', ')})`;
}

function responseTypeProblem(input: unknown): string | undefined {
  if (input === undefined) return undefined;
  if (typeof input !== 'string') return `expected a response type, got ${describeValue(input)}`;
  const words = input.split(/\s+/).filter((w) => w !== '');
  if (words.length > 0 && words.every((w) => ['code', 'token', 'id_token'].includes(w))) {
    return `${quote(input)} is not supported by Latchkey (implicit and hybrid flows; supported: code)`;
  }
  return `${quote(input)} is not a response type (supported: code)`;
}

export const grantTypeSchema = z.enum(GRANT_TYPES, { error: (iss) => grantTypeProblem(iss.input) });

export const oauth2Shape = {
  grantTypes: z
    .array(grantTypeSchema, {
      error: expectedNoun('a list of grant types'),
    })
    .optional()
    .describe('Default: every grant the configuration makes possible.'),
  responseTypes: z
    .array(z.enum(['code'], { error: (iss) => responseTypeProblem(iss.input) }), {
      error: expectedNoun('a list of response types'),
    })
    .optional(),
  skipApprovalScreen: bool(false),
  alwaysShowLoginScreen: bool(false),
  passwordConnector: z
    .string()
    .optional()
    .describe('Connector id used by the password grant ("local" for the password database).'),
  pkce: z
    .object(
      {
        enforce: bool(false).describe('Refuse /auth requests without a code_challenge.'),
        codeChallengeMethodsSupported: z
          .array(z.enum(['S256', 'plain']), { error: expectedNoun('a list of methods') })
          .optional()
          .describe('Default ["S256"] (Dex: ["S256", "plain"]; plain is accepted with a warning).'),
      },
      { error: expectedNoun('a mapping') },
    )
    .optional(),
};

const localSigner = z.object({
  type: z.literal('local'),
  config: z
    .object(
      {
        keysRotationPeriod: duration({ allowZero: false }).describe('How often a new signing key is made.'),
        algorithm: z.enum(['RS256', 'ES256']).default('RS256'),
      },
      { error: expectedNoun('a mapping') },
    )
    .prefault({} as { keysRotationPeriod: string }),
});
export const signerSchema = z
  .discriminatedUnion('type', [localSigner], { error: expectedNoun('a mapping with a type') })
  .describe('Default: local keys rotated every expiry.signingKeys (6h), RS256.');

export const clientShape = {
  id: nonEmptyString('a client id').optional(),
  idEnv: nonEmptyString('an environment variable name').optional(),
  secret: z.string({ error: expectedNoun('a string') }).optional(),
  secretEnv: nonEmptyString('an environment variable name').optional(),
  name: nonEmptyString('a name'),
  redirectURIs: z
    .array(z.string({ error: expectedNoun('a URL') }), { error: 'expected a list of URLs' })
    .optional(),
  trustedPeers: stringList('a list of client ids').optional(),
  public: bool(false),
  logoURL: z.string().optional(),
  allowedConnectors: stringList('a list of connector ids')
    .optional()
    .describe('The connectors this client may log users in through (default: all).'),
  grantTypes: z
    .array(grantTypeSchema, { error: expectedNoun('a list of grant types') })
    .optional()
    .describe(
      'Latchkey: the grants this client may use (default: every grant the server serves but ' +
        'client_credentials, which a confidential client opts into by listing it here).',
    ),
  clientCredentialsClaims: z
    .object({ groups: stringList('a list of group names').optional() }, { error: expectedNoun('a mapping') })
    .optional()
    .describe('What a client_credentials token says about this client: groups.'),
  // A Dex main-branch key that restricts a client and that Latchkey cannot enforce yet: refused, never ignored.
  mfaChain: z.never().optional().describe('Not supported yet (multi-factor authentication).'),
  // Browser sessions (the sessions section); build.ts relates them to that section.
  postLogoutRedirectURIs: z
    .array(z.string({ error: expectedNoun('a URL') }), { error: 'expected a list of URLs' })
    .optional()
    .describe(
      'Where logout (end_session_endpoint) may send the browser afterwards: post_logout_redirect_uri must ' +
        'be one of these, exactly. Needs the sessions section.',
    ),
  backchannelLogoutURI: z
    .string({ error: expectedNoun('a URL') })
    .optional()
    .describe(
      'Where a logout token is POSTed when a browser session this client took part in ends (OpenID Connect ' +
        'Back-Channel Logout): an absolute http(s) URL without a fragment. Needs the sessions section.',
    ),
  ssoSharedWith: stringList('a list of client ids')
    .optional()
    .describe(
      'The clients that may reuse a browser session this client signed the user in to, without a new login: ' +
        'client ids, ["*"] for all, [] for none. Default: sessions.ssoSharedWithDefault.',
    ),
  refreshTokenLifetime: z
    .enum(['standalone', 'session'])
    .optional()
    .describe(
      '"standalone" (default): refresh tokens outlive browser sessions; "session": they stop working when the ' +
        'browser session they came from ends (needs the sessions section).',
    ),
};
export const clientSchema = z.object(clientShape, { error: expectedNoun('a mapping') });

function connectorTypeProblem(input: unknown): string | undefined {
  if (input === undefined) return undefined;
  if (typeof input !== 'string') return `expected a connector type, got ${describeValue(input)}`;
  return `${quote(input)} is not supported by Latchkey (supported: ${SUPPORTED_CONNECTOR_TYPES.join(', ')})`;
}

export const connectorShape = {
  type: z.enum(SUPPORTED_CONNECTOR_TYPES, { error: (iss) => connectorTypeProblem(iss.input) }),
  id: nonEmptyString('a connector id'),
  name: nonEmptyString('a name'),
  config: z
    .record(z.string(), z.unknown(), { error: expectedNoun('a mapping') })
    .optional()
    .describe('Connector-specific settings; $VAR and ${VAR} are expanded from the environment.'),
  grantTypes: z
    .array(grantTypeSchema, { error: expectedNoun('a list of grant types') })
    .optional()
    .describe('The grants that may use this connector (default: all).'),
};
export const connectorSchema = z.object(connectorShape, { error: expectedNoun('a mapping') });

const EMAIL = /^[^\s@]+@[^\s@]+$/;
export const passwordShape = {
  email: nonEmptyString('an email address').refine((s) => EMAIL.test(s), {
    error: (iss) => `expected an email address, got ${describeValue(iss.input)}`,
  }),
  hash: nonEmptyString('a bcrypt hash')
    .optional()
    .describe('A bcrypt hash ($2a$, $2b$ or $2y$), or base64 of one.'),
  hashFromEnv: nonEmptyString('an environment variable name').optional(),
  username: nonEmptyString('a username'),
  name: z.string().optional(),
  preferredUsername: z.string().optional(),
  emailVerified: bool(true),
  userID: nonEmptyString('a user id'),
  groups: stringList('a list of group names').optional(),
};
export const passwordSchema = z.object(passwordShape, { error: expectedNoun('a mapping') });

export const frontendShape = {
  dir: z
    .string()
    .optional()
    .describe('A copy of web/ to serve instead (also $LATCHKEY_FRONTEND_DIR, $DEX_FRONTEND_DIR).'),
  theme: z.string().optional().describe('"light" (default), "dark", or "auto" (follows the browser).'),
  issuer: z.string().optional().describe('Title shown on pages; default "Latchkey".'),
  logoURL: z.string().optional().describe('Default "theme/logo.png".'),
  extra: stringMap('a mapping of strings').optional().describe('Values for templates: {{ "key" | extra }}.'),
};

/**
 * Browser sessions (Dex main branch's `sessions`). Dex also asks for DEX_SESSIONS_ENABLED=true; Latchkey turns
 * them on with the section alone.
 */
export const sessionsShape = {
  cookieName: z
    .string({ error: expectedNoun('a cookie name') })
    // "" is unset, as Go's zero value is.
    .refine((s) => s === '' || TOKEN.test(s), {
      error: (iss) =>
        `expected a cookie name (letters, digits and !#$%&'*+-.^_\`|~), got ${describeValue(iss.input)}`,
    })
    .meta({ pattern: TOKEN.source })
    .optional()
    .describe('Name of the session cookie; default "latchkey_session" (Dex: "dex_session").'),
  absoluteLifetime: duration({ allowZero: false })
    .optional()
    .describe('How long a session lasts after sign-in, however much it is used; default "24h".'),
  validIfNotUsedFor: duration({ allowZero: false })
    .optional()
    .describe('A session not used for this long ends; default "1h", at most absoluteLifetime.'),
  rememberMeCheckedByDefault: bool(true).describe(
    'Whether the login form\'s "remember me" starts checked; unchecked, the cookie ends with the browser.',
  ),
  cookieEncryptionKey: z
    .string({ error: expectedNoun('a string') })
    .optional()
    .describe(
      "Accepted for Dex's files and not used: Latchkey seals the cookie with its rotating sealing keys.",
    ),
  ssoSharedWithDefault: z
    .enum(['none', 'all'])
    .optional()
    .describe(
      'For clients without ssoSharedWith: "none" (default) shares their sessions with no other client, ' +
        '"all" with every client.',
    ),
};

const section = <S extends z.core.$ZodLooseShape>(shape: S) =>
  z.object(shape, { error: expectedNoun('a mapping') }).optional();

/** The whole file. Used for key matching and the JSON Schema; build.ts parses it section by section. */
export const fileSchema = z
  .object({
    issuer: issuerSchema,
    storage: storageSchema,
    web: section(webShape),
    telemetry: section(telemetryShape),
    expiry: section(expiryShape),
    logger: section(loggerShape),
    oauth2: section(oauth2Shape),
    signer: signerSchema.optional(),
    staticClients: z.array(clientSchema, { error: expectedNoun('a list of clients') }).optional(),
    connectors: z.array(connectorSchema, { error: expectedNoun('a list of connectors') }).optional(),
    enablePasswordDB: bool(false).describe('Adds the connector "local" backed by staticPasswords.'),
    staticPasswords: z.array(passwordSchema, { error: expectedNoun('a list of passwords') }).optional(),
    frontend: section(frontendShape),
    throttling: section(throttlingShape),
    grpc: z.never().optional().describe('Not supported by Latchkey (the gRPC API).'),
    sessions: section(sessionsShape).describe(
      'Browser sessions: single sign-on across clients, logout, session-bound refresh tokens. On when the ' +
        'section is present, even empty.',
    ),
    mfa: z.never().optional().describe('Not supported yet.'),
  })
  .describe('Latchkey configuration (the Dex configuration file format).');

export type FileConfig = z.output<typeof fileSchema>;
