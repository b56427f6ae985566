import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Filter } from 'ldapts';
import { ConfigSection, ConnectorConfigError, connectorPath } from '../config-keys.js';
import { parseAttributeSpec, parseConfiguredFilter, type AttributeSpec } from './filters.js';

// `type: ldap` configuration (reference §6), read the way Dex reads it: keys case-insensitively (Go's
// encoding/json), `$VAR` already expanded by the config loader. Everything is checked when the connector is
// opened, so a mistake stops `latchkey serve` with the key path instead of failing every login later.

export type SearchScope = 'sub' | 'one';
export type TransportSecurity = 'ldaps' | 'startTLS' | 'none';

export interface UserMatcher {
  /** An attribute of the user entry (or `DN`) whose values identify the user in groups. */
  userAttr: string;
  /** The group attribute (or extensible-match spec such as `member:1.2.840.113556.1.4.1941:`) holding them. */
  groupAttr: AttributeSpec;
  /** When set, parent groups are found by looking each group's DN up in this attribute of other groups. */
  recursionGroupAttr?: AttributeSpec;
}

export interface UserSearchConfig {
  baseDN: string;
  filter?: Filter;
  /** One or more attributes matched against the login name (several ⇒ OR). */
  username: AttributeSpec[];
  scope: SearchScope;
  idAttr: string;
  emailAttr: string;
  nameAttr?: string;
  preferredUsernameAttr?: string;
  emailSuffix?: string;
}

export interface GroupSearchConfig {
  baseDN: string;
  filter?: Filter;
  scope: SearchScope;
  userMatchers: UserMatcher[];
  nameAttr: string;
}

export interface LdapTLSConfig {
  /** PEM of the trusted roots; undefined = the system's trust store. */
  ca?: string;
  cert?: string;
  key?: string;
  insecureSkipVerify: boolean;
}

export interface LdapConfig {
  /** The host name or address as written (without brackets for IPv6). */
  host: string;
  port: number;
  security: TransportSecurity;
  tls: LdapTLSConfig;
  bindDN: string;
  bindPW: string;
  usernamePrompt: string;
  /**
   * The `email_verified` of every identity. Dex claims true for every LDAP user (its connector hard-codes it),
   * so that is the default; a directory whose mail attribute users can set themselves should say false.
   */
  emailVerified: boolean;
  userSearch: UserSearchConfig;
  /** Undefined when no group baseDN is configured: no groups are looked up. */
  groupSearch?: GroupSearchConfig;
}

const USER_SEARCH_KEYS = [
  'baseDN',
  'filter',
  'username',
  'scope',
  'idAttr',
  'emailAttr',
  'nameAttr',
  'preferredUsernameAttr',
  'emailSuffix',
];
const GROUP_SEARCH_KEYS = [
  'baseDN',
  'filter',
  'scope',
  'userMatchers',
  'userAttr',
  'groupAttr',
  'recursionGroupAttr',
  'nameAttr',
];
const MATCHER_KEYS = ['userAttr', 'groupAttr', 'recursionGroupAttr'];

export interface ParsedLdapConfig {
  config: LdapConfig;
  /** Non-fatal findings (unknown nested keys, settings Dex would silently ignore), for a warning. */
  warnings: string[];
}

export interface ParseOptions {
  /** Reads rootCA / clientCert / clientKey files (tests substitute it). */
  readFile?: (path: string) => string;
}

/** Validates a connector's `config` mapping and resolves files; throws ConnectorConfigError. */
export function parseLdapConfig(
  connectorID: string,
  raw: unknown,
  opts: ParseOptions = {},
): ParsedLdapConfig {
  const readFile = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const warnings: string[] = [];
  const top = ConfigSection.of(`${connectorPath(connectorID)}.config`, raw);

  const insecureNoSSL = top.boolean('insecureNoSSL');
  const startTLS = top.boolean('startTLS');
  if (insecureNoSSL && startTLS) {
    throw new ConnectorConfigError(
      top.keyPath('startTLS'),
      'cannot be combined with insecureNoSSL (StartTLS upgrades a plain connection to TLS; insecureNoSSL means no TLS at all)',
    );
  }
  const security: TransportSecurity = insecureNoSSL ? 'none' : startTLS ? 'startTLS' : 'ldaps';
  const { host, port } = parseHost(top.requiredString('host'), top.keyPath('host'), security);

  const tls = readTLS(top, security, readFile, warnings);

  const bindDN = top.string('bindDN') ?? '';
  const bindPW = top.string('bindPW') ?? '';
  if (bindDN === '' && bindPW !== '') {
    throw new ConnectorConfigError(top.keyPath('bindDN'), 'required when bindPW is set');
  }
  if (bindDN !== '' && bindPW === '') {
    // A bind with a DN and no password is an unauthenticated bind (RFC 4513 §5.1.2): it would search as
    // anonymous while looking like a service account.
    throw new ConnectorConfigError(
      top.keyPath('bindPW'),
      'required when bindDN is set (leave both empty for an anonymous search)',
    );
  }

  const userSearch = readUserSearch(top, warnings);
  const groupSearch = readGroupSearch(top, warnings);

  return {
    config: {
      host,
      port,
      security,
      tls,
      bindDN,
      bindPW,
      usernamePrompt: top.string('usernamePrompt') ?? 'Username',
      emailVerified: top.optionalBoolean('emailVerified') ?? true,
      userSearch,
      ...(groupSearch ? { groupSearch } : {}),
    },
    warnings,
  };
}

/** `host[:port]`, `[v6]:port` or a bare v6 address; the port defaults by transport (reference §6). */
export function parseHost(
  value: string,
  path: string,
  security: TransportSecurity,
): { host: string; port: number } {
  // 636 is LDAPS; StartTLS and plain LDAP share 389. (Dex defaults StartTLS to 636, where it cannot work.)
  const defaultPort = security === 'ldaps' ? 636 : 389;
  const badHost = () =>
    new ConnectorConfigError(path, `expected host or host:port, got ${JSON.stringify(value)}`);
  if (/[\s/@]/.test(value)) throw badHost();
  let host = value;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(value);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if (isIP(value) === 6) {
    host = value;
  } else if (value.includes(':')) {
    const i = value.lastIndexOf(':');
    host = value.slice(0, i);
    portText = value.slice(i + 1);
  }
  if (host === '' || (host.includes(':') && isIP(host) !== 6)) throw badHost();
  if (portText === undefined) return { host, port: defaultPort };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new ConnectorConfigError(
      path,
      `expected a port from 1 to 65535 after the ":", got ${JSON.stringify(value)}`,
    );
  }
  return { host, port };
}

function readTLS(
  top: ConfigSection,
  security: TransportSecurity,
  readFile: (path: string) => string,
  warnings: string[],
): LdapTLSConfig {
  const insecureSkipVerify = top.boolean('insecureSkipVerify');
  const rootCA = top.string('rootCA');
  const rootCAData = top.string('rootCAData');
  const clientCert = top.string('clientCert');
  const clientKey = top.string('clientKey');
  const tlsKeys = [
    ['rootCA', rootCA],
    ['rootCAData', rootCAData],
    ['clientCert', clientCert],
    ['clientKey', clientKey],
  ].filter(([, v]) => v !== undefined);
  if (security === 'none') {
    if (tlsKeys.length > 0 || insecureSkipVerify) {
      warnings.push(
        `${top.path}: insecureNoSSL is set, so ${[...tlsKeys.map(([k]) => k), ...(insecureSkipVerify ? ['insecureSkipVerify'] : [])].join(', ')} ${tlsKeys.length + (insecureSkipVerify ? 1 : 0) > 1 ? 'are' : 'is'} not used`,
      );
    }
    return { insecureSkipVerify: false };
  }
  if (insecureSkipVerify) {
    warnings.push(
      `${top.keyPath('insecureSkipVerify')}: the directory's TLS certificate is not checked, so anyone in between can read every password (never do this in production)`,
    );
  }
  const tls: LdapTLSConfig = { insecureSkipVerify };
  if (rootCAData !== undefined) {
    if (rootCA !== undefined)
      warnings.push(`${top.keyPath('rootCA')}: not used, rootCAData takes precedence`);
    tls.ca = certificates(decodeRootCAData(rootCAData, top.keyPath('rootCAData')), top.keyPath('rootCAData'));
  } else if (rootCA !== undefined) {
    tls.ca = certificates(read(readFile, rootCA, top.keyPath('rootCA')), top.keyPath('rootCA'));
  }
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    const missing = clientCert === undefined ? 'clientCert' : 'clientKey';
    const given = clientCert === undefined ? 'clientKey' : 'clientCert';
    throw new ConnectorConfigError(top.keyPath(missing), `required when ${given} is set`);
  }
  if (clientCert !== undefined && clientKey !== undefined) {
    tls.cert = read(readFile, clientCert, top.keyPath('clientCert'));
    tls.key = read(readFile, clientKey, top.keyPath('clientKey'));
    if (!tls.cert.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConnectorConfigError(top.keyPath('clientCert'), `no PEM certificate in ${clientCert}`);
    }
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(tls.key)) {
      throw new ConnectorConfigError(top.keyPath('clientKey'), `no PEM private key in ${clientKey}`);
    }
  }
  return tls;
}

function read(readFile: (path: string) => string, file: string, path: string): string {
  try {
    return readFile(file);
  } catch (e) {
    throw new ConnectorConfigError(path, `cannot read ${file}: ${(e as Error).message}`);
  }
}

/** Go decodes a []byte field from base64; a PEM pasted as is is accepted too. */
function decodeRootCAData(value: string, path: string): string {
  if (value.includes('-----BEGIN')) return value;
  const compact = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
    throw new ConnectorConfigError(path, 'expected base64-encoded PEM certificates');
  }
  return Buffer.from(compact, 'base64').toString('utf8');
}

/** The PEM certificates in `pem`, each checked to parse; at least one. */
function certificates(pem: string, path: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConnectorConfigError(path, 'no PEM certificates found');
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (e) {
      throw new ConnectorConfigError(path, `certificate ${i + 1} does not parse: ${(e as Error).message}`);
    }
  }
  return blocks.join('\n') + '\n';
}

function readScope(section: ConfigSection): SearchScope {
  const scope = section.string('scope') ?? 'sub';
  if (scope !== 'sub' && scope !== 'one') {
    throw new ConnectorConfigError(
      section.keyPath('scope'),
      `expected "sub" or "one", got ${JSON.stringify(scope)}`,
    );
  }
  return scope;
}

function readFilter(section: ConfigSection): Filter | undefined {
  const text = section.string('filter');
  return text === undefined ? undefined : parseConfiguredFilter(text, section.keyPath('filter'));
}

/** A plain attribute name for reading values off an entry (`DN` = the entry's DN). */
function readAttributeName(section: ConfigSection, key: string, fallback?: string): string | undefined {
  const value = section.string(key);
  if (value === undefined) return fallback;
  const spec = parseAttributeSpec(value, section.keyPath(key));
  if (spec.kind !== 'equality') {
    throw new ConnectorConfigError(
      section.keyPath(key),
      `expected an attribute name, got ${JSON.stringify(value)}`,
    );
  }
  return spec.attribute;
}

function readUserSearch(top: ConfigSection, warnings: string[]): UserSearchConfig {
  const section = top.section('userSearch') ?? ConfigSection.of(top.keyPath('userSearch'), {});
  warnings.push(...section.unknownKeys(USER_SEARCH_KEYS).map((k) => `${k}: not a userSearch key; ignored`));
  const baseDN = section.requiredString('baseDN');
  const usernames = section.strings('username');
  if (usernames === undefined || usernames.length === 0) {
    throw new ConnectorConfigError(
      section.keyPath('username'),
      'required (an attribute name or a list of them)',
    );
  }
  const username = usernames.map(({ path, value }) => {
    const spec = parseAttributeSpec(value, path);
    if (spec.kind === 'equality' && spec.attribute === 'DN') {
      throw new ConnectorConfigError(path, '"DN" cannot be searched for; name an attribute');
    }
    return spec;
  });
  const emailSuffix = section.string('emailSuffix');
  const nameAttr = readAttributeName(section, 'nameAttr');
  if (emailSuffix !== undefined && nameAttr === undefined) {
    // Dex builds the email as <nameAttr value>@<emailSuffix>; without nameAttr it would be "@suffix".
    throw new ConnectorConfigError(section.keyPath('nameAttr'), 'required when emailSuffix is set');
  }
  if (emailSuffix !== undefined && !/^[^\s@]+$/.test(emailSuffix)) {
    throw new ConnectorConfigError(
      section.keyPath('emailSuffix'),
      `expected a domain, got ${JSON.stringify(emailSuffix)}`,
    );
  }
  const preferredUsernameAttr = readAttributeName(section, 'preferredUsernameAttr');
  return {
    baseDN,
    ...optional('filter', readFilter(section)),
    username,
    scope: readScope(section),
    // Dex's documented defaults (its code forgot them, failing every login when they were left out).
    idAttr: readAttributeName(section, 'idAttr', 'uid')!,
    emailAttr: readAttributeName(section, 'emailAttr', 'mail')!,
    ...optional('nameAttr', nameAttr),
    ...optional('preferredUsernameAttr', preferredUsernameAttr),
    ...optional('emailSuffix', emailSuffix),
  };
}

function readGroupSearch(top: ConfigSection, warnings: string[]): GroupSearchConfig | undefined {
  const section = top.section('groupSearch');
  if (section === undefined) return undefined;
  warnings.push(...section.unknownKeys(GROUP_SEARCH_KEYS).map((k) => `${k}: not a groupSearch key; ignored`));
  const baseDN = section.string('baseDN');
  if (baseDN === undefined) {
    // Dex: no baseDN, no groups. Say so when the rest of the section suggests groups were wanted.
    const others = [
      ...['filter', 'userAttr', 'groupAttr', 'nameAttr'].filter((k) => section.string(k) !== undefined),
      ...(section.list('userMatchers') !== undefined ? ['userMatchers'] : []),
    ];
    if (others.length > 0) warnings.push(`${section.keyPath('baseDN')}: not set, so no groups are looked up`);
    return undefined;
  }
  const legacy = readMatcher(section, false);
  const listed = section.list('userMatchers');
  let userMatchers: UserMatcher[];
  if (listed !== undefined && listed.items.length > 0) {
    if (legacy !== undefined) {
      warnings.push(`${section.path}: userAttr/groupAttr are not used when userMatchers is given`);
    }
    userMatchers = listed.items.map((item, i) =>
      readMatcher(ConfigSection.of(`${listed.path}[${i}]`, item), true)!,
    );
  } else if (legacy !== undefined) {
    userMatchers = [legacy];
  } else {
    throw new ConnectorConfigError(
      section.keyPath('userMatchers'),
      'required when groupSearch.baseDN is set (a list of {userAttr, groupAttr}, or the older userAttr and groupAttr keys)',
    );
  }
  const nameAttr = readAttributeName(section, 'nameAttr');
  if (nameAttr === undefined) {
    throw new ConnectorConfigError(section.keyPath('nameAttr'), 'required when groupSearch.baseDN is set');
  }
  return {
    baseDN,
    ...optional('filter', readFilter(section)),
    scope: readScope(section),
    userMatchers,
    nameAttr,
  };
}

/** One {userAttr, groupAttr, recursionGroupAttr}; for the legacy flat keys, undefined when none is set. */
function readMatcher(section: ConfigSection, required: boolean): UserMatcher | undefined {
  if (required) {
    const unknown = section.unknownKeys(MATCHER_KEYS);
    if (unknown.length > 0) throw new ConnectorConfigError(unknown[0]!, 'not a userMatchers key');
  }
  const userAttrText = section.string('userAttr');
  const groupAttrText = section.string('groupAttr');
  const recursionText = section.string('recursionGroupAttr');
  if (!required && userAttrText === undefined && groupAttrText === undefined && recursionText === undefined) {
    return undefined;
  }
  const userAttr = readAttributeName(section, 'userAttr');
  if (userAttr === undefined) throw new ConnectorConfigError(section.keyPath('userAttr'), 'required');
  const groupAttr = parseAttributeSpec(section.requiredString('groupAttr'), section.keyPath('groupAttr'));
  if (groupAttr.kind === 'equality' && groupAttr.attribute === 'DN') {
    throw new ConnectorConfigError(
      section.keyPath('groupAttr'),
      '"DN" cannot be searched for; name an attribute',
    );
  }
  const recursionGroupAttr =
    recursionText === undefined
      ? undefined
      : parseAttributeSpec(recursionText, section.keyPath('recursionGroupAttr'));
  return { userAttr, groupAttr, ...optional('recursionGroupAttr', recursionGroupAttr) };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
